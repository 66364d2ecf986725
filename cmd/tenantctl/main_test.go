package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/tenancy"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const notesDir = "../../testdata/notes"

// result is one tenantctl run.
type result struct {
	stdout, stderr string
	code           int
}

// tenantctl runs the tool with DATABASE_URL set to dsn (none if empty)
// and stdin as standard input.
func tenantctl(t *testing.T, dsn, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	env := map[string]string{"DATABASE_URL": dsn, "TENANTKIT_BASE_DOMAIN": "example.com"}
	c := &cli{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut, getenv: func(k string) string { return env[k] }}
	code := c.run(t.Context(), args)
	return result{out.String(), errOut.String(), code}
}

// ok runs tenantctl and fails the test unless it exits 0.
func ok(t *testing.T, dsn string, args ...string) string {
	t.Helper()
	r := tenantctl(t, dsn, "", args...)
	if r.code != 0 {
		t.Fatalf("tenantctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// fails runs tenantctl, checks its exit code, and checks that stderr is
// one "tenantctl: " line holding want (besides progress lines).
func fails(t *testing.T, dsn string, code int, want string, args ...string) result {
	t.Helper()
	r := tenantctl(t, dsn, "", args...)
	if r.code != code {
		t.Fatalf("tenantctl %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	var lines []string // without migrate's progress lines
	for _, line := range strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n") {
		if !strings.HasPrefix(line, "progress: ") {
			lines = append(lines, line)
		}
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "tenantctl: ") || !strings.Contains(lines[0], want) {
		t.Fatalf("tenantctl %s: stderr %q, want one \"tenantctl: \" line holding %q", strings.Join(args, " "), r.stderr, want)
	}
	return r
}

func TestUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr, or in stdout when code is 0
	}{
		{"no command", nil, 2, "Usage:"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"flag before command", []string{"--database", "x", "migrate"}, 2, "flags go after the command"},
		{"no database", []string{"migrate"}, 2, "DATABASE_URL"},
		{"no database for list", []string{"list-tenants", "--json"}, 2, "DATABASE_URL"},
		{"unknown flag", []string{"migrate", "--frob"}, 2, "-frob"},
		{"bad parallel", []string{"migrate", "--parallel", "0"}, 2, "--parallel"},
		{"stray argument", []string{"list-tenants", "extra"}, 2, `unexpected argument "extra"`},
		{"missing email", []string{"create-user"}, 2, "--email is required"},
		{"two passwords", []string{"create-user", "--email", "a@example.com", "--password", "x", "--password-stdin"}, 2, "not both"},
		{"provision without owner", []string{"provision", "--name", "Acme", "--slug", "acme"}, 2, "--owner is required"},
		{"grant without permission", []string{"grant", "--slug", "acme", "--email", "a@example.com"}, 2, "at least one permission"},
		{"exec without sql", []string{"exec"}, 2, "--sql is required"},
		{"help unknown", []string{"help", "frobnicate"}, 2, "unknown command"},
		{"help", []string{"help"}, 0, "Exit codes:"},
		{"--help", []string{"--help"}, 0, "Commands:"},
		{"help command", []string{"help", "provision"}, 0, "usage: tenantctl provision"},
		{"command --help", []string{"migrate", "--help"}, 0, "-parallel N"},
		{"command -h", []string{"exec", "-h"}, 0, "-sql statement"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tenantctl(t, "", "", tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.code, r.stdout, r.stderr)
			}
			got := r.stderr
			if tt.code == 0 {
				got = r.stdout
			}
			if !strings.Contains(got, tt.want) {
				t.Fatalf("output %q does not hold %q", got, tt.want)
			}
			if tt.code == 2 && tt.args != nil && strings.Count(r.stderr, "\n") != 1 {
				t.Fatalf("stderr %q: want one line", r.stderr)
			}
		})
	}
}

