package tenanttest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/tenantkit/tenantkit/middleware"
	"github.com/tenantkit/tenantkit/tenancy"
	"github.com/tenantkit/tenantkit/users"
)

// Context returns the test's context carrying tenant (tenancy.WithTenant),
// as middleware.Tenant makes it for a request: sqlxschema's Tx and Conn
// and the permissions checks then work on the tenant's schema. Use it to
// call code below the HTTP layer (repositories, jobs) directly. It is
// cancelled when the test ends, before cleanups run.
func Context(t TB, tenant *tenancy.Tenant) context.Context {
	t.Helper()
	if tenant == nil {
		t.Fatalf("tenanttest: Context: nil tenant")
		return t.Context()
	}
	return tenancy.WithTenant(t.Context(), tenant)
}

// NewRequest returns a request for an http.Handler, as
// httptest.NewRequest does, whose Host is the tenant's primary domain, so
// that it goes through middleware.Tenant (host resolution, the tenant in
// the context) like a request in production. target is a path such as
// "/notes?page=2"; in an absolute URL the host is replaced too. The
// request carries no tenant in its context: a handler mounted without
// middleware.Tenant does not find one, as in production.
//
// It panics, as httptest.NewRequest does, on a bad method or target, and
// on a tenant without a primary domain (NewTenant's always has one).
func NewRequest(tenant *tenancy.Tenant, method, target string, body io.Reader) *http.Request {
	if tenant == nil || tenant.PrimaryDomain == "" {
		panic("tenanttest: NewRequest: tenant without a primary domain")
	}
	r := httptest.NewRequest(method, target, body)
	r.Host = tenant.PrimaryDomain
	if r.URL.Host != "" {
		r.URL.Host = tenant.PrimaryDomain
	}
	return r
}

// LogIn logs u in on r: it starts a session through mw.LogIn, with mw's
// cookie settings and sessions store, and adds the session cookie to r
// (in place of one r already had), so that mw.Authenticate finds u and
// RequireMember and RequirePerm check u against the request's tenant.
func LogIn(t TB, mw *middleware.Middleware, r *http.Request, u *users.User) {
	t.Helper()
	w := httptest.NewRecorder()
	if err := mw.LogIn(w, r, u); err != nil {
		t.Fatalf("tenanttest: LogIn: %v", err)
		return
	}
	set := w.Result().Cookies()
	if len(set) == 0 {
		t.Fatalf("tenanttest: LogIn: the middleware set no cookie")
		return
	}
	replaced := map[string]bool{}
	for _, c := range set {
		replaced[c.Name] = true
	}
	kept := r.Cookies()
	r.Header.Del("Cookie")
	for _, c := range kept {
		if !replaced[c.Name] {
			r.AddCookie(c)
		}
	}
	for _, c := range set {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
}
