-- The members page's permission, and two groups every new tenant starts
-- with: readers may read notes, writers may read and add them.
INSERT INTO tenantkit_permissions (codename, name) VALUES
    ('members.manage', 'Can manage members, their groups and permissions');

INSERT INTO tenantkit_groups (name) VALUES ('readers'), ('writers');
INSERT INTO tenantkit_group_permissions (group_id, permission_id)
SELECT g.id, p.id FROM tenantkit_groups g JOIN tenantkit_permissions p
    ON (g.name, p.codename) IN (('readers', 'notes.view'), ('writers', 'notes.view'), ('writers', 'notes.add'));
