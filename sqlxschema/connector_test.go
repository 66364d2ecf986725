package sqlxschema_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/sqlxschema"
)

func guarded(t *testing.T, maxConns int) (*sqlx.DB, *sqlxschema.Connector) {
	t.Helper()
	pc, err := pgtest.Connector(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	c := sqlxschema.WrapConnector(pc)
	db := sqlx.NewDb(sql.OpenDB(c), pgtest.Driver())
	db.SetMaxOpenConns(maxConns)
	t.Cleanup(func() { db.Close() })
	db.MustExec(`CREATE SCHEMA tenant_a; CREATE TABLE tenant_a.items (owner text); INSERT INTO tenant_a.items VALUES ('tenant_a')`)
	return db, c
}

func TestSafetyNetResetsRawSetSearchPath(t *testing.T) {
	db, c := guarded(t, 1)
	// Code that bypasses sqlxschema and sets the path on the raw pool.
	db.MustExec(`SET search_path TO tenant_a`)
	if p := currentPath(t, db); p != `"$user", public` {
		t.Fatalf("next user of the connection sees search_path %q", p)
	}
	if c.Resets() != 1 {
		t.Fatalf("resets = %d, want 1", c.Resets())
	}
	db.MustExec(`select set_config('search_path', 'tenant_a', false)`)
	if p := currentPath(t, db); p != `"$user", public` {
		t.Fatalf("after set_config: search_path %q", p)
	}
}

func TestSafetyNetCostsNothingForTransactionScope(t *testing.T) {
	db, c := guarded(t, 1)
	sdb, _ := sqlxschema.New(db)
	ctx := sqlxschema.WithSchema(context.Background(), sqlxschema.MustSchema("tenant_a"))
	trips := func() int64 { return c.Statements() + c.TransactionControl() }
	before := trips()
	for i := 0; i < 10; i++ {
		err := sdb.Tx(ctx, func(tx *sqlx.Tx) error {
			var owner string
			return tx.Get(&owner, `SELECT owner FROM items`)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if c.Resets() != 0 {
		t.Fatalf("SET LOCAL triggered %d resets", c.Resets())
	}
	// BEGIN and SET LOCAL travel together, then the query and COMMIT:
	// three per transaction instead of four. pgx's plain database/sql
	// connection cannot combine them (pgxschema pipelines them instead),
	// so there it takes four.
	want := int64(30)
	if pgtest.IsPgx() {
		want = 40
	}
	if n := trips() - before; n != want {
		t.Fatalf("10 scoped transactions took %d round trips, want %d", n, want)
	}
	// A transaction the application begins itself, scoped with SetLocal,
	// takes the four.
	before = trips()
	tx, err := db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	if err := sdb.SetLocal(context.Background(), tx, sqlxschema.MustSchema("tenant_a")); err != nil {
		t.Fatal(err)
	}
	var owner string
	if err := tx.Get(&owner, `SELECT owner FROM items`); err != nil || owner != "tenant_a" {
		t.Fatalf("read %q, %v", owner, err)
	}
	tx.Commit()
	if n := trips() - before; n != 4 {
		t.Fatalf("an application transaction with SetLocal took %d round trips, want 4", n)
	}
}

// TestCombinedBeginSurvivesAPendingReset: a connection left on another
// path (pending a lazy reset) starts a scoped transaction; the reset must
// not run inside it and undo its SET LOCAL.
func TestCombinedBeginSurvivesAPendingReset(t *testing.T) {
	db, c := guardedReuse(t) // pool of 1
	sdb, _ := sqlxschema.New(db)
	pinned, err := sdb.SchemaConn(context.Background(), sqlxschema.MustSchema("tenant_b"))
	if err != nil {
		t.Fatal(err)
	}
	pinned.Close() // dirty, on tenant_b, reset pending
	ctx := sqlxschema.WithSchema(context.Background(), sqlxschema.MustSchema("tenant_a"))
	for i := 0; i < 3; i++ {
		err := sdb.Tx(ctx, func(tx *sqlx.Tx) error {
			var owner string
			if err := tx.Get(&owner, `SELECT owner FROM items`); err != nil {
				return err
			}
			if owner != "tenant_a" {
				return fmt.Errorf("transaction for tenant_a read %s", owner)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if p := currentPath(t, db); p != `"$user", public` {
		t.Fatalf("after the transactions the pool sees %q", p)
	}
	if c.Resets() != 1 {
		t.Fatalf("resets = %d, want 1 (before the first plain statement)", c.Resets())
	}
}

func TestSafetyNetCatchesAnUnclosedPinnedPath(t *testing.T) {
	db, c := guarded(t, 1)
	conn, err := db.Connx(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), `SET search_path TO tenant_a`); err != nil {
		t.Fatal(err)
	}
	conn.Close() // plain sql.Conn close: no RESET of its own
	if p := currentPath(t, db); p != `"$user", public` {
		t.Fatalf("search_path %q leaked through a closed sql.Conn", p)
	}
	if c.Resets() != 1 {
		t.Fatalf("resets = %d", c.Resets())
	}
}

func TestReuseSearchPathSkipsRedundantSet(t *testing.T) {
	db, c := guardedReuse(t)
	sdb, _ := sqlxschema.New(db)
	a, b := sqlxschema.MustSchema("tenant_a"), sqlxschema.MustSchema("tenant_b")
	readVia := func(s sqlxschema.Schema) string {
		t.Helper()
		conn, err := sdb.SchemaConn(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var owner string
		if err := conn.GetContext(context.Background(), &owner, `SELECT owner FROM items`); err != nil {
			t.Fatal(err)
		}
		return owner
	}
	if got := readVia(a); got != "tenant_a" {
		t.Fatal(got)
	}
	before := c.Statements()
	if got := readVia(a); got != "tenant_a" {
		t.Fatal(got)
	}
	if n := c.Statements() - before; n != 1 || c.Skips() != 1 {
		t.Fatalf("second pinned read of tenant_a sent %d statements (skips %d), want 1 (no SET)", n, c.Skips())
	}
	if got := readVia(b); got != "tenant_b" {
		t.Fatalf("switch to tenant_b read %s", got)
	}
	// A plain statement after tenant work is reset first.
	if p := currentPath(t, db); p != `"$user", public` {
		t.Fatalf("raw pool sees %q", p)
	}
}

func TestReuseForgetsPathChangedInATransaction(t *testing.T) {
	db, c := guardedReuse(t)
	sdb, _ := sqlxschema.New(db)
	a := sqlxschema.MustSchema("tenant_a")
	conn, err := sdb.SchemaConn(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	// Code on the pinned connection moves the session elsewhere inside a
	// transaction that commits: the guard can no longer know the path.
	tx, err := conn.BeginTxx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tx.MustExec(`SET search_path TO tenant_b`)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	conn, err = sdb.SchemaConn(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var owner string
	if err := conn.GetContext(context.Background(), &owner, `SELECT owner FROM items`); err != nil {
		t.Fatal(err)
	}
	if owner != "tenant_a" || c.Skips() != 0 {
		t.Fatalf("read %s with %d skips after an untracked path change", owner, c.Skips())
	}
}

func TestRequestConnIsLazyAndReleased(t *testing.T) {
	db, _ := guarded(t, 2)
	sdb, _ := sqlxschema.New(db)
	ctx := sqlxschema.WithSchema(context.Background(), sqlxschema.MustSchema("tenant_a"))
	if _, err := sdb.RequestConn(ctx); err != sqlxschema.ErrNoRequestConn {
		t.Fatalf("RequestConn without slot = %v", err)
	}
	rctx, release := sdb.WithRequestConn(ctx)
	if n := db.Stats().InUse; n != 0 {
		t.Fatalf("%d connections in use before first use", n)
	}
	c1, err := sdb.RequestConn(rctx)
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := sdb.RequestConn(rctx)
	c1.Close() // a no-op: the request owns it
	var owner string
	if c1 != c2 || c2.GetContext(rctx, &owner, `SELECT owner FROM items`) != nil || owner != "tenant_a" {
		t.Fatalf("second RequestConn: same=%v owner=%q", c1 == c2, owner)
	}
	if n := db.Stats().InUse; n != 1 {
		t.Fatalf("%d connections in use during the request, want 1", n)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if n := db.Stats().InUse; n != 0 {
		t.Fatalf("%d connections in use after release", n)
	}
	if p := currentPath(t, db); p != `"$user", public` {
		t.Fatalf("after release the pool sees %q", p)
	}
}

func guardedReuse(t *testing.T) (*sqlx.DB, *sqlxschema.Connector) {
	t.Helper()
	pc, err := pgtest.Connector(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	c := sqlxschema.WrapConnector(pc, sqlxschema.ReuseSearchPath())
	db := sqlx.NewDb(sql.OpenDB(c), pgtest.Driver())
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	db.MustExec(`CREATE SCHEMA tenant_a; CREATE TABLE tenant_a.items (owner text); INSERT INTO tenant_a.items VALUES ('tenant_a');
		CREATE SCHEMA tenant_b; CREATE TABLE tenant_b.items (owner text); INSERT INTO tenant_b.items VALUES ('tenant_b')`)
	return db, c
}

// TestConnectionsDoNotGrowWithTenants serves 1,000 tenants through a pool
// of 10: the database never sees more than 10 connections from it.
func TestConnectionsDoNotGrowWithTenants(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	db := sqlx.MustOpen(pgtest.Driver(), dsn)
	t.Cleanup(func() { db.Close() })
	var ddl strings.Builder
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&ddl, "CREATE SCHEMA s%[1]d; CREATE TABLE s%[1]d.items (n int); INSERT INTO s%[1]d.items VALUES (%[1]d);", i)
	}
	db.MustExec(ddl.String())
	db.SetMaxOpenConns(10)
	sdb, _ := sqlxschema.New(db)
	// Each tenant's transaction also counts the database's connections at
	// that moment: the maximum over all of them is what the server saw.
	var wg sync.WaitGroup
	var maxSeen atomic.Int64
	errs := make(chan error, 1000)
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := sqlxschema.WithSchema(context.Background(), sqlxschema.MustSchema(fmt.Sprintf("s%d", i)))
			err := sdb.Tx(ctx, func(tx *sqlx.Tx) error {
				var n int
				if err := tx.Get(&n, `SELECT n FROM items`); err != nil {
					return err
				}
				var conns int64
				if err := tx.Get(&conns, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()`); err != nil {
					return err
				}
				for old := maxSeen.Load(); conns > old && !maxSeen.CompareAndSwap(old, conns); old = maxSeen.Load() {
				}
				if n != i {
					return fmt.Errorf("tenant s%d read %d", i, n)
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
	if got := db.Stats().MaxOpenConnections; got != 10 {
		t.Fatalf("MaxOpenConnections = %d", got)
	}
	if n := maxSeen.Load(); n > 10 || n == 0 {
		t.Fatalf("the server saw up to %d connections from a pool of 10 serving 1000 tenants", n)
	}
	t.Logf("1000 tenants, pool of 10: at most %d server connections", maxSeen.Load())
}

// TestCombinedBeginAfterPlainBeginTx: lib/pq arms a watch on the context of
// every BeginTx and calls it again at each later Commit or Rollback of the
// connection. A combined BEGIN goes around BeginTx, so a watch left by an
// earlier plain BeginTx with a cancellable context must not be called by
// the combined transactions after it: it used to panic ("attempt to set nil
// err") on the third, or close the connection once that context ended.
func TestCombinedBeginAfterPlainBeginTx(t *testing.T) {
	db, _ := guarded(t, 1)
	sdb, _ := sqlxschema.New(db)
	pid := func() (p int) {
		if err := db.Get(&p, `SELECT pg_backend_pid()`); err != nil {
			t.Fatal(err)
		}
		return p
	}
	first := pid()
	plainCtx, cancelPlain := context.WithCancel(context.Background())
	defer cancelPlain()
	tx, err := db.BeginTxx(plainCtx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(sqlxschema.WithSchema(context.Background(), sqlxschema.MustSchema("tenant_a")))
	defer cancel()
	for i := 0; i < 4; i++ {
		if i == 2 {
			cancelPlain() // the plain transaction's context ends long after it
		}
		err := sdb.Tx(ctx, func(tx *sqlx.Tx) error {
			var owner string
			return tx.Get(&owner, `SELECT owner FROM items`)
		})
		if err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
	}
	if p := pid(); p != first {
		t.Fatalf("the connection was replaced (backend %d, then %d)", first, p)
	}
}
