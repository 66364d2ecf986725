package sqlxschema_test

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/sqlxschema"
)

// sharedSetup is what the shared schema (public) holds in the
// self-containment tests: tables, a sequence, a type, functions, a parent
// table, a foreign server, extensions, and a schema "ext" with a type and a
// table, allowed in the cases that say so.
const sharedSetup = `
CREATE EXTENSION citext;
CREATE EXTENSION pg_trgm;
CREATE TABLE public.users (id bigint PRIMARY KEY);
CREATE SEQUENCE public.ids;
CREATE TYPE public.mood AS ENUM ('ok', 'sad');
CREATE FUNCTION public.next_n() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TABLE public.parent (x int);
CREATE TABLE public.byrange (x int) PARTITION BY RANGE (x);
CREATE FOREIGN DATA WRAPPER nowhere;
CREATE SERVER far FOREIGN DATA WRAPPER nowhere;
CREATE SCHEMA ext;
CREATE TYPE ext.color AS ENUM ('red', 'green');
CREATE TABLE ext.colors (id int PRIMARY KEY);
`

// violation is what a test expects of a sqlxschema.Violation.
type violation struct {
	kind              sqlxschema.ViolationKind
	object, reference string
}

func got(vs []sqlxschema.Violation) []violation {
	out := make([]violation, len(vs))
	for i, v := range vs {
		out[i] = violation{v.Kind, v.Object, v.References}
	}
	return out
}

