package tenanttest

import (
	"context"
	"errors"
	"time"

	"github.com/tenantkit/tenantkit/tenancy"
	"github.com/tenantkit/tenantkit/users"
)

// Tenant is a throwaway tenant made by NewTenant: the tenant itself
// (embedded, so tt.ID, tt.Slug and tt.Schema() work), its primary domain
// and its owner.
type Tenant struct {
	*tenancy.Tenant
	// Domain is the tenant's primary domain, slug.<base domain>; its name
	// is also in Tenant.PrimaryDomain.
	Domain *tenancy.Domain
	// Owner is the tenant's owner: a fresh user (see NewUser) unless
	// WithOwner gave one.
	Owner *users.User

	mgr *tenancy.Manager
}

// Option configures NewTenant.
type Option func(*config) error

type config struct {
	name, slug string
	owner      *users.User
	provision  []tenancy.ProvisionOption
	members    []member
}

type member struct {
	user *users.User
	opts []tenancy.MemberOption
}

// WithType provisions a tenant of a registered type (tenancy.WithType).
// Default: the default type.
func WithType(typ string) Option {
	return WithProvisionOptions(tenancy.WithType(typ))
}

// WithOwnerFlags sets the owner's flags in the tenant
// (tenancy.WithOwnerFlags). Default: superuser, not staff.
func WithOwnerFlags(superuser, staff bool) Option {
	return WithProvisionOptions(tenancy.WithOwnerFlags(superuser, staff))
}

// WithProvisionOptions passes options on to tenancy.Manager.Provision
// (WithSchemaName, WithTenantData, WithDomainData, ...), after those that
// WithType and WithOwnerFlags add.
func WithProvisionOptions(opts ...tenancy.ProvisionOption) Option {
	return func(c *config) error {
		c.provision = append(c.provision, opts...)
		return nil
	}
}

// WithOwner makes an existing active user the owner, instead of a fresh
// one: for example one made with a password, for a test that logs in
// through your login handler. Cleanup leaves the user alone.
func WithOwner(u *users.User) Option {
	return func(c *config) error {
		if u == nil {
			return errors.New("WithOwner: nil user")
		}
		c.owner = u
		return nil
	}
}

// WithMember adds an existing active user to the tenant, with opts
// (tenancy.AsSuperuser, tenancy.AsStaff). Tenant.AddMember adds a fresh
// user instead.
func WithMember(u *users.User, opts ...tenancy.MemberOption) Option {
	return func(c *config) error {
		if u == nil {
			return errors.New("WithMember: nil user")
		}
		c.members = append(c.members, member{u, opts})
		return nil
	}
}

// WithSlug gives the tenant a fixed slug, so its domain is
// slug.<base domain>. Default: a unique slug made from the test's name
// and a random suffix. A fixed slug can collide with another test's live
// tenant on the same database (tenancy.ErrSlugExists fails the test).
func WithSlug(slug string) Option {
	return func(c *config) error { c.slug = slug; return nil }
}

// WithName gives the tenant's name. Default: the test's name.
func WithName(name string) Option {
	return func(c *config) error { c.name = name; return nil }
}

