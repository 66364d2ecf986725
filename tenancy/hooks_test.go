package tenancy_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/tenancy"
	"github.com/tenantkit/tenantkit/users"
)

// hookLog records every hook call as "in:Kind subject" or
// "after:Kind subject", and makes the in-transaction hook of one kind fail.
type hookLog struct {
	mu     sync.Mutex
	events []string
	failOn string // a Kind
}

var errHook = errors.New("hook says no")

func (l *hookLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.events
	l.events = nil
	return out
}

func (l *hookLog) in(kind, subject string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, "in:"+kind+" "+subject)
	if l.failOn == kind {
		return errHook
	}
	return nil
}

func (l *hookLog) after(kind, subject string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, "after:"+kind+" "+subject)
}

func (l *hookLog) hooks() tenancy.Hooks {
	tenant := func(kind string) func(context.Context, *sqlx.Tx, *tenancy.Tenant) error {
		return func(_ context.Context, _ *sqlx.Tx, t *tenancy.Tenant) error { return l.in(kind, t.Slug) }
	}
	tenantAfter := func(kind string) func(context.Context, *tenancy.Tenant) {
		return func(_ context.Context, t *tenancy.Tenant) { l.after(kind, t.Slug) }
	}
	user := func(kind string) func(context.Context, *sqlx.Tx, *users.User) error {
		return func(_ context.Context, _ *sqlx.Tx, u *users.User) error { return l.in(kind, u.Email) }
	}
	userAfter := func(kind string) func(context.Context, *users.User) {
		return func(_ context.Context, u *users.User) { l.after(kind, u.Email) }
	}
	member := func(kind string) func(context.Context, *sqlx.Tx, *tenancy.Tenant, int64) error {
		return func(_ context.Context, _ *sqlx.Tx, t *tenancy.Tenant, id int64) error {
			return l.in(kind, fmt.Sprintf("%s/%d", t.Slug, id))
		}
	}
	memberAfter := func(kind string) func(context.Context, *tenancy.Tenant, int64) {
		return func(_ context.Context, t *tenancy.Tenant, id int64) { l.after(kind, fmt.Sprintf("%s/%d", t.Slug, id)) }
	}
	return tenancy.Hooks{
		TenantProvisioned: tenant("TenantProvisioned"), AfterTenantProvisioned: tenantAfter("TenantProvisioned"),
		TenantDeleted: tenant("TenantDeleted"), AfterTenantDeleted: tenantAfter("TenantDeleted"),
		TenantRestored: tenant("TenantRestored"), AfterTenantRestored: tenantAfter("TenantRestored"),
		UserCreated: user("UserCreated"), AfterUserCreated: userAfter("UserCreated"),
		UserDeleted: user("UserDeleted"), AfterUserDeleted: userAfter("UserDeleted"),
		UserAdded: member("UserAdded"), AfterUserAdded: memberAfter("UserAdded"),
		UserRemoved: member("UserRemoved"), AfterUserRemoved: memberAfter("UserRemoved"),
	}
}

// checkInThenAfter checks that got holds want's in-transaction events, in
// order, followed by the same events as After hooks.
func checkInThenAfter(t *testing.T, op string, got, want []string) {
	t.Helper()
	var all []string
	for _, w := range want {
		all = append(all, "in:"+w)
	}
	for _, w := range want {
		all = append(all, "after:"+w)
	}
	if !slices.Equal(got, all) {
		t.Fatalf("%s: hooks ran\n  %s\nwant\n  %s", op, strings.Join(got, "\n  "), strings.Join(all, "\n  "))
	}
}

