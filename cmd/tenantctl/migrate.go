package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/sqlxschema"
	"github.com/tenantkit/tenantkit/tenancy"
)

// migrateResult is one schema's line of migrate's output.
type migrateResult struct {
	Schema  string   `json:"schema"`
	Tenant  string   `json:"tenant,omitempty"` // the slug; empty for the shared schema
	Shared  bool     `json:"shared,omitempty"`
	Applied []string `json:"applied"` // "set/version"
	Error   string   `json:"error,omitempty"`
}

func (c *cli) migrate(ctx context.Context, cmd *command, args []string) error {
	fs, g := c.flagSet(cmd)
	parallel := fs.Int("parallel", 4, "migrate at most `N` tenant schemas at once")
	slug := fs.String("tenant", "", "after the shared schema, migrate only the tenant with this `slug`")
	plan := fs.Bool("plan", false, "list the tenant migrations that would run, and apply nothing")
	asJSON := fs.Bool("json", false, "print a JSON array of per-schema results instead of lines")
	if err := c.parse(cmd, fs, args, false); err != nil {
		return err
	}
	if *parallel < 1 {
		return usagef("--parallel must be at least 1")
	}
	mgr, closeDB, err := c.connect(ctx, g)
	if err != nil {
		return err
	}
	defer closeDB()
	if *plan {
		return c.plan(ctx, mgr, *slug, *asJSON)
	}

	start := time.Now()
	applied, err := mgr.MigrateShared(ctx)
	if err != nil {
		return err
	}
	results := []migrateResult{{Schema: mgr.SharedSchema().String(), Shared: true, Applied: nonNil(applied)}}
	if !*asJSON {
		fmt.Fprintf(c.stdout, "%s (shared)\tapplied %d\n", mgr.SharedSchema(), len(applied))
	}
	targets, slugs, err := tenantTargets(ctx, mgr, *slug)
	if err != nil {
		return err
	}

	// ApplyAll reports when a whole call is done, so long runs go in
	// batches, with a progress report after each.
	batch := c.migrateBatch
	if batch < 1 {
		batch = max(64, *parallel*8)
	}
	migrator := sqlxschema.NewMigrator(mgr.DB())
	progress := c.progress(len(targets) > batch, *asJSON)
	failed := 0
	for i := 0; i < len(targets); i += batch {
		part := targets[i:min(i+batch, len(targets))]
		rs, _ := migrator.ApplyAll(ctx, part, *parallel) // failures are in rs
		for _, r := range rs {
			res := migrateResult{Schema: r.Schema.String(), Tenant: slugs[r.Schema.String()], Applied: nonNil(r.Applied)}
			if r.Err != nil {
				failed++
				res.Error = describe(r.Err)
			}
			results = append(results, res)
			if *asJSON {
				continue
			}
			if r.Err != nil {
				fmt.Fprintf(c.stdout, "%s\tFAILED: %s\n", res.Schema, res.Error)
			} else {
				fmt.Fprintf(c.stdout, "%s\tapplied %d\n", res.Schema, len(res.Applied))
			}
		}
		progress(i+len(part), len(targets), failed)
		if ctx.Err() != nil {
			return fmt.Errorf("migrate: interrupted after %d of %d tenant schemas: %w", i+len(part), len(targets), ctx.Err())
		}
	}
	elapsed := time.Since(start)

	if *asJSON {
		if err := writeJSON(c.stdout, results); err != nil {
			return err
		}
	} else {
		rate := float64(len(targets)) / max(elapsed.Seconds(), 1e-6)
		n := len(targets) - failed
		fmt.Fprintf(c.stdout, "migrated %d %s in %v (%.1f/s), %d failed\n",
			n, plural(n, "schema", "schemas"), elapsed.Round(time.Millisecond), rate, failed)
	}
	if failed > 0 {
		return fmt.Errorf("migrate: %d of %d tenant schemas failed", failed, len(targets))
	}
	return nil
}

// tenantTargets returns the migration targets of every tenant schema
// (deleted tenants included), or only the live tenant slug's if slug is
// set, and each schema's tenant slug.
func tenantTargets(ctx context.Context, mgr *tenancy.Manager, slug string) ([]sqlxschema.Target, map[string]string, error) {
	targets, err := mgr.Targets(ctx)
	if err != nil {
		return nil, nil, err
	}
	tenants, err := mgr.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	slugs := make(map[string]string, len(tenants))
	for _, t := range tenants {
		slugs[t.SchemaName] = t.Slug
	}
	if slug == "" {
		return targets, slugs, nil
	}
	t, err := mgr.BySlug(ctx, slug)
	if err != nil {
		return nil, nil, err
	}
	for _, tg := range targets {
		if tg.Schema == t.Schema() {
			return []sqlxschema.Target{tg}, slugs, nil
		}
	}
	return nil, nil, fmt.Errorf("migrate: tenant %q: schema %s not found among the migration targets", slug, t.SchemaName)
}

