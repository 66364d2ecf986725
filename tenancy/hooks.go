package tenancy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/users"
)

// Hooks are functions the Manager calls as tenants and users change. Give
// them with WithHooks; every field is optional.
//
// The fields without "After" run inside the operation's transaction, after
// the change and before the commit: they may read and write through tx,
// and an error they return aborts the whole operation, which then returns
// that error wrapped. The tenant hooks (tenant provisioned, deleted,
// restored; user added, removed) run with tx's search_path on the tenant's
// schema, as its migrations do, so unqualified names are the tenant's
// tables; the user hooks run on the caller's path: qualify names there.
// tenantkit's own shared tables are always qualified.
//
// The "After" fields run after the commit, only when the Manager ran the
// transaction itself (Provision, not ProvisionTx: with a Tx variant the
// caller commits, so it knows when to act). They cannot fail the operation,
// which has happened; they run on the calling goroutine.
type Hooks struct {
	// TenantProvisioned: Provision, CloneTenant, and the worker that
	// finishes ProvisionAsync. The tenant's schema is migrated and its
	// owner is a member.
	TenantProvisioned func(ctx context.Context, tx *sqlx.Tx, t *Tenant) error
	// TenantDeleted: DeleteTenant, and DeleteUser for each ready tenant the
	// user owned (a pending one fails instead). t is the tenant before
	// deletion.
	TenantDeleted func(ctx context.Context, tx *sqlx.Tx, t *Tenant) error
	// TenantRestored: RestoreTenant; t is live again.
	TenantRestored func(ctx context.Context, tx *sqlx.Tx, t *Tenant) error
	// UserCreated: Manager.CreateUser.
	UserCreated func(ctx context.Context, tx *sqlx.Tx, u *users.User) error
	// UserDeleted: DeleteUser; u is the user before deletion.
	UserDeleted func(ctx context.Context, tx *sqlx.Tx, u *users.User) error
	// UserAdded: every new membership (AddUser, the owner at provisioning,
	// the new owner at TransferOwnership and RestoreTenant).
	UserAdded func(ctx context.Context, tx *sqlx.Tx, t *Tenant, userID int64) error
	// UserRemoved: every membership that ends (RemoveUser, the members of a
	// deleted tenant, a deleted user, an old owner who leaves).
	UserRemoved func(ctx context.Context, tx *sqlx.Tx, t *Tenant, userID int64) error

	AfterTenantProvisioned func(ctx context.Context, t *Tenant)
	AfterTenantDeleted     func(ctx context.Context, t *Tenant)
	AfterTenantRestored    func(ctx context.Context, t *Tenant)
	AfterUserCreated       func(ctx context.Context, u *users.User)
	AfterUserDeleted       func(ctx context.Context, u *users.User)
	AfterUserAdded         func(ctx context.Context, t *Tenant, userID int64)
	AfterUserRemoved       func(ctx context.Context, t *Tenant, userID int64)
}

func (h Hooks) empty() bool {
	return h.TenantProvisioned == nil && h.TenantDeleted == nil && h.TenantRestored == nil &&
		h.UserCreated == nil && h.UserDeleted == nil && h.UserAdded == nil && h.UserRemoved == nil &&
		h.AfterTenantProvisioned == nil && h.AfterTenantDeleted == nil && h.AfterTenantRestored == nil &&
		h.AfterUserCreated == nil && h.AfterUserDeleted == nil && h.AfterUserAdded == nil && h.AfterUserRemoved == nil
}

// WithHooks registers hooks. It may be given several times: each set runs,
// in the order given. A Hooks with no field set is an error.
func WithHooks(h Hooks) Option {
	return func(m *Manager) error {
		if h.empty() {
			return fmt.Errorf("tenancy: WithHooks: %w: no hook set", ErrInvalidOption)
		}
		m.hooks = append(m.hooks, h)
		return nil
	}
}

// afterQueue collects the After hooks of one transaction that the Manager
// commits itself.
type afterQueue struct{ fns []func() }

type afterKey struct{}

// inTxHooks is inTx that runs the After hooks queued by fn once the
// transaction has committed. fn must use the context it is given.
func (m *Manager) inTxHooks(ctx context.Context, fn func(ctx context.Context, tx *sqlx.Tx) error) error {
	q := &afterQueue{}
	ctx = context.WithValue(ctx, afterKey{}, q)
	if err := m.inTx(ctx, func(tx *sqlx.Tx) error { return fn(ctx, tx) }); err != nil {
		return err
	}
	for _, f := range q.fns {
		f()
	}
	return nil
}

// after queues f to run after the commit, if the Manager runs the
// transaction (inTxHooks); under a caller's transaction it drops f.
func after(ctx context.Context, f func()) {
	if q, ok := ctx.Value(afterKey{}).(*afterQueue); ok {
		q.fns = append(q.fns, f)
	}
}

func (m *Manager) hookTenant(ctx context.Context, tx *sqlx.Tx, t *Tenant,
	in func(Hooks) func(context.Context, *sqlx.Tx, *Tenant) error,
	out func(Hooks) func(context.Context, *Tenant)) error {
	for _, h := range m.hooks {
		if f := in(h); f != nil {
			if err := m.inTenantPath(ctx, tx, t, func(tx *sqlx.Tx) error { return f(ctx, tx, t) }); err != nil {
				return fmt.Errorf("hook: %w", err)
			}
		}
		if f := out(h); f != nil {
			cp := *t
			after(ctx, func() { f(context.WithoutCancel(ctx), &cp) })
		}
	}
	return nil
}

