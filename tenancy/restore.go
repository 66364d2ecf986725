package tenancy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// RestoreTenant brings a deleted tenant back: it is live again with all the
// data its schema kept, newOwnerID becomes its owner and a superuser member
// (the public tenant's owner, who held it meanwhile, leaves it unless it is
// in one of its groups), and the domains it had when it was deleted resolve
// to it again, primary included. Members removed by the deletion do not
// come back: add them again.
//
// It is all or nothing. If a live tenant has taken the slug it returns
// ErrSlugExists; if one has taken any of its domains, a *DomainTakenError
// (errors.Is ErrDomainExists) naming them, and nothing is restored: free
// the names, or restore and then AddDomain others. Other errors:
// ErrTenantNotFound, ErrTenantLive (not deleted), ErrProvisionFailed (its
// asynchronous provisioning failed: there is nothing to restore),
// ErrUserNotFound, ErrUserInactive. The TenantRestored hooks run inside the
// transaction.
func (m *Manager) RestoreTenant(ctx context.Context, tenantID, newOwnerID int64) error {
	err := m.inTxHooks(ctx, func(ctx context.Context, tx *sqlx.Tx) error {
		return m.RestoreTenantTx(ctx, tx, tenantID, newOwnerID)
	})
	if err == nil {
		m.FlushCache() // negative entries for its domains
	}
	return err
}

// RestoreTenantTx is RestoreTenant inside the caller's transaction. Caches
// learn of it when the transaction commits, through Watch.
func (m *Manager) RestoreTenantTx(ctx context.Context, tx *sqlx.Tx, tenantID, newOwnerID int64) error {
	var t Tenant
	err := tx.GetContext(ctx, &t, `SELECT `+tenantColumns+` FROM `+m.t.Tenants+` WHERE id = $1 FOR UPDATE`, tenantID)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("tenancy: restore tenant %d: %w", tenantID, ErrTenantNotFound)
	}
	if err != nil {
		return fmt.Errorf("tenancy: restore tenant %d: %w", tenantID, err)
	}
	t.init()
	fail := func(err error) error { return fmt.Errorf("tenancy: restore tenant %q: %w", t.Slug, err) }
	switch {
	case t.DeletedAt == nil:
		return fail(ErrTenantLive)
	case t.State == StateFailed:
		return fail(fmt.Errorf("%w: %s", ErrProvisionFailed, t.StateReason))
	}
	if err := m.lockActiveUser(ctx, tx, newOwnerID); err != nil {
		return fail(err)
	}
	deletedAt := *t.DeletedAt
	// A unique violation would abort the caller's transaction: test first.
	var slugTaken bool
	if err := tx.GetContext(ctx, &slugTaken, `SELECT EXISTS (SELECT 1 FROM `+m.t.Tenants+` WHERE slug = $1 AND deleted_at IS NULL)`, t.Slug); err != nil {
		return fail(err)
	}
	if slugTaken {
		return fail(fmt.Errorf("%w: %s", ErrSlugExists, t.Slug))
	}
	// The domains deleted with the tenant carry its deletion time.
	var taken []string
	if err := tx.SelectContext(ctx, &taken, `SELECT d.domain FROM `+m.t.Domains+` d
		WHERE d.tenant_id = $1 AND d.deleted_at = $2
		AND EXISTS (SELECT 1 FROM `+m.t.Domains+` o WHERE o.domain = d.domain AND o.deleted_at IS NULL)
		ORDER BY d.domain`, t.ID, deletedAt); err != nil {
		return fail(err)
	}
	if len(taken) > 0 {
		return fail(&DomainTakenError{Domains: taken})
	}
	if _, err := tx.ExecContext(ctx, `UPDATE `+m.t.Tenants+` SET is_active = true, deleted_at = NULL, updated_at = now() WHERE id = $1`, t.ID); err != nil {
		return fail(translateUnique(err, t.Slug, ""))
	}
	if _, err := tx.ExecContext(ctx, `UPDATE `+m.t.Domains+` SET deleted_at = NULL WHERE tenant_id = $1 AND deleted_at = $2`, t.ID, deletedAt); err != nil {
		return fail(translateUnique(err, t.Slug, "restored domains"))
	}
	t.IsActive, t.DeletedAt, t.UpdatedAt = true, nil, time.Now()
	if err := m.transferTx(ctx, tx, &t, newOwnerID); err != nil {
		return fail(err)
	}
	if err := tx.GetContext(ctx, &t.PrimaryDomain, `SELECT coalesce((SELECT domain FROM `+m.t.Domains+`
		WHERE tenant_id = $1 AND is_primary AND deleted_at IS NULL), '')`, t.ID); err != nil {
		return fail(err)
	}
	if err := m.hookRestored(ctx, tx, &t); err != nil {
		return fail(err)
	}
	return nil
}

// translateUnique maps a unique violation that a concurrent writer caused
// to the matching sentinel.
func translateUnique(err error, slug, domains string) error {
	if c, ok := uniqueViolation(err); ok {
		switch c {
		case "tenantkit_tenants_slug_live":
			return fmt.Errorf("%w: %s", ErrSlugExists, slug)
		case "tenantkit_domains_domain_live":
			return fmt.Errorf("%w: %s", ErrDomainExists, domains)
		}
	}
	return err
}
