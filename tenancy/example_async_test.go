package tenancy_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/tenancy"
)

// Drive asynchronous provisioning from any job queue: reserve in the
// request, finish in a worker (package riverprovision does this with
// River).
func ExampleManager_ReserveTx() {
	ctx := context.Background()
	mgr := testkit.ExampleManager()
	alice, _ := mgr.Users().CreateUser(ctx, "alice@example.com", "pw", true)

	tx := mgr.DB().Unwrap().MustBeginTx(ctx, nil)
	r, err := mgr.ReserveTx(ctx, tx, "Acme", "acme", alice.ID)
	if err != nil {
		panic(err)
	}
	// ... enqueue a job for r.Tenant.ID in tx, then:
	tx.Commit()
	fmt.Println(r.Domain.Domain, r.Tenant.State)

	_, _, err = mgr.Provision(ctx, "Other", "acme", alice.ID)
	fmt.Println("slug taken:", errors.Is(err, tenancy.ErrSlugExists))

	// The worker.
	t, err := mgr.FinishProvision(ctx, r.Tenant.ID, r.OwnerFlags, nil)
	fmt.Println(t.State, err)

	// A worker that gives up instead: the tenant fails, its names are free.
	tx = mgr.DB().Unwrap().MustBeginTx(ctx, nil)
	r2, _ := mgr.ReserveTx(ctx, tx, "Globex", "globex", alice.ID)
	tx.Commit()
	mgr.FailProvision(ctx, r2.Tenant.ID, "billing service down")
	g, _ := mgr.Get(ctx, r2.Tenant.ID)
	fmt.Println(g.State, g.StateReason)
	// Output:
	// acme.example.com pending
	// slug taken: true
	// ready <nil>
	// failed billing service down
}

// A deleted user's email cannot be signed up again; RestoreUser brings the
// account back.
func ExampleManager_RestoreUser() {
	ctx := context.Background()
	mgr := testkit.ExampleManager()
	mgr.CreatePublicTenant(ctx, "example.com", "ops@example.com")
	bob, _ := mgr.CreateUser(ctx, "bob@example.com", "pw", true)

	mgr.DeleteUser(ctx, bob.ID)
	_, err := mgr.CreateUser(ctx, "Bob@example.com", "new", true)
	fmt.Println(err)

	fmt.Println(mgr.RestoreUser(ctx, bob.ID))
	u, err := mgr.Users().Authenticate(ctx, "bob@example.com", "pw")
	fmt.Println(u.ID == bob.ID, err)
	// Output:
	// tenancy: create user "Bob@example.com": the user with this email was deleted
	// <nil>
	// true <nil>
}
