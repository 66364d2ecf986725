package tenancy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/pgerr"
	"github.com/tenantkit/tenantkit/permissions"
	"github.com/tenantkit/tenantkit/sqlxschema"
	"github.com/tenantkit/tenantkit/users"
)

// ProvisionOption configures one Provision call.
type ProvisionOption func(*provisionConfig) error

type provisionConfig struct {
	typ        string
	schema     string
	tenantData map[string]any
	domainData map[string]any
	flags      permissions.Flags
	key        string
	baseline   string
	adopt      bool // AdoptSchema: the schema exists already
}

// WithType provisions a tenant of a registered type (default "default").
func WithType(typ string) ProvisionOption {
	return func(c *provisionConfig) error { c.typ = typ; return nil }
}

// WithSchemaName gives the tenant's schema an explicit name instead of one
// made from the slug. It must be valid (sqlxschema.ParseSchema), not the
// shared schema and not in use.
func WithSchemaName(name string) ProvisionOption {
	return func(c *provisionConfig) error { c.schema = name; return nil }
}

// WithTenantData fills columns the application added to the tenants table.
// A key that is not such a column fails Provision before anything is
// written (ErrUnknownColumn).
func WithTenantData(data map[string]any) ProvisionOption {
	return func(c *provisionConfig) error { c.tenantData = data; return nil }
}

// WithDomainData fills columns the application added to the domains table,
// for the primary domain.
func WithDomainData(data map[string]any) ProvisionOption {
	return func(c *provisionConfig) error { c.domainData = data; return nil }
}

// WithIdempotencyKey makes an asynchronous provisioning (ReserveTx, and
// ProvisionAsync built on it) idempotent: while a live tenant made with key
// exists, a call with the same key returns that tenant, whatever its other
// arguments, instead of making another. Provision refuses it
// (ErrInvalidOption): a synchronous call's answer is final.
func WithIdempotencyKey(key string) ProvisionOption {
	return func(c *provisionConfig) error {
		if strings.TrimSpace(key) == "" || len(key) > 200 {
			return fmt.Errorf("%w: idempotency key must be 1 to 200 characters", ErrInvalidOption)
		}
		c.key = key
		return nil
	}
}

// WithOwnerFlags sets the owner's flags in the new tenant. Default:
// superuser, not staff.
func WithOwnerFlags(superuser, staff bool) ProvisionOption {
	return func(c *provisionConfig) error {
		c.flags = permissions.Flags{IsSuperuser: superuser, IsStaff: staff}
		return nil
	}
}

var coreTenantColumns = map[string]bool{"id": true, "slug": true, "name": true, "schema_name": true, "type": true,
	"owner_id": true, "is_active": true, "created_at": true, "updated_at": true, "deleted_at": true,
	"state": true, "state_reason": true, "provision_key": true}
var coreDomainColumns = map[string]bool{"id": true, "domain": true, "tenant_id": true, "is_primary": true,
	"created_at": true, "deleted_at": true}

