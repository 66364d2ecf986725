package pgxschema_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/sqlxschema"
)

// preparedRuns says how many times each of the connection's tenantkit
// statements ran (custom plus generic plans), by name, leaving out its
// own query.
func preparedRuns(t *testing.T, c *sqlxschema.Conn) map[string]int64 {
	t.Helper()
	var rows []struct {
		Name string `db:"name"`
		Runs int64  `db:"runs"`
	}
	if err := c.SelectContext(bg, &rows, `SELECT name, custom_plans + generic_plans AS runs
		FROM pg_prepared_statements WHERE name LIKE 'tenantkit\_%' AND statement NOT LIKE '%pg_prepared_statements%'`); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[r.Name] = r.Runs
	}
	return out
}

// readOwner runs one pipelined query for tenant on a fresh pinned
// connection (a pool of one: always the same server session).
func readOwner(t *testing.T, sdb *sqlxschema.DB, tenant string) {
	t.Helper()
	c, err := sdb.Conn(tenantCtx(tenant))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got string
	if err := c.GetContext(bg, &got, `SELECT owner FROM items WHERE owner <> $1`, "nobody"); err != nil || got != tenant {
		t.Fatalf("read %q, %v; want %q", got, err, tenant)
	}
}

// TestStatementPerTenantAndPath: with pgx's default exec mode, a
// pipelined query is prepared once per search_path and then reused, each
// tenant reading its own rows; other exec modes prepare nothing.
func TestStatementPerTenantAndPath(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mode     pgx.QueryExecMode
		capacity int
		want     map[int64]int // runs per statement -> statements
	}{
		// 10 reads alternating between two tenants: two statements, 5 runs
		// each (the first run of each is the one after its prepare).
		{"cache statement", pgx.QueryExecModeCacheStatement, 512, map[int64]int{5: 2}},
		{"exec", pgx.QueryExecModeExec, 512, map[int64]int{}},
		{"cache off", pgx.QueryExecModeCacheStatement, 0, map[int64]int{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, sdb, _ := pipelinedWith(t, 1, func(cfg *pgx.ConnConfig) {
				cfg.DefaultQueryExecMode, cfg.StatementCacheCapacity = tc.mode, tc.capacity
			}, sqlxschema.ReuseSearchPath())
			for i := 0; i < 10; i++ {
				readOwner(t, sdb, []string{"tenant_a", "tenant_b"}[i%2])
			}
			c, err := sdb.Conn(tenantCtx("tenant_a"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got := map[int64]int{}
			for _, runs := range preparedRuns(t, c) {
				got[runs]++
			}
			if len(got) != len(tc.want) || got[5] != tc.want[5] {
				t.Fatalf("statements by runs = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestStatementCacheEvictsAndRecovers: at capacity the oldest statement is
// deallocated; a table whose shape changed under a cached statement fails
// that one query ("cached plan must not change result type") and the next
// one prepares again and succeeds; so does one after DEALLOCATE ALL.
func TestStatementCacheEvictsAndRecovers(t *testing.T) {
	db, sdb, _ := pipelinedWith(t, 1, func(cfg *pgx.ConnConfig) { cfg.StatementCacheCapacity = 1 })
	db.MustExec(`CREATE SCHEMA tenant_c; CREATE TABLE tenant_c.items (owner text); INSERT INTO tenant_c.items VALUES ('tenant_c')`)
	for _, tenant := range []string{"tenant_a", "tenant_b", "tenant_c", "tenant_a"} {
		readOwner(t, sdb, tenant)
	}
	c, err := sdb.Conn(tenantCtx("tenant_a"))
	if err != nil {
		t.Fatal(err)
	}
	// This count is itself the one statement kept: the others were
	// deallocated before it was prepared.
	var n int
	if err := c.GetContext(bg, &n, `SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'tenantkit\_%'`); err != nil || n != 1 {
		t.Fatalf("%d statements on the server with capacity 1 (%v)", n, err)
	}
	c.Close()

	selectAll := func() ([]string, error) {
		var cols []string
		c, err := sdb.Conn(tenantCtx("tenant_a"))
		if err != nil {
			return nil, err
		}
		defer c.Close()
		rows, err := c.QueryxContext(bg, `SELECT * FROM items WHERE owner <> $1`, "nobody")
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		cols, err = rows.Columns()
		for rows.Next() {
		}
		return cols, err
	}
	if cols, err := selectAll(); err != nil || len(cols) != 1 {
		t.Fatalf("columns %v, %v", cols, err)
	}
	db.MustExec(`ALTER TABLE tenant_a.items ADD COLUMN note text`)
	_, _ = selectAll() // may fail once: the server refuses the stale plan
	if cols, err := selectAll(); err != nil || len(cols) != 2 {
		t.Fatalf("after ALTER TABLE: columns %v, %v; want 2 and no error", cols, err)
	}
	err = sdb.SchemaTx(bg, sqlxschema.MustSchema("tenant_a"), nil, func(tx *sqlx.Tx) error {
		_, err := tx.Exec(`DEALLOCATE ALL`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = selectAll() // fails once: the statement is gone
	if cols, err := selectAll(); err != nil || len(cols) != 2 {
		t.Fatalf("after DEALLOCATE ALL: columns %v, %v", cols, err)
	}
}

// TestPathNotUndoneByTextTransaction: the path of a pinned connection does
// not travel with a BEGIN (nor any transaction control, nor several
// statements): folded into that explicit transaction, it would be undone
// by its ROLLBACK, leaving the connection on its previous user's path.
func TestPathNotUndoneByTextTransaction(t *testing.T) {
	for _, begin := range []string{`BEGIN`, `START TRANSACTION`, `SELECT 1; BEGIN`} {
		t.Run(begin, func(t *testing.T) {
			_, sdb, _ := pipelined(t, 1)
			readOwner(t, sdb, "tenant_b") // the connection's previous user
			c, err := sdb.Conn(tenantCtx("tenant_a"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.ExecContext(bg, begin); err != nil {
				t.Fatal(err)
			}
			if _, err := c.ExecContext(bg, `ROLLBACK`); err != nil {
				t.Fatal(err)
			}
			var got string
			if err := c.GetContext(bg, &got, `SELECT owner FROM items WHERE owner <> $1`, "nobody"); err != nil || got != "tenant_a" {
				t.Fatalf("after ROLLBACK tenant_a's connection read %q, %v", got, err)
			}
		})
	}
}
