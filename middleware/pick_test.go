package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/middleware"
	"github.com/tenantkit/tenantkit/tenancy"
)

// seen records what the next handler got.
type seen struct {
	ran    bool
	tenant string
	uri    string // path and query as next sees them
}

func (s *seen) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.ran = true
	if t, ok := tenancy.TenantFromContext(r.Context()); ok {
		s.tenant = t.Slug
	}
	s.uri = r.URL.RequestURI()
	w.WriteHeader(http.StatusOK)
}

type pickReq struct {
	remote  string
	host    string
	target  string
	headers map[string]string
}

func (p pickReq) serve(h http.Handler) *httptest.ResponseRecorder {
	target := p.target
	if target == "" {
		target = "/notes?x=1"
	}
	r := httptest.NewRequest("GET", target, nil)
	r.Host = p.host
	if p.remote != "" {
		r.RemoteAddr = p.remote
	}
	for k, v := range p.headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// reservePending records a tenant in state pending, as ProvisionAsync does.
func reservePending(t *testing.T, m *tenancy.Manager, slug string, owner int64) *tenancy.Tenant {
	t.Helper()
	tx := m.DB().Unwrap().MustBeginTx(t.Context(), nil)
	defer tx.Rollback()
	r, err := m.ReserveTx(t.Context(), tx, "Pending", slug, owner)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return r.Tenant
}

func TestPendingTenantIsBeingPrepared(t *testing.T) {
	e := newEnv(t, middleware.Config{})
	reservePending(t, e.m, "newco", e.acme.OwnerID)
	byPath, err := e.mw.TenantBy(middleware.Pick{PathPrefix: "/t/"})
	if err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]pickReq{
		"host":        {host: "newco.example.com"},
		"path prefix": {host: "example.com", target: "/t/newco/notes"},
	} {
		t.Run(name, func(t *testing.T) {
			next := &seen{}
			h := e.mw.Tenant(next)
			if req.target != "" {
				h = byPath(next)
			}
			w := req.serve(h)
			if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "5" ||
				!strings.Contains(w.Body.String(), "being prepared") || next.ran {
				t.Fatalf("pending tenant: %d Retry-After %q body %q, next ran %v", w.Code, w.Header().Get("Retry-After"), w.Body, next.ran)
			}
		})
	}
}

func TestPendingResponseIsReplaceable(t *testing.T) {
	custom := newEnv(t, middleware.Config{Pending: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	})})
	reservePending(t, custom.m, "newco", custom.acme.OwnerID)
	if w := (pickReq{host: "newco.example.com"}).serve(custom.mw.Tenant(&seen{})); w.Code != http.StatusAccepted {
		t.Fatalf("custom Pending handler not used: %d", w.Code)
	}
}

func TestTenantByPathPrefix(t *testing.T) {
	e := newEnv(t, middleware.Config{})
	mw, err := e.mw.TenantBy(middleware.Pick{PathPrefix: "/t/"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, host, target string
		wantStatus         int
		wantTenant, wantTo string
	}{
		{"prefix stripped, query kept", "example.com", "/t/acme/notes/7?x=1", 200, "acme", "/notes/7?x=1"},
		{"bare tenant path", "example.com", "/t/acme", 200, "acme", "/"},
		{"trailing slash", "example.com", "/t/globex/", 200, "globex", "/"},
		{"prefix wins over host", "acme.example.com", "/t/globex/x", 200, "globex", "/x"},
		{"no prefix: host", "globex.example.com", "/notes", 200, "globex", "/notes"},
		{"unknown slug", "acme.example.com", "/t/nosuch/x", 404, "", ""},
		{"upper case slug", "example.com", "/t/ACME/x", 404, "", ""},
		{"empty slug", "example.com", "/t//x", 404, "", ""},
		{"dot dot", "example.com", "/t/../acme/x", 404, "", ""},
		{"escaped slash in the slug", "example.com", "/t/acme%2Fx/y", 404, "", ""},
		{"escaped slash after the slug kept", "example.com", "/t/acme/a%2Fb?q=%20", 200, "acme", "/a%2Fb?q=%20"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &seen{}
			w := pickReq{host: tt.host, target: tt.target}.serve(mw(next))
			if w.Code != tt.wantStatus || next.ran != (tt.wantStatus == 200) || next.tenant != tt.wantTenant || next.uri != tt.wantTo && next.ran {
				t.Fatalf("%s: status %d, next ran %v with tenant %q uri %q; want %d %q %q",
					tt.target, w.Code, next.ran, next.tenant, next.uri, tt.wantStatus, tt.wantTenant, tt.wantTo)
			}
		})
	}
}

