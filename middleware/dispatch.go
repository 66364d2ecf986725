package middleware

import (
	"fmt"
	"net/http"

	"github.com/tenantkit/tenantkit/tenancy"
)

// ByType returns a handler that sends each request to the handler of its
// tenant's type (tenancy.Tenant.Type; the public tenant's type is
// tenancy.PublicType), so each type of tenant can have its own
// application. Mount it after Tenant or TenantBy. A request whose tenant's
// type has no handler, or with no tenant in its context, gets NotFound. It
// returns an error for an empty map or a nil handler.
func (m *Middleware) ByType(handlers map[string]http.Handler) (http.Handler, error) {
	if len(handlers) == 0 {
		return nil, fmt.Errorf("middleware: ByType: no handlers")
	}
	hs := make(map[string]http.Handler, len(handlers))
	for typ, h := range handlers {
		if h == nil {
			return nil, fmt.Errorf("middleware: ByType: nil handler for type %q", typ)
		}
		hs[typ] = h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, ok := tenancy.TenantFromContext(r.Context())
		if !ok {
			m.cfg.NotFound.ServeHTTP(w, r)
			return
		}
		h, ok := hs[t.Type]
		if !ok {
			m.cfg.NotFound.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	}), nil
}
