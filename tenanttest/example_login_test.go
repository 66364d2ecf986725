package tenanttest_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/tenantkit/tenantkit/middleware"
	"github.com/tenantkit/tenantkit/tenanttest"
)

// Drive a handler behind the real middleware: the request goes to the
// tenant's host, and LogIn gives it a session cookie, so RequireMember
// checks that user against that tenant.
func ExampleLogIn() {
	t := exampleT("ExampleLogIn") // in a test: the test's *testing.T
	defer t.Finish()
	mgr := newManager(t)
	app, mw := notesApp(t, mgr, middleware.Config{}) // mw.Tenant(mw.Authenticate(... mw.RequireMember(list) ...))

	acme := tenanttest.NewTenant(t, mgr)
	globex := tenanttest.NewTenant(t, mgr)
	for _, c := range []struct {
		who  string
		user *tenanttest.Tenant
	}{{"acme's owner", acme}, {"globex's owner", globex}, {"anonymous", nil}} {
		r := tenanttest.NewRequest(acme.Tenant, "GET", "/notes", nil)
		if c.user != nil {
			tenanttest.LogIn(t, mw, r, c.user.Owner)
		}
		w := httptest.NewRecorder()
		app.ServeHTTP(w, r)
		fmt.Println(c.who, "at acme:", w.Code)
	}
	// Output:
	// acme's owner at acme: 200
	// globex's owner at acme: 403
	// anonymous at acme: 401
}
