package tenancy_test

import (
	"errors"
	"testing"
	"testing/fstest"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/permissions"
	"github.com/tenantkit/tenantkit/sqlxschema"
	"github.com/tenantkit/tenantkit/tenancy"
	"github.com/tenantkit/tenantkit/users"
)

// legacyMigrations are a legacy service's tables as tenant migrations: the
// first file is what the service's single schema holds already.
var legacyMigrations = fstest.MapFS{
	"0001_todos.sql": {Data: []byte(`CREATE TABLE todos (id bigserial PRIMARY KEY, title text NOT NULL);`)},
	"0002_done.sql": {Data: []byte(`ALTER TABLE todos ADD COLUMN done boolean NOT NULL DEFAULT false;
		INSERT INTO tenantkit_permissions (codename, name) VALUES ('todos.view', 'Can view todos');`)},
}

// legacySetup is a database in its legacy state (a todos table in public
// with two rows) and a migrated Manager whose shared tables live in their
// own schema (sharedSchema), with alice as a user and a public tenant.
// opts go to NewManager too.
func legacySetup(t *testing.T, sharedSchema string, opts ...tenancy.Option) (*tenancy.Manager, *sqlx.DB, *users.User) {
	t.Helper()
	t.Parallel()
	db := testkit.DB(t)
	db.MustExec(`CREATE TABLE public.todos (id bigserial PRIMARY KEY, title text NOT NULL);
		INSERT INTO public.todos (title) VALUES ('legacy one'), ('legacy two')`)
	store, err := users.New(db, users.WithSharedSchema(sharedSchema), users.WithArgon2Params(testkit.FastArgon2))
	if err != nil {
		t.Fatal(err)
	}
	m, err := tenancy.NewManager(db, append([]tenancy.Option{tenancy.WithSharedSchema(sharedSchema), tenancy.WithUsers(store),
		tenancy.WithBaseDomain("example.com"), tenancy.WithTenantMigrations(legacyMigrations)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := m.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.CreatePublicTenant(ctx, "example.com", "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	alice, err := m.CreateUser(ctx, "alice@example.com", "pw", true)
	if err != nil {
		t.Fatal(err)
	}
	return m, db, alice
}

func TestAdoptSchemaKeepsTheLegacyData(t *testing.T) {
	m, db, alice := legacySetup(t, "tenantkit")
	ctx := t.Context()
	legacy, d, err := m.AdoptSchema(ctx, "public", "Legacy Corp", "legacy", alice.ID, tenancy.WithBaseline("0001_todos"))
	if err != nil {
		t.Fatal(err)
	}
	if legacy.SchemaName != "public" || d.Domain != "legacy.example.com" || !legacy.IsLive() {
		t.Fatalf("tenant %+v, domain %+v", legacy, d)
	}
	// 0001 was recorded without running (it would fail: the table exists);
	// 0002 ran on the legacy table.
	var titles []string
	err = m.DB().Tx(tenancy.WithTenant(ctx, legacy), func(tx *sqlx.Tx) error {
		return tx.Select(&titles, `SELECT title FROM todos WHERE NOT done ORDER BY id`)
	})
	if err != nil || len(titles) != 2 || titles[0] != "legacy one" {
		t.Fatalf("legacy rows through the tenant: %q, %v", titles, err)
	}
	ok, err := m.Permissions().HasPerm(tenancy.WithTenant(ctx, legacy), alice.ID, "todos.view")
	if err != nil || !ok {
		t.Fatalf("owner's todos.view in the adopted tenant: %v, %v", ok, err)
	}
	if got, err := m.Resolve(ctx, "legacy.example.com"); err != nil || got.ID != legacy.ID {
		t.Fatalf("Resolve = %+v, %v", got, err)
	}

	// New tenants get new schemas, with every migration run.
	acme, _, err := m.Provision(ctx, "Acme", "acme", alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	err = m.DB().Tx(tenancy.WithTenant(ctx, acme), func(tx *sqlx.Tx) error {
		return tx.Get(&n, `SELECT count(*) FROM todos`)
	})
	if err != nil || n != 0 {
		t.Fatalf("acme sees %d todos, %v; want its own empty table", n, err)
	}
	// A second Migrate finds both up to date.
	res, err := m.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if len(r.Applied) != 0 {
			t.Fatalf("second Migrate applied %v to %s", r.Applied, r.Schema)
		}
	}
	// The legacy code's own view of public is unchanged.
	if err := db.Get(&n, `SELECT count(*) FROM public.todos`); err != nil || n != 2 {
		t.Fatalf("public.todos has %d rows, %v", n, err)
	}
	// An adopted public is never dropped.
	if err := m.DeleteTenant(ctx, legacy.ID); err != nil {
		t.Fatal(err)
	}
	if err := m.PurgeTenant(ctx, legacy.ID); !errors.Is(err, tenancy.ErrInvalidSchema) {
		t.Fatalf("PurgeTenant of adopted public = %v, want ErrInvalidSchema", err)
	}
}

func TestAdoptSchemaRefusals(t *testing.T) {
	m, db, alice := legacySetup(t, "tenantkit")
	ctx := t.Context()
	db.MustExec(`CREATE SCHEMA other; CREATE TABLE other.todos (id bigserial PRIMARY KEY, title text NOT NULL)`)
	if _, _, err := m.AdoptSchema(ctx, "other", "Other", "other", alice.ID, tenancy.WithBaseline("0001_todos")); err != nil {
		t.Fatal(err)
	}
	footprint := func() [3]int {
		var f [3]int
		db.Get(&f[0], `SELECT count(*) FROM tenantkit.tenantkit_tenants`)
		db.Get(&f[1], `SELECT count(*) FROM tenantkit.tenantkit_domains`)
		db.Get(&f[2], `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`)
		return f
	}
	before := footprint()
	for _, tc := range []struct {
		name, schema, slug string
		opts               []tenancy.ProvisionOption
		want               error
	}{
		{"missing schema", "nosuch", "nosuch", nil, tenancy.ErrSchemaNotFound},
		{"the shared schema", "tenantkit", "shared", nil, tenancy.ErrInvalidSchema},
		{"a system schema", "pg_catalog", "system", nil, tenancy.ErrInvalidSchema},
		{"invalid name", "Public; DROP", "bad", nil, tenancy.ErrInvalidSchema},
		{"adopted already", "other", "again", []tenancy.ProvisionOption{tenancy.WithBaseline("0001_todos")}, tenancy.ErrSchemaExists},
		{"unknown baseline", "public", "legacy", []tenancy.ProvisionOption{tenancy.WithBaseline("0009_nosuch")}, sqlxschema.ErrUnknownVersion},
		{"schema name option", "public", "legacy", []tenancy.ProvisionOption{tenancy.WithSchemaName("x")}, tenancy.ErrInvalidOption},
		{"empty baseline", "public", "legacy", []tenancy.ProvisionOption{tenancy.WithBaseline("")}, tenancy.ErrInvalidOption},
		{"taken slug", "public", "other", []tenancy.ProvisionOption{tenancy.WithBaseline("0001_todos")}, tenancy.ErrSlugExists},
		// Without a baseline 0001 runs, and fails on the existing table:
		// the whole adoption rolls back.
		{"no baseline", "public", "legacy", nil, &sqlxschema.MigrationError{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := m.AdoptSchema(ctx, tc.schema, "X", tc.slug, alice.ID, tc.opts...)
			var me *sqlxschema.MigrationError
			if _, wantMigration := tc.want.(*sqlxschema.MigrationError); wantMigration {
				if !errors.As(err, &me) || me.Version != "0001_todos" {
					t.Fatalf("err = %v, want the MigrationError of 0001_todos", err)
				}
			} else if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if after := footprint(); after != before {
				t.Fatalf("footprint %v -> %v: a refused adoption left something behind", before, after)
			}
		})
	}
	if _, _, err := m.Provision(ctx, "X", "x", alice.ID, tenancy.WithBaseline("0001_todos")); !errors.Is(err, tenancy.ErrInvalidOption) {
		t.Fatalf("Provision with WithBaseline = %v, want ErrInvalidOption", err)
	}
}

// TestAdoptPublicNeedsItsOwnSharedSchema: with tenantkit's tables in
// public, public cannot be a tenant: its search_path would reach them.
func TestAdoptPublicNeedsItsOwnSharedSchema(t *testing.T) {
	m, _, alice := legacySetup(t, "public")
	_, _, err := m.AdoptSchema(t.Context(), "public", "Legacy", "legacy", alice.ID, tenancy.WithBaseline("0001_todos"))
	if !errors.Is(err, tenancy.ErrInvalidSchema) {
		t.Fatalf("err = %v, want ErrInvalidSchema", err)
	}
}

func TestBaselineRecordsWithoutRunning(t *testing.T) {
	t.Parallel()
	db := testkit.DB(t)
	db.MustExec(`CREATE SCHEMA s; CREATE TABLE s.todos (id bigserial PRIMARY KEY, title text NOT NULL)`)
	sdb, _ := sqlxschema.New(db)
	mg := sqlxschema.NewMigrator(sdb)
	set := sqlxschema.Set{Name: "app", FS: legacyMigrations}
	s := sqlxschema.MustSchema("s")
	ctx := t.Context()
	tx := db.MustBegin()
	got, err := mg.BaselineTx(ctx, tx, s, set, "0001_todos")
	if err != nil || len(got) != 1 || got[0] != "app/0001_todos" {
		t.Fatalf("BaselineTx = %v, %v", got, err)
	}
	// Twice is harmless: already recorded.
	if got, err := mg.BaselineTx(ctx, tx, s, set, "0001_todos"); err != nil || len(got) != 0 {
		t.Fatalf("second BaselineTx = %v, %v", got, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	pending, _, err := mg.Pending(ctx, db, s, set)
	if err != nil || len(pending) != 1 || pending[0] != "app/0002_done" {
		t.Fatalf("Pending after baseline = %v, %v", pending, err)
	}
	// An edited baseline file is caught like an edited applied one.
	edited := fstest.MapFS{"0001_todos.sql": {Data: []byte(`CREATE TABLE todos (id int);`)}}
	tx = db.MustBegin()
	defer tx.Rollback()
	if _, err := mg.BaselineTx(ctx, tx, s, sqlxschema.Set{Name: "app", FS: edited}, "0001_todos"); !errors.Is(err, sqlxschema.ErrChecksumMismatch) {
		t.Fatalf("edited baseline file: %v, want ErrChecksumMismatch", err)
	}
}

// TestAdoptSchemaStartsWithItsOwnerAlone: a schema that was a tenant
// before (a copy or a backup of one) keeps no member rows: rights there
// that the shared memberships do not back would still pass RequirePerm.
func TestAdoptSchemaStartsWithItsOwnerAlone(t *testing.T) {
	m, db, alice := legacySetup(t, "tenantkit")
	ctx := t.Context()
	mallory, err := m.CreateUser(ctx, "mallory@example.com", "pw", true)
	if err != nil {
		t.Fatal(err)
	}
	// A former tenant's schema: its tables, tenantkit's, and a member row.
	db.MustExec(`CREATE SCHEMA old; CREATE TABLE old.todos (id bigserial PRIMARY KEY, title text NOT NULL)`)
	if _, err := sqlxschema.NewMigrator(m.DB()).Apply(ctx, sqlxschema.MustSchema("old"), false, permissions.Migrations()); err != nil {
		t.Fatal(err)
	}
	db.MustExec(`INSERT INTO old.tenantkit_user_tenant_permissions (user_id, is_superuser) VALUES ($1, true)`, mallory.ID)
	tn, _, err := m.AdoptSchema(ctx, "old", "Old", "old", alice.ID, tenancy.WithBaseline("0001_todos"))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := m.Permissions().HasPerm(tenancy.WithTenant(ctx, tn), mallory.ID, "todos.view"); err != nil || ok {
		t.Fatalf("mallory's old row in the adopted schema: HasPerm = %v, %v; want false", ok, err)
	}
}

// TestAdoptSchemaRefusesTheExtraSearchPath: a schema on every tenant's
// path is no tenant's (purging it would drop it for all), and the shared
// schema is never on a tenant's path.
func TestAdoptSchemaRefusesTheExtraSearchPath(t *testing.T) {
	m, db, alice := legacySetup(t, "tenantkit", tenancy.WithExtraSearchPath("ext"))
	db.MustExec(`CREATE SCHEMA ext`)
	if _, _, err := m.AdoptSchema(t.Context(), "ext", "Ext", "ext", alice.ID); !errors.Is(err, tenancy.ErrInvalidSchema) {
		t.Fatalf("AdoptSchema of the extra search path schema: %v, want ErrInvalidSchema", err)
	}
	if _, err := tenancy.NewManager(db, tenancy.WithSharedSchema("tenantkit"), tenancy.WithExtraSearchPath("tenantkit")); !errors.Is(err, tenancy.ErrInvalidOption) {
		t.Fatalf("WithExtraSearchPath of the shared schema: %v, want ErrInvalidOption", err)
	}
}
