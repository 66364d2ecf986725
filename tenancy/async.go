package tenancy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/permissions"
)

// Asynchronous provisioning comes in three steps that any job queue can
// drive (package tenancy/riverprovision drives them with River):
//
//  1. ReserveTx, in the web request: the tenant row (StatePending) and its
//     primary domain, so the slug and the domain are taken at once; no
//     schema yet.
//  2. FinishProvision, in a worker: the schema, its migrations and the
//     owner's membership, in one transaction; the tenant becomes
//     StateReady and the TenantProvisioned hooks run.
//  3. FailProvision, when the worker gives up: StateFailed with the reason,
//     and the tenant is deleted so its names are free again.

// Reservation is what ReserveTx recorded.
type Reservation struct {
	// Tenant is the pending tenant (or, when Existing, the tenant an earlier
	// call with the same idempotency key made, in whatever state it is).
	Tenant *Tenant
	// Domain is the tenant's primary domain.
	Domain *Domain
	// OwnerFlags are the owner's flags for FinishProvision (WithOwnerFlags).
	OwnerFlags permissions.Flags
	// Existing reports that an earlier call with the same idempotency key
	// made Tenant: nothing new was written and no new job is needed.
	Existing bool
}

// ReserveTx records a tenant in StatePending inside the caller's
// transaction: its row and its primary domain, after the checks Provision
// makes (same options, same errors). Its slug, schema name and domain are
// taken from the commit on, so a second request for the slug gets
// ErrSlugExists. Its host answers ErrTenantPending until FinishProvision
// has run. With WithIdempotencyKey, a key that a live tenant already holds
// returns that tenant with Existing set.
func (m *Manager) ReserveTx(ctx context.Context, tx *sqlx.Tx, name, slug string, ownerID int64, opts ...ProvisionOption) (*Reservation, error) {
	fail := func(err error) (*Reservation, error) {
		return nil, fmt.Errorf("tenancy: reserve %q: %w", slug, err)
	}
	p, err := m.planProvision(ctx, tx, name, slug, opts)
	if err != nil {
		return fail(err)
	}
	if err := m.lockActiveUser(ctx, tx, ownerID); err != nil {
		return fail(err)
	}
	t, err := m.insertTenantState(ctx, tx, name, slug, p.schema.String(), p.cfg.typ, ownerID, p.tenantCols, p.cfg.tenantData, StatePending, p.cfg.key)
	if err != nil {
		return fail(err)
	}
	if t == nil { // the key is taken: return its tenant
		var prev Tenant
		if err := tx.GetContext(ctx, &prev, `SELECT `+tenantColumnsT+`, `+m.primaryDomainCol()+` FROM `+m.t.Tenants+` t
			WHERE provision_key = $1 AND deleted_at IS NULL`, p.cfg.key); err != nil {
			return fail(err)
		}
		var d Domain
		if err := tx.GetContext(ctx, &d, `SELECT `+domainColumns+` FROM `+m.t.Domains+` WHERE tenant_id = $1 AND is_primary AND deleted_at IS NULL`, prev.ID); err != nil {
			return fail(err)
		}
		return &Reservation{Tenant: prev.init(), Domain: &d, OwnerFlags: p.cfg.flags, Existing: true}, nil
	}
	d, err := m.insertDomain(ctx, tx, t.ID, p.domain, true, p.domainCols, p.cfg.domainData)
	if err != nil {
		return fail(err)
	}
	t.PrimaryDomain = d.Domain
	return &Reservation{Tenant: t, Domain: d, OwnerFlags: p.cfg.flags}, nil
}