func TestTenantByHeaderOnlyFromTrustedProxies(t *testing.T) {
	e := newEnv(t, middleware.Config{})
	mw, err := e.mw.TenantBy(middleware.Pick{
		Header: "X-Tenant", ForwardedHost: true,
		TrustedProxies: []string{"10.0.0.0/8", "::1/128"},
	})
	if err != nil {
		t.Fatal(err)
	}
	hostOnly, err := e.mw.TenantBy(middleware.Pick{Header: "X-Tenant", TrustedProxies: []string{"10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	xt := func(v string) map[string]string { return map[string]string{"X-Tenant": v} }
	xfh := func(v string) map[string]string { return map[string]string{"X-Forwarded-Host": v} }
	tests := []struct {
		name       string
		mw         func(http.Handler) http.Handler
		req        pickReq
		wantStatus int
		wantTenant string
	}{
		{"trusted header", mw, pickReq{remote: "10.1.2.3:5000", host: "acme.example.com", headers: xt("globex")}, 200, "globex"},
		{"trusted IPv6 peer", mw, pickReq{remote: "[::1]:5000", host: "acme.example.com", headers: xt("globex")}, 200, "globex"},
		{"trusted IPv4-mapped peer", mw, pickReq{remote: "[::ffff:10.0.0.9]:5000", host: "acme.example.com", headers: xt("globex")}, 200, "globex"},
		{"spoofed header from the internet", mw, pickReq{remote: "203.0.113.7:5000", host: "acme.example.com", headers: xt("globex")}, 200, "acme"},
		{"spoofed header from a neighbour", mw, pickReq{remote: "11.0.0.1:5000", host: "acme.example.com", headers: xt("globex")}, 200, "acme"},
		{"garbage peer address", mw, pickReq{remote: "not-an-ip", host: "acme.example.com", headers: xt("globex")}, 200, "acme"},
		{"trusted header, unknown slug", mw, pickReq{remote: "10.1.2.3:5000", host: "acme.example.com", headers: xt("nosuch")}, 404, ""},
		{"trusted forwarded host", mw, pickReq{remote: "10.1.2.3:5000", host: "internal:8080", headers: xfh("globex.example.com")}, 200, "globex"},
		{"forwarded list: nearest proxy's value", mw, pickReq{remote: "10.1.2.3:5000", host: "internal", headers: xfh("acme.example.com, globex.example.com")}, 200, "globex"},
		{"spoofed forwarded host", mw, pickReq{remote: "203.0.113.7:5000", host: "acme.example.com", headers: xfh("globex.example.com")}, 200, "acme"},
		{"trusted forwarded host malformed", mw, pickReq{remote: "10.1.2.3:5000", host: "acme.example.com", headers: xfh("bad_host!")}, 400, ""},
		{"forwarded host not enabled", hostOnly, pickReq{remote: "10.1.2.3:5000", host: "acme.example.com", headers: xfh("globex.example.com")}, 200, "acme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &seen{}
			w := tt.req.serve(tt.mw(next))
			if w.Code != tt.wantStatus || next.ran != (tt.wantStatus == 200) || next.tenant != tt.wantTenant {
				t.Fatalf("status %d, next ran %v, tenant %q; want %d %q", w.Code, next.ran, next.tenant, tt.wantStatus, tt.wantTenant)
			}
		})
	}
}

func TestRedirectToPrimary(t *testing.T) {
	e := newEnv(t, middleware.Config{})
	if _, err := e.m.AddDomain(t.Context(), e.acme.ID, "acme.example.org", false); err != nil {
		t.Fatal(err)
	}
	perm, err := e.mw.TenantBy(middleware.Pick{RedirectToPrimary: http.StatusPermanentRedirect, PathPrefix: "/t/"})
	if err != nil {
		t.Fatal(err)
	}
	moved, err := e.mw.TenantBy(middleware.Pick{RedirectToPrimary: http.StatusMovedPermanently})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		mw         func(http.Handler) http.Handler
		host       string
		target     string
		wantStatus int
		wantLoc    string
	}{
		{"secondary, 308, port path query kept", perm, "ACME.example.org:8443", "/notes/7?x=1&y=2", 308, "http://acme.example.com:8443/notes/7?x=1&y=2"},
		{"secondary, 301", moved, "acme.example.org", "/", 301, "http://acme.example.com/"},
		{"primary passes", perm, "acme.example.com", "/notes", 200, ""},
		{"picked by path: no redirect", perm, "acme.example.org", "/t/acme/notes", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &seen{}
			w := pickReq{host: tt.host, target: tt.target}.serve(tt.mw(next))
			if w.Code != tt.wantStatus || w.Header().Get("Location") != tt.wantLoc || next.ran != (tt.wantStatus == 200) {
				t.Fatalf("status %d Location %q next ran %v; want %d %q", w.Code, w.Header().Get("Location"), next.ran, tt.wantStatus, tt.wantLoc)
			}
		})
	}
}

