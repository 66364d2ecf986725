package tenanttest_test

import (
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/tenanttest"
)

// A fresh, empty database for one test, with no server to set up: Main
// (in TestMain) started one, or TENANTKIT_TEST_DATABASE_URL names yours.
func ExampleDatabase() {
	t := exampleT("ExampleDatabase") // in a test: the test's *testing.T
	defer t.Finish()

	dsn := tenanttest.Database(t) // a postgres:// URL; dropped at cleanup
	db := sqlx.MustOpen(pgtest.Driver(), dsn)
	defer db.Close()

	var tables int
	if err := db.Get(&tables, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`); err != nil {
		panic(err)
	}
	fmt.Println("tables:", tables)
	// Output:
	// tables: 0
}
