package tenancy_test

import (
	"errors"
	"os"
	"testing"
	"testing/fstest"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/tenancy"
	"github.com/tenantkit/tenantkit/users"
)

func TestAddRemoveUser(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	acme := f.provision(t, "acme", f.alice.ID)
	bob := f.user(t, "bob@example.com")
	inactive, _ := f.m.Users().CreateUser(ctx, "inactive@example.com", "pw", false)

	if err := f.m.AddUser(ctx, acme.ID, bob.ID, tenancy.AsStaff()); err != nil {
		t.Fatal(err)
	}
	if !f.member(t, acme, bob.ID) {
		t.Fatal("bob is not a member after AddUser")
	}
	flags, err := f.m.Permissions().UserFlags(tenancy.WithTenant(ctx, acme), bob.ID)
	if err != nil || !flags.IsStaff || flags.IsSuperuser {
		t.Fatalf("bob's flags = %+v, %v", flags, err)
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"add twice", f.m.AddUser(ctx, acme.ID, bob.ID), tenancy.ErrAlreadyMember},
		{"add inactive", f.m.AddUser(ctx, acme.ID, inactive.ID), tenancy.ErrUserInactive},
		{"add unknown user", f.m.AddUser(ctx, acme.ID, 999999), tenancy.ErrUserNotFound},
		{"add to unknown tenant", f.m.AddUser(ctx, 999999, bob.ID), tenancy.ErrTenantNotFound},
		{"remove owner", f.m.RemoveUser(ctx, acme.ID, f.alice.ID), tenancy.ErrCannotRemoveOwner},
		{"remove non-member", f.m.RemoveUser(ctx, acme.ID, f.admin.ID), tenancy.ErrNotMember},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	if err := f.m.RemoveUser(ctx, acme.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	if f.member(t, acme, bob.ID) {
		t.Fatal("bob still a member after RemoveUser")
	}
	if n := f.count(t, `SELECT count(*) FROM `+acme.Schema().Qualify("tenantkit_user_tenant_permissions")+` WHERE user_id = $1`, bob.ID); n != 0 {
		t.Fatal("bob's rights stayed in the tenant schema")
	}
}

func TestTransferOwnership(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	acme := f.provision(t, "acme", f.alice.ID)
	bob := f.user(t, "bob@example.com")
	carol := f.user(t, "carol@example.com")
	tctx := tenancy.WithTenant(ctx, acme)

	// Alice (no groups) hands over to bob (not a member): alice leaves,
	// bob becomes a superuser member.
	if err := f.m.TransferOwnership(ctx, acme.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	acme, _ = f.m.Get(ctx, acme.ID)
	if acme.OwnerID != bob.ID || f.member(t, acme, f.alice.ID) {
		t.Fatalf("after transfer: owner %d, alice member %v", acme.OwnerID, f.member(t, acme, f.alice.ID))
	}
	if fl, err := f.m.Permissions().UserFlags(tctx, bob.ID); err != nil || !fl.IsSuperuser {
		t.Fatalf("new owner flags %+v, %v", fl, err)
	}
	// Bob, in a group, hands over to carol (a member): bob stays without
	// superuser, carol becomes superuser.
	if err := f.m.Permissions().CreateGroup(tctx, "editors", "notes.add"); err != nil {
		t.Fatal(err)
	}
	if err := f.m.Permissions().AddToGroup(tctx, bob.ID, "editors"); err != nil {
		t.Fatal(err)
	}
	if err := f.m.AddUser(ctx, acme.ID, carol.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.m.TransferOwnership(ctx, acme.ID, carol.ID); err != nil {
		t.Fatal(err)
	}
	if !f.member(t, acme, bob.ID) {
		t.Fatal("old owner in a group left the tenant")
	}
	if fl, _ := f.m.Permissions().UserFlags(tctx, bob.ID); fl.IsSuperuser {
		t.Fatal("old owner kept superuser")
	}
	if fl, _ := f.m.Permissions().UserFlags(tctx, carol.ID); !fl.IsSuperuser {
		t.Fatal("new owner is not superuser")
	}
	if ok, _ := f.m.Permissions().HasPerm(tctx, bob.ID, "notes.add"); !ok {
		t.Fatal("old owner lost its group's permission")
	}
	inactive, _ := f.m.Users().CreateUser(ctx, "inactive@example.com", "pw", false)
	if err := f.m.TransferOwnership(ctx, acme.ID, inactive.ID); !errors.Is(err, tenancy.ErrUserInactive) {
		t.Fatalf("transfer to inactive = %v", err)
	}
}

func TestDeleteTenantIsSoftAndFreesTheNames(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	acme := f.provision(t, "acme", f.alice.ID)
	bob := f.user(t, "bob@example.com")
	if err := f.m.AddUser(ctx, acme.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	f.db.MustExec(`INSERT INTO `+acme.Schema().Qualify("notes")+` (body, author_id) VALUES ('keep me', $1)`, f.alice.ID)

	if err := f.m.DeleteTenant(ctx, acme.ID); err != nil {
		t.Fatal(err)
	}
	got, err := f.m.Get(ctx, acme.ID)
	if err != nil || got.IsActive || got.DeletedAt == nil || got.OwnerID != f.admin.ID {
		t.Fatalf("deleted tenant = %+v, %v", got, err)
	}
	if _, err := f.m.Resolve(ctx, "acme.example.com"); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Fatalf("deleted tenant still resolves: %v", err)
	}
	if f.member(t, acme, f.alice.ID) || f.member(t, acme, bob.ID) || !f.member(t, acme, f.admin.ID) {
		t.Fatal("members not handed to the public owner")
	}
	if n := f.count(t, `SELECT count(*) FROM `+acme.Schema().Qualify("notes")+` WHERE body = 'keep me'`); n != 1 {
		t.Fatal("deleting the tenant lost its data")
	}
	if n := f.count(t, `SELECT count(*) FROM tenantkit_domains WHERE tenant_id = $1`, acme.ID); n != 1 {
		t.Fatal("deleted tenant's domain row is gone")
	}
	// The slug and domain are free for a new tenant.
	again, d, err := f.m.Provision(ctx, "New Acme", "acme", bob.ID)
	if err != nil || d.Domain != "acme.example.com" || again.SchemaName == acme.SchemaName {
		t.Fatalf("re-provision acme = %+v %+v %v", again, d, err)
	}
	if got, _ := f.m.Resolve(ctx, "acme.example.com"); got == nil || got.ID != again.ID {
		t.Fatal("domain resolves to the wrong tenant")
	}
	// Errors.
	if err := f.m.DeleteTenant(ctx, acme.ID); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Fatalf("second delete = %v", err)
	}
	pub, _ := f.m.PublicTenant(ctx)
	if err := f.m.DeleteTenant(ctx, pub.ID); !errors.Is(err, tenancy.ErrPublicTenant) {
		t.Fatalf("delete public = %v", err)
	}
}

func TestDeleteTenantNeedsAPublicTenant(t *testing.T) {
	t.Parallel()
	m, _ := testkit.Manager(t)
	u, _ := m.Users().CreateUser(t.Context(), "alice@example.com", "pw", true)
	tn, _, err := m.Provision(t.Context(), "Acme", "acme", u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteTenant(t.Context(), tn.ID); !errors.Is(err, tenancy.ErrNoPublicTenant) {
		t.Fatalf("DeleteTenant without public tenant = %v", err)
	}
}

func TestDeleteUser(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	acme := f.provision(t, "acme", f.alice.ID)
	bob := f.user(t, "bob@example.com")
	globex := f.provision(t, "globex", bob.ID)
	if err := f.m.AddUser(ctx, globex.ID, f.alice.ID); err != nil {
		t.Fatal(err)
	}
	token, _, err := f.m.Users().NewSession(ctx, f.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.m.DeleteUser(ctx, f.alice.ID); err != nil {
		t.Fatal(err)
	}
	u, err := f.m.Users().ByID(ctx, f.alice.ID)
	if err != nil || u.IsActive || u.DeletedAt == nil {
		t.Fatalf("deleted user = %+v, %v", u, err)
	}
	if got, _ := f.m.Get(ctx, acme.ID); got.DeletedAt == nil {
		t.Fatal("the tenant alice owned was not deleted")
	}
	if got, _ := f.m.Get(ctx, globex.ID); !got.IsLive() {
		t.Fatal("a tenant alice only belonged to was deleted")
	}
	if f.member(t, globex, f.alice.ID) {
		t.Fatal("alice still a member of globex")
	}
	if _, err := f.m.Users().SessionUser(ctx, token); !errors.Is(err, users.ErrSessionNotFound) {
		t.Fatal("alice's session survived")
	}
	if _, err := f.m.Users().Authenticate(ctx, "alice@example.com", "pw"); err == nil {
		t.Fatal("deleted user can log in")
	}
	if err := f.m.DeleteUser(ctx, f.admin.ID); !errors.Is(err, tenancy.ErrCannotDeleteOwner) {
		t.Fatalf("delete public owner = %v", err)
	}
	if err := f.m.DeleteUser(ctx, 999999); !errors.Is(err, tenancy.ErrUserNotFound) {
		t.Fatalf("delete unknown user = %v", err)
	}
}

func TestTenantsOfAndMembers(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	acme := f.provision(t, "acme", f.alice.ID)
	bob := f.user(t, "bob@example.com")
	f.provision(t, "globex", bob.ID)
	if err := f.m.AddUser(ctx, acme.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	ts, err := f.m.TenantsOf(ctx, bob.ID)
	if err != nil || len(ts) != 2 || ts[0].Slug != "acme" || ts[1].Slug != "globex" {
		t.Fatalf("TenantsOf(bob) = %+v, %v", ts, err)
	}
	ms, err := f.m.Members(ctx, acme)
	if err != nil || len(ms) != 2 || !ms[0].IsOwner || ms[0].Email != "alice@example.com" || ms[1].IsOwner {
		t.Fatalf("Members(acme) = %+v, %v", ms, err)
	}
}

func TestMigrateAppliesNewMigrationToEveryTenant(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	a := f.provision(t, "acme", f.alice.ID)
	b := f.provision(t, "globex", f.alice.ID)
	f.m.DeleteTenant(ctx, b.ID) // deleted tenants stay migrated
	notes := os.DirFS(testkit.Testdata(t) + "/notes")
	v2 := fstest.MapFS{"0002_pinned.sql": {Data: []byte(`ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL DEFAULT false;`)}}
	body, _ := fsReadFile(notes, "0001_notes.sql")
	v2["0001_notes.sql"] = &fstest.MapFile{Data: body}
	m2, err := tenancy.NewManager(f.db, tenancy.WithBaseDomain("example.com"), tenancy.WithTenantMigrations(v2))
	if err != nil {
		t.Fatal(err)
	}
	results, err := m2.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	applied := 0
	for _, r := range results {
		applied += len(r.Applied)
	}
	if applied != 2 {
		t.Fatalf("applied %d migrations, want 2 (one per tenant): %+v", applied, results)
	}
	for _, tn := range []*tenancy.Tenant{a, b} {
		if n := f.count(t, `SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'notes' AND column_name = 'pinned'`, tn.SchemaName); n != 1 {
			t.Errorf("%s did not get the new column", tn.Slug)
		}
	}
	if n := f.count(t, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'notes'`); n != 0 {
		t.Fatal("tenant migration ran in the public schema")
	}
}
