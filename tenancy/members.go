package tenancy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/permissions"
)

// MemberOption sets a new member's flags in AddUser.
type MemberOption func(*permissions.Flags)

// AsSuperuser makes the new member the tenant's superuser.
func AsSuperuser() MemberOption { return func(f *permissions.Flags) { f.IsSuperuser = true } }

// AsStaff gives the new member the staff flag.
func AsStaff() MemberOption { return func(f *permissions.Flags) { f.IsStaff = true } }

// AddUser makes an active user a member of a live tenant. It returns
// ErrTenantNotFound, ErrUserNotFound, ErrUserInactive or ErrAlreadyMember.
func (m *Manager) AddUser(ctx context.Context, tenantID, userID int64, opts ...MemberOption) error {
	return m.inTxHooks(ctx, func(ctx context.Context, tx *sqlx.Tx) error { return m.AddUserTx(ctx, tx, tenantID, userID, opts...) })
}

// AddUserTx is AddUser inside the caller's transaction.
func (m *Manager) AddUserTx(ctx context.Context, tx *sqlx.Tx, tenantID, userID int64, opts ...MemberOption) error {
	var f permissions.Flags
	for _, o := range opts {
		o(&f)
	}
	t, err := m.lockLiveTenant(ctx, tx, tenantID)
	if err != nil {
		return fmt.Errorf("tenancy: add user %d: %w", userID, err)
	}
	if err := m.lockActiveUser(ctx, tx, userID); err != nil {
		return fmt.Errorf("tenancy: add user to %q: %w", t.Slug, err)
	}
	if err := m.addMemberTx(ctx, tx, t, userID, f); err != nil {
		return fmt.Errorf("tenancy: add user %d to %q: %w", userID, t.Slug, err)
	}
	return nil
}

func (m *Manager) addMemberTx(ctx context.Context, tx *sqlx.Tx, t *Tenant, userID int64, f permissions.Flags) error {
	// ON CONFLICT, not a unique violation: an error would abort the
	// caller's transaction.
	res, err := tx.ExecContext(ctx, `INSERT INTO `+m.t.Memberships+` (user_id, tenant_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, userID, t.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrAlreadyMember
	}
	if err := m.perms.AddMemberTx(ctx, tx, t.Schema(), userID, f); err != nil {
		return err
	}
	return m.hookMember(ctx, tx, t, userID, true)
}

func (m *Manager) removeMemberTx(ctx context.Context, tx *sqlx.Tx, t *Tenant, userID int64) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM `+m.t.Memberships+` WHERE user_id = $1 AND tenant_id = $2`, userID, t.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotMember
	}
	if err := m.perms.RemoveMemberTx(ctx, tx, t.Schema(), userID); err != nil {
		return err
	}
	return m.hookMember(ctx, tx, t, userID, false)
}

// RemoveUser takes a user out of a tenant, with its rights there. It
// returns ErrTenantNotFound, ErrCannotRemoveOwner or ErrNotMember.
func (m *Manager) RemoveUser(ctx context.Context, tenantID, userID int64) error {
	return m.inTxHooks(ctx, func(ctx context.Context, tx *sqlx.Tx) error { return m.RemoveUserTx(ctx, tx, tenantID, userID) })
}

// RemoveUserTx is RemoveUser inside the caller's transaction.
func (m *Manager) RemoveUserTx(ctx context.Context, tx *sqlx.Tx, tenantID, userID int64) error {
	t, err := m.lockLiveTenant(ctx, tx, tenantID)
	if err != nil {
		return fmt.Errorf("tenancy: remove user %d: %w", userID, err)
	}
	if t.OwnerID == userID {
		return fmt.Errorf("tenancy: remove user %d from %q: %w", userID, t.Slug, ErrCannotRemoveOwner)
	}
	if err := m.removeMemberTx(ctx, tx, t, userID); err != nil {
		return fmt.Errorf("tenancy: remove user %d from %q: %w", userID, t.Slug, err)
	}
	return nil
}

// TransferOwnership makes newOwnerID the owner and a superuser of the
// tenant (adding it as a member if needed). The old owner loses superuser
// there, and leaves the tenant unless it is in one of its groups.
func (m *Manager) TransferOwnership(ctx context.Context, tenantID, newOwnerID int64) error {
	return m.inTxHooks(ctx, func(ctx context.Context, tx *sqlx.Tx) error {
		return m.TransferOwnershipTx(ctx, tx, tenantID, newOwnerID)
	})
}