func TestTenantByRejectsBadPick(t *testing.T) {
	e := newEnv(t, middleware.Config{})
	for name, p := range map[string]middleware.Pick{
		"prefix without slashes":    {PathPrefix: "t"},
		"prefix root":               {PathPrefix: "/"},
		"header without proxies":    {Header: "X-Tenant"},
		"forwarded without proxies": {ForwardedHost: true},
		"proxies alone":             {TrustedProxies: []string{"10.0.0.0/8"}},
		"bad CIDR":                  {Header: "X-Tenant", TrustedProxies: []string{"10.0.0.0/33"}},
		"bad header name":           {Header: "X Tenant", TrustedProxies: []string{"10.0.0.0/8"}},
		"bad redirect code":         {RedirectToPrimary: http.StatusFound},
	} {
		if _, err := e.mw.TenantBy(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestByTypeDispatches(t *testing.T) {
	t.Parallel()
	m, _ := testkit.Manager(t, tenancy.WithTenantType("shop", nil), tenancy.WithTenantType("blog", nil))
	ctx := t.Context()
	if _, _, err := m.CreatePublicTenant(ctx, "example.com", "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	owner, err := m.Users().CreateUser(ctx, "alice@example.com", "pw", true)
	if err != nil {
		t.Fatal(err)
	}
	for slug, typ := range map[string]string{"acme": tenancy.DefaultType, "store": "shop", "diary": "blog"} {
		if _, _, err := m.Provision(ctx, slug, slug, owner.ID, tenancy.WithType(typ)); err != nil {
			t.Fatal(err)
		}
	}
	mw, err := middleware.New(middleware.Config{Tenants: m, Members: m, Perms: m.Permissions(), Sessions: m.Users()})
	if err != nil {
		t.Fatal(err)
	}
	app := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(name)) })
	}
	h, err := mw.ByType(map[string]http.Handler{
		tenancy.PublicType:  app("marketing site"),
		tenancy.DefaultType: app("notes app"),
		"shop":              app("shop app"),
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ host, want string }{
		{"example.com", "marketing site"},
		{"acme.example.com", "notes app"},
		{"store.example.com", "shop app"},
		{"diary.example.com", "tenant not found"}, // a type without a handler
	}
	for _, tt := range tests {
		w := pickReq{host: tt.host}.serve(mw.Tenant(h))
		if got := strings.TrimSpace(w.Body.String()); got != tt.want {
			t.Errorf("%s: %q (%d), want %q", tt.host, got, w.Code, tt.want)
		}
	}
	if w := (pickReq{host: "acme.example.com"}).serve(h); w.Code != http.StatusNotFound {
		t.Errorf("without Tenant middleware: %d", w.Code)
	}
	for name, hs := range map[string]map[string]http.Handler{
		"empty":       {},
		"nil handler": {"shop": nil},
	} {
		if _, err := mw.ByType(hs); err == nil {
			t.Errorf("ByType(%s) accepted", name)
		}
	}
}
