package sqlxschema_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/sqlxschema"
)

// These tests come from an adversarial review: each one reproduced a way a
// pooled connection could carry one user's state to the next.

// TestPinnedConnLeftInATransaction: a pinned connection closed inside a
// transaction begun with SQL text (open, or aborted by an error) must not
// go back to the pool in it, where the next user's writes would run in
// that transaction and vanish with it.
func TestPinnedConnLeftInATransaction(t *testing.T) {
	for _, pool := range []struct {
		name string
		open func(t *testing.T) *sqlx.DB
	}{
		{"plain", func(t *testing.T) *sqlx.DB { db, _, _, _ := twoTenants(t, 1); return db }},
		{"safety net", func(t *testing.T) *sqlx.DB { db, _ := guarded(t, 1); return db }},
	} {
		for _, leave := range []struct {
			name  string
			stmts []string
		}{
			{"open", []string{`BEGIN`, `INSERT INTO items VALUES ('never committed')`}},
			{"aborted", []string{`BEGIN`, `INSERT INTO items VALUES ('never committed')`, `SELECT 1/0`}},
			{"open in one string", []string{`SELECT 1; START TRANSACTION; INSERT INTO items VALUES ('never committed')`}},
		} {
			t.Run(pool.name+"/"+leave.name, func(t *testing.T) {
				db := pool.open(t)
				db.MustExec(`CREATE TABLE public.audit (msg text)`)
				sdb, _ := sqlxschema.New(db)
				bg := context.Background()
				c, err := sdb.SchemaConn(bg, sqlxschema.MustSchema("tenant_a"))
				if err != nil {
					t.Fatal(err)
				}
				for _, q := range leave.stmts {
					c.ExecContext(bg, q) // the last may fail: that is the point
				}
				c.Close()
				// The next user of the pool (of one connection) writes.
				if _, err := db.Exec(`INSERT INTO public.audit VALUES ('important')`); err != nil {
					t.Fatal(err)
				}
				var name string
				db.Get(&name, `SELECT current_database()`)
				other := sqlx.MustOpen(pgtest.Driver(), pgtest.SharedCluster().DSN(name))
				defer other.Close()
				var audit, leaked int
				other.Get(&audit, `SELECT count(*) FROM public.audit`)
				other.Get(&leaked, `SELECT count(*) FROM tenant_a.items WHERE owner = 'never committed'`)
				if audit != 1 || leaked != 0 {
					t.Fatalf("after a pinned connection was closed in a transaction: the next write is visible %d times (want 1), the abandoned one %d (want 0)", audit, leaked)
				}
				if p := currentPath(t, db); p != `"$user", public` {
					t.Fatalf("search_path %q", p)
				}
			})
		}
	}
}

// TestPinConnReleaseEndsAnOpenTx: a handler that panics with a transaction
// open on its request connection must not keep the release (and the
// connection) waiting for the request's context, which net/http ends only
// after the handler returns.
func TestPinConnReleaseEndsAnOpenTx(t *testing.T) {
	db, sdb, a, _ := twoTenants(t, 1)
	ctx, cancel := context.WithCancel(sqlxschema.WithSchema(context.Background(), a))
	defer cancel() // the request's own context, still live during release
	done := make(chan struct{})
	go func() {
		defer close(done)
		rctx, release := sdb.WithRequestConn(ctx)
		defer func() { recover() }()
		defer release()
		c, err := sdb.RequestConn(rctx)
		if err != nil {
			panic(err)
		}
		if _, err := c.BeginTxx(rctx, nil); err != nil {
			panic(err)
		}
		panic("handler bug")
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("release still waits for the request's context")
	}
	// The pool of one has its connection back.
	if p := currentPath(t, db); p != `"$user", public` {
		t.Fatalf("search_path %q", p)
	}
}

// TestRequestConnServesOneSchema: the request's pinned connection is not
// handed out for another schema, nor by another DB.
func TestRequestConnServesOneSchema(t *testing.T) {
	db, sdb, a, b := twoTenants(t, 4)
	other, _ := sqlxschema.New(db)
	rctx, release := sdb.WithRequestConn(context.Background())
	defer release()
	if _, err := sdb.RequestConn(sqlxschema.WithSchema(rctx, a)); err != nil {
		t.Fatal(err)
	}
	if _, err := sdb.RequestConn(sqlxschema.WithSchema(rctx, a)); err != nil {
		t.Fatalf("same schema again: %v", err)
	}
	for name, get := range map[string]func() (*sqlxschema.Conn, error){
		"another schema": func() (*sqlxschema.Conn, error) { return sdb.RequestConn(sqlxschema.WithSchema(rctx, b)) },
		"another DB":     func() (*sqlxschema.Conn, error) { return other.RequestConn(sqlxschema.WithSchema(rctx, a)) },
	} {
		if _, err := get(); !errors.Is(err, sqlxschema.ErrRequestConnMismatch) {
			t.Errorf("%s: %v, want ErrRequestConnMismatch", name, err)
		}
	}
}

// TestPathChangesTheTextDoesNotName: statements that change the
// search_path without the word in their text (set_config with the name
// bound, RESET ALL, DISCARD ALL) are caught by the safety net, and path
// reuse never skips a SET after them.
func TestPathChangesTheTextDoesNotName(t *testing.T) {
	bg := context.Background()
	for _, stmt := range []struct {
		sql  string
		args []any
	}{
		{`SELECT set_config($1, $2, false)`, []any{"search_path", "tenant_b"}},
		{`RESET ALL`, nil},
		{`DISCARD ALL`, nil},
	} {
		t.Run(stmt.sql, func(t *testing.T) {
			db, _ := guardedReuse(t)
			db.MustExec(`CREATE TABLE public.items (owner text); INSERT INTO public.items VALUES ('public')`)
			sdb, _ := sqlxschema.New(db)
			a := sqlxschema.MustSchema("tenant_a")
			c, err := sdb.SchemaConn(bg, a)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.ExecContext(bg, stmt.sql, stmt.args...); err != nil {
				t.Fatal(err)
			}
			c.Close()
			c, err = sdb.SchemaConn(bg, a)
			if err != nil {
				t.Fatal(err)
			}
			var owner string
			err = c.GetContext(bg, &owner, `SELECT owner FROM items`)
			c.Close()
			if err != nil || owner != "tenant_a" {
				t.Fatalf("tenant_a's pinned connection read %q, %v", owner, err)
			}
			if p := currentPath(t, db); p != `"$user", public` {
				t.Fatalf("raw pool after it: search_path %q", p)
			}
		})
	}
}

// TestTempTableNeverShadowsATenantTable: a temporary table that some code
// left on a pooled connection is searched after the tenant's schema.
func TestTempTableNeverShadowsATenantTable(t *testing.T) {
	db, sdb, a, b := twoTenants(t, 1)
	db.MustExec(`CREATE TEMP TABLE items (owner text); INSERT INTO items VALUES ('temp')`)
	for _, s := range []sqlxschema.Schema{a, b} {
		ctx := sqlxschema.WithSchema(context.Background(), s)
		var got []string
		err := sdb.Tx(ctx, func(tx *sqlx.Tx) error { return tx.Select(&got, `SELECT owner FROM items`) })
		if err != nil || fmt.Sprint(got) != "["+s.String()+"]" {
			t.Fatalf("%s reads %v, %v", s, got, err)
		}
	}
}
