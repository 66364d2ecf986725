package tenancy

import (
	"context"
	"fmt"
	"slices"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/sqlxschema"
)

// WithCitusCheck makes the manager check each tenant schema it migrates,
// in the schema's migration transaction, for what would keep the schema
// from moving to a Citus worker on its own (sqlxschema.CheckSelfContained):
// a foreign key into the shared schema, a view over a shared table, a
// default from a shared sequence, a shared type or function, and the rest.
// A migration that leaves the schema breaking that fails and is rolled
// back: Migrate reports it for that schema, and Provision and
// FinishProvision fail whole, with a *sqlxschema.MigrationError that
// wraps a *sqlxschema.SelfContainedError (errors.Is
// sqlxschema.ErrNotSelfContained) naming every offending object. The
// whole schema is checked, not only what the new files did: a schema that
// already breaks the rule fails each migration until one fixes it, so
// run CheckCitus, and fix what it lists, before turning this on.
//
// The types and functions of the schemas given to WithExtraSearchPath
// (extensions) are allowed, and so are any extension's. The shared schema
// (the public tenant's) is never checked: it stays on the Citus
// coordinator. CloneTenant copies a
// schema without migrating it, so it is not checked; CheckCitus checks
// existing schemas. See docs/citus.md.
func WithCitusCheck() Option {
	return func(m *Manager) error { m.citusCheck = true; return nil }
}

// TenantMigrator returns the migrator the manager runs on tenant schemas:
// with WithCitusCheck it checks each schema it migrates, without it it is
// a plain sqlxschema.Migrator on the manager's pool. Use it to migrate
// tenant schemas yourself (Run, with its options) as Migrate would.
func (m *Manager) TenantMigrator() *sqlxschema.Migrator {
	if !m.citusCheck {
		return m.migrator
	}
	check := sqlxschema.SelfContained(m.extraSearch...)
	return m.migrator.WithCheck(func(ctx context.Context, q sqlx.QueryerContext, s sqlxschema.Schema) error {
		if s == m.t.Schema {
			return nil // the public tenant's schema is the shared one
		}
		return check(ctx, q, s)
	})
}

// checkBatch is how many schemas CheckCitus checks per query.
const checkBatch = 200

// CheckCitus checks tenant schemas as WithCitusCheck does, whether or not
// it is on, and changes nothing: the given schemas, or with none every
// tenant schema that Targets lists (deleted tenants' included, since
// their schemas stay), the shared schema left out. It returns every violation, in
// sqlxschema.SortViolations order (none when all are self-contained), or
// an error naming a schema that does not exist. It reads the catalog a
// couple of hundred schemas per query.
func (m *Manager) CheckCitus(ctx context.Context, schemas ...sqlxschema.Schema) ([]sqlxschema.Violation, error) {
	if len(schemas) == 0 {
		targets, err := m.Targets(ctx)
		if err != nil {
			return nil, fmt.Errorf("tenancy: check citus: %w", err)
		}
		for _, t := range targets {
			schemas = append(schemas, t.Schema)
		}
	}
	schemas = slices.DeleteFunc(slices.Clone(schemas), func(s sqlxschema.Schema) bool { return s == m.t.Schema })
	var out []sqlxschema.Violation
	for len(schemas) > 0 {
		n := min(len(schemas), checkBatch)
		vs, err := sqlxschema.SelfContainedViolations(ctx, m.db, schemas[:n], m.extraSearch...)
		if err != nil {
			return nil, fmt.Errorf("tenancy: check citus: %w", err)
		}
		out = append(out, vs...)
		schemas = schemas[n:]
	}
	sqlxschema.SortViolations(out)
	return out, nil
}
