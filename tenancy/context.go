package tenancy

import (
	"context"

	"github.com/tenantkit/tenantkit/sqlxschema"
)

type tenantKey struct{}

// WithTenant returns a copy of ctx carrying tenant t, and t's schema for
// sqlxschema and permissions. middleware.Tenant calls it for each request;
// jobs and tools call it themselves. A nil t returns ctx unchanged.
func WithTenant(ctx context.Context, t *Tenant) context.Context {
	if t == nil {
		return ctx
	}
	ctx = context.WithValue(ctx, tenantKey{}, t)
	return sqlxschema.WithSchema(ctx, t.Schema())
}

// TenantFromContext returns the tenant set by WithTenant, if any.
func TenantFromContext(ctx context.Context) (*Tenant, bool) {
	t, ok := ctx.Value(tenantKey{}).(*Tenant)
	return t, ok && t != nil
}
