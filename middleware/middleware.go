package middleware

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tenantkit/tenantkit/permissions"
	"github.com/tenantkit/tenantkit/tenancy"
	"github.com/tenantkit/tenantkit/users"
)

// Resolver maps a Host header value to its live tenant. *tenancy.Manager
// implements it. It returns an error matching tenancy.ErrInvalidHost for a
// malformed host and tenancy.ErrTenantNotFound for an unknown one.
type Resolver interface {
	Resolve(ctx context.Context, host string) (*tenancy.Tenant, error)
}

// Members answers whether a user belongs to a tenant. *tenancy.Manager
// implements it.
type Members interface {
	IsMember(ctx context.Context, tenantID, userID int64) (bool, error)
}

// PermChecker answers whether a user holds permissions in the tenant in the
// context. *permissions.Store implements it.
type PermChecker interface {
	HasPerms(ctx context.Context, userID int64, perms ...string) (bool, error)
}

// Sessions maps a session token to its user and starts and ends sessions.
// *users.Store implements it, and ScopedSessions too.
type Sessions interface {
	SessionUser(ctx context.Context, token string) (*users.User, error)
	NewSession(ctx context.Context, userID int64) (string, *users.Session, error)
	RevokeSession(ctx context.Context, token string) error
}

// Config holds what the middleware needs. Tenants, Members, Perms and
// Sessions are required; the rest have defaults.
type Config struct {
	Tenants  Resolver    // host -> tenant
	Members  Members     // membership checks
	Perms    PermChecker // permission checks
	Sessions Sessions    // session cookies

	// CookieName is the session cookie's name. Default "tenantkit_session".
	CookieName string
	// CookieDomain, when set, is the Domain of the session cookie, so one
	// login is shared by every subdomain of it (the base domain, e.g.
	// "example.com" for acme.example.com and globex.example.com).
	// RequireMember and RequirePerm still check the tenant of each request,
	// so a shared cookie never gives access to a tenant the user is not a
	// member of. Default "": the cookie is host-only, and a session made on
	// one tenant's host is not sent to another's.
	CookieDomain string
	// LoginURL, when set, makes RequireMember and RequirePerm redirect
	// anonymous GET and HEAD requests there (with ?next=) instead of
	// answering 401.
	LoginURL string
	// NotFound answers hosts that match no live tenant. Default: 404
	// "tenant not found".
	NotFound http.Handler
	// Pending answers hosts of tenants whose asynchronous provisioning has
	// not finished (tenancy.ErrTenantPending). Default: 503 with
	// Retry-After: 5 and "this site is being prepared".
	Pending http.Handler
	// BadRequest answers malformed hosts. Default: 400 "bad host".
	BadRequest http.Handler
	// Unauthorized answers anonymous requests when LoginURL is empty.
	// Default: 401 "login required".
	Unauthorized http.Handler
	// Forbidden answers users who lack membership or a permission.
	// Default: 403 "forbidden".
	Forbidden http.Handler
	// Error answers internal failures (database down). Default: 500
	// "internal error"; the error itself goes to Logger, never the client.
	Error http.Handler
	// Logger receives internal errors. Default slog.Default().
	Logger *slog.Logger
}

// Middleware is the request path: Tenant, Authenticate, RequireMember,
// RequirePerm. Build it once with New; it is safe for concurrent use.
type Middleware struct {
	cfg Config
}

func text(code int, msg string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, msg, code)
	})
}

// New validates cfg and fills its defaults.
func New(cfg Config) (*Middleware, error) {
	if cfg.Tenants == nil || cfg.Members == nil || cfg.Perms == nil || cfg.Sessions == nil {
		return nil, errors.New("middleware: New: Tenants, Members, Perms and Sessions are required")
	}
	if cfg.LoginURL != "" {
		if _, err := url.Parse(cfg.LoginURL); err != nil {
			return nil, errors.New("middleware: New: bad LoginURL")
		}
	}
	if cfg.CookieName == "" {
		cfg.CookieName = "tenantkit_session"
	}
	if cfg.CookieDomain != "" {
		d, err := tenancy.NormalizeHost(cfg.CookieDomain)
		if err != nil || strings.ContainsAny(cfg.CookieDomain, ":[") || net.ParseIP(d) != nil {
			return nil, errors.New("middleware: New: bad CookieDomain")
		}
		cfg.CookieDomain = d
	}
	if cfg.NotFound == nil {
		cfg.NotFound = text(http.StatusNotFound, "tenant not found")
	}
	if cfg.Pending == nil {
		cfg.Pending = pendingHandler()
	}
	if cfg.BadRequest == nil {
		cfg.BadRequest = text(http.StatusBadRequest, "bad host")
	}
	if cfg.Unauthorized == nil {
		cfg.Unauthorized = text(http.StatusUnauthorized, "login required")
	}
	if cfg.Forbidden == nil {
		cfg.Forbidden = text(http.StatusForbidden, "forbidden")
	}
	if cfg.Error == nil {
		cfg.Error = text(http.StatusInternalServerError, "internal error")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Middleware{cfg: cfg}, nil
}

func (m *Middleware) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	m.cfg.Logger.ErrorContext(r.Context(), "tenantkit: "+what, "err", err, "host", r.Host, "path", r.URL.Path)
	m.cfg.Error.ServeHTTP(w, r)
}