func TestHooksRunInTheTransactionThenAfterCommit(t *testing.T) {
	log := &hookLog{}
	f := setup(t, tenancy.WithHooks(log.hooks()))
	ctx := t.Context()
	log.take()
	admin, alice := f.admin.ID, f.alice.ID
	var acme *tenancy.Tenant
	var bob *users.User
	steps := []struct {
		name string
		do   func() error
		want func() []string
	}{
		{"CreateUser", func() (err error) { bob, err = f.m.CreateUser(ctx, "bob@example.com", "pw", true); return err },
			func() []string { return []string{"UserCreated bob@example.com"} }},
		{"Provision", func() (err error) { acme, _, err = f.m.Provision(ctx, "Acme", "acme", alice); return err },
			func() []string { return []string{fmt.Sprintf("UserAdded acme/%d", alice), "TenantProvisioned acme"} }},
		{"AddUser", func() error { return f.m.AddUser(ctx, acme.ID, bob.ID) },
			func() []string { return []string{fmt.Sprintf("UserAdded acme/%d", bob.ID)} }},
		{"RemoveUser", func() error { return f.m.RemoveUser(ctx, acme.ID, bob.ID) },
			func() []string { return []string{fmt.Sprintf("UserRemoved acme/%d", bob.ID)} }},
		{"DeleteTenant", func() error { return f.m.DeleteTenant(ctx, acme.ID) },
			func() []string {
				return []string{fmt.Sprintf("UserRemoved acme/%d", alice), fmt.Sprintf("UserAdded acme/%d", admin), "TenantDeleted acme"}
			}},
		{"RestoreTenant", func() error { return f.m.RestoreTenant(ctx, acme.ID, alice) },
			func() []string {
				return []string{fmt.Sprintf("UserRemoved acme/%d", admin), fmt.Sprintf("UserAdded acme/%d", alice), "TenantRestored acme"}
			}},
		{"DeleteUser", func() error { return f.m.DeleteUser(ctx, bob.ID) },
			func() []string { return []string{"UserDeleted bob@example.com"} }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		checkInThenAfter(t, s.name, log.take(), s.want())
	}

	// In the caller's transaction (Tx variants) only the in-transaction
	// hooks run: the caller commits, so it knows when to act.
	tx := f.db.MustBeginTx(ctx, nil)
	defer tx.Rollback()
	if _, _, err := f.m.ProvisionTx(ctx, tx, "Globex", "globex", alice); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf("in:UserAdded globex/%d", alice), "in:TenantProvisioned globex"}
	if got := log.take(); !slices.Equal(got, want) {
		t.Fatalf("ProvisionTx: hooks ran %q, want %q", got, want)
	}
}

