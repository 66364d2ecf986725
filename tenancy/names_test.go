package tenancy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/tenancy"
)

func TestNormalizeHost(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "acme.example.com", "acme.example.com"},
		{"upper case", "ACME.Example.COM", "acme.example.com"},
		{"port", "acme.example.com:8080", "acme.example.com"},
		{"trailing dot", "acme.example.com.", "acme.example.com"},
		{"trailing dot and port", "acme.example.com.:443", "acme.example.com"},
		{"IDNA", "bücher.example.com", "xn--bcher-kva.example.com"},
		{"IDNA upper", "BÜCHER.example.com", "xn--bcher-kva.example.com"},
		{"punycode kept", "xn--bcher-kva.example.com", "xn--bcher-kva.example.com"},
		{"localhost", "localhost:8080", "localhost"},
		{"IPv4", "127.0.0.1:8080", "127.0.0.1"},
		{"IPv6", "[::1]:8080", "[::1]"},
		{"IPv6 no port", "[::1]", "[::1]"},
		{"fullwidth dot maps", "acme．example．com", "acme.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tenancy.NormalizeHost(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeHost(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestNormalizeHostRejects(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"only port", ":8080"},
		{"only dot", "."},
		{"two trailing dots", "acme.example.com.."},
		{"empty label", "acme..example.com"},
		{"underscore", "ac_me.example.com"},
		{"space", "acme example.com"},
		{"slash", "acme.example.com/evil"},
		{"at", "user@acme.example.com"},
		{"quote", `acme"'.example.com`},
		{"semicolon", "acme;drop.example.com"},
		{"percent", "acme%2e.example.com"},
		{"bad port", "acme.example.com:80a"},
		{"huge port", "acme.example.com:1234567"},
		{"label too long", strings.Repeat("a", 64) + ".example.com"},
		{"name too long", strings.Repeat("abcdefghi.", 26) + "com"},
		{"leading hyphen", "-acme.example.com"},
		{"NUL", "acme\x00.example.com"},
		{"newline", "acme\n.example.com"},
		{"bad IPv6", "[zz::1]:80"},
		{"IPv4 in brackets", "[127.0.0.1]"},
		{"overlong header", strings.Repeat("a", 400)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tenancy.NormalizeHost(tt.in)
			if !errors.Is(err, tenancy.ErrInvalidHost) {
				t.Fatalf("NormalizeHost(%q) = %q, %v; want ErrInvalidHost", tt.in, got, err)
			}
		})
	}
}

func TestValidateSlug(t *testing.T) {
	good := []string{"a", "acme", "acme-corp", "a1", "1a", "a--b", "abc--d", strings.Repeat("a", 63)}
	bad := []string{"", "-a", "a-", "Acme", "a_b", "a.b", "a b", "é", strings.Repeat("a", 64),
		"xn--acme", "xn--80ak6aa92e", "ab--cd"} // IDNA's reserved hyphens: not a host name, or a look-alike
	for _, s := range good {
		if err := tenancy.ValidateSlug(s); err != nil {
			t.Errorf("ValidateSlug(%q) = %v", s, err)
		}
	}
	for _, s := range bad {
		if err := tenancy.ValidateSlug(s); !errors.Is(err, tenancy.ErrInvalidSlug) {
			t.Errorf("ValidateSlug(%q) = %v, want ErrInvalidSlug", s, err)
		}
	}
}

func TestSchemaNamesFromAwkwardSlugs(t *testing.T) {
	f := setup(t)
	for _, slug := range []string{"9lives", "a-b-c", strings.Repeat("x", 63)} {
		tn := f.provision(t, slug, f.alice.ID)
		if len(tn.SchemaName) > 63 || tn.Schema().IsZero() {
			t.Errorf("slug %q got schema %q", slug, tn.SchemaName)
		}
	}
}

func TestResolve(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	acme := f.provision(t, "acme", f.alice.ID)
	tests := []struct {
		host string
		want error
	}{
		{"acme.example.com", nil},
		{"ACME.EXAMPLE.COM:443", nil},
		{"acme.example.com.", nil},
		{"globex.example.com", tenancy.ErrTenantNotFound},
		{"example.org", tenancy.ErrTenantNotFound},
		{"127.0.0.1:8080", tenancy.ErrTenantNotFound},
		{"bad_host!", tenancy.ErrInvalidHost},
		{"", tenancy.ErrInvalidHost},
	}
	for _, tt := range tests {
		got, err := f.m.Resolve(ctx, tt.host)
		if !errors.Is(err, tt.want) {
			t.Errorf("Resolve(%q) = %v, want %v", tt.host, err, tt.want)
			continue
		}
		if tt.want == nil && got.ID != acme.ID {
			t.Errorf("Resolve(%q) = tenant %d, want %d", tt.host, got.ID, acme.ID)
		}
	}
	// An inactive (not deleted) tenant does not resolve either. The change
	// is plain SQL and no Watch runs here, so the cache must be flushed.
	f.db.MustExec(`UPDATE tenantkit_tenants SET is_active = false WHERE id = $1`, acme.ID)
	f.m.FlushCache()
	if _, err := f.m.Resolve(ctx, "acme.example.com"); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Fatalf("inactive tenant resolves: %v", err)
	}
}

func TestWithTenantCarriesTheSchema(t *testing.T) {
	f := setup(t)
	acme := f.provision(t, "acme", f.alice.ID)
	ctx := tenancy.WithTenant(t.Context(), acme)
	got, ok := tenancy.TenantFromContext(ctx)
	if !ok || got != acme {
		t.Fatal("TenantFromContext lost the tenant")
	}
	if _, ok := tenancy.TenantFromContext(t.Context()); ok {
		t.Fatal("empty context has a tenant")
	}
	if tenancy.WithTenant(t.Context(), nil) != t.Context() {
		t.Fatal("WithTenant(nil) changed the context")
	}
}

// FuzzFastHost checks that the allocation-free fast path never disagrees
// with NormalizeHost.
func FuzzFastHost(f *testing.F) {
	for _, s := range []string{"acme.example.com", "acme.example.com:8080", "ACME.x", "a--b.c", "xn--bcher-kva.de", "1.2.3.4", "a.", "-a.b", "a:", "[::1]:80", "ab--c.d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		fast, ok := tenancy.FastHost(h)
		if !ok {
			return
		}
		slow, err := tenancy.NormalizeHost(h)
		if err != nil || slow != fast {
			t.Fatalf("fastHost(%q) = %q, NormalizeHost = %q, %v", h, fast, slow, err)
		}
	})
}
