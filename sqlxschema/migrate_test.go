package sqlxschema_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

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
