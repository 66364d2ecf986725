package tenancy

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"golang.org/x/sync/singleflight"

	"github.com/tenantkit/tenantkit/internal/shared"
	"github.com/tenantkit/tenantkit/permissions"
	"github.com/tenantkit/tenantkit/sqlxschema"
	"github.com/tenantkit/tenantkit/users"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

func tenancyMigrations() sqlxschema.Set {
	sub, _ := fs.Sub(migrationFiles, "migrations")
	return sqlxschema.Set{Name: "tenantkit.tenancy", FS: sub}
}

// Manager provisions, finds and deletes tenants, manages their members, and
// resolves hosts to tenants. Build it with NewManager; it holds no
// package-level state, so several can live in one process. It is safe for
// concurrent use.
type Manager struct {
	db       *sqlx.DB
	sdb      *sqlxschema.DB
	migrator *sqlxschema.Migrator
	users    *users.Store
	perms    *permissions.Store
	t        shared.Tables

	sharedName  string
	baseDomain  string
	types       map[string]sqlxschema.Set
	sharedSets  []sqlxschema.Set
	reserved    map[string]bool
	workers     int
	usersGiven  bool
	extraSearch []sqlxschema.Schema
	citusCheck  bool // WithCitusCheck

	cacheSize int
	cacheTTL  time.Duration
	negTTL    time.Duration
	cache     *hostCache // nil when disabled
	lookups   singleflight.Group

	hooks []Hooks

	read readPool // ReadDB; see replica.go
}

// Option configures a Manager. Options report bad arguments through
// NewManager's error.
type Option func(*Manager) error

// WithBaseDomain sets the domain under which tenants get their primary
// domain, slug.<base>. Default "localhost".
func WithBaseDomain(domain string) Option {
	return func(m *Manager) error {
		d, err := NormalizeHost(domain)
		if err != nil {
			return fmt.Errorf("tenancy: WithBaseDomain(%q): %w", domain, err)
		}
		m.baseDomain = d
		return nil
	}
}

// WithSharedSchema names the schema holding tenantkit's shared tables and
// the public tenant. Default "public".
func WithSharedSchema(name string) Option {
	return func(m *Manager) error {
		if _, err := sqlxschema.ParseSchema(name); err != nil {
			return fmt.Errorf("tenancy: WithSharedSchema: %w", err)
		}
		m.sharedName = name
		return nil
	}
}

// WithTenantMigrations gives the migrations of the default tenant type.
func WithTenantMigrations(fsys fs.FS) Option {
	return WithTenantType(DefaultType, fsys)
}

// WithTenantType registers a tenant type and its migrations (nil for
// none). Registering one type twice is an error. The types "default" and
// "public" exist without it; "public" migrations apply to the shared schema.
func WithTenantType(name string, migrations fs.FS) Option {
	return func(m *Manager) error {
		if !slugRE.MatchString(name) {
			return fmt.Errorf("tenancy: WithTenantType(%q): use lower-case letters, digits and hyphens", name)
		}
		if set, dup := m.types[name]; dup && set.FS != nil {
			return fmt.Errorf("tenancy: tenant type %q registered twice", name)
		}
		m.types[name] = sqlxschema.Set{Name: "app." + name, FS: migrations}
		return nil
	}
}

// WithSharedMigrations gives the application's own migrations for the
// shared schema, applied by Migrate after tenantkit's.
func WithSharedMigrations(fsys fs.FS) Option {
	return func(m *Manager) error {
		if fsys == nil {
			return errors.New("tenancy: WithSharedMigrations: nil fs.FS")
		}
		m.sharedSets = append(m.sharedSets, sqlxschema.Set{Name: "app.shared", FS: fsys})
		return nil
	}
}

// WithReservedSlugs replaces DefaultReservedSlugs: slugs that Provision
// refuses with ErrInvalidSlug.
func WithReservedSlugs(slugs ...string) Option {
	return func(m *Manager) error {
		m.reserved = map[string]bool{}
		for _, s := range slugs {
			m.reserved[s] = true
		}
		return nil
	}
}

// WithUsers uses store for users (for its password or session settings)
// instead of a default users.Store on the same database and shared schema.
func WithUsers(store *users.Store) Option {
	return func(m *Manager) error {
		if store == nil {
			return errors.New("tenancy: WithUsers: nil store")
		}
		m.users, m.usersGiven = store, true
		return nil
	}
}

// WithMigrationWorkers sets how many tenant schemas Migrate migrates at
// once. Default 4.
func WithMigrationWorkers(n int) Option {
	return func(m *Manager) error {
		if n < 1 {
			return fmt.Errorf("tenancy: WithMigrationWorkers(%d): need at least 1", n)
		}
		m.workers = n
		return nil
	}
}

// WithExtraSearchPath appends schemas (for example one holding extensions)
// to every tenant's search_path, after the tenant's own schema.
func WithExtraSearchPath(schemas ...string) Option {
	return func(m *Manager) error {
		for _, name := range schemas {
			s, err := sqlxschema.ParseSchema(name)
			if err != nil {
				return fmt.Errorf("tenancy: WithExtraSearchPath: %w", err)
			}
			m.extraSearch = append(m.extraSearch, s)
		}
		return nil
	}
}

