package sqlxschema_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/sqlxschema"
)

func guarded(t *testing.T, maxConns int) (*sqlx.DB, *sqlxschema.Connector) {
	t.Helper()
	pc, err := pq.NewConnector(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	c := sqlxschema.WrapConnector(pc)
	db := sqlx.NewDb(sql.OpenDB(c), "postgres")
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
	before := c.Statements()
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
	// BEGIN and COMMIT are not statements through the connector: SET LOCAL
	// and the query are, two per transaction.
	if n := c.Statements() - before; n != 20 {
		t.Fatalf("10 scoped transactions sent %d statements, want 20", n)
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
