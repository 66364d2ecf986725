package middleware

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/tenantkit/tenantkit/tenancy"
)

// SlugResolver maps a tenant's slug to the live tenant, for picking the
// tenant by path prefix or header. *tenancy.Manager implements it; it
// returns errors matching tenancy.ErrTenantNotFound and
// tenancy.ErrTenantPending as Resolver does.
type SlugResolver interface {
	ResolveSlug(ctx context.Context, slug string) (*tenancy.Tenant, error)
}

// Pick says how TenantBy picks a request's tenant besides the Host. The
// zero Pick is Tenant: the Host alone.
type Pick struct {
	// PathPrefix, such as "/t/", picks the tenant from the path segment
	// after it (/t/acme/notes -> acme) and strips "/t/acme" before next
	// runs (next sees /notes). A path without the prefix falls back to the
	// Host. It must start and end with "/".
	PathPrefix string
	// Header, such as "X-Tenant", names a header whose value is a tenant
	// slug (for internal services). It is honoured only from a peer in
	// TrustedProxies and otherwise ignored.
	Header string
	// ForwardedHost honours X-Forwarded-Host (its last value, the one the
	// nearest proxy set) in place of the Host, only from a peer in
	// TrustedProxies.
	ForwardedHost bool
	// TrustedProxies are the CIDRs ("10.0.0.0/8", "::1/128") of the direct
	// peers (r.RemoteAddr) whose Header and X-Forwarded-Host are believed.
	// Required with Header or ForwardedHost.
	TrustedProxies []string
	// RedirectToPrimary, when set, answers a request that came by a
	// tenant's secondary domain with a redirect to its primary domain, same
	// path and query: http.StatusPermanentRedirect (308: method and body
	// kept) or http.StatusMovedPermanently (301). Default 0: no redirect.
	// Requests picked by path or header are never redirected.
	RedirectToPrimary int
}

// pickBy records which source named the tenant.
type pickBy int

const (
	byHost pickBy = iota
	byPath
	byHeader
)

// TenantBy returns middleware like Tenant that also picks the tenant as p
// says. Order: Header (trusted peer only), then PathPrefix, then
// X-Forwarded-Host (trusted peer only, when ForwardedHost), then the Host.
// A named tenant that does not exist gets NotFound; there is no falling
// through to another source. It returns an error for a bad Pick, or when a
// slug source is set and Config.Tenants does not implement SlugResolver.
func (m *Middleware) TenantBy(p Pick) (func(http.Handler) http.Handler, error) {
	var slugs SlugResolver
	if p.PathPrefix != "" || p.Header != "" {
		var ok bool
		if slugs, ok = m.cfg.Tenants.(SlugResolver); !ok {
			return nil, errors.New("middleware: TenantBy: Config.Tenants does not implement SlugResolver")
		}
	}
	if p.PathPrefix != "" && (len(p.PathPrefix) < 3 || p.PathPrefix[0] != '/' || p.PathPrefix[len(p.PathPrefix)-1] != '/') {
		return nil, fmt.Errorf("middleware: TenantBy: PathPrefix %q must look like \"/t/\"", p.PathPrefix)
	}
	header := http.CanonicalHeaderKey(p.Header)
	if header != "" && !validHeaderName(header) {
		return nil, fmt.Errorf("middleware: TenantBy: bad Header %q", p.Header)
	}
	if (header != "" || p.ForwardedHost) != (len(p.TrustedProxies) > 0) {
		return nil, errors.New("middleware: TenantBy: Header and ForwardedHost need TrustedProxies, and TrustedProxies needs one of them")
	}
	trusted := make([]netip.Prefix, 0, len(p.TrustedProxies))
	for _, c := range p.TrustedProxies {
		pfx, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("middleware: TenantBy: TrustedProxies: %w", err)
		}
		trusted = append(trusted, pfx.Masked())
	}
	switch p.RedirectToPrimary {
	case 0, http.StatusMovedPermanently, http.StatusPermanentRedirect:
	default:
		return nil, fmt.Errorf("middleware: TenantBy: RedirectToPrimary %d: use 301 or 308", p.RedirectToPrimary)
	}
	isTrusted := func(r *http.Request) bool {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		a, err := netip.ParseAddr(host)
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, pfx := range trusted {
			if pfx.Contains(a) {
				return true
			}
		}
		return false
	}

	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var (
				t   *tenancy.Tenant
				err error
				by  = byHost
			)
			trust := len(trusted) > 0 && isTrusted(r)
			host := r.Host
			switch {
			case header != "" && trust && r.Header.Get(header) != "":
				by = byHeader
				t, err = slugs.ResolveSlug(r.Context(), strings.TrimSpace(r.Header.Get(header)))
			case p.PathPrefix != "" && strings.HasPrefix(r.URL.EscapedPath(), p.PathPrefix):
				// Segments of the escaped path: "%2F" is not a separator.
				by = byPath
				rest := r.URL.EscapedPath()[len(p.PathPrefix):]
				slug, _, _ := strings.Cut(rest, "/")
				if t, err = slugs.ResolveSlug(r.Context(), slug); err == nil {
					r = stripPrefix(r, p.PathPrefix+slug)
				}
			default:
				if p.ForwardedHost && trust {
					if v := r.Header.Values("X-Forwarded-Host"); len(v) > 0 {
						list := strings.Split(v[len(v)-1], ",")
						host = strings.TrimSpace(list[len(list)-1])
					}
				}
				t, err = m.cfg.Tenants.Resolve(r.Context(), host)
			}
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
				if by == byHost && p.RedirectToPrimary != 0 && redirectPrimary(w, r, t, host, p.RedirectToPrimary) {
					return
				}
				next.ServeHTTP(w, r.WithContext(tenancy.WithTenant(r.Context(), t)))
			}
		})
	}, nil
}

// redirectPrimary redirects to t's primary domain when host is another of
// its domains, keeping the port, path and query. It reports whether it
// answered.
func redirectPrimary(w http.ResponseWriter, r *http.Request, t *tenancy.Tenant, host string, code int) bool {
	h, err := tenancy.NormalizeHost(host)
	if err != nil || t.PrimaryDomain == "" || h == t.PrimaryDomain {
		return false
	}
	target := t.PrimaryDomain
	if _, port, err := net.SplitHostPort(host); err == nil && port != "" {
		target = net.JoinHostPort(target, port)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	w.Header().Set("Location", scheme+"://"+target+r.URL.RequestURI())
	w.WriteHeader(code)
	return true
}

// stripPrefix returns r with prefix (an escaped path prefix) taken off its
// path ("" becomes "/").
func stripPrefix(r *http.Request, prefix string) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	esc := strings.TrimPrefix(r.URL.EscapedPath(), prefix)
	if esc == "" || esc[0] != '/' {
		esc = "/" + esc
	}
	path, err := url.PathUnescape(esc)
	if err != nil { // EscapedPath is always valid; keep the decoded form
		path = esc
	}
	u.Path, u.RawPath = path, ""
	if u.EscapedPath() != esc {
		u.RawPath = esc
	}
	r2.URL = &u
	return r2
}

func validHeaderName(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// pendingHandler is the default Config.Pending.
func pendingHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "this site is being prepared, try again in a moment", http.StatusServiceUnavailable)
	})
}
