package sqlxschema_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/sqlxschema"
)

func set(files map[string]string) sqlxschema.Set {
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return sqlxschema.Set{Name: "app", FS: fsys}
}

func TestLoadOrdersNumerically(t *testing.T) {
	s := set(map[string]string{
		"10_ten.sql": "SELECT 10", "2_two.sql": "SELECT 2", "0001_one.sql": "SELECT 1", "README.md": "not sql",
	})
	migs, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range migs {
		got = append(got, m.Version)
	}
	if strings.Join(got, ",") != "0001_one,2_two,10_ten" {
		t.Fatalf("order = %v", got)
	}
}

func TestLoadRejectsBadNames(t *testing.T) {
	tests := map[string]map[string]string{
		"no number":        {"create.sql": "SELECT 1"},
		"duplicate number": {"1_a.sql": "SELECT 1", "01_b.sql": "SELECT 2"},
	}
	for name, files := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := set(files).Load(); err == nil {
				t.Fatal("Load accepted bad names")
			}
		})
	}
}

func TestApplyOnceAndRecord(t *testing.T) {
	db := freshDB(t)
	sdb, _ := sqlxschema.New(db)
	m := sqlxschema.NewMigrator(sdb)
	s := sqlxschema.MustSchema("t1")
	v1 := set(map[string]string{"1_items.sql": "CREATE TABLE items (id int); INSERT INTO items VALUES (1);"})
	applied, err := m.Apply(context.Background(), s, true, v1)
	if err != nil || len(applied) != 1 {
		t.Fatalf("first Apply = %v, %v", applied, err)
	}
	applied, err = m.Apply(context.Background(), s, true, v1)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second Apply = %v, %v; want nothing applied", applied, err)
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM t1.items`); err != nil || n != 1 {
		t.Fatalf("items = %d, %v", n, err)
	}
	// The table landed in the schema, not in public.
	if err := db.Get(&n, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'items'`); err != nil || n != 0 {
		t.Fatalf("items leaked into public: %d %v", n, err)
	}
}

func TestEditedMigrationIsNamed(t *testing.T) {
	db := freshDB(t)
	sdb, _ := sqlxschema.New(db)
	m := sqlxschema.NewMigrator(sdb)
	s := sqlxschema.MustSchema("t1")
	if _, err := m.Apply(context.Background(), s, true, set(map[string]string{"1_items.sql": "CREATE TABLE items (id int);"})); err != nil {
		t.Fatal(err)
	}
	_, err := m.Apply(context.Background(), s, true, set(map[string]string{"1_items.sql": "CREATE TABLE items (id bigint);"}))
	var me *sqlxschema.MigrationError
	if !errors.Is(err, sqlxschema.ErrChecksumMismatch) || !errors.As(err, &me) || me.Version != "1_items" || me.Schema != "t1" {
		t.Fatalf("edited migration: %v", err)
	}
}

func TestFailedBatchLeavesSchemaUntouched(t *testing.T) {
	db := freshDB(t)
	sdb, _ := sqlxschema.New(db)
	m := sqlxschema.NewMigrator(sdb)
	s := sqlxschema.MustSchema("t1")
	_, err := m.Apply(context.Background(), s, true, set(map[string]string{
		"1_ok.sql": "CREATE TABLE ok (id int);", "2_bad.sql": "SELECT 1/0;",
	}))
	var me *sqlxschema.MigrationError
	if !errors.As(err, &me) || me.Version != "2_bad" {
		t.Fatalf("Apply = %v, want MigrationError naming 2_bad", err)
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM pg_namespace WHERE nspname = 't1'`); err != nil || n != 0 {
		t.Fatalf("failed batch left its schema behind (%d, %v)", n, err)
	}
	// Resume: fix the file, run again, both apply.
	applied, err := m.Apply(context.Background(), s, true, set(map[string]string{
		"1_ok.sql": "CREATE TABLE ok (id int);", "2_bad.sql": "SELECT 1;",
	}))
	if err != nil || len(applied) != 2 {
		t.Fatalf("resume = %v, %v", applied, err)
	}
}

func TestConcurrentMigratorsApplyOnce(t *testing.T) {
	db := freshDB(t)
	sdb, _ := sqlxschema.New(db)
	s := sqlxschema.MustSchema("t1")
	if _, err := db.Exec(`CREATE SCHEMA t1`); err != nil {
		t.Fatal(err)
	}
	v := set(map[string]string{"1_items.sql": "CREATE TABLE items (id int); INSERT INTO items VALUES (1);"})
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = sqlxschema.NewMigrator(sdb).Apply(context.Background(), s, false, v)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Apply: %v", err)
		}
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM t1.items`); err != nil || n != 1 {
		t.Fatalf("items = %d (%v): a migration ran more than once", n, err)
	}
}

