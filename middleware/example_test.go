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

// Mount the request path on a plain net/http handler. The same values work
// with gorilla/mux's Router.Use and chi's Use.
func Example() {
	ctx := context.Background()
	mgr := testkit.ExampleManager()
	alice, _ := mgr.Users().CreateUser(ctx, "alice@example.com", "pw", true)
	mgr.Provision(ctx, "Acme", "acme", alice.ID)

	mw, err := middleware.New(middleware.Config{
		Tenants: mgr, Members: mgr, Perms: mgr.Permissions(), Sessions: mgr.Users(),
	})
	if err != nil {
		panic(err)
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, _ := tenancy.TenantFromContext(r.Context())
		fmt.Fprintf(w, "hello from %s", t.Name)
	})
	app := mw.Tenant(mw.Authenticate(hello))

	for _, host := range []string{"acme.example.com", "nope.example.com", "bad_host"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		w := httptest.NewRecorder()
		app.ServeHTTP(w, r)
		fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	}
	// Output:
	// 200 hello from Acme
	// 404 tenant not found
	// 400 bad host
}
