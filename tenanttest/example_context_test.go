package tenanttest_test

import (
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/tenanttest"
)

// Call code below the HTTP layer (a repository, a job) with the tenant in
// the context, as middleware.Tenant puts it there for a request.
func ExampleContext() {
	t := exampleT("ExampleContext") // in a test: the test's *testing.T
	defer t.Finish()
	mgr := newManager(t)
	acme := tenanttest.NewTenant(t, mgr)
	globex := tenanttest.NewTenant(t, mgr)

	addNote := func(tt *tenanttest.Tenant, body string) error {
		return mgr.DB().Tx(tenanttest.Context(t, tt.Tenant), func(tx *sqlx.Tx) error {
			_, err := tx.Exec(`INSERT INTO notes (body, author_id) VALUES ($1, $2)`, body, tt.Owner.ID)
			return err
		})
	}
	if err := addNote(acme, "acme's plan"); err != nil {
		panic(err)
	}
	if err := addNote(globex, "globex's plan"); err != nil {
		panic(err)
	}

	var bodies []string
	err := mgr.DB().Tx(tenanttest.Context(t, acme.Tenant), func(tx *sqlx.Tx) error {
		return tx.Select(&bodies, `SELECT body FROM notes`)
	})
	fmt.Println(bodies, err)
	// Output:
	// [acme's plan] <nil>
}
