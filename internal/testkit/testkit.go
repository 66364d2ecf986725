// Package testkit builds tenantkit values on a fresh database of the
// throwaway cluster, for tenantkit's own tests.
package testkit

import (
	"context"
	"database/sql"
	"os"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/sqlxschema"
	"github.com/tenantkit/tenantkit/tenancy"
	"github.com/tenantkit/tenantkit/users"
)

// FastArgon2 makes password hashing cheap in tests.
var FastArgon2 = users.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// DB opens a fresh database on the shared cluster, closed at cleanup.
func DB(t testing.TB) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open(pgtest.Driver(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Manager returns a migrated Manager on a fresh database whose default
// tenant type has testdata/notes's migrations, with cheap password hashing.
// testdata is found relative to the test's package directory.
func Manager(t testing.TB, opts ...tenancy.Option) (*tenancy.Manager, *sqlx.DB) {
	t.Helper()
	db := DB(t)
	return ManagerOn(t, db, opts...), db
}

// ManagerOn is Manager on the given pool (of an empty database), for tests
// that bring their own server.
func ManagerOn(t testing.TB, db *sqlx.DB, opts ...tenancy.Option) *tenancy.Manager {
	t.Helper()
	store, err := users.New(db, users.WithArgon2Params(FastArgon2))
	if err != nil {
		t.Fatal(err)
	}
	base := []tenancy.Option{
		tenancy.WithBaseDomain("example.com"),
		tenancy.WithTenantMigrations(os.DirFS(testdata(t) + "/notes")),
		tenancy.WithUsers(store),
	}
	m, err := tenancy.NewManager(db, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return m
}

func testdata(t testing.TB) string {
	for _, dir := range []string{"testdata", "../testdata", "../../testdata"} {
		if _, err := os.Stat(dir + "/notes"); err == nil {
			return dir
		}
	}
	t.Fatal("testkit: testdata/notes not found")
	return ""
}

// Testdata returns the path of the repository's testdata directory.
func Testdata(t testing.TB) string { t.Helper(); return testdata(t) }

// ExampleManager is Manager for Example functions, which have no
// *testing.T: it panics on failure, and the database lives until the test
// process ends.
func ExampleManager(opts ...tenancy.Option) *tenancy.Manager {
	c := pgtest.SharedCluster()
	if c == nil {
		panic("testkit: no cluster: call pgtest.Main from TestMain")
	}
	name, err := c.CreateDatabase(context.Background(), "example")
	if err != nil {
		panic(err)
	}
	db := sqlx.MustOpen(pgtest.Driver(), c.DSN(name))
	store, err := users.New(db, users.WithArgon2Params(FastArgon2))
	if err != nil {
		panic(err)
	}
	dir := "../testdata/notes"
	if _, err := os.Stat(dir); err != nil {
		dir = "../../testdata/notes"
	}
	base := []tenancy.Option{tenancy.WithBaseDomain("example.com"), tenancy.WithTenantMigrations(os.DirFS(dir)), tenancy.WithUsers(store)}
	m, err := tenancy.NewManager(db, append(base, opts...)...)
	if err != nil {
		panic(err)
	}
	if _, err := m.Migrate(context.Background()); err != nil {
		panic(err)
	}
	return m
}

// CountingManager is Manager on a pool wrapped in sqlxschema's Connector,
// whose Statements count shows how many statements a path sent. It also
// returns the database's DSN, for Watch.
func CountingManager(t testing.TB, opts ...tenancy.Option) (*tenancy.Manager, *sqlxschema.Connector, string) {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	pc, err := pgtest.Connector(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn := sqlxschema.WrapConnector(pc)
	db := sqlx.NewDb(sql.OpenDB(conn), pgtest.Driver())
	t.Cleanup(func() { db.Close() })
	store, err := users.New(db, users.WithArgon2Params(FastArgon2))
	if err != nil {
		t.Fatal(err)
	}
	base := []tenancy.Option{tenancy.WithBaseDomain("example.com"), tenancy.WithTenantMigrations(os.DirFS(testdata(t) + "/notes")), tenancy.WithUsers(store)}
	m, err := tenancy.NewManager(db, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return m, conn, dsn
}

// DBFromDSN opens dsn, closed at cleanup.
func DBFromDSN(t testing.TB, dsn string) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open(pgtest.Driver(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