func TestApplyAllGoesOnPastFailures(t *testing.T) {
	db := freshDB(t)
	sdb, _ := sqlxschema.New(db)
	m := sqlxschema.NewMigrator(sdb)
	var targets []sqlxschema.Target
	v := set(map[string]string{"1_items.sql": "CREATE TABLE items (id int);"})
	for _, name := range []string{"s1", "s2", "s3", "s4", "s5"} {
		if _, err := db.Exec(`CREATE SCHEMA ` + name); err != nil {
			t.Fatal(err)
		}
		targets = append(targets, sqlxschema.Target{Schema: sqlxschema.MustSchema(name), Sets: []sqlxschema.Set{v}})
	}
	if _, err := db.Exec(`CREATE TABLE s3.items (x int)`); err != nil { // s3 will fail
		t.Fatal(err)
	}
	results, err := m.ApplyAll(context.Background(), targets, 3)
	if err == nil || !strings.Contains(err.Error(), `"s3"`) {
		t.Fatalf("ApplyAll error = %v, want one naming s3", err)
	}
	for _, r := range results {
		if (r.Err != nil) != (r.Schema.String() == "s3") {
			t.Errorf("%s: err = %v", r.Schema, r.Err)
		}
	}
}

func TestPendingAndProgress(t *testing.T) {
	db := freshDB(t)
	sdb, _ := sqlxschema.New(db)
	m := sqlxschema.NewMigrator(sdb)
	s := sqlxschema.MustSchema("t1")
	v1 := set(map[string]string{"1_a.sql": "CREATE TABLE a (id int);"})
	pending, edited, err := m.Pending(context.Background(), db, s, v1)
	if err != nil || len(pending) != 1 || pending[0] != "app/1_a" || len(edited) != 0 {
		t.Fatalf("Pending on a missing schema = %v %v %v", pending, edited, err)
	}
	if _, err := m.Apply(context.Background(), s, true, v1); err != nil {
		t.Fatal(err)
	}
	v2 := set(map[string]string{"1_a.sql": "CREATE TABLE a (id bigint);", "2_b.sql": "CREATE TABLE b (id int);"})
	pending, edited, err = m.Pending(context.Background(), db, s, v2)
	if err != nil || len(pending) != 1 || pending[0] != "app/2_b" || len(edited) != 1 || edited[0] != "app/1_a" {
		t.Fatalf("Pending = %v %v %v", pending, edited, err)
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM pg_tables WHERE schemaname = 't1' AND tablename = 'b'`); err != nil || n != 0 {
		t.Fatal("Pending applied something")
	}
	var seen []int
	targets := []sqlxschema.Target{{Schema: s, Sets: []sqlxschema.Set{v1}}, {Schema: sqlxschema.MustSchema("public"), Sets: []sqlxschema.Set{v1}}}
	if _, err := m.ApplyAllFunc(context.Background(), targets, 2, func(i int, r sqlxschema.Result) { seen = append(seen, i) }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 {
		t.Fatalf("onResult called for %v, want both targets", seen)
	}
}

func TestGooseAnnotations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		want    string // the SQL that runs; "" when Load must fail
		wantErr error  // matched with errors.Is
		line    int    // the AnnotationError's line
	}{
		{name: "plain file", body: "CREATE TABLE a (id int);\n", want: "CREATE TABLE a (id int);\n"},
		{name: "goose word in SQL only", body: "SELECT '-- +goose Up';\n", want: "SELECT '-- +goose Up';\n"},
		{name: "up and down", body: "-- +goose Up\nCREATE TABLE a (id int);\n-- +goose Down\nDROP TABLE a;\n", want: "CREATE TABLE a (id int);\n"},
		{name: "up only, comment first", body: "-- adds a\n\n-- +goose Up\nCREATE TABLE a (id int);\n", want: "CREATE TABLE a (id int);\n"},
		{name: "spacing and case", body: "--  +goose   up\nSELECT 1;\n--+goose DOWN\nSELECT 2;\n", want: "SELECT 1;\n"},
		{name: "statement block", body: "-- +goose Up\n-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\nBEGIN RETURN 1; END;\n$$;\n-- +goose StatementEnd\n-- +goose Down\nDROP FUNCTION f();\n",
			want: "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\nBEGIN RETURN 1; END;\n$$;\n"},
		{name: "no transaction", body: "-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY i ON a (id);\n", wantErr: sqlxschema.ErrNoTransaction, line: 1},
		{name: "no transaction later", body: "-- +goose Up\nSELECT 1;\n-- +goose no transaction\n", wantErr: sqlxschema.ErrNoTransaction, line: 3},
		{name: "unknown annotation", body: "-- +goose Up\n-- +goose ENVSUB ON\nSELECT '${X}';\n", wantErr: sqlxschema.ErrAnnotation, line: 2},
		{name: "SQL before up", body: "SELECT 1;\n-- +goose Up\nSELECT 2;\n", wantErr: sqlxschema.ErrAnnotation, line: 1},
		{name: "down before up", body: "-- +goose Down\nDROP TABLE a;\n-- +goose Up\nSELECT 1;\n", wantErr: sqlxschema.ErrAnnotation, line: 1},
		{name: "down only", body: "-- +goose Down\nDROP TABLE a;\n", wantErr: sqlxschema.ErrAnnotation, line: 1},
		{name: "two ups", body: "-- +goose Up\nSELECT 1;\n-- +goose Up\nSELECT 2;\n", wantErr: sqlxschema.ErrAnnotation, line: 3},
		{name: "unclosed block", body: "-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n", wantErr: sqlxschema.ErrAnnotation, line: 2},
		{name: "unclosed block before down", body: "-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n-- +goose Down\nSELECT 2;\n", wantErr: sqlxschema.ErrAnnotation, line: 2},
		{name: "end without begin", body: "-- +goose Up\nSELECT 1;\n-- +goose StatementEnd\n", wantErr: sqlxschema.ErrAnnotation, line: 3},
		{name: "nested blocks", body: "-- +goose Up\n-- +goose StatementBegin\n-- +goose StatementBegin\n", wantErr: sqlxschema.ErrAnnotation, line: 3},
		{name: "goosey is not goose", body: "-- +gooseUp\nSELECT 1;\n", want: "-- +gooseUp\nSELECT 1;\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			migs, err := set(map[string]string{"1_a.sql": tt.body}).Load()
			if tt.wantErr != nil {
				var ae *sqlxschema.AnnotationError
				if !errors.Is(err, tt.wantErr) || !errors.As(err, &ae) || ae.Line != tt.line || ae.File != "1_a.sql" || ae.Set != "app" {
					t.Fatalf("Load = %v, want an AnnotationError at line %d matching %v", err, tt.line, tt.wantErr)
				}
				if !errors.Is(err, sqlxschema.ErrAnnotation) || !strings.Contains(err.Error(), "app/1_a.sql") {
					t.Fatalf("error %q does not name the file or match ErrAnnotation", err)
				}
				return
			}
			if err != nil || len(migs) != 1 {
				t.Fatalf("Load = %v, %v", migs, err)
			}
			if migs[0].SQL != tt.want {
				t.Fatalf("SQL = %q, want %q", migs[0].SQL, tt.want)
			}
		})
	}
}

func TestGooseFileRunsUpOnly(t *testing.T) {
	t.Parallel()
	db := freshDB(t)
	sdb, _ := sqlxschema.New(db)
	m := sqlxschema.NewMigrator(sdb)
	s := sqlxschema.MustSchema("g1")
	file := `-- +goose Up
CREATE TABLE items (id int);
-- +goose StatementBegin
CREATE FUNCTION twice(x int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    RETURN x * 2; -- a semicolon inside the body
END;
$$;
-- +goose StatementEnd
INSERT INTO items VALUES (twice(21));

-- +goose Down
DROP FUNCTION twice(int);
DROP TABLE items;
`
	applied, err := m.Apply(t.Context(), s, true, set(map[string]string{"0001_items.sql": file}))
	if err != nil || len(applied) != 1 {
		t.Fatalf("Apply = %v, %v", applied, err)
	}
	var n int
	if err := db.Get(&n, `SELECT id FROM g1.items`); err != nil || n != 42 {
		t.Fatalf("items = %d, %v: the Up section did not run, or the Down section ran", n, err)
	}
	// The checksum covers the whole file: an edited Down section is an edit.
	edited := strings.Replace(file, "DROP TABLE items;", "DROP TABLE items CASCADE;", 1)
	_, err = m.Apply(t.Context(), s, true, set(map[string]string{"0001_items.sql": edited}))
	if !errors.Is(err, sqlxschema.ErrChecksumMismatch) {
		t.Fatalf("Apply after editing the Down section = %v, want ErrChecksumMismatch", err)
	}
	// NO TRANSACTION is refused before anything runs.
	_, err = m.Apply(t.Context(), s, true, set(map[string]string{"0001_items.sql": file,
		"0002_idx.sql": "-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY items_id ON items (id);\n"}))
	var me *sqlxschema.MigrationError
	if !errors.Is(err, sqlxschema.ErrNoTransaction) || !errors.As(err, &me) || me.Schema != "g1" || !strings.Contains(err.Error(), "0002_idx.sql") {
		t.Fatalf("NO TRANSACTION file: %v", err)
	}
}

func TestBookkeepingQuotesNames(t *testing.T) {
	t.Parallel()
	db := freshDB(t)
	sdb, _ := sqlxschema.New(db)
	m := sqlxschema.NewMigrator(sdb)
	s := sqlxschema.MustSchema("q1")
	odd := sqlxschema.Set{Name: `it's\a "set"`, FS: set(map[string]string{`1_o'clock\n.sql`: "SELECT 1;"}).FS}
	for range 2 {
		if _, err := m.Apply(t.Context(), s, true, odd); err != nil {
			t.Fatal(err)
		}
	}
	var rows []struct {
		Set     string `db:"set_name"`
		Version string `db:"version"`
	}
	if err := db.Select(&rows, `SELECT set_name, version FROM q1.tenantkit_migrations`); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Set != odd.Name || rows[0].Version != `1_o'clock\n` {
		t.Fatalf("bookkeeping = %+v", rows)
	}
}

// schemas creates n schemas named prefix1..prefixN and returns targets
// for them with sets.
func schemas(t *testing.T, db interface {
	Exec(string, ...any) (sql.Result, error)
}, prefix string, n int, sets ...sqlxschema.Set) []sqlxschema.Target {
	t.Helper()
	var targets []sqlxschema.Target
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("%s%d", prefix, i)
		if _, err := db.Exec(`CREATE SCHEMA ` + name); err != nil {
			t.Fatal(err)
		}
		targets = append(targets, sqlxschema.Target{Schema: sqlxschema.MustSchema(name), Sets: sets})
	}
	return targets
}

