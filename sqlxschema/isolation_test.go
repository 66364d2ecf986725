package sqlxschema_test

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/sqlxschema"
	"github.com/tenantkit/tenantkit/sqlxschema/pgxschema"
)

var isolationOps = flag.Int("isolation.ops", 6000, "operations in the adversarial isolation test (the issue's full run: 200000)")

const isolationTenants = 50

// opener opens a pool on dsn one way: a driver, with or without the
// safety net.
type opener func(t *testing.T, dsn string) *sqlx.DB

// plain is the tests' driver (pgtest.Driver) as is.
func plain(t *testing.T, dsn string) *sqlx.DB { return sqlx.MustOpen(pgtest.Driver(), dsn) }

// guarded is the tests' driver in the safety net.
func guardedBy(opts ...sqlxschema.ConnectorOption) opener {
	return func(t *testing.T, dsn string) *sqlx.DB {
		pc, err := pgtest.Connector(dsn)
		if err != nil {
			t.Fatal(err)
		}
		return sqlx.NewDb(sql.OpenDB(sqlxschema.WrapConnector(pc, opts...)), pgtest.Driver())
	}
}

// pipelinedPGX is pgx through pgxschema, which sends the path with the
// first statement. Behind a transaction pooler pgx must not keep prepared
// statements across transactions: QueryExecModeExec.
func pipelinedPGX(mode pgx.QueryExecMode, opts ...sqlxschema.ConnectorOption) opener {
	return func(t *testing.T, dsn string) *sqlx.DB {
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cfg.DefaultQueryExecMode = mode
		delete(cfg.RuntimeParams, "binary_parameters") // lib/pq's, in PgBouncer DSNs under lib/pq
		return sqlx.NewDb(sql.OpenDB(pgxschema.NewConnector(*cfg, opts...)), "pgx")
	}
}

// isolationDB makes 50 tenant schemas, each with a marker table holding the
// schema's own name, and a marker table in public holding "shared", so a
// read that falls through to the shared schema is caught too.
func isolationDB(t *testing.T, dsn string, open opener) *sqlx.DB {
	t.Helper()
	db := open(t, dsn)
	t.Cleanup(func() { db.Close() })
	var ddl strings.Builder
	ddl.WriteString(`CREATE TABLE IF NOT EXISTS public.marker (tenant text); INSERT INTO public.marker SELECT 'shared' WHERE NOT EXISTS (SELECT 1 FROM public.marker);`)
	for i := 0; i < isolationTenants; i++ {
		fmt.Fprintf(&ddl, `CREATE SCHEMA IF NOT EXISTS t%02[1]d; CREATE TABLE IF NOT EXISTS t%02[1]d.marker (tenant text); INSERT INTO t%02[1]d.marker SELECT 't%02[1]d' WHERE NOT EXISTS (SELECT 1 FROM t%02[1]d.marker);`, i)
	}
	db.MustExec(ddl.String())
	db.SetMaxOpenConns(4)
	return db
}

type isolationStats struct {
	ops, reads, leaks, errs atomic.Int64
	leak, errOnce           sync.Once
	first, firstErr         string
}

func (s *isolationStats) check(t *testing.T, want, got string) {
	s.reads.Add(1)
	if got != want {
		s.leaks.Add(1)
		s.leak.Do(func() { s.first = fmt.Sprintf("wanted %s, read %s", want, got) })
	}
}

// runIsolation hammers db with randomised tenant work: reads in scoped
// transactions and pinned connections, handler panics, statement errors,
// savepoint rollbacks, full rollbacks, contexts cancelled mid-query,
// pg_terminate_backend of random backends, and queries through the raw
// pool. Every read checks the marker row; no read may see another tenant's
// (or the shared) data.
func runIsolation(t *testing.T, db *sqlx.DB, ops int, pooler bool) {
	sdb, err := sqlxschema.New(db)
	if err != nil {
		t.Fatal(err)
	}
	var st isolationStats
	var wg sync.WaitGroup
	workers := 8
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, seed*7919))
			for st.ops.Add(1) <= int64(ops) {
				isolationOp(t, rng, db, sdb, &st, pooler)
			}
		}(uint64(w + 1))
	}
	wg.Wait()
	t.Logf("%d operations, %d checked reads, %d tolerated errors (killed or cancelled connections, injected statement errors; first: %s)", ops, st.reads.Load(), st.errs.Load(), st.firstErr)
	if st.reads.Load() < int64(ops)/2 {
		t.Fatalf("only %d reads checked for %d operations", st.reads.Load(), ops)
	}
	if n := st.leaks.Load(); n > 0 {
		t.Fatalf("%d reads saw another schema's data; first: %s", n, st.first)
	}
}

