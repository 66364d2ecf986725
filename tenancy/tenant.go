package tenancy

import (
	"time"

	"github.com/tenantkit/tenantkit/sqlxschema"
)

// PublicType is the type of the public tenant, which lives on the shared
// schema and owns the tenants that are deleted.
const PublicType = "public"

// DefaultType is the type of tenants provisioned without WithType, whose
// migrations WithTenantMigrations gives.
const DefaultType = "default"

// Tenant is one customer organisation, with its own schema.
type Tenant struct {
	ID         int64      `db:"id" json:"id"`
	Slug       string     `db:"slug" json:"slug"`
	Name       string     `db:"name" json:"name"`
	SchemaName string     `db:"schema_name" json:"schema"`
	Type       string     `db:"type" json:"type"`
	OwnerID    int64      `db:"owner_id" json:"owner_id"`
	IsActive   bool       `db:"is_active" json:"is_active"`
	CreatedAt  time.Time  `db:"created_at" json:"created_at"`
	UpdatedAt  time.Time  `db:"updated_at" json:"updated_at"`
	DeletedAt  *time.Time `db:"deleted_at" json:"deleted_at,omitempty"`
	// State is StateReady, or StatePending / StateFailed for a tenant that
	// ProvisionAsync created; StateReason says why provisioning failed.
	State       string `db:"state" json:"state"`
	StateReason string `db:"state_reason" json:"state_reason,omitempty"`
	// PrimaryDomain is the tenant's live primary domain, filled by Resolve,
	// ResolveSlug, Get, BySlug and PublicTenant ("" if it has none).
	PrimaryDomain string `db:"primary_domain" json:"primary_domain,omitempty"`

	schema sqlxschema.Schema
}

const tenantColumns = `id, slug, name, schema_name, type, owner_id, is_active, created_at, updated_at, deleted_at, state, state_reason`
const tenantColumnsT = `t.id, t.slug, t.name, t.schema_name, t.type, t.owner_id, t.is_active, t.created_at, t.updated_at, t.deleted_at, t.state, t.state_reason`

// Schema returns the tenant's validated schema; the zero Schema, which
// every scoped operation refuses, if SchemaName is not valid.
func (t *Tenant) Schema() sqlxschema.Schema {
	if !t.schema.IsZero() {
		return t.schema
	}
	s, _ := sqlxschema.ParseSchema(t.SchemaName)
	return s
}

// IsPublic reports whether t is the public tenant.
func (t *Tenant) IsPublic() bool { return t.Type == PublicType }

// IsLive reports whether t is active, not deleted and ready (not pending).
func (t *Tenant) IsLive() bool {
	return t.IsActive && t.DeletedAt == nil && (t.State == StateReady || t.State == "")
}

// init caches the parsed schema; call it once after loading a row.
func (t *Tenant) init() *Tenant {
	t.schema, _ = sqlxschema.ParseSchema(t.SchemaName)
	return t
}

// Domain is a host name that resolves to a tenant.
type Domain struct {
	ID        int64      `db:"id" json:"id"`
	Domain    string     `db:"domain" json:"domain"`
	TenantID  int64      `db:"tenant_id" json:"tenant_id"`
	IsPrimary bool       `db:"is_primary" json:"is_primary"`
	CreatedAt time.Time  `db:"created_at" json:"created_at"`
	DeletedAt *time.Time `db:"deleted_at" json:"deleted_at,omitempty"`
}

const domainColumns = `id, domain, tenant_id, is_primary, created_at, deleted_at`
