package permissions

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/lib/pq"

	"github.com/tenantkit/tenantkit/sqlxschema"
)

// rights is everything the checks need to know about one user in one
// tenant, loaded in one query.
type rights struct {
	member     bool     // an active member of the tenant
	superuser  bool     // the tenant's superuser flag
	staff      bool     // the tenant's staff flag
	direct     []string // granted directly, sorted
	viaGroups  []string // held through groups, sorted
	registered []string // every registered permission, sorted; loaded for superusers only
}

// has reports whether r holds perm (not counting the superuser flag).
func (r *rights) has(perm string) bool {
	_, d := slices.BinarySearch(r.direct, perm)
	_, g := slices.BinarySearch(r.viaGroups, perm)
	return d || g
}

// all is the union of direct and group permissions, sorted.
func (r *rights) all() []string {
	out := append(slices.Clone(r.direct), r.viaGroups...)
	slices.Sort(out)
	return slices.Compact(out)
}

// requestCache memoises rights for the life of one context (one request):
// repeated checks in a request cost one query per (tenant, user). It is
// keyed by the tenant's schema, which is where the rights live, and the
// user, so rights read in one tenant are never answered in another.
type requestCache struct {
	mu sync.Mutex
	m  map[cacheKey]*rights
}

type cacheKey struct {
	schema string
	userID int64
}

type cacheCtxKey struct{}

// WithRequestCache returns a copy of ctx in which the Store's checks
// (HasPerm, HasPerms, HasModulePerms, AllPermissions, GroupPermissions,
// UserPermissions) remember what they read, per tenant and user, so that
// repeated checks within one request cost one query. The memo lives and
// dies with ctx: build one per request (middleware.Authenticate does) and
// never keep it in a longer-lived context, or a revoked right would be
// seen late. Every write through the Store with such a context forgets
// what the memo holds for that tenant. Calling it on a context that
// already has a memo returns ctx unchanged.
func WithRequestCache(ctx context.Context) context.Context {
	if _, ok := ctx.Value(cacheCtxKey{}).(*requestCache); ok {
		return ctx
	}
	return context.WithValue(ctx, cacheCtxKey{}, &requestCache{m: map[cacheKey]*rights{}})
}

// forget drops what the context's memo holds for schema sch.
func forget(ctx context.Context, sch sqlxschema.Schema) {
	c, ok := ctx.Value(cacheCtxKey{}).(*requestCache)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if k.schema == sch.String() {
			delete(c.m, k)
		}
	}
}

// rightsOf returns the user's rights in the tenant in ctx, from the
// request's memo when it has them.
func (s *Store) rightsOf(ctx context.Context, userID int64) (*rights, error) {
	sch, err := schemaOf(ctx)
	if err != nil {
		return nil, err
	}
	c, cached := ctx.Value(cacheCtxKey{}).(*requestCache)
	key := cacheKey{sch.String(), userID}
	if cached {
		c.mu.Lock()
		r, ok := c.m[key]
		c.mu.Unlock()
		if ok {
			return r, nil
		}
	}
	r, err := s.loadRights(ctx, sch, userID)
	if err != nil {
		return nil, err
	}
	if cached {
		c.mu.Lock()
		c.m[key] = r
		c.mu.Unlock()
	}
	return r, nil
}

// loadRights reads a user's rights in schema sch in one query. A user who
// is not a member, or is inactive or deleted, has none.
func (s *Store) loadRights(ctx context.Context, sch sqlxschema.Schema, userID int64) (*rights, error) {
	q := func(name string) string { return sch.Qualify(name) }
	rows, err := s.raw.QueryContext(ctx, `SELECT utp.is_superuser, utp.is_staff,
			array(SELECT p.codename FROM `+q("tenantkit_permissions")+` p
				JOIN `+q("tenantkit_user_permissions")+` up ON up.permission_id = p.id
				WHERE up.user_id = $1) AS direct,
			array(SELECT DISTINCT p.codename FROM `+q("tenantkit_permissions")+` p
				JOIN `+q("tenantkit_group_permissions")+` gp ON gp.permission_id = p.id
				JOIN `+q("tenantkit_user_groups")+` ug ON ug.group_id = gp.group_id
				WHERE ug.user_id = $1) AS via_groups,
			CASE WHEN utp.is_superuser THEN array(SELECT codename FROM `+q("tenantkit_permissions")+`)
				ELSE '{}'::text[] END AS registered
		FROM `+q("tenantkit_user_tenant_permissions")+` utp
		JOIN `+s.t.Users+` u ON u.id = utp.user_id AND u.is_active AND u.deleted_at IS NULL
		WHERE utp.user_id = $1`, userID)
	if err != nil {
		return nil, fmt.Errorf("permissions: rights of user %d: %w", userID, err)
	}
	defer rows.Close()
	r := &rights{}
	if rows.Next() {
		r.member = true
		var direct, groups, registered pq.StringArray
		if err := rows.Scan(&r.superuser, &r.staff, &direct, &groups, &registered); err != nil {
			return nil, fmt.Errorf("permissions: rights of user %d: %w", userID, err)
		}
		r.direct, r.viaGroups, r.registered = direct, groups, registered
		// Sorted here, in byte order, for BinarySearch (the database's
		// collation may order differently).
		slices.Sort(r.direct)
		slices.Sort(r.viaGroups)
		slices.Sort(r.registered)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("permissions: rights of user %d: %w", userID, err)
	}
	return r, nil
}

// validApp reports whether app is an app label: lower-case letters,
// digits and underscores.
func validApp(app string) bool {
	if app == "" || len(app) > 100 {
		return false
	}
	return strings.Trim(app, "abcdefghijklmnopqrstuvwxyz0123456789_") == ""
}
