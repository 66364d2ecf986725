package tenancy_test

import (
	"testing"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/tenancy"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestSmoke(t *testing.T) {
	m, _ := testkit.Manager(t)
	ctx := t.Context()
	admin, err := m.Users().CreateUser(ctx, "admin@example.com", "pw", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.CreatePublicTenant(ctx, "example.com", "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	alice, _ := m.Users().CreateUser(ctx, "alice@example.com", "pw", true)
	tn, d, err := m.Provision(ctx, "Acme", "acme", alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v %+v admin=%d", tn, d, admin.ID)
	got, err := m.Resolve(ctx, "ACME.example.com.:8080")
	if err != nil || got.ID != tn.ID {
		t.Fatal(got, err)
	}
	ok, err := m.Permissions().HasPerm(tenancy.WithTenant(ctx, got), alice.ID, "notes.add")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := m.DeleteTenant(ctx, tn.ID); err != nil {
		t.Fatal(err)
	}
}