// Tenant resolves the request's Host to its tenant and puts it in the
// context (tenancy.WithTenant, so sqlxschema and permissions see its
// schema). A malformed Host gets BadRequest, an unknown, inactive or
// deleted tenant NotFound, a pending one (ProvisionAsync) Pending; none
// reaches next. TenantBy picks the tenant in other ways too.
func (m *Middleware) Tenant(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, err := m.cfg.Tenants.Resolve(r.Context(), r.Host)
		switch {
		case errors.Is(err, tenancy.ErrInvalidHost):
			m.cfg.BadRequest.ServeHTTP(w, r)
		case errors.Is(err, tenancy.ErrTenantNotFound):
			m.cfg.NotFound.ServeHTTP(w, r)
		case errors.Is(err, tenancy.ErrTenantPending):
			m.cfg.Pending.ServeHTTP(w, r)
		case err != nil:
			m.fail(w, r, "resolve tenant", err)
		default:
			next.ServeHTTP(w, r.WithContext(tenancy.WithTenant(r.Context(), t)))
		}
	})
}

// Authenticate reads the session cookie and, for a live session of an
// active user, puts the user in the context (users.WithUser). A request
// without a valid session goes on anonymous; it never fails for that.
// It also gives the request a permissions memo
// (permissions.WithRequestCache), so repeated permission checks within the
// request repeat no query.
func (m *Middleware) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(permissions.WithRequestCache(r.Context()))
		c, err := r.Cookie(m.cfg.CookieName)
		if err != nil || c.Value == "" {
			next.ServeHTTP(w, r)
			return
		}
		var u *users.User
		if ss, ok := m.cfg.Sessions.(ScopedSessions); ok {
			u, err = ss.ScopedSessionUser(r.Context(), c.Value, m.scope(r))
		} else {
			u, err = m.cfg.Sessions.SessionUser(r.Context(), c.Value)
		}
		if errors.Is(err, users.ErrSessionNotFound) {
			next.ServeHTTP(w, r)
			return
		}
		if err != nil {
			m.fail(w, r, "session lookup", err)
			return
		}
		next.ServeHTTP(w, r.WithContext(users.WithUser(r.Context(), u)))
	})
}

