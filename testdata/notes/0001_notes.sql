-- The notes app's tenant migration, used by tests.
CREATE TABLE notes (
    id         bigserial   PRIMARY KEY,
    body       text        NOT NULL,
    author_id  bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO tenantkit_permissions (codename, name) VALUES
    ('notes.view', 'Can view notes'),
    ('notes.add', 'Can add notes');
