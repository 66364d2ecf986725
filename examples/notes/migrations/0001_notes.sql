-- The notes app's tables, created in every tenant's schema (with the
-- search_path set to it, so names are unqualified). No foreign key leaves
-- the tenant schema: author_id is a tenantkit user id by convention.
CREATE TABLE notes (
    id         bigserial   PRIMARY KEY,
    body       text        NOT NULL,
    author_id  bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The permissions the handlers check (middleware.RequirePerm).
INSERT INTO tenantkit_permissions (codename, name) VALUES
    ('notes.view', 'Can view notes'),
    ('notes.add', 'Can add notes');
