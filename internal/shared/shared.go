// Package shared names tenantkit's tables in the shared schema, so every
// package builds the same schema-qualified, quoted names from one place.
package shared

import "github.com/tenantkit/tenantkit/sqlxschema"

// DefaultSchema is the shared schema used when none is configured.
const DefaultSchema = "public"

// Tables holds the quoted, schema-qualified names of the shared tables.
type Tables struct {
	Schema      sqlxschema.Schema
	Tenants     string
	Domains     string
	Users       string
	Memberships string
	Sessions    string
}

// New returns the table names in schema s.
func New(s sqlxschema.Schema) Tables {
	return Tables{
		Schema:      s,
		Tenants:     s.Qualify("tenantkit_tenants"),
		Domains:     s.Qualify("tenantkit_domains"),
		Users:       s.Qualify("tenantkit_users"),
		Memberships: s.Qualify("tenantkit_memberships"),
		Sessions:    s.Qualify("tenantkit_sessions"),
	}
}
