package tenancy_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/permissions"
	"github.com/tenantkit/tenantkit/tenancy"
)

func TestProvisionCreatesTheWholeTenant(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	tn, d, err := f.m.Provision(ctx, "Acme Corp", "acme", f.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if tn.Slug != "acme" || tn.Name != "Acme Corp" || tn.Type != tenancy.DefaultType || tn.OwnerID != f.alice.ID || !tn.IsLive() {
		t.Fatalf("tenant = %+v", tn)
	}
	if !strings.HasPrefix(tn.SchemaName, "acme_") || len(tn.SchemaName) != len("acme_")+8 {
		t.Fatalf("schema name %q", tn.SchemaName)
	}
	if d.Domain != "acme.example.com" || !d.IsPrimary || d.TenantID != tn.ID {
		t.Fatalf("domain = %+v", d)
	}
	if n := f.count(t, `SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = 'notes'`, tn.SchemaName); n != 1 {
		t.Fatal("tenant migration did not run in the tenant schema")
	}
	if !f.member(t, tn, f.alice.ID) {
		t.Fatal("owner is not a member")
	}
	tctx := tenancy.WithTenant(ctx, tn)
	flags, err := f.m.Permissions().UserFlags(tctx, f.alice.ID)
	if err != nil || !flags.IsSuperuser || flags.IsStaff {
		t.Fatalf("owner flags = %+v, %v; want superuser, not staff", flags, err)
	}
	got, err := f.m.Resolve(ctx, "acme.example.com")
	if err != nil || got.ID != tn.ID {
		t.Fatalf("Resolve = %+v, %v", got, err)
	}
}

func TestProvisionOptions(t *testing.T) {
	extra := fstest.MapFS{"1_extra.sql": {Data: []byte(`
		ALTER TABLE tenantkit_tenants ADD COLUMN plan text NOT NULL DEFAULT 'free';
		ALTER TABLE tenantkit_domains ADD COLUMN verified boolean NOT NULL DEFAULT false;`)}}
	f := setup(t, tenancy.WithSharedMigrations(extra), tenancy.WithTenantType("shop", os.DirFS(testkit.Testdata(t)+"/notes")))
	ctx := t.Context()
	tn, _, err := f.m.Provision(ctx, "Acme", "acme", f.alice.ID,
		tenancy.WithType("shop"),
		tenancy.WithSchemaName("acme_custom"),
		tenancy.WithTenantData(map[string]any{"plan": "pro"}),
		tenancy.WithDomainData(map[string]any{"verified": true}),
		tenancy.WithOwnerFlags(false, true))
	if err != nil {
		t.Fatal(err)
	}
	if tn.Type != "shop" || tn.SchemaName != "acme_custom" {
		t.Fatalf("tenant = %+v", tn)
	}
	if n := f.count(t, `SELECT count(*) FROM tenantkit_tenants WHERE id = $1 AND plan = 'pro'`, tn.ID); n != 1 {
		t.Fatal("tenant extra data not stored")
	}
	if n := f.count(t, `SELECT count(*) FROM tenantkit_domains WHERE tenant_id = $1 AND verified`, tn.ID); n != 1 {
		t.Fatal("domain extra data not stored")
	}
	flags, err := f.m.Permissions().UserFlags(tenancy.WithTenant(ctx, tn), f.alice.ID)
	if err != nil || flags.IsSuperuser || !flags.IsStaff {
		t.Fatalf("owner flags = %+v, %v; want staff only", flags, err)
	}
}

func TestProvisionRejectsBadInputBeforeWriting(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	inactive, err := f.m.Users().CreateUser(ctx, "inactive@example.com", "pw", false)
	if err != nil {
		t.Fatal(err)
	}
	f.provision(t, "taken", f.alice.ID)
	before := f.footprint(t)
	tests := []struct {
		name  string
		slug  string
		owner int64
		opts  []tenancy.ProvisionOption
		want  error
	}{
		{"empty slug", "", f.alice.ID, nil, tenancy.ErrInvalidSlug},
		{"upper-case slug", "Acme", f.alice.ID, nil, tenancy.ErrInvalidSlug},
		{"slug with underscore", "ac_me", f.alice.ID, nil, tenancy.ErrInvalidSlug},
		{"slug with leading hyphen", "-acme", f.alice.ID, nil, tenancy.ErrInvalidSlug},
		{"slug too long", strings.Repeat("a", 64), f.alice.ID, nil, tenancy.ErrInvalidSlug},
		{"slug with dot", "a.b", f.alice.ID, nil, tenancy.ErrInvalidSlug},
		{"reserved slug", "www", f.alice.ID, nil, tenancy.ErrInvalidSlug},
		{"unknown type", "acme", f.alice.ID, []tenancy.ProvisionOption{tenancy.WithType("nope")}, tenancy.ErrUnknownType},
		{"public type", "acme", f.alice.ID, []tenancy.ProvisionOption{tenancy.WithType("public")}, tenancy.ErrUnknownType},
		{"invalid schema", "acme", f.alice.ID, []tenancy.ProvisionOption{tenancy.WithSchemaName(`x"; drop schema public; --`)}, tenancy.ErrInvalidSchema},
		{"shared schema", "acme", f.alice.ID, []tenancy.ProvisionOption{tenancy.WithSchemaName("public")}, tenancy.ErrInvalidSchema},
		{"pg schema", "acme", f.alice.ID, []tenancy.ProvisionOption{tenancy.WithSchemaName("pg_catalog")}, tenancy.ErrInvalidSchema},
		{"unknown tenant column", "acme", f.alice.ID, []tenancy.ProvisionOption{tenancy.WithTenantData(map[string]any{"plan": "pro"})}, tenancy.ErrUnknownColumn},
		{"core tenant column", "acme", f.alice.ID, []tenancy.ProvisionOption{tenancy.WithTenantData(map[string]any{"owner_id": 1})}, tenancy.ErrUnknownColumn},
		{"provisioning key column", "acme", f.alice.ID, []tenancy.ProvisionOption{tenancy.WithTenantData(map[string]any{"provision_key": "k"})}, tenancy.ErrUnknownColumn},
		{"state column", "acme", f.alice.ID, []tenancy.ProvisionOption{tenancy.WithTenantData(map[string]any{"state": "ready"})}, tenancy.ErrUnknownColumn},
		{"unknown domain column", "acme", f.alice.ID, []tenancy.ProvisionOption{tenancy.WithDomainData(map[string]any{`x" text); --`: 1})}, tenancy.ErrUnknownColumn},
		{"owner missing", "acme", 999999, nil, tenancy.ErrUserNotFound},
		{"owner inactive", "acme", inactive.ID, nil, tenancy.ErrUserInactive},
		{"slug taken", "taken", f.alice.ID, nil, tenancy.ErrSlugExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := f.m.Provision(ctx, "Name", tt.slug, tt.owner, tt.opts...)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Provision = %v, want %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "tenancy: provision ") {
				t.Fatalf("error %q does not name the operation", err)
			}
			if got := f.footprint(t); got != before {
				t.Fatalf("footprint %v -> %v: a failed provision left something behind", before, got)
			}
		})
	}
	var ute *tenancy.UnknownTypeError
	_, _, err = f.m.Provision(ctx, "Name", "acme", f.alice.ID, tenancy.WithType("nope"))
	if !errors.As(err, &ute) || !strings.Contains(err.Error(), "default") {
		t.Fatalf("unknown type error %v does not list the valid types", err)
	}
}

