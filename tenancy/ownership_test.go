package tenancy_test

import (
	"errors"
	"testing"

	"github.com/tenantkit/tenantkit/tenancy"
)

func TestTransferOwnershipErrorsAndNoOp(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	acme := f.provision(t, "acme", f.alice.ID)
	gone := f.provision(t, "gone", f.alice.ID)
	if err := f.m.DeleteTenant(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	bob := f.user(t, "bob@example.com")
	deleted := f.user(t, "deleted@example.com")
	if err := f.m.DeleteUser(ctx, deleted.ID); err != nil {
		t.Fatal(err)
	}
	before := f.footprint(t)
	tests := []struct {
		name   string
		tenant int64
		user   int64
		want   error
	}{
		{"unknown tenant", 987654, bob.ID, tenancy.ErrTenantNotFound},
		{"deleted tenant", gone.ID, bob.ID, tenancy.ErrTenantNotFound},
		{"unknown user", acme.ID, 987654, tenancy.ErrUserNotFound},
		{"deleted user", acme.ID, deleted.ID, tenancy.ErrUserInactive},
	}
	for _, tt := range tests {
		if err := f.m.TransferOwnership(ctx, tt.tenant, tt.user); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if f.footprint(t) != before {
		t.Fatal("a refused transfer wrote")
	}
	// To the current owner: nothing changes, the owner stays a superuser.
	if err := f.m.TransferOwnership(ctx, acme.ID, f.alice.ID); err != nil {
		t.Fatal(err)
	}
	if fl, err := f.m.Permissions().UserFlags(tenancy.WithTenant(ctx, acme), f.alice.ID); err != nil || !fl.IsSuperuser || !f.member(t, acme, f.alice.ID) {
		t.Fatalf("owner after a transfer to itself: %+v, %v", fl, err)
	}
	// The old owner, out of the tenant, can no longer be removed as owner
	// nor act as superuser; the new one cannot be removed.
	if err := f.m.TransferOwnership(ctx, acme.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	if ok, _ := f.m.Permissions().HasPerm(tenancy.WithTenant(ctx, acme), f.alice.ID, "notes.add"); ok {
		t.Fatal("old owner kept its rights")
	}
	if err := f.m.RemoveUser(ctx, acme.ID, bob.ID); !errors.Is(err, tenancy.ErrCannotRemoveOwner) {
		t.Fatalf("remove new owner = %v", err)
	}
	if err := f.m.RemoveUser(ctx, acme.ID, f.alice.ID); !errors.Is(err, tenancy.ErrNotMember) {
		t.Fatalf("remove old owner (gone) = %v", err)
	}
}
