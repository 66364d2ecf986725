package permissions_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/permissions"
	"github.com/tenantkit/tenantkit/tenancy"
	"github.com/tenantkit/tenantkit/users"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type world struct {
	m                       *tenancy.Manager
	p                       *permissions.Store
	acme, globex            context.Context
	owner, reader, outsider *users.User
}

// newWorld: acme (owned by owner, reader is a member with no rights) and
// globex (owned by outsider).
func newWorld(t *testing.T) *world {
	t.Helper()
	t.Parallel()
	m, _ := testkit.Manager(t)
	ctx := t.Context()
	mk := func(email string) *users.User {
		u, err := m.Users().CreateUser(ctx, email, "pw", true)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	w := &world{m: m, p: m.Permissions(), owner: mk("owner@example.com"), reader: mk("reader@example.com"), outsider: mk("out@example.com")}
	acme, _, err := m.Provision(ctx, "Acme", "acme", w.owner.ID)
	if err != nil {
		t.Fatal(err)
	}
	globex, _, err := m.Provision(ctx, "Globex", "globex", w.outsider.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.AddUser(ctx, acme.ID, w.reader.ID); err != nil {
		t.Fatal(err)
	}
	w.acme, w.globex = tenancy.WithTenant(ctx, acme), tenancy.WithTenant(ctx, globex)
	return w
}

func (w *world) has(t *testing.T, ctx context.Context, u *users.User, perms ...string) bool {
	t.Helper()
	ok, err := w.p.HasPerms(ctx, u.ID, perms...)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestHasPerm(t *testing.T) {
	w := newWorld(t)
	if err := w.p.CreateGroup(w.acme, "readers", "notes.view"); err != nil {
		t.Fatal(err)
	}
	if err := w.p.AddToGroup(w.acme, w.reader.ID, "readers"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		ctx   context.Context
		user  *users.User
		perms []string
		want  bool
	}{
		{"superuser has all", w.acme, w.owner, []string{"notes.add", "notes.view"}, true},
		{"superuser has even unregistered", w.acme, w.owner, []string{"billing.refund"}, true},
		{"group grants view", w.acme, w.reader, []string{"notes.view"}, true},
		{"group does not grant add", w.acme, w.reader, []string{"notes.add"}, false},
		{"all of several", w.acme, w.reader, []string{"notes.view", "notes.add"}, false},
		{"duplicates", w.acme, w.reader, []string{"notes.view", "notes.view"}, true},
		{"no perms means membership", w.acme, w.reader, nil, true},
		{"non-member has none", w.acme, w.outsider, []string{"notes.view"}, false},
		{"non-member not a member", w.acme, w.outsider, nil, false},
		{"rights stay in their tenant", w.globex, w.owner, []string{"notes.view"}, false},
		{"invalid codename", w.acme, w.owner, []string{"notes"}, false},
		{"injection codename", w.acme, w.owner, []string{"x') OR true --"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := w.has(t, tt.ctx, tt.user, tt.perms...); got != tt.want {
				t.Fatalf("HasPerms(%s, %v) = %v, want %v", tt.user.Email, tt.perms, got, tt.want)
			}
		})
	}
}

func TestDirectGrantAndRevoke(t *testing.T) {
	w := newWorld(t)
	if err := w.p.Grant(w.acme, w.reader.ID, "notes.add"); err != nil {
		t.Fatal(err)
	}
	if !w.has(t, w.acme, w.reader, "notes.add") {
		t.Fatal("grant did not take")
	}
	all, err := w.p.AllPermissions(w.acme, w.reader.ID)
	if err != nil || len(all) != 1 || all[0] != "notes.add" {
		t.Fatalf("AllPermissions = %v, %v", all, err)
	}
	if err := w.p.Revoke(w.acme, w.reader.ID, "notes.add"); err != nil {
		t.Fatal(err)
	}
	if w.has(t, w.acme, w.reader, "notes.add") {
		t.Fatal("revoke did not take")
	}
	errs := []struct {
		name string
		err  error
		want error
	}{
		{"grant unknown perm", w.p.Grant(w.acme, w.reader.ID, "billing.refund"), permissions.ErrUnknownPermission},
		{"grant invalid perm", w.p.Grant(w.acme, w.reader.ID, "nodot"), permissions.ErrInvalidPermission},
		{"grant to non-member", w.p.Grant(w.acme, w.outsider.ID, "notes.add"), permissions.ErrNotMember},
		{"group to non-member", w.p.AddToGroup(w.acme, w.outsider.ID, "x"), permissions.ErrNotMember},
		{"unknown group", w.p.AddToGroup(w.acme, w.reader.ID, "nope"), permissions.ErrUnknownGroup},
		{"group with unknown perm", w.p.CreateGroup(w.acme, "g", "billing.refund"), permissions.ErrUnknownPermission},
		{"flags of non-member", w.p.SetFlags(w.acme, w.outsider.ID, permissions.Flags{IsStaff: true}), permissions.ErrNotMember},
	}
	for _, e := range errs {
		if !errors.Is(e.err, e.want) {
			t.Errorf("%s: %v, want %v", e.name, e.err, e.want)
		}
	}
	if err := w.p.CreateGroup(w.acme, "editors"); err != nil {
		t.Fatal(err)
	}
	if err := w.p.CreateGroup(w.acme, "editors"); !errors.Is(err, permissions.ErrGroupExists) {
		t.Fatalf("duplicate group = %v", err)
	}
}

func TestInactiveUserHasNothing(t *testing.T) {
	w := newWorld(t)
	if err := w.m.DeleteUser(w.acme, w.reader.ID); err != nil {
		t.Fatal(err)
	}
	// Even a superuser row left behind would not count for an inactive user.
	if w.has(t, w.acme, w.reader) {
		t.Fatal("deleted user is still a member")
	}
	if w.has(t, w.acme, w.owner, "notes.add") != true {
		t.Fatal("owner lost rights")
	}
}

func TestSuperuserFlagAndStaff(t *testing.T) {
	w := newWorld(t)
	if err := w.p.SetFlags(w.acme, w.reader.ID, permissions.Flags{IsSuperuser: true, IsStaff: true}); err != nil {
		t.Fatal(err)
	}
	if !w.has(t, w.acme, w.reader, "notes.add") {
		t.Fatal("superuser flag does not grant all")
	}
	f, err := w.p.UserFlags(w.acme, w.reader.ID)
	if err != nil || !f.IsStaff {
		t.Fatalf("flags = %+v, %v", f, err)
	}
	if w.has(t, w.globex, w.reader, "notes.add") {
		t.Fatal("superuser in acme has rights in globex")
	}
}

func TestNoTenantFailsClosed(t *testing.T) {
	w := newWorld(t)
	bg := context.Background()
	if _, err := w.p.HasPerm(bg, w.owner.ID, "notes.add"); !errors.Is(err, permissions.ErrNoTenant) {
		t.Fatalf("HasPerm without tenant = %v", err)
	}
	if err := w.p.Grant(bg, w.owner.ID, "notes.add"); err == nil {
		t.Fatal("Grant without tenant succeeded")
	}
}

func TestRegister(t *testing.T) {
	w := newWorld(t)
	if err := w.p.Register(w.acme, permissions.Permission{Codename: "billing.refund", Name: "Can refund"}); err != nil {
		t.Fatal(err)
	}
	ps, err := w.p.Permissions(w.acme)
	if err != nil || len(ps) != 3 || ps[0].Codename != "billing.refund" {
		t.Fatalf("Permissions = %+v, %v", ps, err)
	}
	if err := w.p.Register(w.acme, permissions.Permission{Codename: "Bad"}); !errors.Is(err, permissions.ErrInvalidPermission) {
		t.Fatalf("Register bad = %v", err)
	}
	ps, _ = w.p.Permissions(w.globex)
	if len(ps) != 2 {
		t.Fatalf("registration leaked to globex: %+v", ps)
	}
}
