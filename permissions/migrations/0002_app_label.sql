-- The app a permission belongs to: the part of its codename before the
-- dot ("notes" for "notes.add"), as Django's content type app_label.
-- Generated, so existing INSERTs of (codename, name) keep working.
ALTER TABLE tenantkit_permissions
    ADD COLUMN app text GENERATED ALWAYS AS (split_part(codename, '.', 1)) STORED;
CREATE INDEX tenantkit_permissions_app ON tenantkit_permissions (app);
