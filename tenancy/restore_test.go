package tenancy_test

import (
	"errors"
	"testing"

	"github.com/tenantkit/tenantkit/tenancy"
)

func TestRestoreTenantBringsDataDomainsAndOwnerBack(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	acme := f.provision(t, "acme", f.alice.ID)
	if _, err := f.m.AddDomain(ctx, acme.ID, "Acme.Test", false); err != nil {
		t.Fatal(err)
	}
	f.db.MustExec(`INSERT INTO `+acme.Schema().Qualify("notes")+` (body, author_id) VALUES ('keep me', $1)`, f.alice.ID)
	if err := f.m.DeleteTenant(ctx, acme.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.Resolve(ctx, "acme.test"); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Fatalf("deleted tenant resolves: %v", err) // also caches a negative entry
	}
	bob := f.user(t, "bob@example.com")
	if err := f.m.RestoreTenant(ctx, acme.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	got, err := f.m.Get(ctx, acme.ID)
	if err != nil || !got.IsLive() || got.OwnerID != bob.ID || got.PrimaryDomain != "acme.example.com" {
		t.Fatalf("restored tenant = %+v, %v", got, err)
	}
	for _, host := range []string{"acme.example.com", "acme.test"} {
		if r, err := f.m.Resolve(ctx, host); err != nil || r.ID != acme.ID {
			t.Fatalf("Resolve(%s) after restore = %v, %v", host, r, err)
		}
	}
	if n := f.count(t, `SELECT count(*) FROM `+acme.Schema().Qualify("notes")+` WHERE body = 'keep me'`); n != 1 {
		t.Fatal("restore lost the data")
	}
	if !f.member(t, acme, bob.ID) || f.member(t, acme, f.admin.ID) || f.member(t, acme, f.alice.ID) {
		t.Fatal("members after restore: want the new owner only")
	}
	if fl, err := f.m.Permissions().UserFlags(tenancy.WithTenant(ctx, acme), bob.ID); err != nil || !fl.IsSuperuser {
		t.Fatalf("new owner's flags = %+v, %v", fl, err)
	}
}

func TestRestoreTenantErrors(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	acme := f.provision(t, "acme", f.alice.ID)
	globex := f.provision(t, "globex", f.alice.ID)
	if _, err := f.m.AddDomain(ctx, globex.ID, "globex.test", false); err != nil {
		t.Fatal(err)
	}
	inactive, _ := f.m.Users().CreateUser(ctx, "inactive@example.com", "pw", false)
	if err := f.m.DeleteTenant(ctx, acme.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.m.DeleteTenant(ctx, globex.ID); err != nil {
		t.Fatal(err)
	}
	// Another tenant takes acme's slug; another one globex's second domain.
	f.provision(t, "acme", f.alice.ID)
	other := f.provision(t, "other", f.alice.ID)
	if _, err := f.m.AddDomain(ctx, other.ID, "globex.test", false); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		tenant int64
		owner  int64
		want   error
	}{
		{"slug taken", acme.ID, f.alice.ID, tenancy.ErrSlugExists},
		{"domain taken", globex.ID, f.alice.ID, tenancy.ErrDomainExists},
		{"live tenant", other.ID, f.alice.ID, tenancy.ErrTenantLive},
		{"unknown tenant", 999999, f.alice.ID, tenancy.ErrTenantNotFound},
		{"unknown owner", globex.ID, 999999, tenancy.ErrUserNotFound},
		{"inactive owner", globex.ID, inactive.ID, tenancy.ErrUserInactive},
	}
	for _, tt := range tests {
		err := f.m.RestoreTenant(ctx, tt.tenant, tt.owner)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	var taken *tenancy.DomainTakenError
	if err := f.m.RestoreTenant(ctx, globex.ID, f.alice.ID); !errors.As(err, &taken) || len(taken.Domains) != 1 || taken.Domains[0] != "globex.test" {
		t.Fatalf("domain taken error = %v", err)
	}
	// All or nothing: globex stays deleted, its primary domain too.
	if got, _ := f.m.Get(ctx, globex.ID); got.DeletedAt == nil {
		t.Fatal("failed restore left the tenant live")
	}
	if _, err := f.m.Resolve(ctx, "globex.example.com"); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Fatalf("failed restore revived a domain: %v", err)
	}
	// Once the name is free again, restore works.
	if err := f.m.RemoveDomain(ctx, other.ID, "globex.test"); err != nil {
		t.Fatal(err)
	}
	if err := f.m.RestoreTenant(ctx, globex.ID, f.alice.ID); err != nil {
		t.Fatal(err)
	}
}
