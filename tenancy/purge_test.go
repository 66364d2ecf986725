package tenancy_test

import (
	"errors"
	"testing"

	"github.com/tenantkit/tenantkit/tenancy"
)

func TestPurgeTenant(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	before := f.footprint(t)
	acme := f.provision(t, "acme", f.alice.ID)
	keep := f.provision(t, "keep", f.alice.ID)
	pub, _ := f.m.PublicTenant(ctx)

	if err := f.m.PurgeTenant(ctx, acme.ID); !errors.Is(err, tenancy.ErrTenantLive) {
		t.Fatalf("purge live tenant = %v", err)
	}
	if err := f.m.PurgeTenant(ctx, pub.ID); !errors.Is(err, tenancy.ErrPublicTenant) {
		t.Fatalf("purge public tenant = %v", err)
	}
	if err := f.m.PurgeTenant(ctx, 999999); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Fatalf("purge unknown tenant = %v", err)
	}
	if err := f.m.DeleteTenant(ctx, acme.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.m.PurgeTenant(ctx, acme.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.Get(ctx, acme.ID); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Fatalf("purged tenant still there: %v", err)
	}
	if n := f.count(t, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, acme.SchemaName); n != 0 {
		t.Fatal("purge left the schema")
	}
	after := f.footprint(t)
	// What is left is the other tenant: one row, one domain, one member, one schema.
	if after != [4]int{before[0] + 1, before[1] + 1, before[2] + 1, before[3] + 1} {
		t.Fatalf("footprint %v -> %v", before, after)
	}
	if n := f.count(t, `SELECT count(*) FROM `+keep.Schema().Qualify("notes")); n != 0 {
		t.Fatal("other tenant's schema damaged")
	}
	if err := f.m.PurgeTenant(ctx, acme.ID); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Fatalf("second purge = %v", err)
	}
	if err := f.m.RestoreTenant(ctx, acme.ID, f.alice.ID); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Fatalf("restore after purge = %v", err)
	}
}