// Provision creates a tenant: its row, its schema, the migrations of its
// type, its primary domain slug.<base domain>, and the owner's membership
// with the owner's flags, in one transaction, so a failure at any step
// leaves nothing behind. Errors: ErrInvalidSlug, ErrUnknownType,
// ErrInvalidSchema, ErrUnknownColumn (all before any write),
// ErrUserNotFound, ErrUserInactive, ErrSlugExists, ErrSchemaExists,
// ErrDomainExists, or a *sqlxschema.MigrationError (with WithCitusCheck,
// one wrapping a *sqlxschema.SelfContainedError when the type's migrations
// reach outside the tenant's schema).
func (m *Manager) Provision(ctx context.Context, name, slug string, ownerID int64, opts ...ProvisionOption) (*Tenant, *Domain, error) {
	var t *Tenant
	var d *Domain
	err := m.inTxHooks(ctx, func(ctx context.Context, tx *sqlx.Tx) error {
		var err error
		t, d, err = m.ProvisionTx(ctx, tx, name, slug, ownerID, opts...)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	m.FlushCache() // negative entries for the new domain
	return t, d, nil
}

// ProvisionTx is Provision inside the caller's transaction: nothing is
// visible to others until the caller commits, and a rollback undoes all of
// it, schema included. The transaction's search_path is restored before it
// returns.
func (m *Manager) ProvisionTx(ctx context.Context, tx *sqlx.Tx, name, slug string, ownerID int64, opts ...ProvisionOption) (*Tenant, *Domain, error) {
	fail := func(err error) (*Tenant, *Domain, error) {
		return nil, nil, fmt.Errorf("tenancy: provision %q: %w", slug, err)
	}
	p, err := m.planProvision(ctx, tx, name, slug, opts)
	if err != nil {
		return fail(err)
	}
	if p.cfg.key != "" {
		return fail(fmt.Errorf("%w: WithIdempotencyKey is for ProvisionAsync", ErrInvalidOption))
	}
	if p.cfg.baseline != "" {
		return fail(fmt.Errorf("%w: WithBaseline is for AdoptSchema", ErrInvalidOption))
	}
	return m.createTx(ctx, tx, p, name, slug, ownerID, fail)
}

// createTx writes what p planned: the tenant row, its schema (created, or
// adopted), migrations, primary domain and owner. fail wraps its errors.
func (m *Manager) createTx(ctx context.Context, tx *sqlx.Tx, p *provisionPlan, name, slug string, ownerID int64,
	fail func(error) (*Tenant, *Domain, error)) (*Tenant, *Domain, error) {
	cfg, schema, domain := p.cfg, p.schema, p.domain
	var path string
	if err := tx.GetContext(ctx, &path, `SELECT current_setting('search_path')`); err != nil {
		return fail(err)
	}
	if err := m.lockActiveUser(ctx, tx, ownerID); err != nil {
		return fail(err)
	}
	t, err := m.insertTenant(ctx, tx, name, slug, schema.String(), cfg.typ, ownerID, p.tenantCols, cfg.tenantData)
	if err != nil {
		return fail(err)
	}
	if err := m.buildSchema(ctx, tx, schema, cfg); err != nil {
		return fail(err)
	}
	d, err := m.insertDomain(ctx, tx, t.ID, domain, true, p.domainCols, cfg.domainData)
	if err != nil {
		return fail(err)
	}
	if err := m.addMemberTx(ctx, tx, t, ownerID, cfg.flags); err != nil {
		return fail(err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT set_config('search_path', $1, true)`, path); err != nil {
		return fail(err)
	}
	t.PrimaryDomain = d.Domain
	if err := m.hookProvisioned(ctx, tx, t); err != nil {
		return fail(err)
	}
	return t, d, nil
}

// provisionPlan is what Provision and ProvisionAsync check before writing.
type provisionPlan struct {
	cfg        provisionConfig
	schema     sqlxschema.Schema
	domain     string
	tenantCols []string
	domainCols []string
}

// planProvision applies opts and validates everything that can be checked
// before a write.
func (m *Manager) planProvision(ctx context.Context, tx *sqlx.Tx, name, slug string, opts []ProvisionOption) (*provisionPlan, error) {
	p := &provisionPlan{cfg: provisionConfig{typ: DefaultType, flags: permissions.Flags{IsSuperuser: true}}}
	cfg := &p.cfg
	for _, o := range opts {
		if err := o(cfg); err != nil {
			return nil, err
		}
	}
	if err := ValidateSlug(slug); err != nil {
		return nil, err
	}
	if m.reserved[slug] {
		return nil, fmt.Errorf("%w %q: reserved", ErrInvalidSlug, slug)
	}
	if strings.TrimSpace(name) == "" {
		return nil, errors.New("empty name")
	}
	if err := m.checkType(cfg.typ); err != nil {
		return nil, err
	}
	var err error
	if cfg.schema != "" {
		if p.schema, err = sqlxschema.ParseSchema(cfg.schema); err != nil {
			return nil, err
		}
		if reason := m.schemaRefusal(cfg.schema, cfg.adopt); reason != "" {
			return nil, &sqlxschema.InvalidSchemaError{Name: cfg.schema, Reason: reason}
		}
	} else if p.schema, err = schemaForSlug(slug); err != nil {
		return nil, err
	}
	if p.domain, err = NormalizeHost(slug + "." + m.baseDomain); err != nil {
		return nil, err
	}
	if p.tenantCols, err = m.extraColumns(ctx, tx, "tenantkit_tenants", coreTenantColumns, cfg.tenantData); err != nil {
		return nil, err
	}
	if p.domainCols, err = m.extraColumns(ctx, tx, "tenantkit_domains", coreDomainColumns, cfg.domainData); err != nil {
		return nil, err
	}
	return p, nil
}

// buildSchema creates a tenant's schema, or with cfg.adopt checks that it
// exists and records cfg.baseline, and runs its type's migrations. It
// leaves the search_path on the schema.
func (m *Manager) buildSchema(ctx context.Context, tx *sqlx.Tx, schema sqlxschema.Schema, cfg provisionConfig) error {
	if cfg.adopt {
		if err := m.adoptable(ctx, tx, schema, cfg); err != nil {
			return err
		}
	} else if _, err := tx.ExecContext(ctx, `CREATE SCHEMA `+schema.Quoted()); err != nil {
		if c, ok := pqCode(err); ok && c == "42P06" {
			return fmt.Errorf("%w: %s", ErrSchemaExists, schema)
		}
		return err
	}
	_, err := m.TenantMigrator().ApplyTx(ctx, tx, schema, m.tenantSets(cfg.typ)...)
	return err
}

// CreatePublicTenant creates the public tenant: it lives on the shared
// schema, answers on domain, is owned by the user with ownerEmail (created
// without a password if missing), and takes over the tenants that are
// deleted. A second call returns ErrTenantExists.
func (m *Manager) CreatePublicTenant(ctx context.Context, domain, ownerEmail string) (*Tenant, *Domain, error) {
	fail := func(err error) (*Tenant, *Domain, error) {
		return nil, nil, fmt.Errorf("tenancy: create public tenant: %w", err)
	}
	host, err := NormalizeHost(domain)
	if err != nil {
		return fail(err)
	}
	var t *Tenant
	var d *Domain
	err = m.inTxHooks(ctx, func(ctx context.Context, tx *sqlx.Tx) error {
		owner, err := m.users.ByEmail(ctx, ownerEmail)
		if errors.Is(err, users.ErrNotFound) {
			owner, err = m.CreateUserTx(ctx, tx, ownerEmail, "", true)
		}
		if err != nil {
			return err
		}
		if err := m.lockActiveUser(ctx, tx, owner.ID); err != nil {
			return err
		}
		if t, err = m.insertTenant(ctx, tx, "Public", PublicType, m.sharedName, PublicType, owner.ID, nil, nil); err != nil {
			return err
		}
		if _, err := m.migrator.ApplyTx(ctx, tx, m.t.Schema, m.tenantSets(PublicType)...); err != nil {
			return err
		}
		if d, err = m.insertDomain(ctx, tx, t.ID, host, true, nil, nil); err != nil {
			return err
		}
		t.PrimaryDomain = d.Domain
		return m.addMemberTx(ctx, tx, t, owner.ID, permissions.Flags{IsSuperuser: true, IsStaff: true})
	})
	if err != nil {
		return fail(err)
	}
	m.FlushCache()
	return t, d, nil
}

// inTx runs fn in a transaction on the pool, rolling back on error or panic.
func (m *Manager) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := m.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// extraColumns checks that every key of data is a column the application
// added to table, and returns the keys sorted.
func (m *Manager) extraColumns(ctx context.Context, tx *sqlx.Tx, table string, core map[string]bool, data map[string]any) ([]string, error) {
	if len(data) == 0 {
		return nil, nil
	}
	var have []string
	if err := tx.SelectContext(ctx, &have, `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2`,
		m.sharedName, table); err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, c := range have {
		known[c] = !core[c]
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		if !known[k] {
			return nil, &UnknownColumnError{Table: table, Column: k}
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, nil
}

func (m *Manager) lockActiveUser(ctx context.Context, tx *sqlx.Tx, userID int64) error {
	var u struct {
		Active  bool `db:"is_active"`
		Deleted bool `db:"deleted"`
	}
	err := tx.GetContext(ctx, &u, `SELECT is_active, deleted_at IS NOT NULL AS deleted FROM `+m.t.Users+` WHERE id = $1 FOR SHARE`, userID)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("user %d: %w", userID, ErrUserNotFound)
	}
	if err != nil {
		return err
	}
	if !u.Active || u.Deleted {
		return fmt.Errorf("user %d: %w", userID, ErrUserInactive)
	}
	return nil
}

func (m *Manager) insertTenant(ctx context.Context, tx *sqlx.Tx, name, slug, schema, typ string, ownerID int64, extra []string, data map[string]any) (*Tenant, error) {
	return m.insertTenantState(ctx, tx, name, slug, schema, typ, ownerID, extra, data, StateReady, "")
}

// insertTenantState inserts a tenant row in state. With a provisioning key
// held by a live tenant it inserts nothing and returns (nil, nil): the
// caller loads that tenant (ON CONFLICT, so concurrent calls with one key
// wait for each other instead of failing).
func (m *Manager) insertTenantState(ctx context.Context, tx *sqlx.Tx, name, slug, schema, typ string, ownerID int64, extra []string, data map[string]any, state, key string) (*Tenant, error) {
	cols := []string{"slug", "name", "schema_name", "type", "owner_id", "state"}
	args := []any{slug, name, schema, typ, ownerID, state}
	conflict := ""
	if key != "" {
		cols = append(cols, "provision_key")
		args = append(args, key)
		conflict = ` ON CONFLICT (provision_key) WHERE deleted_at IS NULL AND provision_key IS NOT NULL DO NOTHING`
	}
	for _, k := range extra {
		cols = append(cols, sqlxschema.QuoteIdent(k))
		args = append(args, data[k])
	}
	var t Tenant
	err := tx.GetContext(ctx, &t, `INSERT INTO `+m.t.Tenants+` (`+strings.Join(cols, ", ")+`) VALUES (`+placeholders(len(args))+`)`+conflict+` RETURNING `+tenantColumns, args...)
	if key != "" && errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if c, ok := uniqueViolation(err); ok {
		if typ == PublicType {
			return nil, ErrTenantExists // one public tenant, on the shared schema
		}
		switch c {
		case "tenantkit_tenants_slug_live":
			return nil, fmt.Errorf("%w: %s", ErrSlugExists, slug)
		case "tenantkit_tenants_schema_name_key":
			return nil, fmt.Errorf("%w: %s", ErrSchemaExists, schema)
		}
	}
	if err != nil {
		return nil, err
	}
	return t.init(), nil
}

func (m *Manager) insertDomain(ctx context.Context, tx *sqlx.Tx, tenantID int64, domain string, primary bool, extra []string, data map[string]any) (*Domain, error) {
	cols := []string{"domain", "tenant_id", "is_primary"}
	args := []any{domain, tenantID, primary}
	for _, k := range extra {
		cols = append(cols, sqlxschema.QuoteIdent(k))
		args = append(args, data[k])
	}
	var d Domain
	err := tx.GetContext(ctx, &d, `INSERT INTO `+m.t.Domains+` (`+strings.Join(cols, ", ")+`) VALUES (`+placeholders(len(args))+`) RETURNING `+domainColumns, args...)
	if c, ok := uniqueViolation(err); ok && c == "tenantkit_domains_domain_live" {
		return nil, fmt.Errorf("%w: %s", ErrDomainExists, domain)
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

func placeholders(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(i))
	}
	return b.String()
}

// uniqueViolation returns the constraint name of a unique violation.
func uniqueViolation(err error) (string, bool) {
	if pgerr.IsUnique(err) {
		return pgerr.Constraint(err), true
	}
	return "", false
}

// pqCode returns the SQLSTATE of a driver error (lib/pq or pgx).
func pqCode(err error) (string, bool) { return pgerr.Code(err) }
