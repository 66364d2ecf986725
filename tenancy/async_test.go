package tenancy_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/permissions"
	"github.com/tenantkit/tenantkit/tenancy"
)

func (f *fixture) reserve(t *testing.T, slug string, owner int64, opts ...tenancy.ProvisionOption) *tenancy.Reservation {
	t.Helper()
	tx := f.db.MustBeginTx(t.Context(), nil)
	defer tx.Rollback()
	r, err := f.m.ReserveTx(t.Context(), tx, slug+" Inc", slug, owner, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestFinishAndFailProvisionEdges(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	r := f.reserve(t, "acme", f.alice.ID, tenancy.WithOwnerFlags(false, true))
	if r.OwnerFlags != (permissions.Flags{IsStaff: true}) || r.Existing {
		t.Fatalf("reservation = %+v", r)
	}
	// Members and domains wait for the schema.
	if err := f.m.TransferOwnership(ctx, r.Tenant.ID, f.admin.ID); !errors.Is(err, tenancy.ErrTenantPending) {
		t.Fatalf("TransferOwnership of a pending tenant = %v", err)
	}
	if err := f.m.DeleteTenant(ctx, r.Tenant.ID); !errors.Is(err, tenancy.ErrTenantPending) {
		t.Fatalf("DeleteTenant of a pending tenant = %v", err)
	}
	tn, err := f.m.FinishProvision(ctx, r.Tenant.ID, r.OwnerFlags, nil)
	if err != nil || tn.State != tenancy.StateReady || tn.PrimaryDomain != "acme.example.com" {
		t.Fatalf("FinishProvision = %+v, %v", tn, err)
	}
	if fl, err := f.m.Permissions().UserFlags(tenancy.WithTenant(ctx, tn), f.alice.ID); err != nil || fl != r.OwnerFlags {
		t.Fatalf("owner flags %+v, %v; want %+v", fl, err, r.OwnerFlags)
	}
	// The job ran twice: nothing more happens.
	before := f.footprint(t)
	if again, err := f.m.FinishProvision(ctx, r.Tenant.ID, r.OwnerFlags, nil); err != nil || again.State != tenancy.StateReady {
		t.Fatalf("second FinishProvision = %+v, %v", again, err)
	}
	if f.footprint(t) != before {
		t.Fatal("second FinishProvision wrote")
	}
	// A worker's late FailProvision cannot fail a ready tenant.
	if err := f.m.FailProvision(ctx, r.Tenant.ID, "too late"); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.m.Get(ctx, r.Tenant.ID); !got.IsLive() {
		t.Fatalf("FailProvision failed a ready tenant: %+v", got)
	}
	// Unknown ids, failed tenants.
	if _, err := f.m.FinishProvision(ctx, 987654, permissions.Flags{}, nil); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Fatalf("FinishProvision unknown = %v", err)
	}
	if err := f.m.FailProvision(ctx, 987654, "x"); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Fatalf("FailProvision unknown = %v", err)
	}
	g := f.reserve(t, "globex", f.alice.ID)
	if err := f.m.FailProvision(ctx, g.Tenant.ID, "no"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.FinishProvision(ctx, g.Tenant.ID, permissions.Flags{}, nil); !errors.Is(err, tenancy.ErrProvisionFailed) {
		t.Fatalf("FinishProvision of a failed tenant = %v", err)
	}
	// inTx's error rolls back the whole completion.
	h := f.reserve(t, "hooli", f.alice.ID)
	boom := errors.New("job table unreachable")
	if _, err := f.m.FinishProvision(ctx, h.Tenant.ID, permissions.Flags{}, func(context.Context, *sqlx.Tx) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("FinishProvision with failing inTx = %v", err)
	}
	if got, _ := f.m.Get(ctx, h.Tenant.ID); got.State != tenancy.StatePending ||
		f.count(t, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, got.SchemaName) != 0 {
		t.Fatalf("failed completion left state %s or its schema", got.State)
	}
}

func TestDeleteUserFailsThePendingTenantsItOwns(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	bob := f.user(t, "bob@example.com")
	r := f.reserve(t, "acme", bob.ID)
	if err := f.m.DeleteUser(ctx, bob.ID); err != nil {
		t.Fatalf("DeleteUser of the owner of a pending tenant: %v", err)
	}
	got, err := f.m.Get(ctx, r.Tenant.ID)
	if err != nil || got.State != tenancy.StateFailed || got.DeletedAt == nil || got.StateReason == "" {
		t.Fatalf("pending tenant of a deleted owner = %+v, %v", got, err)
	}
	if _, err := f.m.FinishProvision(ctx, r.Tenant.ID, permissions.Flags{}, nil); !errors.Is(err, tenancy.ErrProvisionFailed) {
		t.Fatalf("the worker then = %v", err)
	}
	if _, err := f.m.Resolve(ctx, "acme.example.com"); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Fatalf("resolve = %v", err)
	}
}

func TestMigrateSkipsTenantsWithoutASchema(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	f.provision(t, "ready", f.alice.ID)
	pending := f.reserve(t, "pending", f.alice.ID)
	failed := f.reserve(t, "failed", f.alice.ID)
	if err := f.m.FailProvision(ctx, failed.Tenant.ID, "no"); err != nil {
		t.Fatal(err)
	}
	results, err := f.m.Migrate(ctx)
	if err != nil {
		t.Fatalf("Migrate with pending and failed tenants: %v", err)
	}
	for _, r := range results {
		if r.Schema.String() == pending.Tenant.SchemaName || r.Schema.String() == failed.Tenant.SchemaName {
			t.Fatalf("Migrate touched %s", r.Schema)
		}
	}
	if n := f.count(t, `SELECT count(*) FROM pg_namespace WHERE nspname IN ($1, $2)`, pending.Tenant.SchemaName, failed.Tenant.SchemaName); n != 0 {
		t.Fatal("Migrate created a schema for a tenant without one")
	}
	// The worker still builds the pending tenant afterwards.
	if tn, err := f.m.FinishProvision(ctx, pending.Tenant.ID, pending.OwnerFlags, nil); err != nil || tn.State != tenancy.StateReady {
		t.Fatalf("FinishProvision after Migrate = %+v, %v", tn, err)
	}
}
