package sqlxschema_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/sqlxschema"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// twoTenants makes schemas a and b, each with a table "items" holding one
// row that names its schema, on a pool of at most maxConns connections.
func twoTenants(t *testing.T, maxConns int) (*sqlx.DB, *sqlxschema.DB, sqlxschema.Schema, sqlxschema.Schema) {
	t.Helper()
	db := freshDB(t)
	db.SetMaxOpenConns(maxConns)
	for _, s := range []string{"tenant_a", "tenant_b"} {
		if _, err := db.Exec(fmt.Sprintf(`CREATE SCHEMA %[1]s; CREATE TABLE %[1]s.items (owner text); INSERT INTO %[1]s.items VALUES ('%[1]s')`, s)); err != nil {
			t.Fatal(err)
		}
	}
	sdb, err := sqlxschema.New(db)
	if err != nil {
		t.Fatal(err)
	}
	return db, sdb, sqlxschema.MustSchema("tenant_a"), sqlxschema.MustSchema("tenant_b")
}

func currentPath(t *testing.T, q sqlx.QueryerContext) string {
	t.Helper()
	var p string
	if err := sqlx.GetContext(context.Background(), q, &p, `SHOW search_path`); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTxIsolationUnderConcurrency(t *testing.T) {
	db, sdb, a, b := twoTenants(t, 2)
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for i := 0; i < 400; i++ {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := sqlxschema.WithSchema(context.Background(), s)
			err := sdb.Tx(ctx, func(tx *sqlx.Tx) error {
				var owners []string
				if err := tx.Select(&owners, `SELECT owner FROM items`); err != nil {
					return err
				}
				if len(owners) != 1 || owners[0] != s.String() {
					return fmt.Errorf("schema %s saw %v", s, owners)
				}
				return nil
			})
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The pool is back on the default path.
	for i := 0; i < 4; i++ {
		if p := currentPath(t, db); p != `"$user", public` {
			t.Fatalf("plain pool query sees search_path %q after tenant work", p)
		}
	}
}

func TestConnIsolationAndReset(t *testing.T) {
	db, sdb, a, b := twoTenants(t, 2)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := 0; i < 200; i++ {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := sdb.Conn(sqlxschema.WithSchema(context.Background(), s))
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			var owner string
			if err := c.GetContext(context.Background(), &owner, `SELECT owner FROM items`); err != nil {
				errs <- err
				return
			}
			if owner != s.String() {
				errs <- fmt.Errorf("schema %s saw %s", s, owner)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := 0; i < 4; i++ {
		if p := currentPath(t, db); p != `"$user", public` {
			t.Fatalf("plain pool query sees search_path %q after pinned work", p)
		}
	}
}

func TestNoSchemaFailsClosed(t *testing.T) {
	_, sdb, _, _ := twoTenants(t, 2)
	ran := false
	err := sdb.Tx(context.Background(), func(*sqlx.Tx) error { ran = true; return nil })
	if !errors.Is(err, sqlxschema.ErrNoSchema) || ran {
		t.Fatalf("Tx without schema: err=%v ran=%v, want ErrNoSchema and not run", err, ran)
	}
	if _, err := sdb.Conn(context.Background()); !errors.Is(err, sqlxschema.ErrNoSchema) {
		t.Fatalf("Conn without schema: %v, want ErrNoSchema", err)
	}
}

func TestMissingSchemaNeverFallsThroughToPublic(t *testing.T) {
	db, sdb, _, _ := twoTenants(t, 2)
	if _, err := db.Exec(`CREATE TABLE public.items (owner text); INSERT INTO public.items VALUES ('shared')`); err != nil {
		t.Fatal(err)
	}
	ctx := sqlxschema.WithSchema(context.Background(), sqlxschema.MustSchema("no_such_schema"))
	err := sdb.Tx(ctx, func(tx *sqlx.Tx) error {
		var owner string
		return tx.Get(&owner, `SELECT owner FROM items`)
	})
	if err == nil {
		t.Fatal("query in a missing schema read the shared table")
	}
}

func TestTxPanicRollsBackAndLeavesPoolClean(t *testing.T) {
	db, sdb, a, _ := twoTenants(t, 1)
	ctx := sqlxschema.WithSchema(context.Background(), a)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic did not propagate")
			}
		}()
		_ = sdb.Tx(ctx, func(tx *sqlx.Tx) error {
			tx.MustExec(`INSERT INTO items VALUES ('ghost')`)
			panic("handler bug")
		})
	}()
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM tenant_a.items WHERE owner = 'ghost'`); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("panicking Tx committed its insert")
	}
	if p := currentPath(t, db); p != `"$user", public` {
		t.Fatalf("search_path %q after panic", p)
	}
}

func TestTxErrorRollsBack(t *testing.T) {
	db, sdb, a, _ := twoTenants(t, 1)
	ctx := sqlxschema.WithSchema(context.Background(), a)
	boom := errors.New("boom")
	err := sdb.Tx(ctx, func(tx *sqlx.Tx) error {
		tx.MustExec(`INSERT INTO items VALUES ('ghost')`)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tx = %v, want boom", err)
	}
	var n int
	_ = db.Get(&n, `SELECT count(*) FROM tenant_a.items WHERE owner = 'ghost'`)
	if n != 0 {
		t.Fatal("failed Tx committed its insert")
	}
}

func TestConnKilledBackendIsNotReused(t *testing.T) {
	db, sdb, a, _ := twoTenants(t, 2)
	c, err := sdb.SchemaConn(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if err := c.GetContext(context.Background(), &pid, `SELECT pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	waitGone(t, db, pid)
	_ = c.Close()
	for i := 0; i < 3; i++ {
		if p := currentPath(t, db); p != `"$user", public` {
			t.Fatalf("search_path %q", p)
		}
	}
}

func TestExtraSchemasFollowTheTenant(t *testing.T) {
	db, _, a, _ := twoTenants(t, 1)
	sdb, err := sqlxschema.New(db, sqlxschema.WithExtraSchemas(sqlxschema.MustSchema("ext")))
	if err != nil {
		t.Fatal(err)
	}
	err = sdb.SchemaTx(context.Background(), a, nil, func(tx *sqlx.Tx) error {
		// set_config keeps the quotes it was given; SET LOCAL drops them.
		if p := strings.ReplaceAll(currentPath(t, tx), `"`, ""); p != "tenant_a, ext, pg_temp" {
			return fmt.Errorf("search_path %q", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitGone waits until backend pid has left pg_stat_activity.
func waitGone(t *testing.T, db *sqlx.DB, pid int) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, pid); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatalf("backend %d did not exit", pid)
}

// freshDB opens a new, empty database on the test cluster.
func freshDB(t *testing.T) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open(pgtest.Driver(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
