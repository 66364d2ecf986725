package pgxschema_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/sqlxschema"
	"github.com/tenantkit/tenantkit/sqlxschema/pgxschema"
)

type benchItem struct {
	ID   int64  `db:"id"`
	Body string `db:"body"`
}

// BenchmarkRequestQuery is one request's query (10 rows) from 100 tenants
// in rotation on a pool of 4, against the same query on one schema through
// pgx's plain database/sql driver as the baseline, each in the same run:
//
//	go test ./sqlxschema/pgxschema -run '^$' -bench RequestQuery -benchmem
func BenchmarkRequestQuery(b *testing.B) {
	dsn := pgtest.NewDatabase(b)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	plain := sqlx.NewDb(sql.OpenDB(stdlib.GetConnector(*cfg)), "pgx")
	b.Cleanup(func() { plain.Close() })
	plain.MustExec(`CREATE SCHEMA single; CREATE TABLE single.items (id bigint PRIMARY KEY, body text NOT NULL);
		INSERT INTO single.items SELECT g, 'row ' || g FROM generate_series(1, 10) g`)
	tenants := make([]context.Context, 100)
	for i := range tenants {
		plain.MustExec(fmt.Sprintf(`CREATE SCHEMA t%[1]d; CREATE TABLE t%[1]d.items (id bigint PRIMARY KEY, body text NOT NULL);
			INSERT INTO t%[1]d.items SELECT g, 't%[1]d row ' || g FROM generate_series(1, 10) g`, i))
		tenants[i] = sqlxschema.WithSchema(context.Background(), sqlxschema.MustSchema(fmt.Sprintf("t%d", i)))
	}
	const query = `SELECT id, body FROM items WHERE id <= $1 ORDER BY id`
	plain.SetMaxOpenConns(4)
	db := sqlx.NewDb(sql.OpenDB(pgxschema.NewConnector(*cfg, sqlxschema.ReuseSearchPath())), "pgx")
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	b.Cleanup(func() { db.Close() })
	sdb, _ := sqlxschema.New(db)
	check := func(items []benchItem, err error) {
		if err != nil || len(items) != 10 {
			b.Fatalf("%d items, %v", len(items), err)
		}
	}
	b.Run("baseline: one schema, plain pgx", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var items []benchItem
			err := plain.SelectContext(bg, &items, `SELECT id, body FROM single.items WHERE id <= $1 ORDER BY id`, 10)
			check(items, err)
		}
	})
	b.Run("pinned connection, pipelined path", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			ctx := tenants[i%len(tenants)]
			i++
			c, err := sdb.Conn(ctx)
			if err != nil {
				b.Fatal(err)
			}
			var items []benchItem
			err = c.SelectContext(ctx, &items, query, 10)
			check(items, err)
			c.Close()
		}
	})
	b.Run("transaction, pipelined path", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			ctx := tenants[i%len(tenants)]
			i++
			var items []benchItem
			err := sdb.Tx(ctx, func(tx *sqlx.Tx) error { return tx.SelectContext(ctx, &items, query, 10) })
			check(items, err)
		}
	})
}
