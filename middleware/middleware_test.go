package middleware_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/middleware"
	"github.com/tenantkit/tenantkit/tenancy"
	"github.com/tenantkit/tenantkit/users"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type env struct {
	m            *tenancy.Manager
	mw           *middleware.Middleware
	alice, bob   string // session tokens
	acme, globex *tenancy.Tenant
}

// newEnv: acme owned by alice; bob is a plain member of acme (no rights)
// and owns globex.
func newEnv(t *testing.T, cfg middleware.Config) *env {
	t.Helper()
	t.Parallel()
	m, _ := testkit.Manager(t)
	ctx := t.Context()
	mk := func(email string) (*users.User, string) {
		u, err := m.Users().CreateUser(ctx, email, "pw", true)
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := m.Users().NewSession(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return u, tok
	}
	alice, aliceTok := mk("alice@example.com")
	bob, bobTok := mk("bob@example.com")
	acme, _, err := m.Provision(ctx, "Acme", "acme", alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	globex, _, err := m.Provision(ctx, "Globex", "globex", bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.AddUser(ctx, acme.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	cfg.Tenants, cfg.Members, cfg.Perms, cfg.Sessions = m, m, m.Permissions(), m.Users()
	mw, err := middleware.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{m: m, mw: mw, alice: aliceTok, bob: bobTok, acme: acme, globex: globex}
}

// final records whether it ran and what tenant and user it saw.
type final struct {
	ran    bool
	tenant string
	user   string
}

func (f *final) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.ran = true
	if t, ok := tenancy.TenantFromContext(r.Context()); ok {
		f.tenant = t.Slug
	}
	if u, ok := users.UserFromContext(r.Context()); ok {
		f.user = u.Email
	}
	w.WriteHeader(http.StatusOK)
}

func do(h http.Handler, method, host, token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/notes?x=1", nil)
	r.Host = host
	if token != "" {
		r.AddCookie(&http.Cookie{Name: "tenantkit_session", Value: token})
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestChain(t *testing.T) {
	e := newEnv(t, middleware.Config{})
	tests := []struct {
		name       string
		chain      func(http.Handler) http.Handler
		method     string
		host       string
		token      string
		wantStatus int
		wantTenant string
		wantUser   string
	}{
		{"tenant resolved", e.mw.Tenant, "GET", "acme.example.com", "", 200, "acme", ""},
		{"tenant host case and port", e.mw.Tenant, "GET", "ACME.example.com:8443", "", 200, "acme", ""},
		{"unknown host", e.mw.Tenant, "GET", "nope.example.com", "", 404, "", ""},
		{"malformed host", e.mw.Tenant, "GET", "bad_host!", "", 400, "", ""},
		{"empty host", e.mw.Tenant, "GET", "", "", 400, "", ""},
		{"authenticated", chain(e.mw.Tenant, e.mw.Authenticate), "GET", "acme.example.com", e.alice, 200, "acme", "alice@example.com"},
		{"bad cookie is anonymous", chain(e.mw.Tenant, e.mw.Authenticate), "GET", "acme.example.com", "forged", 200, "acme", ""},
		{"member passes", chain(e.mw.Tenant, e.mw.Authenticate, e.mw.RequireMember), "GET", "acme.example.com", e.bob, 200, "acme", "bob@example.com"},
		{"non-member 403", chain(e.mw.Tenant, e.mw.Authenticate, e.mw.RequireMember), "GET", "globex.example.com", e.alice, 403, "", ""},
		{"anonymous 401", chain(e.mw.Tenant, e.mw.Authenticate, e.mw.RequireMember), "GET", "acme.example.com", "", 401, "", ""},
		{"member without perm 403", chain(e.mw.Tenant, e.mw.Authenticate, e.mw.RequirePerm("notes.add")), "POST", "acme.example.com", e.bob, 403, "", ""},
		{"superuser has perm", chain(e.mw.Tenant, e.mw.Authenticate, e.mw.RequirePerm("notes.add")), "POST", "acme.example.com", e.alice, 200, "acme", "alice@example.com"},
		{"perm of another tenant 403", chain(e.mw.Tenant, e.mw.Authenticate, e.mw.RequirePerm("notes.add")), "POST", "globex.example.com", e.alice, 403, "", ""},
		{"perm anonymous 401", chain(e.mw.Tenant, e.mw.Authenticate, e.mw.RequirePerm("notes.view")), "GET", "acme.example.com", "", 401, "", ""},
		{"member without tenant middleware 404", chain(e.mw.Authenticate, e.mw.RequireMember), "GET", "acme.example.com", e.alice, 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &final{}
			w := do(tt.chain(f), tt.method, tt.host, tt.token)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d (body %q)", w.Code, tt.wantStatus, w.Body)
			}
			if f.ran != (tt.wantStatus == 200) {
				t.Fatalf("next ran = %v with status %d", f.ran, w.Code)
			}
			if f.tenant != tt.wantTenant || f.user != tt.wantUser {
				t.Fatalf("handler saw tenant %q user %q, want %q %q", f.tenant, f.user, tt.wantTenant, tt.wantUser)
			}
			if w.Code != 200 && len(w.Body.String()) > 40 {
				t.Fatalf("error body too chatty: %q", w.Body)
			}
		})
	}
}

func chain(mws ...func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		for i := len(mws) - 1; i >= 0; i-- {
			h = mws[i](h)
		}
		return h
	}
}

func TestLoginRedirectForAnonymousGET(t *testing.T) {
	e := newEnv(t, middleware.Config{LoginURL: "/login"})
	h := chain(e.mw.Tenant, e.mw.Authenticate, e.mw.RequireMember)(&final{})
	w := do(h, "GET", "acme.example.com", "")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login?next=%2Fnotes%3Fx%3D1" {
		t.Fatalf("GET: %d %q", w.Code, w.Header().Get("Location"))
	}
	if w := do(h, "POST", "acme.example.com", ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("POST: %d, want 401 (no redirect for a write)", w.Code)
	}
}

func TestDeletedTenantAndRevokedSessionStopAtOnce(t *testing.T) {
	e := newEnv(t, middleware.Config{})
	ctx := t.Context()
	h := chain(e.mw.Tenant, e.mw.Authenticate, e.mw.RequireMember)(&final{})
	if w := do(h, "GET", "acme.example.com", e.bob); w.Code != 200 {
		t.Fatalf("before: %d", w.Code)
	}
	if err := e.m.RemoveUser(ctx, e.acme.ID, mustUser(t, e.m, "bob@example.com")); err != nil {
		t.Fatal(err)
	}
	if w := do(h, "GET", "acme.example.com", e.bob); w.Code != 403 {
		t.Fatalf("removed member: %d, want 403", w.Code)
	}
	if _, _, err := e.m.CreatePublicTenant(ctx, "example.com", "ops@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := e.m.DeleteTenant(ctx, e.acme.ID); err != nil {
		t.Fatal(err)
	}
	if w := do(h, "GET", "acme.example.com", e.alice); w.Code != 404 {
		t.Fatalf("deleted tenant: %d, want 404", w.Code)
	}
	if err := e.m.Users().RevokeSession(ctx, e.bob); err != nil {
		t.Fatal(err)
	}
	if w := do(h, "GET", "globex.example.com", e.bob); w.Code != 401 {
		t.Fatalf("revoked session: %d, want 401", w.Code)
	}
}

func mustUser(t *testing.T, m *tenancy.Manager, email string) int64 {
	u, err := m.Users().ByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// failingResolver stands in for a database that is down.
type failingResolver struct{}

func (failingResolver) Resolve(context.Context, string) (*tenancy.Tenant, error) {
	return nil, errors.New(`pq: relation "secret_table" does not exist`)
}

func TestInternalErrorsStayInternal(t *testing.T) {
	e := newEnv(t, middleware.Config{})
	var logs bytes.Buffer
	mw, err := middleware.New(middleware.Config{Tenants: failingResolver{}, Members: e.m, Perms: e.m.Permissions(), Sessions: e.m.Users(),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f := &final{}
	w := do(mw.Tenant(f), "GET", "acme.example.com", "")
	if w.Code != 500 || f.ran || strings.Contains(w.Body.String(), "secret_table") {
		t.Fatalf("status %d ran %v body %q", w.Code, f.ran, w.Body)
	}
	if !strings.Contains(logs.String(), "secret_table") {
		t.Fatal("the error was not logged")
	}
}

func TestCustomHandlers(t *testing.T) {
	e := newEnv(t, middleware.Config{
		NotFound: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no such workspace", 404) }),
		Forbidden: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "ask your admin", 403)
		}),
	})
	if w := do(e.mw.Tenant(&final{}), "GET", "nope.example.com", ""); !strings.Contains(w.Body.String(), "no such workspace") {
		t.Fatalf("NotFound not used: %q", w.Body)
	}
	h := chain(e.mw.Tenant, e.mw.Authenticate, e.mw.RequireMember)(&final{})
	if w := do(h, "GET", "globex.example.com", e.alice); !strings.Contains(w.Body.String(), "ask your admin") {
		t.Fatalf("Forbidden not used: %q", w.Body)
	}
}

func TestLogInAndOutSetTheCookie(t *testing.T) {
	e := newEnv(t, middleware.Config{})
	u, err := e.m.Users().ByEmail(t.Context(), "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "http://acme.example.com/login", nil)
	if err := e.mw.LogIn(w, r, u); err != nil {
		t.Fatal(err)
	}
	c := w.Result().Cookies()[0]
	if c.Name != "tenantkit_session" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Domain != "" || c.Secure || c.Path != "/" {
		t.Fatalf("cookie = %+v", c)
	}
	h := chain(e.mw.Tenant, e.mw.Authenticate, e.mw.RequireMember)(&final{})
	if got := do(h, "GET", "acme.example.com", c.Value); got.Code != 200 {
		t.Fatalf("new session: %d", got.Code)
	}
	w2 := httptest.NewRecorder()
	r2 := httptest.NewRequest("POST", "http://acme.example.com/logout", nil)
	r2.AddCookie(c)
	if err := e.mw.LogOut(w2, r2); err != nil {
		t.Fatal(err)
	}
	if got := do(h, "GET", "acme.example.com", c.Value); got.Code != 401 {
		t.Fatalf("after logout: %d, want 401", got.Code)
	}
	// Logging in again with a session cookie revokes the old session.
	w4 := httptest.NewRecorder()
	r4 := httptest.NewRequest("POST", "http://acme.example.com/login", nil)
	r4.AddCookie(&http.Cookie{Name: "tenantkit_session", Value: e.alice})
	if err := e.mw.LogIn(w4, r4, u); err != nil {
		t.Fatal(err)
	}
	if got := do(h, "GET", "acme.example.com", e.alice); got.Code != 401 {
		t.Fatalf("pre-login session after a new login: %d, want 401", got.Code)
	}
	// Over TLS the cookie is Secure.
	w3 := httptest.NewRecorder()
	r3 := httptest.NewRequest("POST", "https://acme.example.com/login", nil)
	if err := e.mw.LogIn(w3, r3, u); err != nil {
		t.Fatal(err)
	}
	if !w3.Result().Cookies()[0].Secure {
		t.Fatal("cookie over TLS is not Secure")
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := middleware.New(middleware.Config{}); err == nil {
		t.Fatal("New without collaborators succeeded")
	}
}

func TestRequirePermPanicsOnBadCodenameAtSetup(t *testing.T) {
	e := newEnv(t, middleware.Config{})
	defer func() {
		if recover() == nil {
			t.Fatal("RequirePerm(\"Bad Perm\") did not panic at setup")
		}
	}()
	e.mw.RequirePerm("Bad Perm")
}

// TestSharedLoginCookie checks Config.CookieDomain: one login works on
// every tenant's host, and membership is still checked on each.
func TestSharedLoginCookie(t *testing.T) {
	e := newEnv(t, middleware.Config{CookieDomain: "Example.COM."})
	ctx := t.Context()
	alice, err := e.m.Users().ByEmail(ctx, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if err := e.mw.LogIn(w, httptest.NewRequest("POST", "http://acme.example.com/login", nil), alice); err != nil {
		t.Fatal(err)
	}
	c := w.Result().Cookies()[0]
	if c.Domain != "example.com" || !c.HttpOnly {
		t.Fatalf("shared cookie = %+v, want Domain example.com, HttpOnly", c)
	}
	member := chain(e.mw.Tenant, e.mw.Authenticate, e.mw.RequireMember)
	perm := chain(e.mw.Tenant, e.mw.Authenticate, e.mw.RequirePerm("notes.view"))
	tests := []struct {
		name  string
		chain func(http.Handler) http.Handler
		host  string
		want  int
	}{
		{"member of acme", member, "acme.example.com", 200},
		{"not a member of globex", member, "globex.example.com", 403},
		{"superuser of acme has the perm", perm, "acme.example.com", 200},
		{"no perm at globex", perm, "globex.example.com", 403},
	}
	for _, tt := range tests {
		if got := do(tt.chain(&final{}), "GET", tt.host, c.Value); got.Code != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, got.Code, tt.want)
		}
	}
	// Membership is read on every request: after alice joins globex the
	// same cookie works there, and after she leaves it stops at once.
	if err := e.m.AddUser(ctx, e.globex.ID, alice.ID); err != nil {
		t.Fatal(err)
	}
	if got := do(member(&final{}), "GET", "globex.example.com", c.Value); got.Code != 200 {
		t.Fatalf("after joining globex: %d, want 200", got.Code)
	}
	if err := e.m.RemoveUser(ctx, e.globex.ID, alice.ID); err != nil {
		t.Fatal(err)
	}
	if got := do(member(&final{}), "GET", "globex.example.com", c.Value); got.Code != 403 {
		t.Fatalf("after leaving globex: %d, want 403", got.Code)
	}
	// Logging out clears the cookie on the same domain.
	w2 := httptest.NewRecorder()
	r2 := httptest.NewRequest("POST", "http://globex.example.com/logout", nil)
	r2.AddCookie(c)
	if err := e.mw.LogOut(w2, r2); err != nil {
		t.Fatal(err)
	}
	if cleared := w2.Result().Cookies()[0]; cleared.Domain != "example.com" || cleared.MaxAge >= 0 {
		t.Fatalf("logout cookie = %+v", cleared)
	}
	if got := do(member(&final{}), "GET", "acme.example.com", c.Value); got.Code != 401 {
		t.Fatalf("after logout: %d, want 401", got.Code)
	}
}

// TestBadCookieDomain checks that New rejects a cookie domain that is not
// a host name.
func TestBadCookieDomain(t *testing.T) {
	t.Parallel()
	m, _ := testkit.Manager(t)
	for _, d := range []string{"example.com:8080", "bad_host!", "127.0.0.1", "[::1]", strings.Repeat("a", 400)} {
		_, err := middleware.New(middleware.Config{Tenants: m, Members: m, Perms: m.Permissions(), Sessions: m.Users(), CookieDomain: d})
		if err == nil {
			t.Errorf("CookieDomain %q accepted", d)
		}
	}
}

// TestAuthenticateMemoisesPermissions checks that Authenticate gives each
// request a permissions memo: within one request a right is read once
// (a change made behind the Store's back is not seen), and the next
// request reads it afresh.
func TestAuthenticateMemoisesPermissions(t *testing.T) {
	e := newEnv(t, middleware.Config{})
	ctx := tenancy.WithTenant(t.Context(), e.acme)
	bob, err := e.m.Users().ByEmail(ctx, "bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.m.Permissions().Grant(ctx, bob.ID, "notes.view"); err != nil {
		t.Fatal(err)
	}
	var seen []bool
	h := chain(e.mw.Tenant, e.mw.Authenticate)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 2 {
			ok, err := e.m.Permissions().HasPerm(r.Context(), bob.ID, "notes.view")
			if err != nil {
				t.Error(err)
			}
			seen = append(seen, ok)
			// Revoke behind the Store's back: the memo does not know.
			if _, err := e.m.DB().Unwrap().ExecContext(r.Context(), `DELETE FROM `+e.acme.Schema().Qualify("tenantkit_user_permissions")); err != nil {
				t.Error(err)
			}
		}
	}))
	do(h, "GET", "acme.example.com", e.bob)
	do(h, "GET", "acme.example.com", e.bob)
	if want := []bool{true, true, false, false}; !slices.Equal(seen, want) {
		t.Fatalf("HasPerm answers %v, want %v (memo per request)", seen, want)
	}
}

