package riverprovision_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/tenancy"
	"github.com/tenantkit/tenantkit/tenancy/riverprovision"
)

// Provision a tenant without waiting for its schema: the request returns
// a pending tenant at once, and a worker finishes it.
func ExampleQueue_ProvisionAsync() {
	ctx := context.Background()
	mgr := testkit.ExampleManager() // tenancy.NewManager(db, ...) then Migrate
	alice, _ := mgr.Users().CreateUser(ctx, "alice@example.com", "pw", true)

	q, err := riverprovision.New(mgr, riverprovision.Config{
		MaxAttempts:  3,
		PollInterval: 50 * time.Millisecond,
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	if err := q.Migrate(ctx); err != nil { // River's tables, in the shared schema
		panic(err)
	}

	// In the web request.
	acme, domain, err := q.ProvisionAsync(ctx, "Acme", "acme", alice.ID, tenancy.WithIdempotencyKey("signup-1"))
	if err != nil {
		panic(err)
	}
	fmt.Println(domain.Domain, acme.State)
	_, err = mgr.Resolve(ctx, "acme.example.com")
	fmt.Println("being prepared:", errors.Is(err, tenancy.ErrTenantPending))
	again, _, _ := q.ProvisionAsync(ctx, "Acme", "acme", alice.ID, tenancy.WithIdempotencyKey("signup-1"))
	fmt.Println("same tenant:", again.ID == acme.ID)

	// In a worker process.
	done, cancel := q.Client().Subscribe(river.EventKindJobCompleted)
	defer cancel()
	if err := q.Start(ctx); err != nil {
		panic(err)
	}
	defer q.Stop(ctx)
	<-done

	t, _ := mgr.Resolve(ctx, "acme.example.com")
	fmt.Println(t.Slug, t.State)
	// Output:
	// acme.example.com pending
	// being prepared: true
	// same tenant: true
	// acme ready
}