func countRows(t *testing.T, db interface {
	Get(any, string, ...any) error
}, table string) int {
	t.Helper()
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM `+table); err != nil {
		return -1
	}
	return n
}

func TestRunStopOnFailure(t *testing.T) {
	t.Parallel()
	db := freshDB(t)
	sdb, _ := sqlxschema.New(db)
	m := sqlxschema.NewMigrator(sdb)
	v := set(map[string]string{"1_items.sql": "CREATE TABLE items (id int); INSERT INTO items VALUES (1);"})
	targets := schemas(t, db, "s", 5, v)
	if _, err := db.Exec(`CREATE TABLE s2.items (x int)`); err != nil { // s2 will fail
		t.Fatal(err)
	}
	var order []int
	results, err := m.Run(t.Context(), targets, sqlxschema.StopOnFailure(),
		sqlxschema.OnResult(func(i int, r sqlxschema.Result) { order = append(order, i) }))
	if err == nil || !strings.Contains(err.Error(), `"s2"`) || !errors.Is(err, sqlxschema.ErrNotRun) || !strings.Contains(err.Error(), "3 of 5 schemas not started") {
		t.Fatalf("Run error = %v", err)
	}
	for i, r := range results {
		notRun := errors.Is(r.Err, sqlxschema.ErrNotRun)
		switch {
		case i == 0 && (r.Err != nil || len(r.Applied) != 1),
			i == 1 && (r.Err == nil || notRun),
			i >= 2 && !notRun:
			t.Errorf("result %d (%s): applied %v, err %v", i, r.Schema, r.Applied, r.Err)
		}
		if i >= 2 && countRows(t, db, r.Schema.String()+".items") != -1 {
			t.Errorf("%s was migrated after the failure", r.Schema)
		}
	}
	if len(order) != 5 {
		t.Errorf("OnResult called for %v, want every target", order)
	}
	// Without the option the run goes on past s2.
	results, err = m.Run(t.Context(), targets, sqlxschema.Workers(2))
	if err == nil || errors.Is(err, sqlxschema.ErrNotRun) {
		t.Fatalf("second Run error = %v, want s2's failure alone", err)
	}
	for i, r := range results {
		if (r.Err != nil) != (i == 1) {
			t.Errorf("second run, %s: %v", r.Schema, r.Err)
		}
	}
	for _, s := range []string{"s1", "s3", "s4", "s5"} {
		if n := countRows(t, db, s+".items"); n != 1 {
			t.Errorf("%s.items has %d rows, want 1", s, n)
		}
	}
}

func TestRunCancelledThenResumed(t *testing.T) {
	t.Parallel()
	db := freshDB(t)
	sdb, _ := sqlxschema.New(db)
	m := sqlxschema.NewMigrator(sdb)
	v := set(map[string]string{"1_items.sql": "CREATE TABLE items (id int); INSERT INTO items VALUES (1);", "2_more.sql": "INSERT INTO items VALUES (2);"})
	targets := schemas(t, db, "c", 8, v)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	finished := 0
	results, err := m.Run(ctx, targets, sqlxschema.Workers(2), sqlxschema.OnResult(func(i int, r sqlxschema.Result) {
		if r.Err == nil {
			finished++
			if finished == 3 {
				cancel() // as Ctrl-C would, in the middle of the run
			}
		}
	}))
	if !errors.Is(err, context.Canceled) || !errors.Is(err, sqlxschema.ErrNotRun) {
		t.Fatalf("cancelled Run error = %v", err)
	}
	done := 0
	for _, r := range results {
		n := countRows(t, db, r.Schema.String()+".items")
		switch {
		case r.Err == nil && n == 2:
			done++
		case r.Err != nil && n == -1: // rolled back or never started: nothing there
		default:
			t.Errorf("%s: err %v, %d rows", r.Schema, r.Err, n)
		}
	}
	if done < 3 || done >= len(targets) {
		t.Fatalf("%d schemas migrated before the cancel took effect; want at least 3 and not all", done)
	}
	results, err = m.Run(t.Context(), targets, sqlxschema.Workers(3))
	if err != nil {
		t.Fatalf("resumed Run: %v", err)
	}
	resumed := 0
	for _, r := range results {
		if len(r.Applied) > 0 {
			resumed++
		}
		if n := countRows(t, db, r.Schema.String()+".items"); n != 2 {
			t.Errorf("%s.items has %d rows after the resumed run, want 2", r.Schema, n)
		}
	}
	if resumed != len(targets)-done {
		t.Errorf("resumed run migrated %d schemas, want the %d left", resumed, len(targets)-done)
	}
}

func TestRunOptionErrors(t *testing.T) {
	t.Parallel()
	m := sqlxschema.NewMigrator(nil) // the options fail before any I/O
	tests := map[string]sqlxschema.RunOption{
		"zero workers": sqlxschema.Workers(0),
		"nil callback": sqlxschema.OnResult(nil),
	}
	for name, opt := range tests {
		t.Run(name, func(t *testing.T) {
			results, err := m.Run(t.Context(), []sqlxschema.Target{{Schema: sqlxschema.MustSchema("x")}}, opt)
			if err == nil || results != nil {
				t.Fatalf("Run = %v, %v; want an option error", results, err)
			}
		})
	}
}

// TestStatementsPerSchema pins down the migrator's cost per schema, which
// is what makes thousands of schemas fast: statements sent (BEGIN and
// COMMIT aside).
func TestStatementsPerSchema(t *testing.T) {
	t.Parallel()
	pc, err := pgtest.Connector(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	conn := sqlxschema.WrapConnector(pc)
	db := sqlx.NewDb(sql.OpenDB(conn), pgtest.Driver())
	t.Cleanup(func() { db.Close() })
	sdb, _ := sqlxschema.New(db)
	m := sqlxschema.NewMigrator(sdb)
	v1 := set(map[string]string{"1_a.sql": "CREATE TABLE a (id int);", "2_b.sql": "CREATE TABLE b (id int);"})
	v2 := set(map[string]string{"1_a.sql": "CREATE TABLE a (id int);", "2_b.sql": "CREATE TABLE b (id int);", "3_c.sql": "ALTER TABLE a ADD c int;"})
	other := sqlxschema.Set{Name: "other", FS: set(map[string]string{"1_x.sql": "CREATE TABLE x (id int);"}).FS}
	s := sqlxschema.MustSchema("p1")
	if _, err := db.Exec(`CREATE SCHEMA p1`); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		run  func() error
		want int64
	}{
		// New schema: one failed try that assumes bookkeeping (path and
		// lock, then the read fails), one that creates it and reads it,
		// one statement per file.
		{"first migrate", func() error { _, err := m.Apply(t.Context(), s, false, v1, other); return err }, 2 + 2 + 3},
		{"up to date", func() error { _, err := m.Apply(t.Context(), s, false, v1, other); return err }, 2},
		{"one new file", func() error { _, err := m.Apply(t.Context(), s, false, v2, other); return err }, 3},
		{"Run, up to date", func() error {
			_, err := m.Run(t.Context(), []sqlxschema.Target{{Schema: s, Sets: []sqlxschema.Set{v2, other}}})
			return err
		}, 2},
		{"ApplyTx in a caller's transaction", func() error {
			tx, err := db.Beginx()
			if err != nil {
				return err
			}
			defer tx.Rollback()
			_, err = m.ApplyTx(t.Context(), tx, s, v2, other)
			return err
		}, 2},
	}
	for _, st := range steps {
		before := conn.Statements()
		if err := st.run(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := conn.Statements() - before; got != st.want {
			t.Errorf("%s: %d statements, want %d", st.name, got, st.want)
		}
	}
}