// inTenantPath runs a tenant hook with tx's search_path on the tenant's
// schema for the hook's length, so a hook that seeds the tenant's tables
// names them as the tenant's migrations do. A tenant without a schema of
// its own (the public tenant's is the shared one) keeps tx's path.
func (m *Manager) inTenantPath(ctx context.Context, tx *sqlx.Tx, t *Tenant, fn func(*sqlx.Tx) error) error {
	if t.IsPublic() || t.Schema().IsZero() {
		return fn(tx)
	}
	return m.sdb.InTx(ctx, tx, t.Schema(), fn)
}

func (m *Manager) hookMember(ctx context.Context, tx *sqlx.Tx, t *Tenant, userID int64, added bool) error {
	for _, h := range m.hooks {
		in, out := h.UserRemoved, h.AfterUserRemoved
		if added {
			in, out = h.UserAdded, h.AfterUserAdded
		}
		if in != nil {
			if err := m.inTenantPath(ctx, tx, t, func(tx *sqlx.Tx) error { return in(ctx, tx, t, userID) }); err != nil {
				return fmt.Errorf("hook: %w", err)
			}
		}
		if out != nil {
			cp := *t
			after(ctx, func() { out(context.WithoutCancel(ctx), &cp, userID) })
		}
	}
	return nil
}

func (m *Manager) hookUser(ctx context.Context, tx *sqlx.Tx, u *users.User, created bool) error {
	for _, h := range m.hooks {
		in, out := h.UserDeleted, h.AfterUserDeleted
		if created {
			in, out = h.UserCreated, h.AfterUserCreated
		}
		if in != nil {
			if err := in(ctx, tx, u); err != nil {
				return fmt.Errorf("hook: %w", err)
			}
		}
		if out != nil {
			cp := *u
			after(ctx, func() { out(context.WithoutCancel(ctx), &cp) })
		}
	}
	return nil
}

func (m *Manager) hookProvisioned(ctx context.Context, tx *sqlx.Tx, t *Tenant) error {
	return m.hookTenant(ctx, tx, t,
		func(h Hooks) func(context.Context, *sqlx.Tx, *Tenant) error { return h.TenantProvisioned },
		func(h Hooks) func(context.Context, *Tenant) { return h.AfterTenantProvisioned })
}

func (m *Manager) hookDeleted(ctx context.Context, tx *sqlx.Tx, t *Tenant) error {
	return m.hookTenant(ctx, tx, t,
		func(h Hooks) func(context.Context, *sqlx.Tx, *Tenant) error { return h.TenantDeleted },
		func(h Hooks) func(context.Context, *Tenant) { return h.AfterTenantDeleted })
}

func (m *Manager) hookRestored(ctx context.Context, tx *sqlx.Tx, t *Tenant) error {
	return m.hookTenant(ctx, tx, t,
		func(h Hooks) func(context.Context, *sqlx.Tx, *Tenant) error { return h.TenantRestored },
		func(h Hooks) func(context.Context, *Tenant) { return h.AfterTenantRestored })
}

// CreateUser creates a user (users.Store.CreateUser) and runs the
// UserCreated hooks in the same transaction. It returns users.ErrExists,
// users.ErrDeleted for the email of a deleted user (RestoreUser brings that
// user back) or users.ErrInvalidEmail.
func (m *Manager) CreateUser(ctx context.Context, email, password string, isActive bool) (*users.User, error) {
	var u *users.User
	err := m.inTxHooks(ctx, func(ctx context.Context, tx *sqlx.Tx) error {
		var err error
		u, err = m.CreateUserTx(ctx, tx, email, password, isActive)
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// CreateUserTx is CreateUser inside the caller's transaction.
func (m *Manager) CreateUserTx(ctx context.Context, tx *sqlx.Tx, email, password string, isActive bool) (*users.User, error) {
	// Look first: a unique violation would abort tx before the store could
	// tell a deleted user's email (ErrDeleted) from a live one's.
	if norm, err := users.NormalizeEmail(email); err == nil {
		var deleted bool
		err := tx.GetContext(ctx, &deleted, `SELECT deleted_at IS NOT NULL FROM `+m.t.Users+` WHERE lower(email) = lower($1)`, norm)
		switch {
		case err == nil && deleted:
			return nil, fmt.Errorf("tenancy: create user %q: %w", norm, users.ErrDeleted)
		case err == nil:
			return nil, fmt.Errorf("tenancy: create user %q: %w", norm, users.ErrExists)
		case !errors.Is(err, sql.ErrNoRows):
			return nil, fmt.Errorf("tenancy: create user %q: %w", norm, err)
		}
	}
	u, err := m.users.CreateUserTx(ctx, tx, email, password, isActive)
	if err != nil {
		return nil, err
	}
	if err := m.hookUser(ctx, tx, u, true); err != nil {
		return nil, fmt.Errorf("tenancy: create user %q: %w", u.Email, err)
	}
	return u, nil
}
