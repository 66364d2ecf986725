-- Tell every process when a tenant or a domain changes, whoever changes it
-- (tenantkit or plain SQL), so that host caches drop stale entries. The
-- notification is delivered when the transaction commits.
-- Payloads: "t:<tenant id>" and "d:<tenant id>:<domain>".
CREATE FUNCTION tenantkit_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'tenantkit_tenants' THEN
        IF TG_OP = 'DELETE' THEN
            PERFORM pg_notify('tenantkit_changes', 't:' || OLD.id);
        ELSE
            PERFORM pg_notify('tenantkit_changes', 't:' || NEW.id);
        END IF;
    ELSE
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            PERFORM pg_notify('tenantkit_changes', 'd:' || OLD.tenant_id || ':' || OLD.domain);
        END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') THEN
            PERFORM pg_notify('tenantkit_changes', 'd:' || NEW.tenant_id || ':' || NEW.domain);
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER tenantkit_notify AFTER INSERT OR UPDATE OR DELETE ON tenantkit_tenants
    FOR EACH ROW EXECUTE FUNCTION tenantkit_notify_change();
CREATE TRIGGER tenantkit_notify AFTER INSERT OR UPDATE OR DELETE ON tenantkit_domains
    FOR EACH ROW EXECUTE FUNCTION tenantkit_notify_change();
