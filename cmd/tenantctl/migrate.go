package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/tenantkit/tenantkit/sqlxschema"
	"github.com/tenantkit/tenantkit/tenancy"
)

// Statuses of a schema in migrate's results.
const (
	statusApplied    = "applied"
	statusUpToDate   = "up to date"
	statusFailed     = "failed"
	statusNotStarted = "not started"
)

// migrateResult is one schema's part of migrate's output.
type migrateResult struct {
	Schema  string   `json:"schema"`
	Tenant  string   `json:"tenant,omitempty"` // the slug; empty for the shared schema
	Type    string   `json:"type,omitempty"`   // the tenant's type
	Shared  bool     `json:"shared,omitempty"`
	Status  string   `json:"status"`  // applied, up to date, failed or not started
	Applied []string `json:"applied"` // "set/version"
	Error   string   `json:"error,omitempty"`
}

func (c *cli) migrate(ctx context.Context, cmd *command, args []string) error {
	fs, g := c.flagSet(cmd)
	parallel := fs.Int("parallel", 4, "migrate at most `N` tenant schemas at once")
	slug := fs.String("tenant", "", "after the shared schema, migrate only the tenant with this `slug`")
	typ := fs.String("type", "", "after the shared schema, migrate only tenants of this `type`")
	plan := fs.Bool("plan", false, "list the migrations that would run where, and apply nothing")
	failFast := fs.Bool("fail-fast", false, "start no tenant schema after one has failed (default: go on, report every failure)")
	citusCheck := fs.Bool("citus-check", false, "check each tenant schema where files ran, before it commits, as check-citus does")
	extra := extraSearchPathFlag(fs)
	if err := c.parse(cmd, fs, args, false); err != nil {
		return err
	}
	if *parallel < 1 {
		return usagef("--parallel must be at least 1")
	}
	opts := []tenancy.Option{tenancy.WithExtraSearchPath(*extra...)}
	if *citusCheck {
		opts = append(opts, tenancy.WithCitusCheck())
	}
	mgr, closeDB, err := c.connect(ctx, g, opts...)
	if err != nil {
		return err
	}
	defer closeDB()
	if *typ != "" && !slices.Contains(mgr.Types(), *typ) {
		return usagef("--type %s: not a tenant type tenantctl knows (%s); give its migrations with --migrations-for %s=DIR",
			*typ, strings.Join(mgr.Types(), ", "), *typ)
	}
	if *plan {
		return c.plan(ctx, mgr, *slug, *typ, g.json)
	}

	start := time.Now()
	applied, err := mgr.MigrateShared(ctx)
	if err != nil {
		return err
	}
	shared := migrateResult{Schema: mgr.SharedSchema().String(), Shared: true, Status: statusOf(applied), Applied: nonNil(applied)}
	if !g.json {
		fmt.Fprintf(c.stdout, "%s (shared)\tapplied %d\n", shared.Schema, len(applied))
	}
	targets, info, err := tenantTargets(ctx, mgr, *slug, *typ)
	if err != nil {
		return err
	}

	results := make([]migrateResult, len(targets))
	prog := c.newProgress("migrating", len(targets))
	done, failed, notStarted, files := 0, 0, 0, 0
	runOpts := []sqlxschema.RunOption{sqlxschema.Workers(*parallel), sqlxschema.OnResult(func(i int, r sqlxschema.Result) {
		ti := info[r.Schema.String()]
		res := migrateResult{Schema: r.Schema.String(), Tenant: ti.slug, Type: ti.typ, Status: statusOf(r.Applied), Applied: nonNil(r.Applied)}
		switch {
		case errors.Is(r.Err, sqlxschema.ErrNotRun):
			res.Status, res.Error = statusNotStarted, describe(r.Err)
			notStarted++
		case r.Err != nil:
			res.Status, res.Error = statusFailed, describe(r.Err)
			failed++
			done++
		default:
			done++
			files += len(r.Applied)
		}
		results[i] = res
		if !g.json && res.Status != statusNotStarted {
			if r.Err != nil {
				prog.println(c.stdout, fmt.Sprintf("%s\tFAILED: %s", res.Schema, res.Error))
			} else {
				prog.println(c.stdout, fmt.Sprintf("%s\tapplied %d", res.Schema, len(res.Applied)))
			}
		}
		prog.update(done+notStarted, failed)
		if c.afterSchema != nil {
			c.afterSchema(done)
		}
	})}
	if *failFast {
		runOpts = append(runOpts, sqlxschema.StopOnFailure())
	}
	if _, err := mgr.TenantMigrator().Run(ctx, targets, runOpts...); err != nil && failed+notStarted == 0 {
		return err // not a schema's failure: a bad option, say
	}
	prog.finish()
	elapsed := time.Since(start)

	if g.json {
		if err := writeJSON(c.stdout, append([]migrateResult{shared}, results...)); err != nil {
			return err
		}
	} else {
		rate := float64(done) / max(elapsed.Seconds(), 1e-6)
		fmt.Fprintf(c.stdout, "migrated %d of %d tenant %s in %v (%.1f/s): %d %s applied, %d failed",
			done-failed, len(targets), plural(len(targets), "schema", "schemas"), elapsed.Round(time.Millisecond), rate,
			files, plural(files, "migration", "migrations"), failed)
		if notStarted > 0 {
			fmt.Fprintf(c.stdout, ", %d not started", notStarted)
		}
		fmt.Fprintln(c.stdout)
	}
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("migrate: stopped after %d of %d tenant schemas (%d failed); run again to resume: %w", done, len(targets), failed, ctx.Err())
	case failed > 0 && notStarted > 0:
		return fmt.Errorf("migrate: %d of %d tenant schemas failed, %d not started (--fail-fast)", failed, len(targets), notStarted)
	case failed > 0:
		return fmt.Errorf("migrate: %d of %d tenant schemas failed", failed, len(targets))
	}
	return nil
}

