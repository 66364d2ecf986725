-- The legacy service's table, as it has always created it in its single
-- schema. Adopted schemas record this file without running it
-- (tenancy.WithBaseline); new tenants run it.
CREATE TABLE todos (
    id    bigserial PRIMARY KEY,
    title text      NOT NULL
);
