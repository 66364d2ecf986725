package tenancy

import (
	"context"

	"github.com/tenantkit/tenantkit/sqlxschema"
)

// WithTenant returns a copy of ctx carrying tenant t, and t's schema for
// sqlxschema and permissions. middleware.Tenant calls it for each request;
// jobs and tools call it themselves. A nil t returns ctx unchanged.
func WithTenant(ctx context.Context, t *Tenant) context.Context {
	if t == nil {
		return ctx
	}
	// One context value carries the tenant and, for sqlxschema, its schema.
	return sqlxschema.WithScope(ctx, t)
}

// TenantFromContext returns the tenant set by WithTenant, if any.
func TenantFromContext(ctx context.Context) (*Tenant, bool) {
	sc, _ := sqlxschema.ScopeFromContext(ctx)
	t, ok := sc.(*Tenant)
	return t, ok && t != nil
}