// WithResolveCache sizes Resolve's host cache: at most size hosts, live
// answers kept for ttl and "no such tenant" answers for negativeTTL.
// Default 10000 hosts, 30s and 5s. A size of 0 turns the cache off. Run
// Watch so that other processes' changes reach the cache at once.
func WithResolveCache(size int, ttl, negativeTTL time.Duration) Option {
	return func(m *Manager) error {
		if size < 0 || (size > 0 && (ttl <= 0 || negativeTTL <= 0)) {
			return fmt.Errorf("tenancy: WithResolveCache(%d, %v, %v): need size >= 0 and positive TTLs", size, ttl, negativeTTL)
		}
		m.cacheSize, m.cacheTTL, m.negTTL = size, ttl, negativeTTL
		return nil
	}
}

// NewManager returns a Manager on the application's pool db. It does no
// I/O: call Migrate to create or update the tables.
func NewManager(db *sqlx.DB, opts ...Option) (*Manager, error) {
	if db == nil {
		return nil, errors.New("tenancy: NewManager: nil *sqlx.DB")
	}
	m := &Manager{
		db:         db,
		sharedName: shared.DefaultSchema,
		baseDomain: "localhost",
		types:      map[string]sqlxschema.Set{DefaultType: {Name: "app." + DefaultType}, PublicType: {Name: "app." + PublicType}},
		reserved:   map[string]bool{},
		workers:    4,
		cacheSize:  10000,
		cacheTTL:   30 * time.Second,
		negTTL:     5 * time.Second,
	}
	for _, s := range DefaultReservedSlugs {
		m.reserved[s] = true
	}
	for _, o := range opts {
		if err := o(m); err != nil {
			return nil, err
		}
	}
	if m.cacheSize > 0 {
		m.cache = newHostCache(m.cacheSize, m.cacheTTL, m.negTTL)
	}
	sch := sqlxschema.MustSchema(m.sharedName)
	m.t = shared.New(sch)
	var err error
	if slices.Contains(m.extraSearch, sch) {
		return nil, fmt.Errorf("tenancy: WithExtraSearchPath(%q): the shared schema must never be on a tenant's search_path: %w", m.sharedName, ErrInvalidOption)
	}
	if m.sdb, err = sqlxschema.New(db, sqlxschema.WithExtraSchemas(m.extraSearch...)); err != nil {
		return nil, err
	}
	if m.read.db, err = m.newReadDB(); err != nil {
		return nil, err
	}
	m.migrator = sqlxschema.NewMigrator(m.sdb)
	if !m.usersGiven {
		if m.users, err = users.New(db, users.WithSharedSchema(m.sharedName)); err != nil {
			return nil, err
		}
	}
	if m.perms, err = permissions.New(db, permissions.WithSharedSchema(m.sharedName)); err != nil {
		return nil, err
	}
	return m, nil
}

// Users returns the users store the manager uses.
func (m *Manager) Users() *users.Store { return m.users }

// Permissions returns the permissions store for the manager's tenants.
func (m *Manager) Permissions() *permissions.Store { return m.perms }

// DB returns the schema-scoping wrapper around the manager's pool: use its
// Tx or Conn for a tenant's queries.
func (m *Manager) DB() *sqlxschema.DB { return m.sdb }

// BaseDomain returns the base domain for primary domains.
func (m *Manager) BaseDomain() string { return m.baseDomain }

// SharedSchema returns the shared schema.
func (m *Manager) SharedSchema() sqlxschema.Schema { return m.t.Schema }

// Types returns the registered tenant types, sorted.
func (m *Manager) Types() []string {
	out := make([]string, 0, len(m.types))
	for name := range m.types {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// tenantSets returns the migration sets a tenant of type typ gets.
func (m *Manager) tenantSets(typ string) []sqlxschema.Set {
	sets := []sqlxschema.Set{permissions.Migrations()}
	if set, ok := m.types[typ]; ok && set.FS != nil {
		sets = append(sets, set)
	}
	return sets
}

func (m *Manager) checkType(typ string) error {
	if _, ok := m.types[typ]; ok && typ != PublicType {
		return nil
	}
	var valid []string
	for _, name := range m.Types() {
		if name != PublicType {
			valid = append(valid, name)
		}
	}
	return &UnknownTypeError{Type: typ, Valid: valid}
}

// schemaRefusal says why name may not be a tenant's schema, or "" when it
// may. A new tenant never gets "public"; an adopted one may, when
// tenantkit's shared tables live elsewhere (WithSharedSchema).
func (m *Manager) schemaRefusal(name string, adopt bool) string {
	switch {
	case name == m.sharedName:
		return "it holds tenantkit's shared tables (see tenancy.WithSharedSchema)"
	case slices.ContainsFunc(m.extraSearch, func(s sqlxschema.Schema) bool { return s.String() == name }):
		return "it is on every tenant's search_path (see tenancy.WithExtraSearchPath)"
	case strings.HasPrefix(name, "pg_") || name == "information_schema" || (name == "public" && !adopt):
		return "reserved"
	}
	return ""
}