func statusOf(applied []string) string {
	if len(applied) == 0 {
		return statusUpToDate
	}
	return statusApplied
}

// tenantInfo is what migrate shows about a schema's tenant.
type tenantInfo struct{ slug, typ string }

// tenantTargets returns the migration targets of every tenant schema
// (deleted tenants included), or only the live tenant slug's if slug is
// set, or only tenants of type typ if typ is set, and each schema's tenant.
func tenantTargets(ctx context.Context, mgr *tenancy.Manager, slug, typ string) ([]sqlxschema.Target, map[string]tenantInfo, error) {
	targets, err := mgr.Targets(ctx)
	if err != nil {
		return nil, nil, err
	}
	tenants, err := mgr.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	info := make(map[string]tenantInfo, len(tenants))
	for _, t := range tenants {
		info[t.SchemaName] = tenantInfo{t.Slug, t.Type}
	}
	want := ""
	if slug != "" {
		t, err := mgr.BySlug(ctx, slug)
		if err != nil {
			return nil, nil, err
		}
		want = t.SchemaName
	}
	out := targets[:0]
	for _, tg := range targets {
		name := tg.Schema.String()
		if (want == "" || name == want) && (typ == "" || info[name].typ == typ) {
			out = append(out, tg)
		}
	}
	if want != "" && len(out) == 0 && typ == "" {
		return nil, nil, fmt.Errorf("migrate: tenant %q: schema %s not found among the migration targets", slug, want)
	}
	return out, info, nil
}

// planResult is one schema's part of migrate --plan.
type planResult struct {
	Schema  string   `json:"schema"`
	Tenant  string   `json:"tenant,omitempty"`
	Type    string   `json:"type,omitempty"`
	Shared  bool     `json:"shared,omitempty"`
	Pending []string `json:"pending"` // "set/version", in the order they would run
	Edited  []string `json:"edited,omitempty"`
}

// plan prints, for the shared schema and each tenant schema, the
// migrations that migrate would apply, from each set's files and the
// schema's bookkeeping table. It changes nothing.
func (c *cli) plan(ctx context.Context, mgr *tenancy.Manager, slug, typ string, asJSON bool) error {
	db := mgr.DB().Unwrap()
	migrator := sqlxschema.NewMigrator(mgr.DB())
	st := mgr.SharedTarget()
	pending, edited, err := migrator.Pending(ctx, db, st.Schema, st.Sets...)
	if err != nil {
		return fmt.Errorf("migrate --plan: %w", err)
	}
	shared := planResult{Schema: st.Schema.String(), Shared: true, Pending: nonNil(pending), Edited: edited}
	results := []planResult{shared}
	var ready bool
	if err := db.GetContext(ctx, &ready, `SELECT to_regclass($1) IS NOT NULL`, mgr.SharedSchema().Qualify("tenantkit_tenants")); err != nil {
		return err
	}
	var tenants []planResult
	if ready {
		targets, info, err := tenantTargets(ctx, mgr, slug, typ)
		if err != nil {
			return err
		}
		for _, tg := range targets {
			pending, edited, err := migrator.Pending(ctx, db, tg.Schema, tg.Sets...)
			if err != nil {
				return fmt.Errorf("migrate --plan: %w", err)
			}
			ti := info[tg.Schema.String()]
			tenants = append(tenants, planResult{Schema: tg.Schema.String(), Tenant: ti.slug, Type: ti.typ, Pending: nonNil(pending), Edited: edited})
		}
	}
	results = append(results, tenants...)
	if asJSON {
		return writeJSON(c.stdout, results)
	}
	for _, r := range results {
		name := r.Schema
		if r.Shared {
			name += " (shared)"
		}
		if len(r.Pending)+len(r.Edited) == 0 {
			fmt.Fprintf(c.stdout, "%s\tup to date\n", name)
		}
		for _, key := range r.Pending {
			fmt.Fprintf(c.stdout, "%s\twould apply %s\n", name, key)
		}
		for _, key := range r.Edited {
			fmt.Fprintf(c.stdout, "%s\tEDITED %s: the file changed after it was applied; migrate will refuse this schema\n", name, key)
		}
	}
	n, behind := 0, 0
	for _, r := range tenants {
		n += len(r.Pending)
		if len(r.Pending) > 0 {
			behind++
		}
	}
	fmt.Fprintf(c.stdout, "%d %s pending in the shared schema; %d in %d of %d tenant schemas; nothing applied",
		len(shared.Pending), plural(len(shared.Pending), "migration", "migrations"), n, behind, len(tenants))
	if !ready {
		fmt.Fprint(c.stdout, " (the shared schema is not migrated yet, so there are no tenants)")
	}
	fmt.Fprintln(c.stdout)
	return nil
}

// describe shortens a migration error for a line that already names the
// schema: "set/version: cause".
func describe(err error) string {
	var me *sqlxschema.MigrationError
	if !errors.As(err, &me) {
		return oneLine(err.Error())
	}
	where := me.Set
	if me.Version != "" {
		where += "/" + me.Version
	}
	if where == "" {
		return oneLine(me.Err.Error())
	}
	return where + ": " + oneLine(me.Err.Error())
}

// isTerminal reports whether w is a terminal (not a file, pipe or
// /dev/null).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// nonNil makes a nil slice encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