// TransferOwnershipTx is TransferOwnership inside the caller's transaction.
func (m *Manager) TransferOwnershipTx(ctx context.Context, tx *sqlx.Tx, tenantID, newOwnerID int64) error {
	t, err := m.lockLiveTenant(ctx, tx, tenantID)
	if err != nil {
		return fmt.Errorf("tenancy: transfer ownership: %w", err)
	}
	if err := m.transferTx(ctx, tx, t, newOwnerID); err != nil {
		return fmt.Errorf("tenancy: transfer ownership of %q: %w", t.Slug, err)
	}
	return nil
}

func (m *Manager) transferTx(ctx context.Context, tx *sqlx.Tx, t *Tenant, newOwnerID int64) error {
	if t.OwnerID == newOwnerID {
		return nil
	}
	if err := m.lockActiveUser(ctx, tx, newOwnerID); err != nil {
		return err
	}
	old := t.OwnerID
	if _, err := tx.ExecContext(ctx, `UPDATE `+m.t.Tenants+` SET owner_id = $2, updated_at = now() WHERE id = $1`, t.ID, newOwnerID); err != nil {
		return err
	}
	t.OwnerID = newOwnerID
	sch := t.Schema()
	if err := m.perms.SetSuperuserTx(ctx, tx, sch, old, false); err != nil {
		return err
	}
	groups, err := m.perms.GroupCountTx(ctx, tx, sch, old)
	if err != nil {
		return err
	}
	if groups == 0 {
		if err := m.removeMemberTx(ctx, tx, t, old); err != nil && !errors.Is(err, ErrNotMember) {
			return err
		}
	}
	err = m.addMemberTx(ctx, tx, t, newOwnerID, permissions.Flags{IsSuperuser: true})
	if errors.Is(err, ErrAlreadyMember) {
		return m.perms.SetSuperuserTx(ctx, tx, sch, newOwnerID, true)
	}
	return err
}

// IsMember reports whether the user is a member of the tenant.
func (m *Manager) IsMember(ctx context.Context, tenantID, userID int64) (bool, error) {
	var ok bool
	err := m.db.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM `+m.t.Memberships+` WHERE tenant_id = $1 AND user_id = $2)`, tenantID, userID)
	if err != nil {
		return false, fmt.Errorf("tenancy: membership: %w", err)
	}
	return ok, nil
}

// Member is a user's membership as listed by Members.
type Member struct {
	UserID      int64  `db:"user_id" json:"user_id"`
	Email       string `db:"email" json:"email"`
	IsOwner     bool   `db:"is_owner" json:"is_owner"`
	IsSuperuser bool   `db:"is_superuser" json:"is_superuser"`
	IsStaff     bool   `db:"is_staff" json:"is_staff"`
}

// Members lists a tenant's members, by email.
func (m *Manager) Members(ctx context.Context, t *Tenant) ([]Member, error) {
	var out []Member
	err := m.db.SelectContext(ctx, &out, `SELECT u.id AS user_id, u.email, u.id = $2 AS is_owner,
			coalesce(p.is_superuser, false) AS is_superuser, coalesce(p.is_staff, false) AS is_staff
		FROM `+m.t.Memberships+` ms JOIN `+m.t.Users+` u ON u.id = ms.user_id
		LEFT JOIN `+t.Schema().Qualify("tenantkit_user_tenant_permissions")+` p ON p.user_id = u.id
		WHERE ms.tenant_id = $1 ORDER BY lower(u.email)`, t.ID, t.OwnerID)
	if err != nil {
		return nil, fmt.Errorf("tenancy: members of %q: %w", t.Slug, err)
	}
	return out, nil
}

// TenantsOf lists the live tenants the user belongs to, by name.
func (m *Manager) TenantsOf(ctx context.Context, userID int64) ([]Tenant, error) {
	var out []Tenant
	err := m.db.SelectContext(ctx, &out, `SELECT `+tenantColumnsT+` FROM `+m.t.Tenants+` t
		JOIN `+m.t.Memberships+` ms ON ms.tenant_id = t.id
		WHERE ms.user_id = $1 AND t.deleted_at IS NULL AND t.is_active ORDER BY t.type = 'public' DESC, t.name`, userID)
	if err != nil {
		return nil, fmt.Errorf("tenancy: tenants of user %d: %w", userID, err)
	}
	for i := range out {
		out[i].init()
	}
	return out, nil
}

func (m *Manager) lockLiveTenant(ctx context.Context, tx *sqlx.Tx, tenantID int64) (*Tenant, error) {
	var t Tenant
	err := tx.GetContext(ctx, &t, `SELECT `+tenantColumns+` FROM `+m.t.Tenants+` WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`, tenantID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("tenant %d: %w", tenantID, ErrTenantNotFound)
	}
	if err != nil {
		return nil, err
	}
	if t.State == StatePending {
		return nil, &PendingError{Tenant: t.init()}
	}
	return t.init(), nil
}
