package pgxschema_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/sqlxschema"
	"github.com/tenantkit/tenantkit/sqlxschema/pgxschema"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// pipelined opens a pool of at most maxConns through NewConnector on a
// fresh database with schemas tenant_a and tenant_b, each with a table
// items holding one row that names the schema.
func pipelined(t *testing.T, maxConns int, opts ...sqlxschema.ConnectorOption) (*sqlx.DB, *sqlxschema.DB, *sqlxschema.Connector) {
	t.Helper()
	return pipelinedWith(t, maxConns, nil, opts...)
}

// pipelinedWith is pipelined with pgx's configuration changed by tune.
func pipelinedWith(t *testing.T, maxConns int, tune func(*pgx.ConnConfig), opts ...sqlxschema.ConnectorOption) (*sqlx.DB, *sqlxschema.DB, *sqlxschema.Connector) {
	t.Helper()
	cfg, err := pgx.ParseConfig(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	if tune != nil {
		tune(cfg)
	}
	c := pgxschema.NewConnector(*cfg, opts...)
	db := sqlx.NewDb(sql.OpenDB(c), "pgx")
	db.SetMaxOpenConns(maxConns)
	t.Cleanup(func() { db.Close() })
	for _, s := range []string{"tenant_a", "tenant_b"} {
		db.MustExec(fmt.Sprintf(`CREATE SCHEMA %[1]s; CREATE TABLE %[1]s.items (owner text); INSERT INTO %[1]s.items VALUES ('%[1]s')`, s))
	}
	sdb, err := sqlxschema.New(db)
	if err != nil {
		t.Fatal(err)
	}
	return db, sdb, c
}

var bg = context.Background()

func tenantCtx(name string) context.Context {
	return sqlxschema.WithSchema(context.Background(), sqlxschema.MustSchema(name))
}

// TestRoundTrips counts what each way of reaching a tenant's schema sends
// (Connector.Statements + TransactionControl: one each per round trip),
// and checks that every read sees its own tenant.
func TestRoundTrips(t *testing.T) {
	owner := func(q sqlx.QueryerContext, ctx context.Context) (string, error) {
		var o string
		err := sqlx.GetContext(ctx, q, &o, `SELECT owner FROM items WHERE owner <> $1`, "nobody")
		return o, err
	}
	for _, tc := range []struct {
		name  string
		reuse bool
		run   func(sdb *sqlxschema.DB, ctx context.Context) (string, error)
		want  int64 // per request, after the first
	}{
		{"Tx: BEGIN, path and query in one batch, then COMMIT", false, func(sdb *sqlxschema.DB, ctx context.Context) (got string, err error) {
			err = sdb.Tx(ctx, func(tx *sqlx.Tx) error { got, err = owner(tx, ctx); return err })
			return got, err
		}, 2},
		{"pinned: path and query in one batch", false, func(sdb *sqlxschema.DB, ctx context.Context) (string, error) {
			c, err := sdb.Conn(ctx)
			if err != nil {
				return "", err
			}
			defer c.Close()
			return owner(c, ctx)
		}, 1},
		{"pinned with reuse: path already there", true, func(sdb *sqlxschema.DB, ctx context.Context) (string, error) {
			c, err := sdb.Conn(ctx)
			if err != nil {
				return "", err
			}
			defer c.Close()
			return owner(c, ctx)
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []sqlxschema.ConnectorOption
			if tc.reuse {
				opts = append(opts, sqlxschema.ReuseSearchPath())
			}
			_, sdb, c := pipelined(t, 1, opts...)
			for i, name := range []string{"tenant_a", "tenant_b", "tenant_b", "tenant_a", "tenant_a"} {
				before := c.Statements() + c.TransactionControl()
				got, err := tc.run(sdb, tenantCtx(name))
				if err != nil {
					t.Fatal(err)
				}
				if got != name {
					t.Fatalf("request %d for %s read %s", i, name, got)
				}
				if n := c.Statements() + c.TransactionControl() - before; i > 0 && n != tc.want {
					t.Fatalf("request %d: %d round trips, want %d", i, n, tc.want)
				}
			}
		})
	}
}

// TestRawPoolAfterPipelinedPath: a connection that carried a tenant's path
// is reset before the raw pool's next statement on it.
func TestRawPoolAfterPipelinedPath(t *testing.T) {
	db, sdb, c := pipelined(t, 1, sqlxschema.ReuseSearchPath())
	conn, err := sdb.Conn(tenantCtx("tenant_a"))
	if err != nil {
		t.Fatal(err)
	}
	var got string
	// SET drops the quotes of a plain name.
	if err := conn.GetContext(bg, &got, `SELECT current_setting('search_path')`); err != nil || got != `tenant_a, pg_temp` {
		t.Fatalf("pinned path %q, %v", got, err)
	}
	conn.Close()
	if err := db.Get(&got, `SELECT current_setting('search_path')`); err != nil || got != `"$user", public` {
		t.Fatalf("raw pool sees path %q, %v", got, err)
	}
	if c.Resets() != 1 {
		t.Fatalf("resets = %d, want 1", c.Resets())
	}
}

// TestFailedFirstStatement: when the statement that carries the path
// fails, the path change is undone with it, and the next users of the
// connection (a tenant, the raw pool) still get theirs.
func TestFailedFirstStatement(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(c *sqlxschema.Conn) error
	}{
		{"query error", func(c *sqlxschema.Conn) error {
			var x int
			return c.GetContext(bg, &x, `SELECT 1/$1::int`, 0)
		}},
		{"exec error", func(c *sqlxschema.Conn) error {
			_, err := c.ExecContext(bg, `INSERT INTO items VALUES ($1::int / 0)`, 1)
			return err
		}},
		{"exec error, simple protocol", func(c *sqlxschema.Conn) error {
			_, err := c.ExecContext(bg, `SELECT 1/0`)
			return err
		}},
		{"missing table", func(c *sqlxschema.Conn) error {
			var x int
			return c.GetContext(bg, &x, `SELECT count(*) FROM no_such_table WHERE $1`, true)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, sdb, _ := pipelined(t, 1, sqlxschema.ReuseSearchPath())
			c, err := sdb.Conn(tenantCtx("tenant_a"))
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.fail(c); err == nil {
				t.Fatal("statement succeeded")
			}
			// The same pinned connection must still be on its path.
			var got string
			if err := c.GetContext(bg, &got, `SELECT owner FROM items`); err != nil || got != "tenant_a" {
				t.Fatalf("after the error the pinned connection reads %q, %v", got, err)
			}
			c.Close()
			for _, name := range []string{"tenant_a", "tenant_b"} {
				c, err := sdb.Conn(tenantCtx(name))
				if err != nil {
					t.Fatal(err)
				}
				if err := c.GetContext(bg, &got, `SELECT owner FROM items`); err != nil || got != name {
					t.Fatalf("%s reads %q, %v", name, got, err)
				}
				c.Close()
			}
			if err := db.Get(&got, `SELECT current_setting('search_path')`); err != nil || got != `"$user", public` {
				t.Fatalf("raw pool sees path %q, %v", got, err)
			}
		})
	}
}

