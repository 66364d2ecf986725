package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// migrationsWithFile copies testdata/notes to a temporary folder and adds
// a file.
func migrationsWithFile(t *testing.T, name, body string) string {
	t.Helper()
	dir := t.TempDir()
	notes, err := os.ReadFile(filepath.Join(notesDir, "0001_notes.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for file, text := range map[string]string{"0001_notes.sql": string(notes), name: body} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCheckCitus(t *testing.T) {
	t.Parallel()
	dsn, schemas := setup(t)
	acme, globex := schemas["acme"], schemas["globex"]
	if got := ok(t, dsn, "check-citus"); got != "checked 2 tenant schemas: all self-contained\n" {
		t.Fatalf("check-citus printed %q", got)
	}
	clean := decode[[]citusResult](t, dsn, "check-citus")
	if len(clean) != 2 || clean[0].Tenant != "acme" || clean[0].Schema != acme || clean[0].Type != "default" || clean[0].Violations == nil || len(clean[0].Violations) != 0 || clean[1].Tenant != "globex" {
		t.Fatalf("check-citus --json = %+v", clean)
	}

	// What an old migration might have left: a foreign key into the
	// shared schema in acme, a view over a shared table in globex.
	db := openDB(t, dsn)
	if _, err := db.Exec(`ALTER TABLE ` + acme + `.notes ADD CONSTRAINT notes_author_fk FOREIGN KEY (author_id) REFERENCES public.tenantkit_users (id);
		CREATE VIEW ` + globex + `.members AS SELECT user_id FROM public.tenantkit_memberships`); err != nil {
		t.Fatal(err)
	}
	r := fails(t, dsn, 1, "check-citus: 2 of 2 tenant schemas would not move to a Citus worker on their own", "check-citus")
	want := []string{
		acme + "\tforeign key: table constraint notes_author_fk on " + acme + ".notes references table public.tenantkit_users (",
		globex + "\tview: view " + globex + ".members references table public.tenantkit_memberships (",
		"checked 2 tenant schemas: 2 problems in 2 schemas",
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("check-citus printed %q", r.stdout)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want it to start %q", i, lines[i], w)
		}
	}

	r = tenantctl(t, dsn, "", "check-citus", "--json")
	var got []citusResult
	if r.code != 1 || json.Unmarshal([]byte(r.stdout), &got) != nil || len(got) != 2 {
		t.Fatalf("check-citus --json: exit %d, stdout %q", r.code, r.stdout)
	}
	if v := got[0].Violations; len(v) != 1 || v[0].Kind != "foreign key" || v[0].References != "table public.tenantkit_users" || v[0].Why == "" {
		t.Errorf("acme's violations = %+v", v)
	}
	if v := got[1].Violations; len(v) != 1 || v[0].Kind != "view" || v[0].Object != "view "+globex+".members" {
		t.Errorf("globex's violations = %+v", v)
	}

	// --tenant and --type narrow the check.
	r = fails(t, dsn, 1, "1 of 1 tenant schemas", "check-citus", "--tenant", "globex")
	if strings.Contains(r.stdout, acme) {
		t.Errorf("check-citus --tenant globex checked acme: %q", r.stdout)
	}
	if got := ok(t, dsn, "check-citus", "--type", "premium"); got != "checked 0 tenant schemas: all self-contained\n" {
		t.Errorf("check-citus --type premium printed %q", got)
	}
}

func TestMigrateCitusCheck(t *testing.T) {
	t.Parallel()
	dsn, schemas := setup(t)
	db := openDB(t, dsn)
	if _, err := db.Exec(`CREATE SCHEMA ext; CREATE TYPE ext.color AS ENUM ('red', 'green')`); err != nil {
		t.Fatal(err)
	}

	// A file with a foreign key into the shared schema fails in every
	// tenant schema and is rolled back.
	fk := migrationsWithFile(t, "0002_author_fk.sql",
		"ALTER TABLE notes ADD CONSTRAINT notes_author_fk FOREIGN KEY (author_id) REFERENCES public.tenantkit_users (id);\n")
	r := fails(t, dsn, 1, "migrate: 2 of 3 tenant schemas failed", "migrate", "--migrations", fk, "--citus-check")
	for _, s := range []string{schemas["acme"], schemas["globex"]} {
		line := s + "\tFAILED: app.default/0002_author_fk: sqlxschema: schema \"" + s + "\" is not self-contained: foreign key: table constraint notes_author_fk on " + s + ".notes references table public.tenantkit_users"
		if !strings.Contains(r.stdout, line) {
			t.Errorf("stdout %q lacks %q", r.stdout, line)
		}
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM pg_constraint WHERE conname = 'notes_author_fk'`); err != nil || n != 0 {
		t.Fatalf("%d foreign keys committed (%v)", n, err)
	}

	// A schema on the search_path holds types the check allows.
	color := migrationsWithFile(t, "0002_color.sql", "ALTER TABLE notes ADD COLUMN c color;\n")
	fails(t, dsn, 2, "WithExtraSearchPath", "migrate", "--migrations", color, "--extra-search-path", "Not-A-Schema")
	ok(t, dsn, "migrate", "--migrations", color, "--citus-check", "--extra-search-path", "ext")
	if !hasColumn(t, db, schemas["acme"], "notes", "c") {
		t.Fatal("0002_color did not apply")
	}
	ok(t, dsn, "check-citus", "--extra-search-path", "ext")
	fails(t, dsn, 1, "2 of 2 tenant schemas", "check-citus")

	// Without --citus-check the foreign key goes in; check-citus finds it.
	dir := t.TempDir()
	for _, src := range []string{filepath.Join(notesDir, "0001_notes.sql"), filepath.Join(color, "0002_color.sql"), filepath.Join(fk, "0002_author_fk.sql")} {
		body, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(src)
		if name == "0002_author_fk.sql" {
			name = "0003_author_fk.sql"
		}
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ok(t, dsn, "migrate", "--migrations", dir, "--extra-search-path", "ext")
	r = fails(t, dsn, 1, "2 of 2 tenant schemas", "check-citus", "--extra-search-path", "ext")
	if strings.Count(r.stdout, "foreign key: ") != 2 || strings.Contains(r.stdout, "type: ") {
		t.Fatalf("check-citus printed %q; want the two foreign keys alone", r.stdout)
	}
}
