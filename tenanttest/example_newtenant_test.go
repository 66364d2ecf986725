package tenanttest_test

import (
	"fmt"

	"github.com/tenantkit/tenantkit/tenanttest"
)

// A throwaway tenant: provisioned as in production, purged (schema and
// all) when the test that made it ends.
func ExampleNewTenant() {
	t := exampleT("ExampleNewTenant") // in a test: the test's *testing.T
	defer t.Finish()
	mgr := newManager(t) // your migrated *tenancy.Manager, with its public tenant

	sub := exampleT("ExampleNewTenant/acme") // in a test: t.Run("acme", func(t *testing.T) { ... })
	tt := tenanttest.NewTenant(sub, mgr, tenanttest.WithSlug("acme"))
	fmt.Println("domain:", tt.PrimaryDomain)
	fmt.Println("owner is superuser:", ownerIsSuperuser(sub, mgr, tt))
	sub.Finish() // the subtest ends: its cleanups run

	schemas := -1
	if err := mgr.DB().Unwrap().Get(&schemas, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, tt.SchemaName); err != nil {
		fmt.Println(err)
	}
	fmt.Println("schemas left:", schemas)
	// Output:
	// domain: acme.example.com
	// owner is superuser: true
	// schemas left: 0
}