// TestTxStatements covers the first statement of a pipelined transaction:
// several statements without arguments (simple protocol), a write, an
// error that aborts the transaction, a transaction with no statement.
func TestTxStatements(t *testing.T) {
	db, sdb, _ := pipelined(t, 1)
	ctx := tenantCtx("tenant_b")
	err := sdb.Tx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.Exec(`INSERT INTO items VALUES ('x'); DELETE FROM items WHERE owner = 'x'`); err != nil {
			return err
		}
		var path string
		if err := tx.Get(&path, `SELECT current_setting('search_path')`); err != nil || strings.ReplaceAll(path, `"`, "") != "tenant_b, pg_temp" {
			return fmt.Errorf("path %q, %v", path, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = sdb.Tx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.Exec(`UPDATE items SET owner = owner WHERE owner = $1`, "tenant_b")
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%d rows affected", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	errBoom := errors.New("boom")
	err = sdb.Tx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.Exec(`INSERT INTO items VALUES ($1)`, "rolled back"); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("err = %v", err)
	}
	err = sdb.Tx(ctx, func(tx *sqlx.Tx) error {
		var x int
		return tx.Get(&x, `SELECT 1/$1::int`, 0)
	})
	if err == nil {
		t.Fatal("division by zero succeeded")
	}
	if err := sdb.Tx(ctx, func(*sqlx.Tx) error { return nil }); err != nil {
		t.Fatalf("empty transaction: %v", err)
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM tenant_b.items`); err != nil || n != 1 {
		t.Fatalf("tenant_b has %d rows (%v), want 1", n, err)
	}
	var status string
	if err := db.Get(&status, `SELECT current_setting('search_path')`); err != nil || status != `"$user", public` {
		t.Fatalf("raw pool sees path %q, %v", status, err)
	}
}

// TestValuesMatchStdlib: rows of a pipelined query give database/sql the
// same values as pgx's own stdlib driver, type by type.
func TestValuesMatchStdlib(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	plain := sql.OpenDB(stdlib.GetConnector(*cfg))
	defer plain.Close()
	piped := sqlx.NewDb(sql.OpenDB(pgxschema.NewConnector(*cfg)), "pgx")
	defer piped.Close()
	piped.MustExec(`CREATE SCHEMA s; CREATE TYPE s.mood AS ENUM ('ok', 'sad')`)
	sdb, _ := sqlxschema.New(piped)
	for _, expr := range []string{
		`true`, `1::int2`, `2::int4`, `3::int8`, `4::oid`, `1.5::float4`, `2.25::float8`,
		`12.345::numeric`, `'text'::text`, `'v'::varchar`, `'c'::char(3)`, `'\x00ff'::bytea`,
		`'{"a": 1}'::json`, `'{"a": [1, 2]}'::jsonb`, `'2024-02-29'::date`,
		`'2024-02-29 12:34:56.789'::timestamp`, `'2024-02-29 12:34:56.789+02'::timestamptz`,
		`'1 day 2 hours'::interval`, `'12:00'::time`, `'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid`,
		`'{1,2,3}'::int4[]`, `'{"a","b c"}'::text[]`, `'192.168.0.1/24'::inet`, `'ok'::s.mood`,
		`NULL::int4`, `NULL::text`, `'<a/>'::xml`, `point(1, 2)`, `$1::text`,
	} {
		t.Run(expr, func(t *testing.T) {
			q := `SELECT ` + expr + ` FROM (SELECT $1::text) p`
			var want any
			if err := plain.QueryRow(q, "arg").Scan(&want); err != nil {
				t.Fatal(err)
			}
			c, err := sdb.Conn(tenantCtx("s"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var got any
			if err := c.QueryRowxContext(bg, q, "arg").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("pipelined %#v, stdlib %#v", got, want)
			}
		})
	}
}
