-- Tenants and their domains in the shared schema. Slugs and domain names
-- are unique among live rows only: a soft-deleted tenant keeps its rows,
-- and its names are free for a new tenant.
CREATE TABLE tenantkit_tenants (
    id          bigserial   PRIMARY KEY,
    slug        text        NOT NULL,
    name        text        NOT NULL,
    schema_name text        NOT NULL,
    type        text        NOT NULL,
    owner_id    bigint      NOT NULL REFERENCES tenantkit_users (id),
    is_active   boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    CONSTRAINT tenantkit_tenants_schema_name_key UNIQUE (schema_name)
);
CREATE UNIQUE INDEX tenantkit_tenants_slug_live ON tenantkit_tenants (slug) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX tenantkit_tenants_one_public ON tenantkit_tenants ((true)) WHERE type = 'public';
CREATE INDEX tenantkit_tenants_owner ON tenantkit_tenants (owner_id);

CREATE TABLE tenantkit_domains (
    id         bigserial   PRIMARY KEY,
    domain     text        NOT NULL CHECK (domain = lower(domain)),
    tenant_id  bigint      NOT NULL REFERENCES tenantkit_tenants (id) ON DELETE CASCADE,
    is_primary boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE UNIQUE INDEX tenantkit_domains_domain_live ON tenantkit_domains (domain) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX tenantkit_domains_one_primary ON tenantkit_domains (tenant_id) WHERE is_primary AND deleted_at IS NULL;
CREATE INDEX tenantkit_domains_tenant ON tenantkit_domains (tenant_id);

CREATE TABLE tenantkit_memberships (
    user_id    bigint      NOT NULL REFERENCES tenantkit_users (id) ON DELETE CASCADE,
    tenant_id  bigint      NOT NULL REFERENCES tenantkit_tenants (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, tenant_id)
);
CREATE INDEX tenantkit_memberships_tenant ON tenantkit_memberships (tenant_id);
