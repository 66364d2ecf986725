-- Per-tenant rights, inside each tenant schema. A row in
-- tenantkit_user_tenant_permissions exists exactly while the user is a
-- member of the tenant (tenancy keeps it in step with the shared
-- memberships table). No foreign key leaves the tenant schema.
CREATE TABLE tenantkit_user_tenant_permissions (
    user_id      bigint      PRIMARY KEY,
    is_superuser boolean     NOT NULL DEFAULT false,
    is_staff     boolean     NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- app is the app a permission belongs to: the part of its codename before
-- the dot ("notes" for "notes.add"), as Django's content type app_label.
-- Generated, so INSERTs of (codename, name) fill it.
CREATE TABLE tenantkit_permissions (
    id       bigserial PRIMARY KEY,
    codename text NOT NULL UNIQUE CHECK (codename ~ '^[a-z0-9_]+\.[a-z0-9_]+$'),
    name     text NOT NULL DEFAULT '',
    app      text GENERATED ALWAYS AS (split_part(codename, '.', 1)) STORED
);
CREATE INDEX tenantkit_permissions_app ON tenantkit_permissions (app);

CREATE TABLE tenantkit_groups (
    id   bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (name <> '')
);

CREATE TABLE tenantkit_group_permissions (
    group_id      bigint NOT NULL REFERENCES tenantkit_groups (id) ON DELETE CASCADE,
    permission_id bigint NOT NULL REFERENCES tenantkit_permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, permission_id)
);

CREATE TABLE tenantkit_user_groups (
    user_id  bigint NOT NULL REFERENCES tenantkit_user_tenant_permissions (user_id) ON DELETE CASCADE,
    group_id bigint NOT NULL REFERENCES tenantkit_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);

CREATE TABLE tenantkit_user_permissions (
    user_id       bigint NOT NULL REFERENCES tenantkit_user_tenant_permissions (user_id) ON DELETE CASCADE,
    permission_id bigint NOT NULL REFERENCES tenantkit_permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, permission_id)
);
