package tenancy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// PurgeTenant is the only hard delete: it drops a deleted tenant's schema
// with all its data (DROP SCHEMA ... CASCADE) and deletes its row, its
// domains and its memberships, in one transaction. It must be asked for
// explicitly and cannot lose a live tenant by mistake: the tenant must
// already be deleted (DeleteTenant), else it returns ErrTenantLive. It also
// returns ErrTenantNotFound and ErrPublicTenant. There is no undo.
func (m *Manager) PurgeTenant(ctx context.Context, tenantID int64) error {
	err := m.inTx(ctx, func(tx *sqlx.Tx) error { return m.PurgeTenantTx(ctx, tx, tenantID) })
	if err == nil {
		m.forget(tenantID)
	}
	return err
}

// PurgeTenantTx is PurgeTenant inside the caller's transaction.
func (m *Manager) PurgeTenantTx(ctx context.Context, tx *sqlx.Tx, tenantID int64) error {
	var t Tenant
	err := tx.GetContext(ctx, &t, `SELECT `+tenantColumns+` FROM `+m.t.Tenants+` WHERE id = $1 FOR UPDATE`, tenantID)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("tenancy: purge tenant %d: %w", tenantID, ErrTenantNotFound)
	}
	if err != nil {
		return fmt.Errorf("tenancy: purge tenant %d: %w", tenantID, err)
	}
	t.init()
	fail := func(err error) error { return fmt.Errorf("tenancy: purge tenant %q: %w", t.Slug, err) }
	switch {
	case t.IsPublic():
		return fail(ErrPublicTenant)
	case t.DeletedAt == nil:
		return fail(ErrTenantLive)
	}
	sch := t.Schema()
	// Never "public", even adopted: it is the database's default schema.
	if sch.IsZero() || m.schemaRefusal(sch.String(), false) != "" {
		return fail(fmt.Errorf("%w: %q", ErrInvalidSchema, t.SchemaName))
	}
	// IF EXISTS: a tenant whose asynchronous provisioning failed has none.
	if _, err := tx.ExecContext(ctx, `DROP SCHEMA IF EXISTS `+sch.Quoted()+` CASCADE`); err != nil {
		return fail(err)
	}
	// Domains and memberships go with the row (ON DELETE CASCADE).
	if _, err := tx.ExecContext(ctx, `DELETE FROM `+m.t.Tenants+` WHERE id = $1`, t.ID); err != nil {
		return fail(err)
	}
	return nil
}
