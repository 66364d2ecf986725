package sqlxschema

import (
	"context"
	"strings"
)

// MaxIdentLen is PostgreSQL's identifier length limit in bytes (NAMEDATALEN-1).
const MaxIdentLen = 63

// Schema is a validated PostgreSQL schema name. The zero value is invalid;
// build one with ParseSchema. Quoted is the only form that reaches SQL text.
type Schema struct{ name string }

// ParseSchema validates name as a schema name: 1 to 63 bytes of lower-case
// ASCII letters, digits and underscores, starting with a letter or an
// underscore, not starting with "pg_", and not "information_schema". It
// returns an *InvalidSchemaError (errors.Is ErrInvalidSchema) otherwise.
//
// "public" is accepted: it is a valid schema (the shared schema by default,
// and a legacy database's data). Callers that provision new tenants refuse it
// themselves.
func ParseSchema(name string) (Schema, error) {
	if reason := schemaProblem(name); reason != "" {
		return Schema{}, &InvalidSchemaError{Name: name, Reason: reason}
	}
	return Schema{name: name}, nil
}

// MustSchema is ParseSchema for names fixed in code; it panics on an invalid
// name, so never pass it request input.
func MustSchema(name string) Schema {
	s, err := ParseSchema(name)
	if err != nil {
		panic(err)
	}
	return s
}

func schemaProblem(name string) string {
	switch {
	case name == "":
		return "empty"
	case len(name) > MaxIdentLen:
		return "longer than 63 bytes"
	case strings.HasPrefix(name, "pg_"):
		return `starts with "pg_" (reserved by PostgreSQL)`
	case name == "information_schema":
		return "reserved by PostgreSQL"
	case name[0] >= '0' && name[0] <= '9':
		return "starts with a digit"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return "may hold only a-z, 0-9 and _"
		}
	}
	return ""
}

// String returns the bare name.
func (s Schema) String() string { return s.name }

// IsZero reports whether s is the zero (invalid) Schema.
func (s Schema) IsZero() bool { return s.name == "" }

// Quoted returns the name quoted as an SQL identifier, ready for SQL text.
func (s Schema) Quoted() string { return QuoteIdent(s.name) }

// Qualify returns the quoted, schema-qualified name of table, which must be
// a name fixed in code or validated by the caller.
func (s Schema) Qualify(table string) string { return s.Quoted() + "." + QuoteIdent(table) }

// QuoteIdent quotes any string as an SQL identifier: it wraps it in double
// quotes and doubles the double quotes inside, so the result is always one
// identifier. NUL bytes, which PostgreSQL rejects anyway, are dropped.
func QuoteIdent(name string) string {
	name = strings.ReplaceAll(name, "\x00", "")
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

type schemaKey struct{}

// Scope is a value that knows its schema, such as a *tenancy.Tenant.
type Scope interface {
	Schema() Schema
}

// WithSchema returns a copy of ctx that carries s as the schema for scoped
// database work (DB.Tx, DB.Conn).
func WithSchema(ctx context.Context, s Schema) context.Context {
	return context.WithValue(ctx, schemaKey{}, s)
}

// WithScope returns a copy of ctx that carries sc, whose schema scoped
// database work uses. tenancy.WithTenant calls it with the tenant, so one
// context value carries both.
func WithScope(ctx context.Context, sc Scope) context.Context {
	return context.WithValue(ctx, schemaKey{}, sc)
}

// ScopeFromContext returns the value set by WithScope, if any.
func ScopeFromContext(ctx context.Context) (Scope, bool) {
	sc, ok := ctx.Value(schemaKey{}).(Scope)
	return sc, ok
}

// SchemaFromContext returns the schema set by WithSchema or WithScope, if
// any.
func SchemaFromContext(ctx context.Context) (Schema, bool) {
	var s Schema
	switch v := ctx.Value(schemaKey{}).(type) {
	case Schema:
		s = v
	case Scope:
		s = v.Schema()
	}
	return s, !s.IsZero()
}
