package middleware_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/middleware"
)

// Share one login across the tenants' hosts with Config.CookieDomain. The
// cookie is then sent to every subdomain, but each request is still
// checked against its own tenant: alice's cookie opens acme, where she is
// a member, and not globex, where she is not.
func ExampleMiddleware_LogIn() {
	ctx := context.Background()
	mgr := testkit.ExampleManager()
	alice, _ := mgr.Users().CreateUser(ctx, "alice@example.com", "pw", true)
	bob, _ := mgr.Users().CreateUser(ctx, "bob@example.com", "pw", true)
	mgr.Provision(ctx, "Acme", "acme", alice.ID)
	mgr.Provision(ctx, "Globex", "globex", bob.ID)

	mw, err := middleware.New(middleware.Config{
		Tenants: mgr, Members: mgr, Perms: mgr.Permissions(), Sessions: mgr.Users(),
		CookieDomain: "example.com", // default "": host-only cookies
	})
	if err != nil {
		panic(err)
	}
	login := httptest.NewRecorder()
	if err := mw.LogIn(login, httptest.NewRequest("POST", "http://acme.example.com/login", nil), alice); err != nil {
		panic(err)
	}
	cookie := login.Result().Cookies()[0]
	fmt.Println("cookie domain:", cookie.Domain)

	app := mw.Tenant(mw.Authenticate(mw.RequireMember(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "welcome")
	}))))
	for _, host := range []string{"acme.example.com", "globex.example.com"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		r.AddCookie(cookie)
		w := httptest.NewRecorder()
		app.ServeHTTP(w, r)
		fmt.Println(host, w.Code)
	}
	// Output:
	// cookie domain: example.com
	// acme.example.com 200
	// globex.example.com 403
}