// FinishProvision completes a pending tenant that ReserveTx recorded: it
// creates the schema, runs its type's migrations, makes the owner a member
// with owner's flags, and sets StateReady, in one transaction, then runs
// inTx (may be nil) in that same transaction, for example to mark the job
// done. The TenantProvisioned hooks run inside it, the
// AfterTenantProvisioned hooks after the commit. A tenant that is already
// ready is returned as is (the job ran twice). Errors: ErrTenantNotFound,
// ErrProvisionFailed (FailProvision ran), ErrUserNotFound and
// ErrUserInactive (the owner), ErrSchemaExists, a *sqlxschema.MigrationError,
// or a hook's or inTx's error; nothing is written then.
func (m *Manager) FinishProvision(ctx context.Context, tenantID int64, owner permissions.Flags, inTx func(ctx context.Context, tx *sqlx.Tx) error) (*Tenant, error) {
	var t *Tenant
	err := m.inTxHooks(ctx, func(ctx context.Context, tx *sqlx.Tx) error {
		var err error
		if t, err = m.FinishProvisionTx(ctx, tx, tenantID, owner); err != nil {
			return err
		}
		if inTx != nil {
			return inTx(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	m.forget(tenantID)
	return t, nil
}

// FinishProvisionTx is FinishProvision inside the caller's transaction.
// The transaction's search_path is restored before it returns.
func (m *Manager) FinishProvisionTx(ctx context.Context, tx *sqlx.Tx, tenantID int64, owner permissions.Flags) (*Tenant, error) {
	var t Tenant
	err := tx.GetContext(ctx, &t, `SELECT `+tenantColumns+` FROM `+m.t.Tenants+` WHERE id = $1 FOR UPDATE`, tenantID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("tenancy: finish provisioning %d: %w", tenantID, ErrTenantNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("tenancy: finish provisioning %d: %w", tenantID, err)
	}
	t.init()
	fail := func(err error) (*Tenant, error) {
		return nil, fmt.Errorf("tenancy: finish provisioning %q: %w", t.Slug, err)
	}
	switch {
	case t.State == StateFailed:
		return fail(fmt.Errorf("%w: %s", ErrProvisionFailed, t.StateReason))
	case t.DeletedAt != nil:
		return fail(ErrTenantNotFound)
	case t.State == StateReady:
		return &t, nil
	}
	var path string
	if err := tx.GetContext(ctx, &path, `SELECT current_setting('search_path')`); err != nil {
		return fail(err)
	}
	if err := m.lockActiveUser(ctx, tx, t.OwnerID); err != nil {
		return fail(err)
	}
	if err := m.buildSchema(ctx, tx, t.Schema(), provisionConfig{typ: t.Type}); err != nil {
		return fail(err)
	}
	if err := m.addMemberTx(ctx, tx, &t, t.OwnerID, owner); err != nil {
		return fail(err)
	}
	if err := tx.GetContext(ctx, &t.UpdatedAt, `UPDATE `+m.t.Tenants+` SET state = $2, state_reason = '', updated_at = now() WHERE id = $1 RETURNING updated_at`,
		t.ID, StateReady); err != nil {
		return fail(err)
	}
	t.State = StateReady
	if _, err := tx.ExecContext(ctx, `SELECT set_config('search_path', $1, true)`, path); err != nil {
		return fail(err)
	}
	if err := tx.GetContext(ctx, &t.PrimaryDomain, `SELECT coalesce((SELECT domain FROM `+m.t.Domains+`
		WHERE tenant_id = $1 AND is_primary AND deleted_at IS NULL), '')`, t.ID); err != nil {
		return fail(err)
	}
	if err := m.hookProvisioned(ctx, tx, &t); err != nil {
		return fail(err)
	}
	return &t, nil
}

// maxReason bounds the StateReason that FailProvision stores.
const maxReason = 1000

// FailProvision gives up on a pending tenant: it is set to StateFailed with
// reason (Tenant.StateReason), inactive and deleted, and its domains are
// deleted, so its slug and domains are free for a new tenant. It has no
// schema (FinishProvision never committed); PurgeTenant removes its rows.
// For a tenant that is no longer pending (a worker finished it meanwhile)
// it does nothing. It returns ErrTenantNotFound for an unknown id.
func (m *Manager) FailProvision(ctx context.Context, tenantID int64, reason string) error {
	if len(reason) > maxReason {
		reason = reason[:maxReason]
	}
	err := m.inTx(ctx, func(tx *sqlx.Tx) error { return m.failPendingTx(ctx, tx, tenantID, reason) })
	if err != nil {
		return fmt.Errorf("tenancy: fail provisioning %d: %w", tenantID, err)
	}
	m.forget(tenantID)
	return nil
}

// failPendingTx is FailProvision inside tx.
func (m *Manager) failPendingTx(ctx context.Context, tx *sqlx.Tx, tenantID int64, reason string) error {
	var state string
	err := tx.GetContext(ctx, &state, `SELECT state FROM `+m.t.Tenants+` WHERE id = $1 FOR UPDATE`, tenantID)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrTenantNotFound
	}
	if err != nil || state != StatePending {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE `+m.t.Tenants+` SET state = $2, state_reason = $3, is_active = false,
		deleted_at = now(), updated_at = now() WHERE id = $1`, tenantID, StateFailed, reason); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE `+m.t.Domains+` SET deleted_at = now() WHERE tenant_id = $1 AND deleted_at IS NULL`, tenantID)
	return err
}