func TestReturnsRows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		stmt string
		want bool
	}{
		{"select count(*) from notes", true},
		{"  SELECT 1", true},
		{"-- comment\nselect 1", true},
		{"/* a\nb */ (select 1) union (select 2)", true},
		{"with x as (select 1) select * from x", true},
		{"values (1)", true},
		{"table notes", true},
		{"show search_path", true},
		{"explain select 1", true},
		{"update notes set body = 'x'", false},
		{"delete from notes", false},
		{"insert into notes (body, author_id) values ('x', 1)", false},
		{"insert into notes (body, author_id) values ('x', 1) RETURNING id", true},
		{"create index on notes (author_id)", false},
		{"selected_count", false}, // not the word select
		{"", false},
	}
	for _, tt := range tests {
		if got := returnsRows(tt.stmt); got != tt.want {
			t.Errorf("returnsRows(%q) = %v, want %v", tt.stmt, got, tt.want)
		}
	}
}

// setup migrates a fresh database with the notes migrations, creates the
// public tenant (admin@example.com) and tenants acme and globex owned by
// alice@example.com, and returns the DSN and the tenants' schemas.
func setup(t *testing.T) (dsn string, schemas map[string]string) {
	t.Helper()
	dsn = pgtest.NewDatabase(t)
	ok(t, dsn, "migrate", "--migrations", notesDir)
	r := tenantctl(t, dsn, "secret\n", "create-user", "--email", "alice@example.com", "--password-stdin")
	if r.code != 0 || strings.TrimSpace(r.stdout) == "" {
		t.Fatalf("create-user: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	ok(t, dsn, "create-user", "--email", "admin@example.com", "--superuser")
	if got := ok(t, dsn, "create-public-tenant", "--domain", "example.com", "--owner", "admin@example.com"); !strings.HasSuffix(got, "\tpublic\texample.com\n") {
		t.Fatalf("create-public-tenant printed %q", got)
	}
	schemas = map[string]string{}
	for _, slug := range []string{"acme", "globex"} {
		out := ok(t, dsn, "provision", "--name", strings.ToUpper(slug[:1])+slug[1:], "--slug", slug,
			"--owner", "alice@example.com", "--migrations", notesDir)
		f := strings.Split(strings.TrimSuffix(out, "\n"), "\t")
		if len(f) != 3 || f[2] != slug+".example.com" || !strings.HasPrefix(f[1], slug+"_") {
			t.Fatalf("provision %s printed %q, want ID<TAB>SCHEMA<TAB>%s.example.com", slug, out, slug)
		}
		schemas[slug] = f[1]
	}
	return dsn, schemas
}

// migrationsWith copies testdata/notes to a temporary folder and adds
// 0002_add_column.sql.
func migrationsWith0002(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	body, err := os.ReadFile(filepath.Join(notesDir, "0001_notes.sql"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("0001_notes.sql", string(body))
	write("0002_add_column.sql", "ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL DEFAULT false;\n")
	return dir
}

func openDB(t *testing.T, dsn string) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func hasColumn(t *testing.T, db *sqlx.DB, schema, table, column string) bool {
	t.Helper()
	var n int
	err := db.Get(&n, `SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_name = $3`,
		schema, table, column)
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestFlow(t *testing.T) {
	t.Parallel()
	dsn, schemas := setup(t)
	db := openDB(t, dsn)

	// list-tenants --json
	var rows []tenantRow
	if err := json.Unmarshal([]byte(ok(t, dsn, "list-tenants", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	want := []tenantRow{
		{Slug: "public", Schema: "public", Type: "public", Owner: "admin@example.com", State: "live", Domain: "example.com"},
		{Slug: "acme", Name: "Acme", Schema: schemas["acme"], Type: "default", Owner: "alice@example.com", State: "live", Domain: "acme.example.com"},
		{Slug: "globex", Name: "Globex", Schema: schemas["globex"], Type: "default", Owner: "alice@example.com", State: "live", Domain: "globex.example.com"},
	}
	if len(rows) != len(want) {
		t.Fatalf("list-tenants: %d rows, want %d: %+v", len(rows), len(want), rows)
	}
	for i, w := range want {
		got := rows[i]
		w.ID, w.OwnerID = got.ID, got.OwnerID
		if w.Name == "" {
			w.Name = got.Name
		}
		if got != w {
			t.Errorf("list-tenants row %d = %+v, want %+v", i, got, w)
		}
	}
	if human := ok(t, dsn, "list-tenants"); !strings.HasPrefix(human, "ID  SLUG") || !strings.Contains(human, "acme.example.com") {
		t.Errorf("list-tenants printed %q", human)
	}

	// add-user, grant
	ok(t, dsn, "create-user", "--email", "bob@example.com", "--password", "pw")
	if got := ok(t, dsn, "add-user", "--slug", "acme", "--email", "bob@example.com", "--staff"); got != "added bob@example.com to acme\n" {
		t.Errorf("add-user printed %q", got)
	}
	fails(t, dsn, 1, "already a member", "add-user", "--slug", "acme", "--email", "bob@example.com")
	ok(t, dsn, "grant", "--slug", "acme", "--email", "bob@example.com", "notes.add")
	fails(t, dsn, 1, "unknown permission", "grant", "--slug", "acme", "--email", "bob@example.com", "notes.fly")
	fails(t, dsn, 1, "not a member", "grant", "--slug", "globex", "--email", "bob@example.com", "notes.add")
	mgr, err := tenancy.NewManager(db)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	acme, err := mgr.BySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := mgr.Users().ByEmail(ctx, "bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	for perm, want := range map[string]bool{"notes.add": true, "notes.view": false} {
		if got, err := mgr.Permissions().HasPerm(tenancy.WithTenant(ctx, acme), bob.ID, perm); err != nil || got != want {
			t.Errorf("bob has %s in acme: %v, %v; want %v", perm, got, err, want)
		}
	}

	// exec
	if got := ok(t, dsn, "exec", "--tenant", "acme", "--sql", "insert into notes (body, author_id) values ('a', 1), ('b\tc', 1)"); got != "acme\t2 rows affected\n" {
		t.Errorf("exec insert printed %q", got)
	}
	if got := ok(t, dsn, "exec", "--sql", "select count(*) from notes"); got != "acme\t2\nglobex\t0\n" {
		t.Errorf("exec count printed %q", got)
	}
	if got := ok(t, dsn, "exec", "--parallel", "1", "--sql", "select body, null from notes order by id"); got != "acme\ta\tNULL\nacme\tb\\tc\tNULL\n" {
		t.Errorf("exec select printed %q", got)
	}
	r := tenantctl(t, dsn, "", "exec", "--sql", "select count(*) from tenantkit_tenants") // shared table: not on a tenant's path
	if r.code != 1 || r.stdout != "" || strings.Count(r.stderr, "\n") != 3 ||
		!strings.Contains(r.stderr, "tenantctl: exec in acme: pq: relation \"tenantkit_tenants\" does not exist") ||
		!strings.HasSuffix(r.stderr, "tenantctl: exec: the statement failed in 2 of 2 tenants\n") {
		t.Errorf("exec on a shared table: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	// migrate --plan, then migrate, with a new migration
	dir := migrationsWith0002(t)
	plan := ok(t, dsn, "migrate", "--plan", "--migrations", dir)
	for _, slug := range []string{"acme", "globex"} {
		if line := schemas[slug] + "\twould apply app.default/0002_add_column\n"; !strings.Contains(plan, line) {
			t.Errorf("plan %q lacks %q", plan, line)
		}
	}
	if !strings.Contains(plan, "public (shared)\tup to date\n") || !strings.Contains(plan, "public\tup to date\n") ||
		!strings.Contains(plan, "0 migrations pending in the shared schema; 2 in 2 of 3 tenant schemas; nothing applied") {
		t.Errorf("plan printed %q", plan)
	}
	var planned []planResult
	if err := json.Unmarshal([]byte(ok(t, dsn, "migrate", "--plan", "--json", "--tenant", "globex", "--migrations", dir)), &planned); err != nil {
		t.Fatal(err)
	}
	if len(planned) != 2 || !planned[0].Shared || len(planned[0].Pending) != 0 ||
		planned[1].Tenant != "globex" || planned[1].Type != "default" || strings.Join(planned[1].Pending, ",") != "app.default/0002_add_column" {
		t.Errorf("plan --json --tenant globex = %+v", planned)
	}
	for _, slug := range []string{"acme", "globex"} {
		if hasColumn(t, db, schemas[slug], "notes", "pinned") {
			t.Fatalf("--plan applied the migration in %s", slug)
		}
	}
	out := ok(t, dsn, "migrate", "--migrations", dir, "--parallel", "2")
	for _, line := range []string{"public (shared)\tapplied 0\n", "public\tapplied 0\n", schemas["acme"] + "\tapplied 1\n", schemas["globex"] + "\tapplied 1\n"} {
		if !strings.Contains(out, line) {
			t.Errorf("migrate printed %q, lacking %q", out, line)
		}
	}
	if !strings.Contains(out, "migrated 3 of 3 tenant schemas in ") || !strings.HasSuffix(out, "/s): 2 migrations applied, 0 failed\n") {
		t.Errorf("migrate summary: %q", out)
	}
	for _, slug := range []string{"acme", "globex"} {
		if !hasColumn(t, db, schemas[slug], "notes", "pinned") {
			t.Errorf("no column notes.pinned in %s after migrate", slug)
		}
	}
	if got := ok(t, dsn, "migrate", "--plan", "--migrations", dir); !strings.Contains(got, "; 0 in 0 of 3 tenant schemas") {
		t.Errorf("plan after migrate: %q", got)
	}

	// remove-user, delete-tenant, delete-user
	ok(t, dsn, "remove-user", "--slug", "acme", "--email", "bob@example.com")
	fails(t, dsn, 1, "owner", "remove-user", "--slug", "acme", "--email", "alice@example.com")
	if got := ok(t, dsn, "delete-tenant", "--slug", "globex"); !strings.HasPrefix(got, "deleted tenant globex") {
		t.Errorf("delete-tenant printed %q", got)
	}
	fails(t, dsn, 1, "tenant not found", "delete-tenant", "--slug", "globex")
	if got := ok(t, dsn, "list-tenants"); strings.Contains(got, "globex") {
		t.Errorf("list-tenants shows the deleted tenant:\n%s", got)
	}
	all := ok(t, dsn, "list-tenants", "--all")
	if !strings.Contains(all, "globex") || !strings.Contains(all, "deleted") {
		t.Errorf("list-tenants --all:\n%s", all)
	}
	rows = nil
	if err := json.Unmarshal([]byte(ok(t, dsn, "list-tenants", "--all", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[2].Slug != "globex" || rows[2].State != "deleted" || rows[2].Owner != "admin@example.com" || rows[2].Domain != "" {
		t.Errorf("deleted globex in list-tenants --all --json: %+v", rows)
	}
	if got := ok(t, dsn, "exec", "--sql", "select count(*) from notes"); got != "acme\t2\n" {
		t.Errorf("exec after delete printed %q", got)
	}
	ok(t, dsn, "delete-user", "--email", "alice@example.com")
	fails(t, dsn, 1, "cannot delete the public tenant's owner", "delete-user", "--email", "admin@example.com")
	if got := ok(t, dsn, "list-tenants"); strings.Contains(got, "acme") {
		t.Errorf("acme is live after its owner was deleted:\n%s", got)
	}
}

func TestMigrateFailureInOneTenant(t *testing.T) {
	t.Parallel()
	dsn, schemas := setup(t)
	db := openDB(t, dsn)
	// acme already has the column that 0002 adds.
	if _, err := db.Exec(`ALTER TABLE "` + schemas["acme"] + `".notes ADD COLUMN pinned int`); err != nil {
		t.Fatal(err)
	}
	dir := migrationsWith0002(t)

	r := fails(t, dsn, 1, "migrate: 1 of 3 tenant schemas failed", "migrate", "--migrations", dir)
	failure := schemas["acme"] + "\tFAILED: app.default/0002_add_column: pq: column \"pinned\" of relation \"notes\" already exists"
	if !strings.Contains(r.stdout, failure) {
		t.Errorf("migrate printed %q, lacking %q", r.stdout, failure)
	}
	if !strings.Contains(r.stdout, schemas["globex"]+"\tapplied 1\n") || !strings.HasSuffix(r.stdout, ": 1 migration applied, 1 failed\n") {
		t.Errorf("migrate printed %q", r.stdout)
	}
	if !hasColumn(t, db, schemas["globex"], "notes", "pinned") {
		t.Error("globex was not migrated")
	}
	var typ string
	if err := db.Get(&typ, `SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'notes' AND column_name = 'pinned'`, schemas["acme"]); err != nil || typ != "integer" {
		t.Errorf("acme's pinned column: %q, %v", typ, err)
	}

	// --json, with plain progress lines on stderr (not a terminal)
	var out, errOut bytes.Buffer
	c := &cli{stdout: &out, stderr: &errOut, getenv: func(k string) string { return map[string]string{"DATABASE_URL": dsn}[k] }}
	if code := c.run(context.Background(), []string{"migrate", "--json", "--migrations", dir, "--parallel", "1"}); code != 1 {
		t.Fatalf("migrate --json: exit %d, stderr %s", code, errOut.String())
	}
	var results []migrateResult
	if err := json.Unmarshal(out.Bytes(), &results); err != nil {
		t.Fatalf("migrate --json printed %q: %v", out.String(), err)
	}
	if len(results) != 4 || !results[0].Shared || results[0].Status != statusUpToDate ||
		results[2].Tenant != "acme" || results[2].Status != statusFailed || results[2].Error == "" ||
		results[3].Tenant != "globex" || results[3].Error != "" || results[3].Status != statusUpToDate {
		t.Errorf("migrate --json = %+v", results)
	}
	wantErr := regexp.MustCompile(`^progress: 1/3 schemas \(33%\), 0 failed, [0-9.]+/s(, ETA \S+)?\n` +
		`progress: 2/3 schemas \(66%\), 1 failed, [0-9.]+/s(, ETA \S+)?\n` +
		`progress: 3/3 schemas \(100%\), 1 failed, [0-9.]+/s\n` +
		`tenantctl: migrate: 1 of 3 tenant schemas failed\n$`)
	if !wantErr.MatchString(errOut.String()) {
		t.Errorf("stderr %q, want %v", errOut.String(), wantErr)
	}

	// --tenant migrates that tenant alone.
	r = fails(t, dsn, 1, "migrate: 1 of 1 tenant schemas failed", "migrate", "--tenant", "acme", "--migrations", dir)
	if strings.Contains(r.stdout, schemas["globex"]) {
		t.Errorf("migrate --tenant acme touched globex: %q", r.stdout)
	}
	fails(t, dsn, 1, "tenant not found", "migrate", "--tenant", "nosuch")
}

func TestProvisionErrors(t *testing.T) {
	t.Parallel()
	dsn, _ := setup(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad slug", []string{"--slug", "Bad_Slug"}, "invalid slug"},
		{"reserved slug", []string{"--slug", "admin"}, "reserved"},
		{"slug taken", []string{"--slug", "acme"}, "slug exists"},
		{"unknown type", []string{"--slug", "initech", "--type", "premium"}, "unknown tenant type"},
		{"bad schema", []string{"--slug", "initech", "--schema", "pg_nope"}, "invalid schema name"},
		{"unknown owner", []string{"--slug", "initech", "--owner", "nobody@example.com"}, "user not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"provision", "--name", "X", "--owner", "alice@example.com"}, tt.args...)
			fails(t, dsn, 1, tt.want, args...)
		})
	}
	if got := ok(t, dsn, "list-tenants"); strings.Count(got, "\n") != 4 {
		t.Errorf("failed provisions left tenants behind:\n%s", got)
	}
	fails(t, dsn, 1, "connect to the database", "list-tenants", "--database", "host=/nonexistent dbname=x sslmode=disable")
	fails(t, dsn, 2, "--migrations", "provision", "--name", "X", "--slug", "x", "--owner", "a@example.com", "--migrations", "/nonexistent")
	fails(t, dsn, 1, "users: create", "create-user", "--email", "alice@example.com")
	fails(t, dsn, 1, "tenant exists", "create-public-tenant", "--domain", "other.example.com", "--owner", "admin@example.com")
}

func TestPlanBeforeFirstMigrate(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	out := ok(t, dsn, "migrate", "--plan")
	if !strings.Contains(out, "public (shared)\twould apply tenantkit.users/") || !strings.Contains(out, "public (shared)\twould apply tenantkit.tenancy/0001_tenancy") ||
		!strings.Contains(out, "0 in 0 of 0 tenant schemas; nothing applied (the shared schema is not migrated yet, so there are no tenants)") {
		t.Errorf("plan before the first migrate printed %q", out)
	}
	var n int
	if err := openDB(t, dsn).Get(&n, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`); err != nil || n != 0 {
		t.Errorf("--plan created %d tables (%v)", n, err)
	}
}
