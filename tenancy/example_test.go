package tenancy_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/tenancy"
)

// Provision a tenant, resolve its host, and run a query in its schema.
func ExampleManager_Provision() {
	ctx := context.Background()
	mgr := testkit.ExampleManager() // tenancy.NewManager(db, ...) then Migrate

	alice, _ := mgr.Users().CreateUser(ctx, "alice@example.com", "s3cret", true)
	acme, domain, err := mgr.Provision(ctx, "Acme Corp", "acme", alice.ID)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("domain:", domain.Domain)

	t, _ := mgr.Resolve(ctx, "ACME.example.com:443")
	fmt.Println("resolved:", t.Slug == acme.Slug)

	err = mgr.DB().Tx(tenancy.WithTenant(ctx, t), func(tx *sqlx.Tx) error {
		_, err := tx.Exec(`INSERT INTO notes (body, author_id) VALUES ($1, $2)`, "hello", alice.ID)
		return err
	})
	fmt.Println("insert:", err)

	_, _, err = mgr.Provision(ctx, "Acme again", "acme", alice.ID)
	fmt.Println("again:", errors.Is(err, tenancy.ErrSlugExists))
	// Output:
	// domain: acme.example.com
	// resolved: true
	// insert: <nil>
	// again: true
}

// Soft deletion: the tenant stops resolving, its data stays.
func ExampleManager_DeleteTenant() {
	ctx := context.Background()
	mgr := testkit.ExampleManager()
	mgr.Users().CreateUser(ctx, "ops@example.com", "pw", true)
	mgr.CreatePublicTenant(ctx, "example.com", "ops@example.com")
	alice, _ := mgr.Users().CreateUser(ctx, "alice@example.com", "pw", true)
	acme, _, _ := mgr.Provision(ctx, "Acme", "acme", alice.ID)

	fmt.Println(mgr.DeleteTenant(ctx, acme.ID))
	_, err := mgr.Resolve(ctx, "acme.example.com")
	fmt.Println(errors.Is(err, tenancy.ErrTenantNotFound))
	deleted, _ := mgr.Get(ctx, acme.ID)
	fmt.Println(deleted.IsLive(), deleted.SchemaName == acme.SchemaName)
	// Output:
	// <nil>
	// true
	// false true
}
