package middleware_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/middleware"
	"github.com/tenantkit/tenantkit/tenancy"
)

// Pick the tenant from a path prefix, from a header set by a trusted proxy,
// and send secondary domains to the primary one.
func ExampleMiddleware_TenantBy() {
	ctx := context.Background()
	mgr := testkit.ExampleManager()
	alice, _ := mgr.Users().CreateUser(ctx, "alice@example.com", "pw", true)
	acme, _, _ := mgr.Provision(ctx, "Acme", "acme", alice.ID)
	mgr.AddDomain(ctx, acme.ID, "acme.example.org", false)

	mw, _ := middleware.New(middleware.Config{
		Tenants: mgr, Members: mgr, Perms: mgr.Permissions(), Sessions: mgr.Users(),
	})
	pick, err := mw.TenantBy(middleware.Pick{
		PathPrefix:        "/t/",
		Header:            "X-Tenant",
		TrustedProxies:    []string{"10.0.0.0/8"},
		RedirectToPrimary: http.StatusPermanentRedirect,
	})
	if err != nil {
		panic(err)
	}
	app := pick(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, _ := tenancy.TenantFromContext(r.Context())
		fmt.Fprintf(w, "%s sees %s", t.Slug, r.URL.Path)
	}))

	for _, c := range []struct{ peer, host, path, header string }{
		{"192.0.2.1:1000", "example.com", "/t/acme/notes", ""},
		{"10.0.0.7:1000", "internal", "/notes", "acme"},
		{"192.0.2.1:1000", "nope.example.com", "/notes", "acme"}, // untrusted peer: header ignored
		{"192.0.2.1:1000", "acme.example.org", "/notes?page=2", ""},
	} {
		r := httptest.NewRequest("GET", c.path, nil)
		r.RemoteAddr, r.Host = c.peer, c.host
		if c.header != "" {
			r.Header.Set("X-Tenant", c.header)
		}
		w := httptest.NewRecorder()
		app.ServeHTTP(w, r)
		if loc := w.Header().Get("Location"); loc != "" {
			fmt.Println(w.Code, "->", loc)
			continue
		}
		fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	}
	// Output:
	// 200 acme sees /notes
	// 200 acme sees /notes
	// 404 tenant not found
	// 308 -> http://acme.example.com/notes?page=2
}

// Give each tenant type its own application.
func ExampleMiddleware_ByType() {
	ctx := context.Background()
	mgr := testkit.ExampleManager(tenancy.WithTenantType("shop", nil))
	mgr.CreatePublicTenant(ctx, "example.com", "ops@example.com")
	alice, _ := mgr.Users().CreateUser(ctx, "alice@example.com", "pw", true)
	mgr.Provision(ctx, "Acme", "acme", alice.ID)
	mgr.Provision(ctx, "Store", "store", alice.ID, tenancy.WithType("shop"))

	mw, _ := middleware.New(middleware.Config{
		Tenants: mgr, Members: mgr, Perms: mgr.Permissions(), Sessions: mgr.Users(),
	})
	say := func(s string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, s) })
	}
	byType, err := mw.ByType(map[string]http.Handler{
		tenancy.PublicType:  say("marketing site"),
		tenancy.DefaultType: say("notes app"),
		"shop":              say("shop app"),
	})
	if err != nil {
		panic(err)
	}
	app := mw.Tenant(byType)
	for _, host := range []string{"example.com", "acme.example.com", "store.example.com"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		w := httptest.NewRecorder()
		app.ServeHTTP(w, r)
		fmt.Println(host, "->", w.Body.String())
	}
	// Output:
	// example.com -> marketing site
	// acme.example.com -> notes app
	// store.example.com -> shop app
}
