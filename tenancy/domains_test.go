package tenancy_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/tenancy"
)

func TestDomainsAddRemovePrimary(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	acme := f.provision(t, "acme", f.alice.ID)
	globex := f.provision(t, "globex", f.alice.ID)

	// Stored in one normal form: lower case, no trailing dot, no port, IDNA.
	d, err := f.m.AddDomain(ctx, acme.ID, "Bücher.Example.ORG.:8443", false)
	if err != nil || d.Domain != "xn--bcher-kva.example.org" || d.IsPrimary {
		t.Fatalf("AddDomain = %+v, %v", d, err)
	}
	for _, host := range []string{"xn--bcher-kva.example.org", "BÜCHER.example.org", "bücher.example.org.:80"} {
		if got, err := f.m.Resolve(ctx, host); err != nil || got.ID != acme.ID || got.PrimaryDomain != "acme.example.com" {
			t.Fatalf("Resolve(%q) = %+v, %v", host, got, err)
		}
	}
	// Unique whatever its spelling, across tenants too.
	for _, host := range []string{"XN--BCHER-KVA.example.org", "bücher.example.org", "acme.example.com"} {
		for _, tn := range []*tenancy.Tenant{acme, globex} {
			if _, err := f.m.AddDomain(ctx, tn.ID, host, false); !errors.Is(err, tenancy.ErrDomainExists) {
				t.Fatalf("AddDomain(%q) to %s = %v, want ErrDomainExists", host, tn.Slug, err)
			}
		}
	}
	bad := []string{"", "bad_host!", "10.0.0.1", "[::1]", "a..b", strings.Repeat("a", 64) + ".com"}
	for _, host := range bad {
		if _, err := f.m.AddDomain(ctx, acme.ID, host, false); !errors.Is(err, tenancy.ErrInvalidHost) {
			t.Errorf("AddDomain(%q) = %v, want ErrInvalidHost", host, err)
		}
	}

	// Exactly one primary: setting another demotes the old one.
	if err := f.m.SetPrimaryDomain(ctx, acme.ID, "BÜCHER.example.org"); err != nil {
		t.Fatal(err)
	}
	ds, err := f.m.Domains(ctx, acme.ID)
	if err != nil || len(ds) != 2 || ds[0].Domain != "xn--bcher-kva.example.org" || !ds[0].IsPrimary || ds[1].IsPrimary {
		t.Fatalf("domains after SetPrimaryDomain = %+v, %v", ds, err)
	}
	if got, _ := f.m.Resolve(ctx, "acme.example.com"); got.PrimaryDomain != "xn--bcher-kva.example.org" {
		t.Fatalf("Resolve's PrimaryDomain stale: %q", got.PrimaryDomain)
	}
	// AddDomain with primary true takes over too.
	if _, err := f.m.AddDomain(ctx, acme.ID, "acme.example.net", true); err != nil {
		t.Fatal(err)
	}
	if p, err := f.m.PrimaryDomain(ctx, acme.ID); err != nil || p.Domain != "acme.example.net" {
		t.Fatalf("PrimaryDomain = %+v, %v", p, err)
	}

	// Remove: never the primary; a removed name stops resolving and is free.
	if err := f.m.RemoveDomain(ctx, acme.ID, "acme.example.net"); !errors.Is(err, tenancy.ErrPrimaryDomain) {
		t.Fatalf("remove primary = %v", err)
	}
	if err := f.m.RemoveDomain(ctx, acme.ID, "Bücher.example.org"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.Resolve(ctx, "bücher.example.org"); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Fatalf("removed domain resolves: %v", err)
	}
	if _, err := f.m.AddDomain(ctx, globex.ID, "bücher.example.org", false); err != nil {
		t.Fatalf("removed name not free: %v", err)
	}
	for _, host := range []string{"nope.example.org", "globex.example.com"} {
		if err := f.m.RemoveDomain(ctx, acme.ID, host); !errors.Is(err, tenancy.ErrDomainNotFound) {
			t.Errorf("RemoveDomain(%q) = %v, want ErrDomainNotFound", host, err)
		}
		if err := f.m.SetPrimaryDomain(ctx, acme.ID, host); !errors.Is(err, tenancy.ErrDomainNotFound) {
			t.Errorf("SetPrimaryDomain(%q) = %v, want ErrDomainNotFound", host, err)
		}
	}

	// Only live, ready tenants get domains.
	if err := f.m.DeleteTenant(ctx, globex.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.AddDomain(ctx, globex.ID, "globex.example.org", false); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Fatalf("AddDomain to a deleted tenant = %v", err)
	}
	tx := f.db.MustBeginTx(ctx, nil)
	defer tx.Rollback()
	r, err := f.m.ReserveTx(ctx, tx, "Pending", "pending", f.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.AddDomain(ctx, r.Tenant.ID, "pending.example.org", false); !errors.Is(err, tenancy.ErrTenantPending) {
		t.Fatalf("AddDomain to a pending tenant = %v", err)
	}
}

func TestTenantTypesAndReservedSlugs(t *testing.T) {
	f := setup(t, tenancy.WithTenantType("shop", nil), tenancy.WithTenantType("blog", nil), tenancy.WithReservedSlugs("billing", "status"))
	ctx := t.Context()
	if got := f.m.Types(); !slices.Equal(got, []string{"blog", "default", "public", "shop"}) {
		t.Fatalf("Types = %q", got)
	}
	for _, typ := range []string{"nope", tenancy.PublicType, ""} {
		_, _, err := f.m.Provision(ctx, "X", "x", f.alice.ID, tenancy.WithType(typ))
		var ute *tenancy.UnknownTypeError
		if !errors.As(err, &ute) || !errors.Is(err, tenancy.ErrUnknownType) || !slices.Equal(ute.Valid, []string{"blog", "default", "shop"}) ||
			!strings.Contains(err.Error(), "valid: blog, default, shop") {
			t.Fatalf("Provision type %q = %v", typ, err)
		}
		if err := f.m.CheckType(typ); !errors.Is(err, tenancy.ErrUnknownType) {
			t.Fatalf("CheckType(%q) = %v", typ, err)
		}
	}
	shop := f.provision(t, "store", f.alice.ID, tenancy.WithType("shop"))
	if got, _ := f.m.Resolve(ctx, "store.example.com"); got.Type != "shop" || shop.Type != "shop" {
		t.Fatalf("type not kept: %q", got.Type)
	}
	if pub, _ := f.m.PublicTenant(ctx); pub.Type != tenancy.PublicType {
		t.Fatalf("public tenant's type = %q", pub.Type)
	}
	// WithReservedSlugs replaces the default list.
	for _, slug := range []string{"billing", "status"} {
		if _, _, err := f.m.Provision(ctx, "X", slug, f.alice.ID); !errors.Is(err, tenancy.ErrInvalidSlug) {
			t.Errorf("reserved %q = %v", slug, err)
		}
	}
	f.provision(t, "www", f.alice.ID)
	if err := f.m.CheckType("shop"); err != nil {
		t.Fatal(err)
	}
}
