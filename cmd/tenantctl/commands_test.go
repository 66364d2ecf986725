package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantkit/tenantkit/tenancy"
)

func TestHelpOnEveryCommand(t *testing.T) {
	t.Parallel()
	for _, cmd := range commands {
		for _, flag := range []string{"--help", "-h"} {
			r := tenantctl(t, "", "", cmd.name, flag)
			if r.code != 0 || !strings.HasPrefix(r.stdout, "usage: tenantctl "+cmd.name+" ") ||
				!strings.Contains(r.stdout, "-database DSN") || !strings.Contains(r.stdout, "-json") ||
				!strings.Contains(r.stdout, "Exit codes: 0 success") || r.stderr != "" {
				t.Errorf("%s %s: exit %d\nstdout: %s\nstderr: %s", cmd.name, flag, r.code, r.stdout, r.stderr)
			}
		}
		if r := tenantctl(t, "", "", "help", cmd.name); r.code != 0 || !strings.HasPrefix(r.stdout, "usage: tenantctl "+cmd.name+" ") {
			t.Errorf("help %s: exit %d, stdout %q", cmd.name, r.code, r.stdout)
		}
		if r := tenantctl(t, "", "", "help"); !strings.Contains(r.stdout, "  "+cmd.name+" ") {
			t.Errorf("help does not list %s", cmd.name)
		}
	}
}

func TestMoreUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"purge without --yes", []string{"purge-tenant", "--slug", "acme"}, "add --yes"},
		{"restore without owner", []string{"restore-tenant", "--slug", "acme"}, "--owner is required"},
		{"clone without source", []string{"clone-tenant", "--name", "X", "--slug", "x", "--owner", "a@example.com"}, "--from is required"},
		{"bad migrations-for", []string{"migrate", "--migrations-for", "premium"}, "want TYPE=DIR"},
		{"missing migrations-for dir", []string{"migrate", "--migrations-for", "premium=/nonexistent", "--database", "x"}, "--migrations-for /nonexistent: not a readable directory"},
		{"missing shared-migrations dir", []string{"migrate", "--shared-migrations", "/nonexistent", "--database", "x"}, "--shared-migrations /nonexistent"},
		{"bad extra-search-path", []string{"check-citus", "--extra-search-path", "Bad", "--database", "x"}, `invalid schema name "Bad"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tenantctl(t, "", "", tt.args...)
			if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and one line holding %q", r.code, r.stderr, tt.want)
			}
		})
	}
}

// decode runs tenantctl with --json and decodes its standard output.
func decode[T any](t *testing.T, dsn string, args ...string) T {
	t.Helper()
	var v T
	out := ok(t, dsn, append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("tenantctl %s --json printed %q: %v", strings.Join(args, " "), out, err)
	}
	return v
}

func TestJSONAndLifecycle(t *testing.T) {
	t.Parallel()
	dsn, schemas := setup(t)
	db := openDB(t, dsn)

	u := decode[userOut](t, dsn, "create-user", "--email", "carol@example.com", "--password", "pw")
	if u.ID == 0 || u.Email != "carol@example.com" {
		t.Errorf("create-user --json = %+v", u)
	}
	p := decode[tenantOut](t, dsn, "provision", "--name", "Initech", "--slug", "initech", "--owner", "carol@example.com", "--migrations", notesDir)
	if p.ID == 0 || p.Slug != "initech" || p.Name != "Initech" || p.Type != "default" || p.Domain != "initech.example.com" || !strings.HasPrefix(p.Schema, "initech_") {
		t.Errorf("provision --json = %+v", p)
	}
	m := decode[memberOut](t, dsn, "add-user", "--slug", "acme", "--email", "carol@example.com", "--superuser")
	if m.Tenant != "acme" || m.Email != "carol@example.com" || m.UserID != u.ID {
		t.Errorf("add-user --json = %+v", m)
	}
	m = decode[memberOut](t, dsn, "grant", "--slug", "acme", "--email", "carol@example.com", "notes.add", "notes.view")
	if strings.Join(m.Permissions, ",") != "notes.add,notes.view" {
		t.Errorf("grant --json = %+v", m)
	}
	// After "--" everything is a permission.
	fails(t, dsn, 1, `invalid permission codename: "--json"`, "grant", "--slug", "acme", "--email", "carol@example.com", "notes.add", "--", "--json")
	if m = decode[memberOut](t, dsn, "remove-user", "--slug", "acme", "--email", "carol@example.com"); m.Tenant != "acme" {
		t.Errorf("remove-user --json = %+v", m)
	}

	// exec --json: rows, NULLs, counts and errors per tenant
	ok(t, dsn, "exec", "--tenant", "acme", "--sql", "insert into notes (body, author_id) values ('a', 1)")
	execs := decode[[]execResult](t, dsn, "exec", "--sql", "select body, null as nothing from notes order by id")
	if len(execs) != 3 || execs[0].Tenant != "acme" || execs[0].Schema != schemas["acme"] ||
		strings.Join(execs[0].Columns, ",") != "body,nothing" || len(execs[0].Rows) != 1 || *execs[0].Rows[0][0] != "a" || execs[0].Rows[0][1] != nil ||
		execs[1].Tenant != "globex" || execs[1].Rows == nil || len(execs[1].Rows) != 0 {
		t.Errorf("exec --json select = %+v", execs)
	}
	execs = decode[[]execResult](t, dsn, "exec", "--type", "default", "--sql", "update notes set body = 'b'")
	if len(execs) != 3 || execs[0].Affected == nil || *execs[0].Affected != 1 || *execs[1].Affected != 0 {
		t.Errorf("exec --json update = %+v", execs)
	}
	r := tenantctl(t, dsn, "", "exec", "--json", "--sql", "select nosuch from notes")
	if r.code != 1 || !strings.Contains(r.stdout, `"error": "pq: column \"nosuch\" does not exist`) ||
		r.stderr != "tenantctl: exec: the statement failed in 3 of 3 tenants\n" {
		t.Errorf("exec --json failing: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	if got := ok(t, dsn, "exec", "--type", "premium", "--sql", "select 1"); got != "" {
		t.Errorf("exec --type with no such tenants printed %q", got)
	}

	// clone-tenant copies the schema (with --with-data, the rows too)
	cl := decode[tenantOut](t, dsn, "clone-tenant", "--from", "acme", "--name", "Acme Copy", "--slug", "acme-copy", "--owner", "alice@example.com", "--with-data")
	if cl.Slug != "acme-copy" || cl.Domain != "acme-copy.example.com" {
		t.Errorf("clone-tenant --json = %+v", cl)
	}
	if got := ok(t, dsn, "exec", "--tenant", "acme-copy", "--sql", "select body from notes"); got != "acme-copy\tb\n" {
		t.Errorf("the clone's notes: %q", got)
	}
	out := ok(t, dsn, "clone-tenant", "--from", "globex", "--name", "Empty", "--slug", "empty", "--owner", "alice@example.com", "--schema", "empty_copy")
	if !strings.HasSuffix(out, "\tempty_copy\tempty.example.com\n") {
		t.Errorf("clone-tenant printed %q", out)
	}
	fails(t, dsn, 1, "slug exists", "clone-tenant", "--from", "acme", "--name", "X", "--slug", "globex", "--owner", "alice@example.com")
	fails(t, dsn, 1, "tenant not found", "clone-tenant", "--from", "nosuch", "--name", "X", "--slug", "x", "--owner", "alice@example.com")

	// delete, restore, purge
	fails(t, dsn, 1, "not deleted", "restore-tenant", "--slug", "globex", "--owner", "alice@example.com")
	fails(t, dsn, 1, "not deleted", "purge-tenant", "--slug", "globex", "--yes")
	fails(t, dsn, 1, "tenant not found", "purge-tenant", "--slug", "nosuch", "--yes")
	del := decode[lifecycleResult](t, dsn, "delete-tenant", "--slug", "globex")
	if del.Action != "deleted" || del.Schema != schemas["globex"] {
		t.Errorf("delete-tenant --json = %+v", del)
	}
	rs := decode[lifecycleResult](t, dsn, "restore-tenant", "--slug", "globex", "--owner", "carol@example.com")
	if rs.Action != "restored" || rs.Owner != "carol@example.com" || rs.Schema != schemas["globex"] {
		t.Errorf("restore-tenant --json = %+v", rs)
	}
	rows := decode[[]tenantRow](t, dsn, "list-tenants", "--type", "default")
	var globex *tenantRow
	for i := range rows {
		if rows[i].Type != "default" {
			t.Errorf("list-tenants --type default listed %+v", rows[i])
		}
		if rows[i].Slug == "globex" {
			globex = &rows[i]
		}
	}
	if globex == nil || globex.State != "live" || globex.Owner != "carol@example.com" || globex.Domain != "globex.example.com" {
		t.Errorf("restored globex in list-tenants: %+v", globex)
	}
	// A restore whose slug was taken meanwhile restores nothing.
	ok(t, dsn, "delete-tenant", "--slug", "globex")
	ok(t, dsn, "provision", "--name", "New Globex", "--slug", "globex", "--owner", "alice@example.com", "--schema", "globex_new", "--migrations", notesDir)
	fails(t, dsn, 1, "slug exists", "restore-tenant", "--slug", "globex", "--owner", "alice@example.com")
	fails(t, dsn, 1, "tenant not found", "restore-tenant", "--slug", "nosuch", "--owner", "alice@example.com")
	ok(t, dsn, "delete-tenant", "--slug", "globex") // both globex tenants are deleted now
	pg := decode[lifecycleResult](t, dsn, "purge-tenant", "--slug", "globex", "--yes")
	if pg.Action != "purged" || pg.Schema != "globex_new" { // the most recently deleted
		t.Errorf("purge-tenant --json = %+v", pg)
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM pg_namespace WHERE nspname IN ('globex_new', $1)`, schemas["globex"]); err != nil || n != 1 {
		t.Errorf("after purge, %d of the two globex schemas are left (%v); want the older one only", n, err)
	}
	if got := ok(t, dsn, "purge-tenant", "--slug", "globex", "--yes"); !strings.Contains(got, "purged tenant globex") {
		t.Errorf("second purge printed %q", got)
	}
	if dv := decode[userOut](t, dsn, "delete-user", "--email", "carol@example.com"); dv.ID != u.ID {
		t.Errorf("delete-user --json = %+v", dv)
	}
}

// writeMigrations writes files into a new directory and returns it.
func writeMigrations(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestMigrateTypeAndFailFast(t *testing.T) {
	t.Parallel()
	dsn, schemas := setup(t)
	db := openDB(t, dsn)
	premium := writeMigrations(t, map[string]string{"0001_extras.sql": "CREATE TABLE extras (id int);"})
	for _, slug := range []string{"p1", "p2"} {
		ok(t, dsn, "provision", "--name", slug, "--slug", slug, "--owner", "alice@example.com", "--type", "premium", "--migrations-for", "premium="+premium)
	}
	premium2 := writeMigrations(t, map[string]string{"0001_extras.sql": "CREATE TABLE extras (id int);", "0002_more.sql": "ALTER TABLE extras ADD note text;"})
	dir := migrationsWith0002(t)
	common := []string{"--migrations", dir, "--migrations-for", "premium=" + premium2}

	fails(t, dsn, 2, "--type gold: not a tenant type", append([]string{"migrate", "--type", "gold"}, common...)...)
	plan := decode[[]planResult](t, dsn, append([]string{"migrate", "--plan", "--type", "premium"}, common...)...)
	if len(plan) != 3 || plan[1].Tenant != "p1" || plan[1].Type != "premium" || strings.Join(plan[1].Pending, ",") != "app.premium/0002_more" {
		t.Errorf("plan --type premium = %+v", plan)
	}
	res := decode[[]migrateResult](t, dsn, append([]string{"migrate", "--type", "premium"}, common...)...)
	if len(res) != 3 || res[1].Tenant != "p1" || res[1].Status != statusApplied || res[2].Tenant != "p2" || strings.Join(res[2].Applied, ",") != "app.premium/0002_more" {
		t.Errorf("migrate --type premium = %+v", res)
	}
	if hasColumn(t, db, schemas["acme"], "notes", "pinned") {
		t.Error("migrate --type premium migrated a default tenant")
	}

	// --fail-fast: acme fails first (targets go in tenant order), so with
	// one worker nothing after it starts.
	if _, err := db.Exec(`ALTER TABLE "` + schemas["acme"] + `".notes ADD COLUMN pinned int`); err != nil {
		t.Fatal(err)
	}
	r := fails(t, dsn, 1, "migrate: 1 of 5 tenant schemas failed, 3 not started (--fail-fast)",
		append([]string{"migrate", "--fail-fast", "--parallel", "1"}, common...)...)
	if !strings.Contains(r.stdout, schemas["acme"]+"\tFAILED: app.default/0002_add_column: ") || strings.Contains(r.stdout, schemas["globex"]) ||
		!strings.HasSuffix(r.stdout, "1 failed, 3 not started\n") {
		t.Errorf("migrate --fail-fast printed %q", r.stdout)
	}
	if hasColumn(t, db, schemas["globex"], "notes", "pinned") {
		t.Error("--fail-fast went on past the failure")
	}
	// Without it, the run goes on and reports the failure at the end.
	r = fails(t, dsn, 1, "migrate: 1 of 5 tenant schemas failed", append([]string{"migrate", "--parallel", "1"}, common...)...)
	if !strings.Contains(r.stdout, schemas["globex"]+"\tapplied 1\n") || !hasColumn(t, db, schemas["globex"], "notes", "pinned") {
		t.Errorf("migrate without --fail-fast printed %q", r.stdout)
	}
}

// provisionMany provisions n more tenants t1..tN (notes migrations,
// owned by alice) straight through the library, faster than the tool.
func provisionMany(t *testing.T, dsn string, n int) []string {
	t.Helper()
	mgr, err := tenancy.NewManager(openDB(t, dsn), tenancy.WithTenantMigrations(os.DirFS(notesDir)), tenancy.WithBaseDomain("example.com"))
	if err != nil {
		t.Fatal(err)
	}
	alice, err := mgr.Users().ByEmail(t.Context(), "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := 1; i <= n; i++ {
		tn, _, err := mgr.Provision(t.Context(), fmt.Sprintf("T%d", i), fmt.Sprintf("t%d", i), alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tn.SchemaName)
	}
	return out
}

// appliedCount returns, per tenant schema, how many times migration
// 0002_mark ran there (rows in its marks table; -1 when not at all) and
// how many bookkeeping rows record it.
func appliedCount(t *testing.T, dsn string, schema string) (runs, records int) {
	t.Helper()
	db := openDB(t, dsn)
	if err := db.Get(&runs, `SELECT count(*) FROM "`+schema+`".marks`); err != nil {
		runs = -1
	}
	if err := db.Get(&records, `SELECT count(*) FROM "`+schema+`".tenantkit_migrations WHERE version = '0002_mark'`); err != nil {
		t.Fatal(err)
	}
	return runs, records
}

func TestMigrateInterruptedThenResumed(t *testing.T) {
	t.Parallel()
	dsn, schemas := setup(t)
	// The public tenant (on the shared schema) is a target too, without
	// the default type's migrations: it is the first of the three done.
	all := append([]string{schemas["acme"], schemas["globex"]}, provisionMany(t, dsn, 5)...)
	body, err := os.ReadFile(filepath.Join(notesDir, "0001_notes.sql"))
	if err != nil {
		t.Fatal(err)
	}
	dir := writeMigrations(t, map[string]string{"0001_notes.sql": string(body), "0002_mark.sql": "CREATE TABLE marks (at timestamptz DEFAULT now()); INSERT INTO marks DEFAULT VALUES;"})

	// Interrupted (as by Ctrl-C) once three tenant schemas are done.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errOut bytes.Buffer
	c := &cli{stdout: &out, stderr: &errOut, getenv: func(k string) string { return map[string]string{"DATABASE_URL": dsn}[k] }}
	c.afterSchema = func(done int) {
		if done == 3 {
			cancel()
		}
	}
	code := c.run(ctx, []string{"migrate", "--migrations", dir, "--parallel", "1"})
	lastLine := errOut.String()[strings.LastIndex(strings.TrimSuffix(errOut.String(), "\n"), "\n")+1:]
	if code != exitInterrupted || !strings.HasPrefix(lastLine, "tenantctl: interrupted: migrate: stopped after 3 of 8 tenant schemas (0 failed); run again to resume") {
		t.Fatalf("interrupted migrate: exit %d\nstdout %s\nstderr %s", code, out.String(), errOut.String())
	}
	if !strings.HasSuffix(out.String(), "0 failed, 5 not started\n") {
		t.Errorf("interrupted migrate printed %q", out.String())
	}
	migrated := 0
	for _, s := range all {
		runs, records := appliedCount(t, dsn, s)
		switch {
		case runs == 1 && records == 1:
			migrated++
		case runs == -1 && records == 0:
		default:
			t.Errorf("%s after the interrupted run: %d runs, %d records", s, runs, records)
		}
	}
	if migrated != 2 {
		t.Fatalf("%d tenant schemas migrated before the interruption, want 2 (and the public tenant)", migrated)
	}

	// Run again: the rest is migrated, nothing twice.
	res := decode[[]migrateResult](t, dsn, "migrate", "--migrations", dir)
	applied := 0
	for _, r := range res[1:] {
		if r.Status == statusApplied {
			applied++
		}
	}
	if applied != len(all)-2 {
		t.Errorf("resumed run applied in %d schemas, want %d: %+v", applied, len(all)-2, res)
	}
	for _, s := range all {
		if runs, records := appliedCount(t, dsn, s); runs != 1 || records != 1 {
			t.Errorf("%s after resuming: %d runs, %d records; want 1 and 1", s, runs, records)
		}
	}
}

func TestTwoMigratorsAtOnce(t *testing.T) {
	t.Parallel()
	dsn, schemas := setup(t)
	all := append([]string{schemas["acme"], schemas["globex"]}, provisionMany(t, dsn, 9)...)
	body, err := os.ReadFile(filepath.Join(notesDir, "0001_notes.sql"))
	if err != nil {
		t.Fatal(err)
	}
	dir := writeMigrations(t, map[string]string{"0001_notes.sql": string(body),
		"0002_mark.sql": "CREATE TABLE marks (at timestamptz DEFAULT now()); INSERT INTO marks DEFAULT VALUES; SELECT pg_sleep(0.01);"})
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = tenantctl(t, dsn, "", "migrate", "--migrations", dir, "--parallel", "3", "--json")
		}()
	}
	wg.Wait()
	applied := 0
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("migrator %d: exit %d\nstderr: %s", i, r.code, r.stderr)
		}
		var res []migrateResult
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatal(err)
		}
		for _, mr := range res[1:] {
			applied += len(mr.Applied)
		}
	}
	if applied != len(all) {
		t.Errorf("the two runs applied %d migrations together, want one per schema (%d)", applied, len(all))
	}
	for _, s := range all {
		if runs, records := appliedCount(t, dsn, s); runs != 1 || records != 1 {
			t.Errorf("%s: migration ran %d times, recorded %d times; want once", s, runs, records)
		}
	}
}

func TestProgressOnATerminal(t *testing.T) {
	t.Parallel()
	var bar, out bytes.Buffer
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &progress{w: &bar, tty: true, sameTTY: true, width: 100, label: "migrating", total: 4,
		now: func() time.Time { return clock }, start: clock, step: 1}
	clock = clock.Add(time.Second)
	p.update(1, 0)
	if got, want := bar.String(), "\r\x1b[Kmigrating [##########..............................] 1/4 schemas (25%), 0 failed, 1.0/s, ETA 3s"; got != want {
		t.Fatalf("bar %q, want %q", got, want)
	}
	bar.Reset()
	clock = clock.Add(10 * time.Millisecond)
	p.update(2, 1) // too soon to draw again
	if bar.Len() != 0 {
		t.Fatalf("bar redrawn within a tick: %q", bar.String())
	}
	p.println(&out, "s2\tFAILED: x") // clears the bar, prints, draws it again
	if out.String() != "s2\tFAILED: x\n" || !strings.HasPrefix(bar.String(), "\r\x1b[K\r\x1b[Kmigrating [####################") {
		t.Fatalf("println: out %q, bar %q", out.String(), bar.String())
	}
	bar.Reset()
	clock = clock.Add(time.Second)
	p.update(4, 1) // the last one is always drawn
	p.finish()
	if !strings.Contains(bar.String(), "4/4 schemas (100%), 1 failed, 2.0/s\n") || strings.Contains(bar.String(), "ETA") {
		t.Fatalf("final bar %q", bar.String())
	}
	// A narrow terminal cuts the line rather than wrapping it.
	bar.Reset()
	p.width = 30
	p.draw()
	if line := strings.TrimPrefix(bar.String(), "\r\x1b[K"); len(line) != 29 {
		t.Fatalf("bar on 30 columns is %d wide: %q", len(line), line)
	}
}

func TestMigrateReportsEveryFailure(t *testing.T) {
	t.Parallel()
	dsn, schemas := setup(t)
	db := openDB(t, dsn)
	more := provisionMany(t, dsn, 3)
	// Two tenants, apart in tenant order, already have the column that
	// 0002 adds: both fail, the others are migrated.
	broken := []string{schemas["acme"], more[1]}
	for _, s := range broken {
		if _, err := db.Exec(`ALTER TABLE "` + s + `".notes ADD COLUMN pinned int`); err != nil {
			t.Fatal(err)
		}
	}
	r := fails(t, dsn, 1, "migrate: 2 of 6 tenant schemas failed", "migrate", "--migrations", migrationsWith0002(t), "--parallel", "2")
	for _, s := range broken {
		if line := s + "\tFAILED: app.default/0002_add_column: pq: column \"pinned\" of relation \"notes\" already exists"; !strings.Contains(r.stdout, line) {
			t.Errorf("migrate printed %q, lacking %q", r.stdout, line)
		}
	}
	for _, s := range []string{schemas["globex"], more[0], more[2]} {
		if !strings.Contains(r.stdout, s+"\tapplied 1\n") || !hasColumn(t, db, s, "notes", "pinned") {
			t.Errorf("%s not migrated past the failures: %q", s, r.stdout)
		}
	}
	if !strings.HasSuffix(r.stdout, ": 3 migrations applied, 2 failed\n") {
		t.Errorf("migrate summary: %q", r.stdout)
	}
}