// TestSessionsAreBoundToWhereTheyWereIssued: a session made by LogIn on
// one host logs nobody in on another (the browser would not send the
// cookie there; a tenant running its own custom domain could collect it
// and replay it). With CookieDomain, it is good on the domain and under
// it, and still not on a host outside it.
func TestSessionsAreBoundToWhereTheyWereIssued(t *testing.T) {
	for _, tc := range []struct {
		name   string
		domain string
		want   map[string]int // host -> status for bob, a member of both tenants
	}{
		{"host-only", "", map[string]int{"acme.example.com": 200, "globex.example.com": 401, "shop.test": 401}},
		{"shared domain", "example.com", map[string]int{"acme.example.com": 200, "globex.example.com": 200, "shop.test": 401}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, middleware.Config{CookieDomain: tc.domain})
			ctx := t.Context()
			if _, err := e.m.AddDomain(ctx, e.globex.ID, "shop.test", false); err != nil {
				t.Fatal(err)
			}
			bob, err := e.m.Users().ByEmail(ctx, "bob@example.com")
			if err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			if err := e.mw.LogIn(w, httptest.NewRequest("POST", "http://acme.example.com/login", nil), bob); err != nil {
				t.Fatal(err)
			}
			token := w.Result().Cookies()[0].Value
			h := chain(e.mw.Tenant, e.mw.Authenticate, e.mw.RequireMember)(&final{})
			for host, want := range tc.want {
				if got := do(h, "GET", host, token); got.Code != want {
					t.Errorf("bob's acme session at %s: %d, want %d", host, got.Code, want)
				}
			}
			// Logging out elsewhere does not end it; at acme it does.
			for _, step := range []struct {
				host string
				want int
			}{{"shop.test", 200}, {"acme.example.com", 401}} {
				host, want := step.host, step.want
				r := httptest.NewRequest("POST", "http://"+host+"/logout", nil)
				r.AddCookie(&http.Cookie{Name: "tenantkit_session", Value: token})
				if err := e.mw.LogOut(httptest.NewRecorder(), r); err != nil {
					t.Fatal(err)
				}
				if got := do(h, "GET", "acme.example.com", token); got.Code != want {
					t.Errorf("after a logout at %s: %d, want %d", host, got.Code, want)
				}
			}
		})
	}
}
