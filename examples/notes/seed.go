package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/tenantkit/tenantkit/tenancy"
	"github.com/tenantkit/tenantkit/users"
)

// The demo data. Every step of seed is idempotent, so a second run on the
// same database (DATABASE_URL) reuses what the first one made.
const (
	adminEmail    = "admin@example.com" // owns the public tenant; no password
	aliceEmail    = "alice@example.com"
	alicePassword = "alice-password"
	bobEmail      = "bob@example.com"
	bobPassword   = "bob-password"
)

// seed creates the demo users, the public tenant on localhost, and the
// tenants acme (owned by alice, bob a member who may view and add notes)
// and globex (owned by bob).
func seed(ctx context.Context, mgr *tenancy.Manager) error {
	alice, err := ensureUser(ctx, mgr.Users(), aliceEmail, alicePassword)
	if err != nil {
		return err
	}
	bob, err := ensureUser(ctx, mgr.Users(), bobEmail, bobPassword)
	if err != nil {
		return err
	}

	_, err = mgr.PublicTenant(ctx)
	if errors.Is(err, tenancy.ErrNoPublicTenant) {
		_, _, err = mgr.CreatePublicTenant(ctx, "localhost", adminEmail)
	}
	if err != nil {
		return err
	}

	acme, err := ensureTenant(ctx, mgr, "Acme Corp", "acme", alice.ID)
	if err != nil {
		return err
	}
	if _, err := ensureTenant(ctx, mgr, "Globex", "globex", bob.ID); err != nil {
		return err
	}

	// bob joins acme as a plain member; his rights there live in acme's
	// schema, so the context must carry acme.
	if err := mgr.AddUser(ctx, acme.ID, bob.ID); err != nil && !errors.Is(err, tenancy.ErrAlreadyMember) {
		return err
	}
	return mgr.Permissions().Grant(tenancy.WithTenant(ctx, acme), bob.ID, "notes.view", "notes.add")
}

// ensureUser creates an active user, or returns the existing one.
func ensureUser(ctx context.Context, store *users.Store, email, password string) (*users.User, error) {
	u, err := store.CreateUser(ctx, email, password, true)
	if errors.Is(err, users.ErrExists) {
		return store.ByEmail(ctx, email)
	}
	return u, err
}

// ensureTenant provisions a tenant on slug.localhost, or returns the live
// one with that slug.
func ensureTenant(ctx context.Context, mgr *tenancy.Manager, name, slug string, ownerID int64) (*tenancy.Tenant, error) {
	t, err := mgr.BySlug(ctx, slug)
	if errors.Is(err, tenancy.ErrTenantNotFound) {
		t, _, err = mgr.Provision(ctx, name, slug, ownerID)
	}
	if err != nil {
		return nil, fmt.Errorf("seed tenant %q: %w", slug, err)
	}
	return t, nil
}
