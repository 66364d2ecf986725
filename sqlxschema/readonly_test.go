package sqlxschema_test

import (
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/pgerr"
	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/sqlxschema"
)

// TestReadOnlyDB: a DB made WithReadOnly runs every transaction READ ONLY
// on the tenant's path, whatever the options, on each way of opening the
// pool (a plain driver, the safety net's combined BEGIN, pgx pipelined);
// a write fails with ErrReadOnly; pinned connections are refused; and the
// pool's connections are not left read-only for others.
func TestReadOnlyDB(t *testing.T) {
	openers := []struct {
		name string
		open opener
	}{
		{"plain", plain},
		{"safety net", guardedBy()},
		{"pgx pipelined", pipelinedPGX(pgx.QueryExecModeCacheStatement)},
	}
	for _, o := range openers {
		t.Run(o.name, func(t *testing.T) {
			t.Parallel()
			db := o.open(t, pgtest.NewDatabase(t))
			t.Cleanup(func() { db.Close() })
			db.SetMaxOpenConns(1) // every transaction on the same connection
			db.MustExec(`CREATE SCHEMA tenant_a; CREATE TABLE tenant_a.items (owner text); INSERT INTO tenant_a.items VALUES ('tenant_a')`)
			rw, err := sqlxschema.New(db)
			if err != nil {
				t.Fatal(err)
			}
			ro, err := sqlxschema.New(db, sqlxschema.WithReadOnly())
			if err != nil {
				t.Fatal(err)
			}
			if rw.ReadOnly() || !ro.ReadOnly() {
				t.Fatalf("ReadOnly() = %v, %v", rw.ReadOnly(), ro.ReadOnly())
			}
			a := sqlxschema.MustSchema("tenant_a")
			ctx := sqlxschema.WithSchema(t.Context(), a)

			var owner, readOnly, path string
			err = ro.Tx(ctx, func(tx *sqlx.Tx) error {
				return tx.QueryRow(`SELECT owner, current_setting('transaction_read_only'), current_setting('search_path') FROM items`).Scan(&owner, &readOnly, &path)
			})
			if err != nil || owner != "tenant_a" || readOnly != "on" || strings.ReplaceAll(path, `"`, "") != "tenant_a, pg_temp" {
				t.Fatalf("read-only Tx read %q, read only %q, path %q, %v", owner, readOnly, path, err)
			}

			err = ro.Tx(ctx, func(tx *sqlx.Tx) error {
				_, err := tx.Exec(`INSERT INTO items VALUES ('written')`)
				return err
			})
			if code, _ := pgerr.Code(err); !errors.Is(err, sqlxschema.ErrReadOnly) || code != "25006" {
				t.Fatalf("write in a read-only Tx = %v (SQLSTATE %q), want ErrReadOnly with the driver's 25006", err, code)
			}

			// Options cannot make it read-write; the isolation level stays.
			var iso string
			err = ro.SchemaTx(t.Context(), a, &sql.TxOptions{Isolation: sql.LevelRepeatableRead}, func(tx *sqlx.Tx) error {
				if err := tx.Get(&iso, `SELECT current_setting('transaction_isolation')`); err != nil {
					return err
				}
				_, err := tx.Exec(`DELETE FROM items`)
				return err
			})
			if !errors.Is(err, sqlxschema.ErrReadOnly) || iso != "repeatable read" {
				t.Fatalf("read-only SchemaTx with read-write options: isolation %q, %v", iso, err)
			}

			// A read-write DB's read-only transaction fails the same way.
			err = rw.SchemaTx(t.Context(), a, &sql.TxOptions{ReadOnly: true}, func(tx *sqlx.Tx) error {
				_, err := tx.Exec(`INSERT INTO items VALUES ('written')`)
				return err
			})
			if !errors.Is(err, sqlxschema.ErrReadOnly) {
				t.Fatalf("write with TxOptions.ReadOnly = %v, want ErrReadOnly", err)
			}

			if _, err := ro.Conn(ctx); !errors.Is(err, sqlxschema.ErrReadOnlyConn) {
				t.Fatalf("Conn on a read-only DB = %v", err)
			}
			if _, err := ro.SchemaConn(t.Context(), a); !errors.Is(err, sqlxschema.ErrReadOnlyConn) {
				t.Fatalf("SchemaConn on a read-only DB = %v", err)
			}
			// A request slot filled by the read-write DB is not handed out.
			rctx, release := rw.WithRequestConn(ctx)
			if _, err := rw.RequestConn(rctx); err != nil {
				t.Fatal(err)
			}
			if _, err := ro.RequestConn(rctx); !errors.Is(err, sqlxschema.ErrReadOnlyConn) {
				t.Fatalf("RequestConn on a read-only DB = %v", err)
			}
			if err := release(); err != nil {
				t.Fatal(err)
			}

			// The connection is read-write again for the read-write DB.
			err = rw.Tx(ctx, func(tx *sqlx.Tx) error {
				_, err := tx.Exec(`INSERT INTO items VALUES ('written')`)
				return err
			})
			if err != nil {
				t.Fatalf("write after read-only transactions: %v", err)
			}
			var n int
			if err := db.Get(&n, `SELECT count(*) FROM tenant_a.items`); err != nil || n != 2 {
				t.Fatalf("tenant_a has %d rows (%v), want 2", n, err)
			}
		})
	}
}