// TestProvisionFailureAtEachStepLeavesNothing makes each step of
// provisioning fail in the database itself and checks that no row, schema
// or domain is left.
func TestProvisionFailureAtEachStepLeavesNothing(t *testing.T) {
	f := setup(t, tenancy.WithTenantType("broken", os.DirFS(testkit.Testdata(t)+"/broken")))
	ctx := t.Context()
	f.db.MustExec(`CREATE FUNCTION fail_step() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`)
	other := f.provision(t, "other", f.alice.ID)
	f.db.MustExec(`INSERT INTO tenantkit_domains (domain, tenant_id) VALUES ('clash.example.com', $1)`, other.ID)
	f.db.MustExec(`CREATE SCHEMA squatted`)
	before := f.footprint(t)

	steps := []struct {
		name    string
		trigger string // table to fail on insert
		slug    string
		opts    []tenancy.ProvisionOption
		want    error
	}{
		{name: "tenant row", trigger: "tenantkit_tenants", slug: "acme"},
		{name: "schema exists", slug: "acme", opts: []tenancy.ProvisionOption{tenancy.WithSchemaName("squatted")}, want: tenancy.ErrSchemaExists},
		{name: "migration", slug: "acme", opts: []tenancy.ProvisionOption{tenancy.WithType("broken")}},
		{name: "domain row", trigger: "tenantkit_domains", slug: "acme"},
		{name: "domain taken", slug: "clash", want: tenancy.ErrDomainExists},
		{name: "membership", trigger: "tenantkit_memberships", slug: "acme"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.trigger != "" {
				f.db.MustExec(`CREATE TRIGGER fail BEFORE INSERT ON ` + st.trigger + ` FOR EACH ROW EXECUTE FUNCTION fail_step()`)
				defer f.db.MustExec(`DROP TRIGGER fail ON ` + st.trigger)
			}
			_, _, err := f.m.Provision(ctx, "Acme", st.slug, f.alice.ID, st.opts...)
			if err == nil {
				t.Fatal("Provision succeeded")
			}
			if st.want != nil && !errors.Is(err, st.want) {
				t.Fatalf("Provision = %v, want %v", err, st.want)
			}
			if got := f.footprint(t); got != before {
				t.Fatalf("footprint %v -> %v after failing at %s", before, got, st.name)
			}
		})
	}
	// Permissions row: fail the insert inside the tenant schema with an
	// event trigger-free approach: a type whose migration installs the
	// failing trigger on the permissions table.
	failPerms := fstest.MapFS{"1_fail.sql": {Data: []byte(`CREATE TRIGGER fail BEFORE INSERT ON tenantkit_user_tenant_permissions FOR EACH ROW EXECUTE FUNCTION public.fail_step();`)}}
	f2, err := tenancy.NewManager(f.db, tenancy.WithBaseDomain("example.com"), tenancy.WithTenantType("failperms", failPerms))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f2.Provision(ctx, "Acme", "acme", f.alice.ID, tenancy.WithType("failperms")); err == nil {
		t.Fatal("Provision with failing permissions insert succeeded")
	}
	if got := f.footprint(t); got != before {
		t.Fatalf("footprint %v -> %v after failing at the permissions row", before, got)
	}
	// And a clean provision still works afterwards.
	f.provision(t, "acme", f.alice.ID)
}

