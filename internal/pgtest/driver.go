package pgtest

import (
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/lib/pq"
)

// DriverEnv names the environment variable that picks the database/sql
// driver every test opens its databases with: "pq" (or unset) for lib/pq,
// "pgx" for pgx's stdlib driver. CI runs the suite once with each.
const DriverEnv = "TENANTKIT_TEST_DRIVER"

// Driver returns the database/sql driver name the tests use: "postgres"
// (lib/pq) by default, "pgx" when TENANTKIT_TEST_DRIVER=pgx. Both names
// make sqlx use $1 placeholders. An unknown value panics: a typo must not
// silently test the default driver.
func Driver() string {
	switch v := os.Getenv(DriverEnv); v {
	case "", "pq", "postgres":
		return "postgres"
	case "pgx":
		return "pgx"
	default:
		panic(fmt.Sprintf("pgtest: %s=%q: want pq or pgx", DriverEnv, v))
	}
}

// IsPgx reports whether the tests run on pgx's stdlib driver.
func IsPgx() bool { return Driver() == "pgx" }

// Open opens dsn with the tests' driver.
func Open(dsn string) (*sql.DB, error) { return sql.Open(Driver(), dsn) }

// Connector returns a driver.Connector for dsn on the tests' driver, for
// tests that wrap it (sqlxschema.WrapConnector).
func Connector(dsn string) (driver.Connector, error) {
	if !IsPgx() {
		return pq.NewConnector(dsn)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	return stdlib.GetConnector(*cfg), nil
}
