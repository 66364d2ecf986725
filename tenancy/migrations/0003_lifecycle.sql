-- Asynchronous provisioning: a tenant is pending until a worker has made
-- its schema, ready after, or failed (then also deleted, so its names are
-- free again) with the reason. provision_key makes ProvisionAsync
-- idempotent among live tenants.
ALTER TABLE tenantkit_tenants
    ADD COLUMN state         text NOT NULL DEFAULT 'ready' CHECK (state IN ('pending', 'ready', 'failed')),
    ADD COLUMN state_reason  text NOT NULL DEFAULT '',
    ADD COLUMN provision_key text;
CREATE UNIQUE INDEX tenantkit_tenants_provision_key_live ON tenantkit_tenants (provision_key)
    WHERE deleted_at IS NULL AND provision_key IS NOT NULL;