func TestInTransactionHookErrorAbortsTheOperation(t *testing.T) {
	log := &hookLog{}
	f := setup(t, tenancy.WithHooks(log.hooks()))
	ctx := t.Context()
	bob := f.user(t, "bob@example.com")
	acme := f.provision(t, "acme", f.alice.ID)
	gone := f.provision(t, "gone", f.alice.ID)
	if err := f.m.AddUser(ctx, acme.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.m.DeleteTenant(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	live := func(id int64) bool { tn, err := f.m.Get(ctx, id); return err == nil && tn.IsLive() }
	tests := []struct {
		kind      string
		op        func() error
		unchanged func() bool
	}{
		{"UserCreated", func() error { _, err := f.m.CreateUser(ctx, "carol@example.com", "pw", true); return err },
			func() bool {
				_, err := f.m.Users().ByEmail(ctx, "carol@example.com")
				return errors.Is(err, users.ErrNotFound)
			}},
		{"TenantProvisioned", func() error { _, _, err := f.m.Provision(ctx, "Boom", "boom", f.alice.ID); return err },
			func() bool { _, err := f.m.BySlug(ctx, "boom"); return errors.Is(err, tenancy.ErrTenantNotFound) }},
		{"UserAdded", func() error { return f.m.AddUser(ctx, acme.ID, f.admin.ID) },
			func() bool { return !f.member(t, acme, f.admin.ID) }},
		{"UserRemoved", func() error { return f.m.RemoveUser(ctx, acme.ID, bob.ID) },
			func() bool { return f.member(t, acme, bob.ID) }},
		{"TenantDeleted", func() error { return f.m.DeleteTenant(ctx, acme.ID) },
			func() bool { return live(acme.ID) && f.member(t, acme, bob.ID) }},
		{"TenantRestored", func() error { return f.m.RestoreTenant(ctx, gone.ID, f.alice.ID) },
			func() bool { return !live(gone.ID) }},
		{"UserDeleted", func() error { return f.m.DeleteUser(ctx, bob.ID) },
			func() bool {
				u, err := f.m.Users().ByID(ctx, bob.ID)
				return err == nil && u.IsActive && f.member(t, acme, bob.ID)
			}},
	}
	for _, tt := range tests {
		before := f.footprint(t)
		log.failOn = tt.kind
		log.take()
		err := tt.op()
		log.failOn = ""
		if !errors.Is(err, errHook) {
			t.Errorf("%s hook failing: operation returned %v", tt.kind, err)
			continue
		}
		if !tt.unchanged() || f.footprint(t) != before {
			t.Errorf("%s hook failing: the operation was not rolled back", tt.kind)
		}
		for _, e := range log.take() {
			if strings.HasPrefix(e, "after:") {
				t.Errorf("%s hook failing: After hook ran: %s", tt.kind, e)
			}
		}
	}
}

func TestDeletedUserEmail(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	bob := f.user(t, "bob@example.com")
	acme := f.provision(t, "acme", f.alice.ID)
	if err := f.m.AddUser(ctx, acme.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.m.DeleteUser(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
	// The email stays taken by the deleted user, whatever its case, through
	// the Manager and the store alike: a typed error, not a new account.
	for _, email := range []string{"bob@example.com", "BOB@Example.com"} {
		if _, err := f.m.CreateUser(ctx, email, "pw2", true); !errors.Is(err, users.ErrDeleted) {
			t.Fatalf("Manager.CreateUser(%q) = %v, want users.ErrDeleted", email, err)
		}
		if _, err := f.m.Users().CreateUser(ctx, email, "pw2", true); !errors.Is(err, users.ErrDeleted) {
			t.Fatalf("Store.CreateUser(%q) = %v, want users.ErrDeleted", email, err)
		}
	}
	if _, err := f.m.CreateUser(ctx, "alice@example.com", "pw", true); !errors.Is(err, users.ErrExists) {
		t.Fatalf("CreateUser of a live email = %v, want users.ErrExists", err)
	}
	// RestoreUser is the way back: the same account, active, its old
	// password, no memberships.
	if err := f.m.RestoreUser(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
	u, err := f.m.Users().Authenticate(ctx, "bob@example.com", "pw")
	if err != nil || u.ID != bob.ID || !u.IsActive || u.DeletedAt != nil {
		t.Fatalf("restored user = %+v, %v", u, err)
	}
	if f.member(t, acme, bob.ID) {
		t.Fatal("restoring a user brought its membership back")
	}
	if err := f.m.RestoreUser(ctx, bob.ID); !errors.Is(err, tenancy.ErrUserLive) {
		t.Fatalf("restore a live user = %v", err)
	}
	if err := f.m.RestoreUser(ctx, 987654); !errors.Is(err, tenancy.ErrUserNotFound) {
		t.Fatalf("restore an unknown user = %v", err)
	}
}

// TestTenantHooksRunOnTheTenantsPath: a TenantProvisioned hook seeds the
// new tenant's tables by their unqualified names, as its migrations name
// them, and the caller's path is back after it.
func TestTenantHooksRunOnTheTenantsPath(t *testing.T) {
	f := setup(t, tenancy.WithHooks(tenancy.Hooks{
		TenantProvisioned: func(ctx context.Context, tx *sqlx.Tx, tn *tenancy.Tenant) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO notes (body, author_id) VALUES ('welcome', $1)`, tn.OwnerID)
			return err
		},
	}))
	ctx := t.Context()
	tx := f.db.MustBegin()
	defer tx.Rollback()
	tn, _, err := f.m.ProvisionTx(ctx, tx, "Acme", "acme", f.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	var path string
	if err := tx.Get(&path, `SHOW search_path`); err != nil || path != `"$user", public` {
		t.Fatalf("caller's path after ProvisionTx: %q, %v", path, err)
	}
	var n int
	if err := tx.Get(&n, `SELECT count(*) FROM `+tn.Schema().Qualify("notes")); err != nil || n != 1 {
		t.Fatalf("the hook's row in the tenant's notes: %d, %v", n, err)
	}
}