// NewTenant provisions a tenant for the test on mgr, with
// tenancy.Manager.Provision as in production: its schema, the migrations
// of its type, its primary domain and its owner's membership. Without
// options the slug is unique (parallel tests each get their own tenant),
// the owner is a fresh user, and the owner is the tenant's superuser.
//
// At cleanup the tenant goes for good: DeleteTenant, then PurgeTenant,
// which drops its schema, so schemas do not pile up in a database that
// many tests share. A tenant the test deleted or purged itself is fine.
// Your tenancy.Hooks run, as for any deletion.
//
// mgr must be migrated and have its public tenant
// (tenancy.Manager.CreatePublicTenant), because DeleteTenant hands a
// deleted tenant to the public tenant's owner; without one NewTenant
// fails the test, saying so. Any other failure fails the test too.
func NewTenant(t TB, mgr *tenancy.Manager, opts ...Option) *Tenant {
	t.Helper()
	var cfg config
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			t.Fatalf("tenanttest: NewTenant: %v", err)
			return nil
		}
	}
	ctx := t.Context()
	if _, err := mgr.PublicTenant(ctx); err != nil {
		if errors.Is(err, tenancy.ErrNoPublicTenant) {
			t.Fatalf("tenanttest: NewTenant: the manager has no public tenant, which cleanup needs (DeleteTenant hands deleted tenants to its owner): call mgr.CreatePublicTenant once after mgr.Migrate")
			return nil
		}
		t.Fatalf("tenanttest: NewTenant: %v", err)
		return nil
	}
	owner := cfg.owner
	if owner == nil {
		if owner = NewUser(t, mgr); owner == nil {
			return nil
		}
	}
	slug := cfg.slug
	if slug == "" {
		slug = label(t.Name(), '-', 40) + "-" + randomSuffix()
	}
	name := cfg.name
	if name == "" {
		name = t.Name()
	}
	ten, dom, err := mgr.Provision(ctx, name, slug, owner.ID, cfg.provision...)
	if err != nil {
		t.Fatalf("tenanttest: NewTenant: %v", err)
		return nil
	}
	t.Cleanup(func() { purge(t, mgr, ten) })
	for _, m := range cfg.members {
		if err := mgr.AddUser(ctx, ten.ID, m.user.ID, m.opts...); err != nil {
			t.Fatalf("tenanttest: NewTenant: %v", err)
			return nil
		}
	}
	return &Tenant{Tenant: ten, Domain: dom, Owner: owner, mgr: mgr}
}

// purge deletes the tenant softly, then purges it. Either step may find
// that the test did it already.
func purge(t TB, mgr *tenancy.Manager, ten *tenancy.Tenant) {
	// The test's context is over by the time cleanups run.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := mgr.DeleteTenant(ctx, ten.ID); err != nil && !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Errorf("tenanttest: cleanup of tenant %q: %v", ten.Slug, err)
		return
	}
	if err := mgr.PurgeTenant(ctx, ten.ID); err != nil && !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Errorf("tenanttest: cleanup of tenant %q: %v", ten.Slug, err)
	}
}

// NewUser creates a fresh active user on mgr's users store, with a unique
// email under tenanttest.invalid and no password (it cannot log in with
// one; LogIn starts a session for it directly). At cleanup the user is
// deleted (tenancy.Manager.DeleteUser: softly, out of its tenants, its
// sessions revoked).
func NewUser(t TB, mgr *tenancy.Manager) *users.User {
	t.Helper()
	email := label(t.Name(), '-', 40) + "-" + randomSuffix() + "@tenanttest.invalid"
	u, err := mgr.Users().CreateUser(t.Context(), email, "", true)
	if err != nil {
		t.Fatalf("tenanttest: NewUser: %v", err)
		return nil
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := mgr.DeleteUser(ctx, u.ID); err != nil && !errors.Is(err, tenancy.ErrUserNotFound) {
			t.Errorf("tenanttest: cleanup of user %s: %v", u.Email, err)
		}
	})
	return u
}

// AddMember makes a fresh user (NewUser) a member of the tenant, with
// opts (tenancy.AsSuperuser, tenancy.AsStaff), and returns it. Without
// opts the member has no rights beyond membership: grant them with
// mgr.Permissions().
func (tt *Tenant) AddMember(t TB, opts ...tenancy.MemberOption) *users.User {
	t.Helper()
	u := NewUser(t, tt.mgr)
	if u == nil {
		return nil
	}
	if err := tt.mgr.AddUser(t.Context(), tt.ID, u.ID, opts...); err != nil {
		t.Fatalf("tenanttest: AddMember: %v", err)
		return nil
	}
	return u
}