func TestProvisionTxFoldsIntoCallersTransaction(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	before := f.footprint(t)
	tx, err := f.db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	tn, _, err := f.m.ProvisionTx(ctx, tx, "Acme", "acme", f.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	var path string
	if err := tx.Get(&path, `SHOW search_path`); err != nil || path != `"$user", public` {
		t.Fatalf("ProvisionTx left search_path %q (%v)", path, err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if got := f.footprint(t); got != before {
		t.Fatalf("rolled-back ProvisionTx left %v -> %v", before, got)
	}
	if _, err := f.m.Get(ctx, tn.ID); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Fatalf("Get after rollback = %v", err)
	}
}

func TestCreatePublicTenantTwice(t *testing.T) {
	f := setup(t)
	_, _, err := f.m.CreatePublicTenant(t.Context(), "other.example.com", "admin@example.com")
	if !errors.Is(err, tenancy.ErrTenantExists) {
		t.Fatalf("second CreatePublicTenant = %v, want ErrTenantExists", err)
	}
	pub, err := f.m.PublicTenant(t.Context())
	if err != nil || !pub.IsPublic() || pub.SchemaName != "public" || pub.OwnerID != f.admin.ID {
		t.Fatalf("PublicTenant = %+v, %v", pub, err)
	}
	got, err := f.m.Resolve(t.Context(), "EXAMPLE.com")
	if err != nil || got.ID != pub.ID {
		t.Fatalf("Resolve(public) = %+v, %v", got, err)
	}
}

func TestCreatePublicTenantCreatesMissingOwner(t *testing.T) {
	t.Parallel()
	m, _ := testkit.Manager(t)
	pub, _, err := m.CreatePublicTenant(t.Context(), "localhost", "ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	owner, err := m.Users().ByEmail(t.Context(), "ops@example.com")
	if err != nil || owner.ID != pub.OwnerID {
		t.Fatalf("owner = %+v, %v", owner, err)
	}
	if _, err := m.Users().Authenticate(t.Context(), "ops@example.com", ""); err == nil {
		t.Fatal("password-less owner can log in")
	}
	flags, err := m.Permissions().UserFlags(tenancy.WithTenant(t.Context(), pub), owner.ID)
	if err != nil || flags != (permissions.Flags{IsSuperuser: true, IsStaff: true}) {
		t.Fatalf("public owner flags = %+v, %v", flags, err)
	}
}

func TestNewManagerRejectsBadOptions(t *testing.T) {
	db := testkit.DB(t)
	bad := map[string]tenancy.Option{
		"base domain":   tenancy.WithBaseDomain("bad domain!"),
		"shared schema": tenancy.WithSharedSchema("Bad"),
		"type name":     tenancy.WithTenantType("Bad Type", nil),
		"nil shared":    tenancy.WithSharedMigrations(nil),
		"nil users":     tenancy.WithUsers(nil),
		"workers":       tenancy.WithMigrationWorkers(0),
		"extra path":    tenancy.WithExtraSearchPath("pg_x"),
	}
	for name, o := range bad {
		if _, err := tenancy.NewManager(db, o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	dup := fstest.MapFS{}
	if _, err := tenancy.NewManager(db, tenancy.WithTenantType("shop", dup), tenancy.WithTenantType("shop", dup)); err == nil {
		t.Error("duplicate type accepted")
	}
	if _, err := tenancy.NewManager(nil); err == nil {
		t.Error("nil db accepted")
	}
}