// catalogOf lists what schema s holds (relations, constraints, types,
// functions, bookkeeping rows), to tell that a failed run left it as it was.
func catalogOf(t *testing.T, db *sqlx.DB, s string) []string {
	t.Helper()
	var out []string
	err := db.Select(&out, `
		SELECT 'rel ' || relname FROM pg_class WHERE relnamespace = $1::regnamespace
		UNION ALL SELECT 'con ' || conname FROM pg_constraint WHERE connamespace = $1::regnamespace
		UNION ALL SELECT 'type ' || typname FROM pg_type WHERE typnamespace = $1::regnamespace
		UNION ALL SELECT 'proc ' || proname FROM pg_proc WHERE pronamespace = $1::regnamespace
		UNION ALL SELECT 'ext ' || extname FROM pg_extension WHERE extnamespace = $1::regnamespace
		UNION ALL SELECT 'ref ' || conname FROM pg_constraint WHERE confrelid IN (SELECT oid FROM pg_class WHERE relnamespace = $1::regnamespace)
		ORDER BY 1`, s)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	if err := db.Select(&rows, `SELECT set_name || '/' || version FROM `+sqlxschema.MustSchema(s).Qualify(sqlxschema.MigrationsTable)+` ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	return append(out, rows...)
}

func TestMigrationCheckedForSelfContainment(t *testing.T) {
	t.Parallel()
	db := freshDB(t)
	if _, err := db.Exec(sharedSetup); err != nil {
		t.Fatal(err)
	}
	sdb, _ := sqlxschema.New(db)
	ext := sqlxschema.MustSchema("ext")
	base := "CREATE TABLE notes (id bigserial PRIMARY KEY, author_id bigint NOT NULL);"
	tests := []struct {
		name    string
		sql     string // the second migration, after base
		allowed []sqlxschema.Schema
		want    []violation // nil: the migration passes
	}{
		{name: "foreign key into the shared schema",
			sql:  "ALTER TABLE notes ADD CONSTRAINT notes_author_fk FOREIGN KEY (author_id) REFERENCES public.users (id);",
			want: []violation{{sqlxschema.KindForeignKey, "table constraint notes_author_fk on %s.notes", "table public.users"}}},
		{name: "foreign key within the schema",
			sql: "CREATE TABLE tags (id serial PRIMARY KEY, note_id bigint REFERENCES notes (id) ON DELETE CASCADE);"},
		{name: "foreign key into an allowed schema",
			sql:     "CREATE TABLE painted (color_id int REFERENCES ext.colors (id));",
			allowed: []sqlxschema.Schema{ext},
			want:    []violation{{sqlxschema.KindForeignKey, "table constraint painted_color_id_fkey on %s.painted", "table ext.colors"}}},
		{name: "foreign key from the shared schema into the tenant",
			sql:  "CREATE TABLE public.audit (note_id bigint REFERENCES notes (id));",
			want: []violation{{sqlxschema.KindReferencedBy, "table %s.notes", "table constraint audit_note_id_fkey on public.audit"}}},
		{name: "default from a shared sequence",
			sql:  "CREATE TABLE items (id bigint DEFAULT nextval('public.ids'));",
			want: []violation{{sqlxschema.KindSequence, "default value for %s.items.id", "sequence public.ids"}}},
		{name: "default from the schema's own sequence",
			sql: "CREATE SEQUENCE n; CREATE TABLE items (id bigint DEFAULT nextval('n'), at timestamptz DEFAULT now());"},
		{name: "view over a shared table",
			sql:  "CREATE VIEW authors AS SELECT n.id, u.id AS user_id FROM notes n JOIN public.users u ON u.id = n.author_id;",
			want: []violation{{sqlxschema.KindView, "view %s.authors", "table public.users"}}},
		{name: "materialized view over a shared table",
			sql:  "CREATE MATERIALIZED VIEW everyone AS SELECT id FROM public.users;",
			want: []violation{{sqlxschema.KindView, "materialized view %s.everyone", "table public.users"}}},
		{name: "view over the schema and pg_catalog",
			sql: "CREATE VIEW counts AS SELECT count(*) AS n, (SELECT count(*) FROM pg_catalog.pg_class) AS rels FROM notes;"},
		{name: "default calling a shared function",
			sql:  "CREATE TABLE items (n int DEFAULT public.next_n());",
			want: []violation{{sqlxschema.KindFunction, "default value for %s.items.n", "function public.next_n()"}}},
		{name: "trigger calling a shared function",
			sql:  "CREATE TRIGGER notes_touch BEFORE UPDATE ON notes FOR EACH ROW EXECUTE FUNCTION public.touch();",
			want: []violation{{sqlxschema.KindFunction, "trigger notes_touch on %s.notes", "function public.touch()"}}},
		{name: "trigger calling the schema's own function",
			sql: "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';" +
				"CREATE TRIGGER notes_touch BEFORE UPDATE ON notes FOR EACH ROW EXECUTE FUNCTION touch();"},
		{name: "shared type and its array",
			sql: "CREATE TABLE moods (m public.mood, ms public.mood[]);",
			want: []violation{
				{sqlxschema.KindType, "table column %s.moods.m", "type public.mood"},
				{sqlxschema.KindType, "table column %s.moods.ms", "type public.mood[]"},
			}},
		{name: "type of an allowed schema",
			sql:     "CREATE TABLE painted (c ext.color, cs ext.color[]);",
			allowed: []sqlxschema.Schema{ext}},
		{name: "type of a schema not allowed",
			sql:  "CREATE TABLE painted (c ext.color);",
			want: []violation{{sqlxschema.KindType, "table column %s.painted.c", "type ext.color"}}},
		{name: "extension types and operator classes",
			sql: "CREATE TABLE people (email public.citext, aliases public.citext[], name text);" +
				"CREATE INDEX people_name_trgm ON people USING gin (name public.gin_trgm_ops);" +
				"ALTER TABLE people ADD COLUMN score real DEFAULT public.similarity('a', 'b');"},
		{name: "inherits a shared table",
			sql:  "CREATE TABLE child (y int) INHERITS (public.parent);",
			want: []violation{{sqlxschema.KindInheritance, "table %s.child", "table public.parent"}}},
		{name: "inheritance within the schema",
			sql:  "CREATE TABLE base (x int); CREATE TABLE derived (y int) INHERITS (base);",
			want: []violation{{sqlxschema.KindInheritance, "table %s.derived", "table %s.base"}}},
		{name: "partition of a shared table",
			sql:  "CREATE TABLE low PARTITION OF public.byrange FOR VALUES FROM (0) TO (10);",
			want: []violation{{sqlxschema.KindInheritance, "table %s.low", "table public.byrange"}}},
		{name: "partitions within the schema",
			sql: "CREATE TABLE events (at int, x int) PARTITION BY RANGE (at);" +
				"CREATE INDEX ON events (x);" +
				"CREATE TABLE events_0 PARTITION OF events FOR VALUES FROM (0) TO (10);"},
		{name: "foreign table",
			sql:  "CREATE FOREIGN TABLE remote (x int) SERVER far;",
			want: []violation{{sqlxschema.KindForeignTable, "foreign table %s.remote", "server far"}}},
		{name: "extension installed in the schema",
			sql:  "CREATE EXTENSION hstore;",
			want: []violation{{sqlxschema.KindExtension, "extension hstore", ""}}},
		{name: "rule",
			sql:  "CREATE TABLE log (id bigint); CREATE RULE notes_log AS ON INSERT TO notes DO ALSO INSERT INTO log VALUES (NEW.id);",
			want: []violation{{sqlxschema.KindRule, "rule notes_log on %s.notes", ""}}},
		{name: "policy reading a shared table",
			sql:  "CREATE POLICY mine ON notes USING (author_id IN (SELECT id FROM public.users));",
			want: []violation{{sqlxschema.KindDependency, "policy mine on %s.notes", "table public.users"}}},
		{name: "several at once, in object order",
			sql: "CREATE VIEW v AS SELECT id FROM public.users;" +
				"ALTER TABLE notes ADD CONSTRAINT notes_author_fk FOREIGN KEY (author_id) REFERENCES public.users (id);",
			want: []violation{
				{sqlxschema.KindForeignKey, "table constraint notes_author_fk on %s.notes", "table public.users"},
				{sqlxschema.KindView, "view %s.v", "table public.users"},
			}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			schema := fmt.Sprintf("c%d", i)
			s := sqlxschema.MustSchema(schema)
			m := sqlxschema.NewMigrator(sdb).WithCheck(sqlxschema.SelfContained(tt.allowed...))
			v1 := set(map[string]string{"1_base.sql": base})
			if _, err := m.Apply(t.Context(), s, true, v1); err != nil {
				t.Fatalf("base migration: %v", err)
			}
			before := catalogOf(t, db, schema)
			v2 := set(map[string]string{"1_base.sql": base, "2_case.sql": tt.sql})
			applied, err := m.Apply(t.Context(), s, false, v2)
			if tt.want == nil {
				if err != nil || len(applied) != 1 {
					t.Fatalf("Apply = %v, %v; want 2_case applied", applied, err)
				}
				if err := sqlxschema.CheckSelfContained(t.Context(), db, s, tt.allowed...); err != nil {
					t.Fatalf("CheckSelfContained after the run: %v", err)
				}
				return
			}
			var me *sqlxschema.MigrationError
			var se *sqlxschema.SelfContainedError
			if !errors.As(err, &me) || !errors.As(err, &se) || !errors.Is(err, sqlxschema.ErrNotSelfContained) {
				t.Fatalf("Apply = %v, %v; want a *MigrationError wrapping a *SelfContainedError", applied, err)
			}
			if me.Schema != schema || me.Set != "app" || me.Version != "2_case" || se.Schema != schema {
				t.Errorf("error names schema %q set %q file %q (check: %q); want %s, app, 2_case", me.Schema, me.Set, me.Version, se.Schema, schema)
			}
			want := make([]violation, len(tt.want))
			for i, w := range tt.want {
				w.object = strings.ReplaceAll(w.object, "%s", schema)
				w.reference = strings.ReplaceAll(w.reference, "%s", schema)
				want[i] = w
			}
			if g := got(se.Violations); !slices.Equal(g, want) {
				t.Errorf("violations:\n got %q\nwant %q", g, want)
			}
			for _, v := range se.Violations {
				if v.Schema != schema || v.Why == "" || !strings.Contains(err.Error(), v.Object) {
					t.Errorf("violation %+v: want schema %s, a why, and its object in %q", v, schema, err)
				}
			}
			if after := catalogOf(t, db, schema); !slices.Equal(after, before) {
				t.Errorf("failed migration changed the schema:\nbefore %q\n after %q", before, after)
			}
			// Without the check the same file applies; the standalone
			// check then finds the same violations.
			if _, err := sqlxschema.NewMigrator(sdb).Apply(t.Context(), s, false, v2); err != nil {
				t.Fatalf("Apply without the check: %v", err)
			}
			err = sqlxschema.CheckSelfContained(t.Context(), db, s, tt.allowed...)
			if !errors.As(err, &se) || !slices.Equal(got(se.Violations), want) {
				t.Fatalf("CheckSelfContained = %v, want %q", err, want)
			}
		})
	}
}

func TestCheckNamesWhatRan(t *testing.T) {
	t.Parallel()
	db := freshDB(t)
	if _, err := db.Exec(`CREATE TABLE public.users (id bigint PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	sdb, _ := sqlxschema.New(db)
	m := sqlxschema.NewMigrator(sdb).WithCheck(sqlxschema.SelfContained())
	fk := "CREATE TABLE notes (author_id bigint REFERENCES public.users (id));"
	other := sqlxschema.Set{Name: "other", FS: set(map[string]string{"1_x.sql": "CREATE TABLE x (id int);"}).FS}
	tests := []struct {
		name         string
		sets         []sqlxschema.Set
		set, version string
	}{
		{"one file", []sqlxschema.Set{set(map[string]string{"1_fk.sql": fk})}, "app", "1_fk"},
		{"two files of one set", []sqlxschema.Set{set(map[string]string{"1_fk.sql": fk, "2_y.sql": "CREATE TABLE y (id int);"})}, "app", ""},
		{"two sets", []sqlxschema.Set{other, set(map[string]string{"1_fk.sql": fk})}, "", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sqlxschema.MustSchema(fmt.Sprintf("n%d", i))
			_, err := m.Apply(t.Context(), s, true, tt.sets...)
			var me *sqlxschema.MigrationError
			if !errors.As(err, &me) || !errors.Is(err, sqlxschema.ErrNotSelfContained) || me.Schema != s.String() || me.Set != tt.set || me.Version != tt.version {
				t.Fatalf("Apply = %v; want the check's failure naming schema %s, set %q, file %q", err, s, tt.set, tt.version)
			}
			if n := countRows(t, db, `pg_namespace WHERE nspname = '`+s.String()+`'`); n != 0 {
				t.Fatalf("schema %s left behind", s)
			}
		})
	}
}

func TestCheckRunsInRunAndApplyTx(t *testing.T) {
	t.Parallel()
	db := freshDB(t)
	if _, err := db.Exec(`CREATE TABLE public.users (id bigint PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	sdb, _ := sqlxschema.New(db)
	m := sqlxschema.NewMigrator(sdb).WithCheck(sqlxschema.SelfContained())
	good := set(map[string]string{"1_notes.sql": "CREATE TABLE notes (id int PRIMARY KEY);"})
	bad := set(map[string]string{"1_notes.sql": "CREATE TABLE notes (id int PRIMARY KEY);",
		"2_fk.sql": "ALTER TABLE notes ADD COLUMN author_id bigint REFERENCES public.users (id);"})
	bad.Name = "bad" // Run loads each set name once
	targets := schemas(t, db, "r", 3, good)
	targets[1].Sets = []sqlxschema.Set{bad}
	results, err := m.Run(t.Context(), targets, sqlxschema.Workers(2))
	if !errors.Is(err, sqlxschema.ErrNotSelfContained) {
		t.Fatalf("Run error = %v (%+v)", err, results)
	}
	for i, r := range results {
		if (r.Err != nil) != (i == 1) || (i != 1 && countRows(t, db, r.Schema.String()+".notes") != 0) {
			t.Errorf("%s: applied %v, err %v", r.Schema, r.Applied, r.Err)
		}
	}
	if countRows(t, db, "r2.notes") != -1 {
		t.Error("r2 kept its migration")
	}

	// In the caller's transaction the check sees the files of that
	// transaction, and the caller's rollback undoes them.
	tx, err := db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`CREATE SCHEMA t1`); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ApplyTx(t.Context(), tx, sqlxschema.MustSchema("t1"), bad); !errors.Is(err, sqlxschema.ErrNotSelfContained) {
		t.Fatalf("ApplyTx = %v", err)
	}
}

func TestStandaloneCheck(t *testing.T) {
	t.Parallel()
	db := freshDB(t)
	_, err := db.Exec(`
		CREATE SCHEMA a; CREATE SCHEMA b; CREATE SCHEMA fine;
		CREATE TABLE a.items (id int PRIMARY KEY);
		CREATE TABLE b.items (id int PRIMARY KEY, a_id int REFERENCES a.items (id));
		CREATE TABLE fine.items (id int PRIMARY KEY);`)
	if err != nil {
		t.Fatal(err)
	}
	a, b, fine := sqlxschema.MustSchema("a"), sqlxschema.MustSchema("b"), sqlxschema.MustSchema("fine")
	if err := sqlxschema.CheckSelfContained(t.Context(), db, fine); err != nil {
		t.Fatalf("fine: %v", err)
	}
	// A foreign key between two checked schemas shows in both.
	vs, err := sqlxschema.SelfContainedViolations(t.Context(), db, []sqlxschema.Schema{fine, b, a})
	want := []violation{
		{sqlxschema.KindReferencedBy, "table a.items", "table constraint items_a_id_fkey on b.items"},
		{sqlxschema.KindForeignKey, "table constraint items_a_id_fkey on b.items", "table a.items"},
	}
	if err != nil || !slices.Equal(got(vs), want) || vs[0].Schema != "a" || vs[1].Schema != "b" {
		t.Fatalf("SelfContainedViolations = %+v, %v; want %q", vs, err, want)
	}
	// The check reads the catalog, not the search_path.
	tx, err := db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`SET LOCAL search_path TO b`); err != nil {
		t.Fatal(err)
	}
	var se *sqlxschema.SelfContainedError
	if err := sqlxschema.CheckSelfContained(t.Context(), tx, b); !errors.As(err, &se) || se.Violations[0].Object != "table constraint items_a_id_fkey on b.items" {
		t.Fatalf("CheckSelfContained(b) on b's search_path = %v", err)
	}
	tx.Rollback()

	err = sqlxschema.CheckSelfContained(t.Context(), db, sqlxschema.MustSchema("nowhere"))
	if err == nil || errors.Is(err, sqlxschema.ErrNotSelfContained) || !strings.Contains(err.Error(), "nowhere does not exist") {
		t.Fatalf("missing schema: %v", err)
	}
	if err := sqlxschema.CheckSelfContained(t.Context(), db, sqlxschema.Schema{}); !errors.Is(err, sqlxschema.ErrNoSchema) {
		t.Fatalf("zero schema: %v", err)
	}
}

// TestCheckCost pins down what the check costs: one statement in a schema
// where files ran, none in a schema that is up to date.
func TestCheckCost(t *testing.T) {
	t.Parallel()
	pc, err := pgtest.Connector(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	conn := sqlxschema.WrapConnector(pc)
	db := sqlx.NewDb(sql.OpenDB(conn), pgtest.Driver())
	t.Cleanup(func() { db.Close() })
	sdb, _ := sqlxschema.New(db)
	m := sqlxschema.NewMigrator(sdb).WithCheck(sqlxschema.SelfContained())
	s := sqlxschema.MustSchema("p1")
	if _, err := db.Exec(`CREATE SCHEMA p1`); err != nil {
		t.Fatal(err)
	}
	v1 := set(map[string]string{"1_a.sql": "CREATE TABLE a (id int);"})
	v2 := set(map[string]string{"1_a.sql": "CREATE TABLE a (id int);", "2_b.sql": "CREATE TABLE b (id int);"})
	steps := []struct {
		name string
		sets sqlxschema.Set
		want int64
	}{
		{"first migrate", v1, 2 + 2 + 1 + 1}, // as without the check, plus the check
		{"up to date", v1, 2},
		{"one new file", v2, 3 + 1},
	}
	for _, st := range steps {
		before := conn.Statements()
		if _, err := m.Apply(t.Context(), s, false, st.sets); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := conn.Statements() - before; got != st.want {
			t.Errorf("%s: %d statements, want %d", st.name, got, st.want)
		}
	}
}
