package tenancy_test

import (
	"errors"
	"os"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/sqlxschema"
	"github.com/tenantkit/tenantkit/tenancy"
)

// TestCitusCheckPassesTenantkitTables provisions tenants of the test
// notes app and of the example app with the check on: tenantkit's own
// per-tenant tables (permissions, bookkeeping) and the examples' tables
// have no foreign key or other dependency into the shared schema. The
// shared schema, which holds an extension here, is never checked.
func TestCitusCheckPassesTenantkitTables(t *testing.T) {
	citext := fstest.MapFS{"1_citext.sql": {Data: []byte(`CREATE EXTENSION citext;`)}}
	f := setup(t, tenancy.WithCitusCheck(), tenancy.WithSharedMigrations(citext),
		tenancy.WithTenantType("example", os.DirFS("../examples/notes/migrations")))
	ctx := t.Context()
	a := f.provision(t, "acme", f.alice.ID)
	e := f.provision(t, "example", f.alice.ID, tenancy.WithType("example"))
	if n := f.count(t, `SELECT count(*) FROM pg_tables WHERE schemaname IN ($1, $2) AND tablename LIKE 'tenantkit\_%'`, a.SchemaName, e.SchemaName); n < 12 {
		t.Fatalf("%d tenantkit tables in the two schemas; the test checks nothing", n)
	}
	if vs, err := f.m.CheckCitus(ctx); err != nil || len(vs) != 0 {
		t.Fatalf("CheckCitus = %+v, %v; want none", vs, err)
	}
	if vs, err := f.m.CheckCitus(ctx, a.Schema()); err != nil || len(vs) != 0 {
		t.Fatalf("CheckCitus(acme) = %+v, %v; want none", vs, err)
	}
	if _, err := f.m.CheckCitus(ctx, sqlxschema.MustSchema("nowhere")); err == nil {
		t.Fatal("CheckCitus of a missing schema: no error")
	}
	if vs, err := f.m.CheckCitus(ctx, f.m.SharedSchema()); err != nil || len(vs) != 0 {
		t.Fatalf("CheckCitus(shared schema) = %+v, %v; want it left out", vs, err)
	}
	more := sqlxschema.Set{Name: "more", FS: fstest.MapFS{"1_more.sql": {Data: []byte(`CREATE TABLE more (id int);`)}}}
	if _, err := f.m.TenantMigrator().Apply(ctx, f.m.SharedSchema(), false, more); err != nil {
		t.Fatalf("TenantMigrator on the shared schema: %v", err)
	}
	if err := sqlxschema.CheckSelfContained(ctx, f.db, f.m.SharedSchema()); !errors.Is(err, sqlxschema.ErrNotSelfContained) {
		t.Fatalf("the shared schema passes the check (%v): the test above proves nothing", err)
	}
}

