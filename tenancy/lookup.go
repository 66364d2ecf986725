package tenancy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Resolve returns the live tenant that host (a Host header value) belongs
// to. It returns ErrInvalidHost for a malformed host and ErrTenantNotFound
// when no live domain of a live tenant matches.
//
// Answers come from an in-memory cache when they can (see WithResolveCache):
// a hit costs no database round trip and no allocation. Concurrent misses
// for one host share one query. The cache forgets a tenant at once when
// this Manager changes it, and within moments when anyone else does if
// Watch runs; otherwise the TTL bounds how stale an answer can be.
func (m *Manager) Resolve(ctx context.Context, host string) (*Tenant, error) {
	h, ok := fastHost(host)
	if !ok {
		var err error
		if h, err = NormalizeHost(host); err != nil {
			return nil, fmt.Errorf("tenancy: resolve: %w", err)
		}
	}
	if m.cache == nil {
		return m.lookupHost(ctx, h)
	}
	if t, found := m.cache.get(h); found {
		if t == nil {
			return nil, errNotFoundCached
		}
		return t, nil
	}
	v, err, _ := m.lookups.Do(h, func() (any, error) {
		gen := m.cache.gen.Load()
		// Not the first caller's cancellation: others wait on this query.
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		t, err := m.lookupHost(qctx, h)
		if err == nil || errors.Is(err, ErrTenantNotFound) {
			m.cache.put(h, t, gen)
		}
		return t, err
	})
	if err != nil {
		return nil, err
	}
	return v.(*Tenant), nil
}

var errNotFoundCached = fmt.Errorf("tenancy: resolve: %w", ErrTenantNotFound)

// lookupHost reads the live tenant of a normalised host from the database.
// A pending tenant (ProvisionAsync) is not live: it returns a
// *PendingError, which Resolve does not cache.
func (m *Manager) lookupHost(ctx context.Context, h string) (*Tenant, error) {
	var t Tenant
	err := m.db.GetContext(ctx, &t, `SELECT `+tenantColumnsT+`, `+m.primaryDomainCol()+` FROM `+m.t.Domains+` d JOIN `+m.t.Tenants+` t ON t.id = d.tenant_id
		WHERE d.domain = $1 AND d.deleted_at IS NULL AND t.deleted_at IS NULL AND t.is_active`, h)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("tenancy: resolve %q: %w", h, ErrTenantNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("tenancy: resolve %q: %w", h, err)
	}
	if t.State == StatePending {
		return nil, fmt.Errorf("tenancy: resolve %q: %w", h, &PendingError{Tenant: t.init()})
	}
	return t.init(), nil
}

// primaryDomainCol selects the live primary domain of the tenant aliased t.
func (m *Manager) primaryDomainCol() string {
	return `coalesce((SELECT p.domain FROM ` + m.t.Domains + ` p WHERE p.tenant_id = t.id AND p.is_primary AND p.deleted_at IS NULL), '') AS primary_domain`
}

// ResolveSlug returns the live tenant with slug, for resolution by path
// prefix or header. Like Resolve, it returns ErrTenantNotFound for an
// unknown, inactive or deleted tenant (or a malformed slug) and a
// *PendingError (errors.Is ErrTenantPending) for a pending one. It does not
// use Resolve's cache.
func (m *Manager) ResolveSlug(ctx context.Context, slug string) (*Tenant, error) {
	if ValidateSlug(slug) != nil {
		return nil, fmt.Errorf("tenancy: resolve slug: %w", ErrTenantNotFound)
	}
	t, err := m.getWhere(ctx, `slug = $1 AND deleted_at IS NULL AND is_active`, slug)
	if err != nil {
		return nil, err
	}
	if t.State == StatePending {
		return nil, fmt.Errorf("tenancy: resolve slug %q: %w", slug, &PendingError{Tenant: t})
	}
	return t, nil
}

// Get returns the tenant with id, live or deleted, or ErrTenantNotFound.
func (m *Manager) Get(ctx context.Context, id int64) (*Tenant, error) {
	return m.getWhere(ctx, `id = $1`, id)
}

// BySlug returns the live tenant with slug, or ErrTenantNotFound.
func (m *Manager) BySlug(ctx context.Context, slug string) (*Tenant, error) {
	return m.getWhere(ctx, `slug = $1 AND deleted_at IS NULL`, slug)
}

// PublicTenant returns the public tenant, or ErrNoPublicTenant.
func (m *Manager) PublicTenant(ctx context.Context) (*Tenant, error) {
	t, err := m.getWhere(ctx, `type = $1`, PublicType)
	if errors.Is(err, ErrTenantNotFound) {
		return nil, fmt.Errorf("tenancy: %w", ErrNoPublicTenant)
	}
	return t, err
}

func (m *Manager) getWhere(ctx context.Context, where string, arg any) (*Tenant, error) {
	var t Tenant
	err := m.db.GetContext(ctx, &t, `SELECT `+tenantColumnsT+`, `+m.primaryDomainCol()+` FROM `+m.t.Tenants+` t WHERE `+where, arg)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("tenancy: tenant %v: %w", arg, ErrTenantNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("tenancy: tenant %v: %w", arg, err)
	}
	return t.init(), nil
}

// List returns every tenant, deleted ones included, by id.
func (m *Manager) List(ctx context.Context) ([]Tenant, error) {
	var out []Tenant
	if err := m.db.SelectContext(ctx, &out, `SELECT `+tenantColumns+` FROM `+m.t.Tenants+` ORDER BY id`); err != nil {
		return nil, fmt.Errorf("tenancy: list tenants: %w", err)
	}
	for i := range out {
		out[i].init()
	}
	return out, nil
}

// Domains lists a tenant's live domains, the primary first.
func (m *Manager) Domains(ctx context.Context, tenantID int64) ([]Domain, error) {
	var out []Domain
	err := m.db.SelectContext(ctx, &out, `SELECT `+domainColumns+` FROM `+m.t.Domains+`
		WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY is_primary DESC, domain`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("tenancy: domains of %d: %w", tenantID, err)
	}
	return out, nil
}
