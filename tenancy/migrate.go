package tenancy

import (
	"context"
	"fmt"

	"github.com/tenantkit/tenantkit/sqlxschema"
	"github.com/tenantkit/tenantkit/users"
)

// MigrateShared creates the shared schema if needed and brings tenantkit's
// shared tables, then the application's shared migrations, up to date, in
// one transaction.
func (m *Manager) MigrateShared(ctx context.Context) ([]string, error) {
	target := m.SharedTarget()
	applied, err := m.migrator.Apply(ctx, target.Schema, true, target.Sets...)
	if err != nil {
		return nil, fmt.Errorf("tenancy: migrate shared schema: %w", err)
	}
	return applied, nil
}

// SharedTarget returns the shared schema's migration target: tenantkit's
// sets, then the application's (WithSharedMigrations).
func (m *Manager) SharedTarget() sqlxschema.Target {
	sets := append([]sqlxschema.Set{users.Migrations(), tenancyMigrations()}, m.sharedSets...)
	return sqlxschema.Target{Schema: m.t.Schema, Sets: sets}
}

// Targets returns the migration target of every tenant schema (deleted
// tenants included, so a restored tenant is up to date). Tenants without a
// schema are left out: a pending one gets every migration when its worker
// builds it (FinishProvision), and a failed one has none.
func (m *Manager) Targets(ctx context.Context) ([]sqlxschema.Target, error) {
	ts, err := m.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]sqlxschema.Target, 0, len(ts))
	for i := range ts {
		if ts[i].State != StateReady {
			continue
		}
		out = append(out, sqlxschema.Target{Schema: ts[i].Schema(), Sets: m.tenantSets(ts[i].Type)})
	}
	return out, nil
}

// Migrate brings the shared schema, then every tenant schema, up to date.
// Tenant schemas run in parallel (WithMigrationWorkers), each in its own
// transaction; a failing schema does not stop the others. It returns the
// result of each tenant schema and an error joining every failure. With
// WithCitusCheck, each tenant schema where files ran is checked before it
// commits (see WithCitusCheck).
func (m *Manager) Migrate(ctx context.Context) ([]sqlxschema.Result, error) {
	if _, err := m.MigrateShared(ctx); err != nil {
		return nil, err
	}
	targets, err := m.Targets(ctx)
	if err != nil {
		return nil, err
	}
	return m.TenantMigrator().ApplyAll(ctx, targets, m.workers)
}