// planResult is one schema's part of migrate --plan.
type planResult struct {
	Schema  string   `json:"schema"`
	Tenant  string   `json:"tenant,omitempty"`
	Pending []string `json:"pending"` // "set/version", in the order they would run
	Edited  []string `json:"edited,omitempty"`
}

// plan prints, for each tenant schema, the migrations that migrate would
// apply, from each set's files and the schema's bookkeeping table. It
// changes nothing.
func (c *cli) plan(ctx context.Context, mgr *tenancy.Manager, slug string, asJSON bool) error {
	db := mgr.DB().Unwrap()
	var ready bool
	if err := db.GetContext(ctx, &ready, `SELECT to_regclass($1) IS NOT NULL`, mgr.SharedSchema().Qualify("tenantkit_tenants")); err != nil {
		return err
	}
	if !ready {
		return fmt.Errorf("migrate --plan: the shared schema %s is not migrated yet, so there are no tenants to plan: run 'tenantctl migrate'", mgr.SharedSchema())
	}
	targets, slugs, err := tenantTargets(ctx, mgr, slug)
	if err != nil {
		return err
	}
	loaded := map[string][]sqlxschema.Migration{} // by set name
	var results []planResult
	pending, behind := 0, 0
	for _, tg := range targets {
		done, err := appliedVersions(ctx, db, tg.Schema)
		if err != nil {
			return fmt.Errorf("migrate --plan: read the bookkeeping of schema %s: %w", tg.Schema, err)
		}
		res := planResult{Schema: tg.Schema.String(), Tenant: slugs[tg.Schema.String()], Pending: []string{}}
		for _, set := range tg.Sets {
			migs, ok := loaded[set.Name]
			if !ok {
				if migs, err = set.Load(); err != nil {
					return err
				}
				loaded[set.Name] = migs
			}
			for _, m := range migs {
				key := set.Name + "/" + m.Version
				sum, ok := done[key]
				switch {
				case !ok:
					res.Pending = append(res.Pending, key)
				case sum != m.Checksum:
					res.Edited = append(res.Edited, key)
				}
			}
		}
		pending += len(res.Pending)
		if len(res.Pending) > 0 {
			behind++
		}
		results = append(results, res)
	}
	if asJSON {
		return writeJSON(c.stdout, nonNil(results))
	}
	for _, r := range results {
		if len(r.Pending)+len(r.Edited) == 0 {
			fmt.Fprintf(c.stdout, "%s\tup to date\n", r.Schema)
		}
		for _, key := range r.Pending {
			fmt.Fprintf(c.stdout, "%s\twould apply %s\n", r.Schema, key)
		}
		for _, key := range r.Edited {
			fmt.Fprintf(c.stdout, "%s\tEDITED %s: the file changed after it was applied; migrate will refuse this schema\n", r.Schema, key)
		}
	}
	fmt.Fprintf(c.stdout, "%d %s pending in %d of %d tenant schemas; nothing applied (the shared schema is not planned)\n",
		pending, plural(pending, "migration", "migrations"), behind, len(targets))
	return nil
}

// appliedVersions returns the checksum of each migration recorded in
// schema s, by "set/version"; none when s has no bookkeeping table yet.
func appliedVersions(ctx context.Context, db sqlx.QueryerContext, s sqlxschema.Schema) (map[string]string, error) {
	table := s.Qualify(sqlxschema.MigrationsTable)
	var exists bool
	if err := sqlx.GetContext(ctx, db, &exists, `SELECT to_regclass($1) IS NOT NULL`, table); err != nil {
		return nil, err
	}
	if !exists {
		return nil, nil
	}
	var rows []struct {
		Set      string `db:"set_name"`
		Version  string `db:"version"`
		Checksum string `db:"checksum"`
	}
	if err := sqlx.SelectContext(ctx, db, &rows, `SELECT set_name, version, checksum FROM `+table); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.Set+"/"+r.Version] = r.Checksum
	}
	return out, nil
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

// progress returns a function that reports done of total tenant schemas
// on stderr: a line rewritten in place on a terminal (unless the result
// lines go to that terminal too), plain lines otherwise. With enabled
// false it reports nothing.
func (c *cli) progress(enabled, asJSON bool) func(done, total, failed int) {
	if !enabled {
		return func(int, int, int) {}
	}
	tty := isTerminal(c.stderr) && (asJSON || !isTerminal(c.stdout))
	return func(done, total, failed int) {
		if tty {
			fmt.Fprintf(c.stderr, "\rmigrating: %d/%d schemas, %d failed", done, total, failed)
			if done == total {
				fmt.Fprintln(c.stderr)
			}
			return
		}
		fmt.Fprintf(c.stderr, "progress: %d/%d tenant schemas, %d failed\n", done, total, failed)
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
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