func TestCitusCheckRefusesMigrationsThatReachOut(t *testing.T) {
	grow := fstest.MapFS{"0001_notes.sql": {Data: []byte(`CREATE TABLE notes (id bigserial PRIMARY KEY, author_id bigint NOT NULL);`)}}
	bad := fstest.MapFS{"0001_notes.sql": {Data: []byte(`
		CREATE TABLE notes (id bigserial PRIMARY KEY,
			author_id bigint NOT NULL CONSTRAINT notes_author_fk REFERENCES public.tenantkit_users (id));`)}}
	opts := []tenancy.Option{tenancy.WithTenantType("grow", grow), tenancy.WithTenantType("bad", bad)}
	f := setup(t, append(opts, tenancy.WithCitusCheck())...)
	ctx := t.Context()

	// Provision: nothing is left of the tenant.
	before := f.footprint(t)
	_, _, err := f.m.Provision(ctx, "Bad", "bad", f.alice.ID, tenancy.WithType("bad"))
	var se *sqlxschema.SelfContainedError
	if !errors.As(err, &se) || !errors.Is(err, sqlxschema.ErrNotSelfContained) {
		t.Fatalf("Provision = %v; want a *sqlxschema.SelfContainedError", err)
	}
	want := sqlxschema.Violation{Schema: se.Schema, Kind: sqlxschema.KindForeignKey,
		Object: "table constraint notes_author_fk on " + se.Schema + ".notes", References: "table public.tenantkit_users"}
	if len(se.Violations) != 1 || se.Violations[0].Why == "" {
		t.Fatalf("violations = %+v", se.Violations)
	}
	if v := se.Violations[0]; v.Schema != want.Schema || v.Kind != want.Kind || v.Object != want.Object || v.References != want.References {
		t.Fatalf("violation = %+v, want %+v", v, want)
	}
	if got := f.footprint(t); got != before {
		t.Fatalf("failed Provision left %v, had %v", got, before)
	}

	// FinishProvision: the tenant stays pending, without a schema.
	r := f.reserve(t, "later", f.alice.ID, tenancy.WithType("bad"))
	if _, err := f.m.FinishProvision(ctx, r.Tenant.ID, r.OwnerFlags, nil); !errors.Is(err, sqlxschema.ErrNotSelfContained) {
		t.Fatalf("FinishProvision = %v", err)
	}
	if n := f.count(t, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, r.Tenant.SchemaName); n != 0 {
		t.Fatal("FinishProvision left the schema behind")
	}

	// Migrate: the schema that a new file would break is rolled back, the
	// others migrate.
	g1 := f.provision(t, "g1", f.alice.ID, tenancy.WithType("grow"))
	g2 := f.provision(t, "g2", f.alice.ID, tenancy.WithType("grow"))
	if _, err := f.db.Exec(`CREATE TABLE ` + g2.Schema().Qualify("extra") + ` (x int)`); err != nil {
		t.Fatal(err)
	}
	grow["0002_members.sql"] = &fstest.MapFile{Data: []byte(`
		CREATE VIEW authors AS SELECT n.id, u.email FROM notes n JOIN public.tenantkit_users u ON u.id = n.author_id;`)}
	results, err := f.m.Migrate(ctx)
	if !errors.Is(err, sqlxschema.ErrNotSelfContained) {
		t.Fatalf("Migrate = %v", err)
	}
	for _, r := range results {
		var me *sqlxschema.MigrationError
		switch r.Schema {
		case g1.Schema(), g2.Schema():
			if !errors.As(r.Err, &me) || me.Set != "app.grow" || me.Version != "0002_members" || !errors.As(r.Err, &se) ||
				len(se.Violations) != 1 || se.Violations[0].Kind != sqlxschema.KindView || se.Violations[0].References != "table public.tenantkit_users" {
				t.Errorf("%s: %v", r.Schema, r.Err)
			}
		default:
			if r.Err != nil {
				t.Errorf("%s: %v", r.Schema, r.Err)
			}
		}
	}
	if n := f.count(t, `SELECT count(*) FROM pg_views WHERE viewname = 'authors'`); n != 0 {
		t.Fatalf("%d authors views committed", n)
	}

	// Without the check the file applies, and CheckCitus finds what it
	// broke, in those schemas only.
	plain, err := tenancy.NewManager(f.db, append(opts, tenancy.WithTenantMigrations(os.DirFS(testkit.Testdata(t)+"/notes")))...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Migrate(ctx); err != nil {
		t.Fatalf("Migrate without the check: %v", err)
	}
	vs, err := f.m.CheckCitus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var schemas []string
	for _, v := range vs {
		schemas = append(schemas, v.Schema)
	}
	if want := []string{g1.SchemaName, g2.SchemaName}; !slices.Equal(schemas, want) {
		t.Fatalf("CheckCitus found %+v; want one violation in each of %v", vs, want)
	}
}

// TestCitusCheckAllowsExtraSearchPath: the types of a schema on the
// tenants' search_path (extensions) are allowed; without it they are not.
func TestCitusCheckAllowsExtraSearchPath(t *testing.T) {
	ext := fstest.MapFS{"1_ext.sql": {Data: []byte(`CREATE SCHEMA ext; CREATE TYPE ext.color AS ENUM ('red', 'green');`)}}
	paint := fstest.MapFS{"0001_paint.sql": {Data: []byte(`CREATE TABLE walls (id serial PRIMARY KEY, c color NOT NULL);`)}}
	f := setup(t, tenancy.WithSharedMigrations(ext), tenancy.WithExtraSearchPath("ext"), tenancy.WithCitusCheck(),
		tenancy.WithTenantType("paint", paint))
	tn := f.provision(t, "walls", f.alice.ID, tenancy.WithType("paint"))
	other, err := tenancy.NewManager(f.db)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := other.CheckCitus(t.Context(), tn.Schema())
	if err != nil || len(vs) != 1 || vs[0].Kind != sqlxschema.KindType || vs[0].References != "type ext.color" {
		t.Fatalf("CheckCitus without ext allowed = %+v, %v; want the type", vs, err)
	}
}
