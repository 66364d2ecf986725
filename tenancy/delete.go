package tenancy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// DeleteTenant deletes a tenant softly: it is marked inactive and deleted,
// its domains stop resolving and their names are free for other tenants,
// ownership passes to the public tenant's owner, and every other member is
// removed. Its schema and all the data in it stay. It returns
// ErrTenantNotFound (also for a tenant already deleted), ErrPublicTenant or
// ErrNoPublicTenant.
func (m *Manager) DeleteTenant(ctx context.Context, tenantID int64) error {
	err := m.inTxHooks(ctx, func(ctx context.Context, tx *sqlx.Tx) error { return m.DeleteTenantTx(ctx, tx, tenantID) })
	if err == nil {
		m.forget(tenantID)
	}
	return err
}

// DeleteTenantTx is DeleteTenant inside the caller's transaction. Caches
// learn of it when the transaction commits, through Watch.
func (m *Manager) DeleteTenantTx(ctx context.Context, tx *sqlx.Tx, tenantID int64) error {
	t, err := m.lockLiveTenant(ctx, tx, tenantID)
	if err != nil {
		return fmt.Errorf("tenancy: delete tenant: %w", err)
	}
	if err := m.deleteTenantTx(ctx, tx, t); err != nil {
		return fmt.Errorf("tenancy: delete tenant %q: %w", t.Slug, err)
	}
	return nil
}

func (m *Manager) deleteTenantTx(ctx context.Context, tx *sqlx.Tx, t *Tenant) error {
	if t.IsPublic() {
		return ErrPublicTenant
	}
	before := *t
	publicOwner, err := m.publicOwner(ctx, tx)
	if err != nil {
		return err
	}
	if err := m.transferTx(ctx, tx, t, publicOwner); err != nil {
		return err
	}
	var others []int64
	if err := tx.SelectContext(ctx, &others, `SELECT user_id FROM `+m.t.Memberships+` WHERE tenant_id = $1 AND user_id <> $2`, t.ID, publicOwner); err != nil {
		return err
	}
	for _, uid := range others {
		if err := m.removeMemberTx(ctx, tx, t, uid); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE `+m.t.Tenants+` SET is_active = false, deleted_at = now(), updated_at = now() WHERE id = $1`, t.ID); err != nil {
		return err
	}
	// The domains keep their names and rows (for restore); the live-only
	// unique index frees the names at once.
	if _, err = tx.ExecContext(ctx, `UPDATE `+m.t.Domains+` SET deleted_at = now() WHERE tenant_id = $1 AND deleted_at IS NULL`, t.ID); err != nil {
		return err
	}
	return m.hookDeleted(ctx, tx, &before)
}

func (m *Manager) publicOwner(ctx context.Context, tx *sqlx.Tx) (int64, error) {
	var id int64
	err := tx.GetContext(ctx, &id, `SELECT owner_id FROM `+m.t.Tenants+` WHERE type = $1`, PublicType)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNoPublicTenant
	}
	return id, err
}

// DeleteUser deletes a user softly: the user is marked inactive and
// deleted, removed from every tenant, the tenants it owns are deleted
// (DeleteTenant; a pending one fails, StateReason "owner deleted"), and its
// sessions are revoked, all in one transaction. The row stays; RestoreUser
// brings the user back. It returns ErrUserNotFound, or ErrCannotDeleteOwner
// for the public tenant's owner.
func (m *Manager) DeleteUser(ctx context.Context, userID int64) error {
	err := m.inTxHooks(ctx, func(ctx context.Context, tx *sqlx.Tx) error { return m.DeleteUserTx(ctx, tx, userID) })
	if err == nil {
		m.FlushCache() // the tenants it owned are gone
	}
	return err
}

// DeleteUserTx is DeleteUser inside the caller's transaction.
func (m *Manager) DeleteUserTx(ctx context.Context, tx *sqlx.Tx, userID int64) error {
	fail := func(err error) error { return fmt.Errorf("tenancy: delete user %d: %w", userID, err) }
	u, err := m.users.ByIDTx(ctx, tx, userID)
	if err != nil {
		return fail(err)
	}
	if owner, err := m.publicOwner(ctx, tx); err == nil && owner == userID {
		return fail(ErrCannotDeleteOwner)
	}
	var owned []Tenant
	if err := tx.SelectContext(ctx, &owned, `SELECT `+tenantColumns+` FROM `+m.t.Tenants+` WHERE owner_id = $1 AND deleted_at IS NULL ORDER BY id FOR UPDATE`, userID); err != nil {
		return fail(err)
	}
	for i := range owned {
		if owned[i].State == StatePending { // no schema yet: its provisioning fails
			if err := m.failPendingTx(ctx, tx, owned[i].ID, "owner deleted"); err != nil {
				return fail(err)
			}
			continue
		}
		if err := m.deleteTenantTx(ctx, tx, owned[i].init()); err != nil {
			return fail(fmt.Errorf("delete owned tenant %q: %w", owned[i].Slug, err))
		}
	}
	var member []Tenant
	if err := tx.SelectContext(ctx, &member, `SELECT `+tenantColumnsT+` FROM `+m.t.Tenants+` t JOIN `+m.t.Memberships+` ms ON ms.tenant_id = t.id
		WHERE ms.user_id = $1 ORDER BY t.id`, userID); err != nil {
		return fail(err)
	}
	for i := range member {
		if err := m.removeMemberTx(ctx, tx, member[i].init(), userID); err != nil {
			return fail(err)
		}
	}
	if err := m.users.DeactivateTx(ctx, tx, userID); err != nil {
		return fail(err)
	}
	if err := m.hookUser(ctx, tx, u, false); err != nil {
		return fail(err)
	}
	return nil
}

// RestoreUser brings back a user that DeleteUser deleted: active and not
// deleted again, with its email, its password and its data. It does not
// bring back its memberships or the tenants it owned (RestoreTenant
// restores those one by one), and it runs no hook. Re-creating a deleted
// user's email with CreateUser is not a way back: it returns
// users.ErrDeleted, so an email never silently becomes a new account
// with an old account's history. RestoreUser returns ErrUserNotFound, or
// ErrUserLive for a user that is not deleted.
func (m *Manager) RestoreUser(ctx context.Context, userID int64) error {
	return m.inTx(ctx, func(tx *sqlx.Tx) error { return m.RestoreUserTx(ctx, tx, userID) })
}

// RestoreUserTx is RestoreUser inside the caller's transaction.
func (m *Manager) RestoreUserTx(ctx context.Context, tx *sqlx.Tx, userID int64) error {
	var deleted bool
	err := tx.GetContext(ctx, &deleted, `SELECT deleted_at IS NOT NULL FROM `+m.t.Users+` WHERE id = $1 FOR UPDATE`, userID)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("tenancy: restore user %d: %w", userID, ErrUserNotFound)
	}
	if err != nil {
		return fmt.Errorf("tenancy: restore user %d: %w", userID, err)
	}
	if !deleted {
		return fmt.Errorf("tenancy: restore user %d: %w", userID, ErrUserLive)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE `+m.t.Users+` SET is_active = true, deleted_at = NULL WHERE id = $1`, userID); err != nil {
		return fmt.Errorf("tenancy: restore user %d: %w", userID, err)
	}
	return nil
}