func isolationOp(t *testing.T, rng *rand.Rand, db *sqlx.DB, sdb *sqlxschema.DB, st *isolationStats, pooler bool) {
	name := fmt.Sprintf("t%02d", rng.IntN(isolationTenants))
	ctx := sqlxschema.WithSchema(context.Background(), sqlxschema.MustSchema(name))
	read := func(q sqlx.QueryerContext, c context.Context) error {
		var got string
		if err := sqlx.GetContext(c, q, &got, `SELECT tenant FROM marker`); err != nil {
			return err
		}
		st.check(t, name, got)
		return nil
	}
	tolerate := func(err error) {
		if err != nil {
			st.errs.Add(1)
			st.errOnce.Do(func() { st.firstErr = err.Error() })
		}
	}
	op := rng.IntN(100)
	if pooler && (op >= 70 && op < 80 || op >= 62 && op < 68) {
		// Pinned connections keep session state: not behind a transaction
		// pooler. Cancel requests crash PgBouncer 1.18 (Debian 12) when they
		// race with killed server connections ("server in bad state: 11"),
		// so they are left out there too.
		op = 0
	}
	switch {
	case op < 35: // plain scoped read
		tolerate(sdb.Tx(ctx, func(tx *sqlx.Tx) error { return read(tx, ctx) }))
	case op < 42: // statement error, then rollback
		tolerate(sdb.Tx(ctx, func(tx *sqlx.Tx) error {
			if err := read(tx, ctx); err != nil {
				return err
			}
			_, err := tx.Exec(`SELECT * FROM no_such_table`)
			return err
		}))
	case op < 50: // savepoint rolled back after a path change inside it
		tolerate(sdb.Tx(ctx, func(tx *sqlx.Tx) error {
			other := fmt.Sprintf("t%02d", rng.IntN(isolationTenants))
			if _, err := tx.Exec(`SAVEPOINT sp; SET LOCAL search_path TO ` + other); err != nil {
				return err
			}
			if _, err := tx.Exec(`ROLLBACK TO SAVEPOINT sp`); err != nil {
				return err
			}
			return read(tx, ctx)
		}))
	case op < 56: // full rollback of a write
		tolerate(sdb.Tx(ctx, func(tx *sqlx.Tx) error {
			if _, err := tx.Exec(`INSERT INTO marker VALUES ('rolled back')`); err != nil {
				return err
			}
			return errors.New("roll back")
		}))
	case op < 62: // handler panic inside the transaction
		func() {
			defer func() { recover() }()
			sdb.Tx(ctx, func(tx *sqlx.Tx) error {
				if err := read(tx, ctx); err != nil {
					return err
				}
				panic("handler bug")
			})
		}()
	case op < 68: // context cancelled mid-query
		cctx, cancel := context.WithTimeout(ctx, time.Duration(rng.IntN(3000))*time.Microsecond)
		tolerate(sdb.Tx(cctx, func(tx *sqlx.Tx) error {
			if err := read(tx, cctx); err != nil {
				return err
			}
			_, err := tx.ExecContext(cctx, `SELECT pg_sleep(0.01)`)
			return err
		}))
		cancel()
	case op < 70: // kill a random backend of this database
		_, err := db.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
			ORDER BY random() LIMIT 1`)
		tolerate(err)
	case op < 80: // pinned connection
		c, err := sdb.Conn(ctx)
		if err != nil {
			tolerate(err)
			return
		}
		tolerate(read(c, ctx))
		tolerate(c.Close())
	default: // the raw pool must never see a tenant's path
		var got string
		err := db.Get(&got, `SELECT tenant FROM marker`)
		if err != nil {
			tolerate(err)
			return
		}
		st.reads.Add(1)
		if got != "shared" {
			st.leaks.Add(1)
			st.leak.Do(func() { st.first = "raw pool read " + got })
		}
	}
}

func TestIsolationAdversarial(t *testing.T) {
	for _, tc := range []struct {
		name string
		open opener
	}{
		{"plain", plain},
		{"safety net", guardedBy()},
		{"safety net and path reuse", guardedBy(sqlxschema.ReuseSearchPath())},
		{"pgx pipelined", pipelinedPGX(pgx.QueryExecModeCacheStatement)},
		{"pgx pipelined with path reuse", pipelinedPGX(pgx.QueryExecModeCacheStatement, sqlxschema.ReuseSearchPath())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := pgtest.NewDatabase(t)
			runIsolation(t, isolationDB(t, dsn, tc.open), *isolationOps, false)
		})
	}
}

// TestIsolationBehindPgBouncer runs the adversarial test through PgBouncer
// in transaction pooling mode, with transaction-scoped switching (DB.Tx):
// the server connection under a client changes between transactions, and
// no read may see another tenant. The tests' driver as is, and pgx
// pipelining BEGIN and the path with the first statement.
func TestIsolationBehindPgBouncer(t *testing.T) {
	for _, tc := range []struct {
		name string
		open opener
	}{
		{"plain", plain},
		{"pgx pipelined", pipelinedPGX(pgx.QueryExecModeExec)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := pgtest.Shared(t)
			name, err := c.CreateDatabase(t.Context(), "bouncer")
			if err != nil {
				t.Fatal(err)
			}
			isolationDB(t, c.DSN(name), plain) // create the tenants directly
			b, err := pgtest.StartPgBouncer(c, name, "transaction", 3)
			if errors.Is(err, pgtest.ErrNoPgBouncer) {
				pgtest.MissingTool(t, err)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(b.Stop)
			db := tc.open(t, b.DSN(name))
			t.Cleanup(func() { db.Close() })
			db.SetMaxOpenConns(8) // more clients than PgBouncer's 3 server connections
			defer func() {
				if t.Failed() {
					t.Logf("pgbouncer log:\n%s", b.Log())
				}
			}()
			runIsolation(t, db, *isolationOps, true)
		})
	}
}
