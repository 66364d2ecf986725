package tenancy

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/sqlxschema"
)

// WithBaseline is for AdoptSchema: the migrations of the tenant's type up
// to and including version (a file name without ".sql", such as
// "0001_todos") are recorded as applied without running, because the
// adopted schema already holds what they create. Later files run as usual.
// Provision refuses it (ErrInvalidOption).
func WithBaseline(version string) ProvisionOption {
	return func(c *provisionConfig) error {
		if version == "" {
			return fmt.Errorf("%w: empty baseline version", ErrInvalidOption)
		}
		c.baseline = version
		return nil
	}
}

// AdoptSchema registers schema, which exists and holds a legacy
// application's data, as a tenant, without moving or copying anything: the
// way a single-schema service becomes multi-tenant, its data the first
// tenant, new tenants in new schemas. It writes what Provision writes (the
// tenant row, the primary domain slug.<base domain>, the owner's membership,
// tenantkit's per-tenant tables in the schema) and runs the type's
// migrations that WithBaseline does not mark as applied, all in one
// transaction. The options are Provision's, WithSchemaName aside, plus
// WithBaseline.
//
// The schema may be "public" when tenantkit's shared tables live in a
// schema of their own (WithSharedSchema): a tenant's search_path holds its
// own schema alone, and the shared tables must never be on it. Errors:
// Provision's, and ErrSchemaNotFound when the schema does not exist;
// ErrInvalidSchema for the shared schema, a pg_ schema or
// information_schema; ErrSchemaExists when a tenant has it already. An
// adopted "public" is never dropped: PurgeTenant refuses it.
func (m *Manager) AdoptSchema(ctx context.Context, schema, name, slug string, ownerID int64, opts ...ProvisionOption) (*Tenant, *Domain, error) {
	var t *Tenant
	var d *Domain
	err := m.inTxHooks(ctx, func(ctx context.Context, tx *sqlx.Tx) error {
		var err error
		t, d, err = m.AdoptSchemaTx(ctx, tx, schema, name, slug, ownerID, opts...)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	m.FlushCache()
	return t, d, nil
}

// AdoptSchemaTx is AdoptSchema inside the caller's transaction.
func (m *Manager) AdoptSchemaTx(ctx context.Context, tx *sqlx.Tx, schema, name, slug string, ownerID int64, opts ...ProvisionOption) (*Tenant, *Domain, error) {
	fail := func(err error) (*Tenant, *Domain, error) {
		return nil, nil, fmt.Errorf("tenancy: adopt schema %q as %q: %w", schema, slug, err)
	}
	opts = append(opts, func(c *provisionConfig) error {
		if c.schema != "" {
			return fmt.Errorf("%w: WithSchemaName: AdoptSchema names the schema", ErrInvalidOption)
		}
		c.schema, c.adopt = schema, true
		return nil
	})
	p, err := m.planProvision(ctx, tx, name, slug, opts)
	if err != nil {
		return fail(err)
	}
	if p.cfg.key != "" {
		return fail(fmt.Errorf("%w: WithIdempotencyKey is for ProvisionAsync", ErrInvalidOption))
	}
	return m.createTx(ctx, tx, p, name, slug, ownerID, fail)
}

// adoptable checks that an adopted schema exists, clears member rows it
// may hold from an earlier life, and records cfg's baseline in it.
func (m *Manager) adoptable(ctx context.Context, tx *sqlx.Tx, schema sqlxschema.Schema, cfg provisionConfig) error {
	var exists bool
	if err := tx.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)`, schema.String()); err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("%w: %s", ErrSchemaNotFound, schema)
	}
	// A schema that was a tenant before (a copy of one, or a backup) may
	// hold member rows: rights that the shared memberships do not back.
	// The adopted tenant starts with its owner alone.
	var members bool
	perms := schema.Qualify("tenantkit_user_tenant_permissions")
	if err := tx.GetContext(ctx, &members, `SELECT to_regclass($1) IS NOT NULL`, perms); err != nil {
		return err
	}
	if members {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+perms); err != nil {
			return err
		}
	}
	if cfg.baseline == "" {
		return nil
	}
	set, ok := m.types[cfg.typ]
	if !ok || set.FS == nil {
		return fmt.Errorf("%w: WithBaseline: tenant type %q has no migrations", ErrInvalidOption, cfg.typ)
	}
	_, err := m.migrator.BaselineTx(ctx, tx, schema, set, cfg.baseline)
	return err
}
