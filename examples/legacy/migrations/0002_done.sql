-- The first change after adopting tenantkit: it runs in every tenant
-- schema, the adopted legacy one included.
ALTER TABLE todos ADD COLUMN done boolean NOT NULL DEFAULT false;