// anonymous answers a request without a user: a redirect to LoginURL for
// GET and HEAD when configured, else Unauthorized.
func (m *Middleware) anonymous(w http.ResponseWriter, r *http.Request) {
	if m.cfg.LoginURL != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		http.Redirect(w, r, m.cfg.LoginURL+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	m.cfg.Unauthorized.ServeHTTP(w, r)
}

// RequireMember lets through only an authenticated member of the tenant in
// the context. Anonymous requests get a redirect or Unauthorized (see
// Config.LoginURL), non-members Forbidden. Mount it after Tenant and
// Authenticate; without a tenant in the context it answers NotFound.
func (m *Middleware) RequireMember(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, u, ok := m.tenantAndUser(w, r)
		if !ok {
			return
		}
		member, err := m.cfg.Members.IsMember(r.Context(), t.ID, u.ID)
		if err != nil {
			m.fail(w, r, "membership check", err)
			return
		}
		if !member {
			m.cfg.Forbidden.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RequirePerm returns middleware that lets through only an authenticated
// user who holds every one of perms in the tenant in the context (a
// member's superuser flag grants all). Others get a redirect, Unauthorized
// or Forbidden as for RequireMember. It panics if a codename is not of
// the form "app.action": that is a programming error at setup.
func (m *Middleware) RequirePerm(perms ...string) func(http.Handler) http.Handler {
	for _, p := range perms {
		if !validCodename(p) {
			panic("middleware: RequirePerm: invalid permission codename " + p)
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, u, ok := m.tenantAndUser(w, r)
			if !ok {
				return
			}
			has, err := m.cfg.Perms.HasPerms(r.Context(), u.ID, perms...)
			if err != nil {
				m.fail(w, r, "permission check", err)
				return
			}
			if !has {
				m.cfg.Forbidden.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func (m *Middleware) tenantAndUser(w http.ResponseWriter, r *http.Request) (*tenancy.Tenant, *users.User, bool) {
	t, ok := tenancy.TenantFromContext(r.Context())
	if !ok {
		m.cfg.NotFound.ServeHTTP(w, r)
		return nil, nil, false
	}
	u, ok := users.UserFromContext(r.Context())
	if !ok {
		m.anonymous(w, r)
		return nil, nil, false
	}
	return t, u, true
}

// LogIn starts a session for u and sets the session cookie: HttpOnly,
// SameSite=Lax, Secure when the request came over TLS, host-only (sent
// back only to the host that set it) unless Config.CookieDomain is set,
// lasting as long as the session. A
// session the request already carried is revoked, so a token planted
// before login (session fixation) is worth nothing after it.
func (m *Middleware) LogIn(w http.ResponseWriter, r *http.Request, u *users.User) error {
	if c, err := r.Cookie(m.cfg.CookieName); err == nil && c.Value != "" {
		if err := m.revoke(r, c.Value); err != nil {
			return err
		}
	}
	var token string
	var s *users.Session
	var err error
	if ss, ok := m.cfg.Sessions.(ScopedSessions); ok {
		token, s, err = ss.NewScopedSession(r.Context(), u.ID, m.scope(r))
	} else {
		token, s, err = m.cfg.Sessions.NewSession(r.Context(), u.ID)
	}
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     m.cfg.CookieName,
		Value:    token,
		Path:     "/",
		Domain:   m.cfg.CookieDomain,
		Expires:  s.ExpiresAt,
		MaxAge:   int(time.Until(s.ExpiresAt).Seconds()),
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// LogOut revokes the request's session, if any, and clears the cookie.
func (m *Middleware) LogOut(w http.ResponseWriter, r *http.Request) error {
	var err error
	if c, cerr := r.Cookie(m.cfg.CookieName); cerr == nil && c.Value != "" {
		err = m.revoke(r, c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: m.cfg.CookieName, Value: "", Path: "/", Domain: m.cfg.CookieDomain, MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	return err
}

// ScopedSessions is Sessions whose tokens are bound to where they were
// issued. *users.Store implements it. When Config.Sessions implements it,
// LogIn binds each session to the request's host (or to CookieDomain,
// when the host is that domain or under it), and Authenticate accepts a
// token only where it was issued: the cookie is host-only in the browser,
// and now on the server too, so a token collected on one tenant's host
// (a custom domain whose owner runs the server behind it, say) logs nobody
// in on another's.
type ScopedSessions interface {
	NewScopedSession(ctx context.Context, userID int64, scope string) (string, *users.Session, error)
	ScopedSessionUser(ctx context.Context, token, scope string) (*users.User, error)
	RevokeScopedSession(ctx context.Context, token, scope string) error
}

// scope is where a session of r is good: CookieDomain for a host that is
// it or under it, else the host.
func (m *Middleware) scope(r *http.Request) string {
	host, err := tenancy.NormalizeHost(r.Host)
	if err != nil {
		host = r.Host
	}
	if d := m.cfg.CookieDomain; d != "" && (host == d || strings.HasSuffix(host, "."+d)) {
		return "domain:" + d
	}
	return "host:" + host
}

// revoke ends the session of token presented on r.
func (m *Middleware) revoke(r *http.Request, token string) error {
	if ss, ok := m.cfg.Sessions.(ScopedSessions); ok {
		return ss.RevokeScopedSession(r.Context(), token, m.scope(r))
	}
	return m.cfg.Sessions.RevokeSession(r.Context(), token)
}

func validCodename(p string) bool {
	dot := false
	if p == "" || p[0] == '.' || p[len(p)-1] == '.' {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '.':
			if dot {
				return false
			}
			dot = true
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		default:
			return false
		}
	}
	return dot
}
