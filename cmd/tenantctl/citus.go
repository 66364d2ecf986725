package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/tenantkit/tenantkit/sqlxschema"
	"github.com/tenantkit/tenantkit/tenancy"
)

// citusResult is one schema's part of check-citus's --json output.
type citusResult struct {
	Schema     string           `json:"schema"`
	Tenant     string           `json:"tenant,omitempty"`
	Type       string           `json:"type,omitempty"`
	Violations []citusViolation `json:"violations"` // empty when the schema is self-contained
}

// citusViolation is one sqlxschema.Violation.
type citusViolation struct {
	Kind       string `json:"kind"`
	Object     string `json:"object"`
	References string `json:"references,omitempty"`
	Why        string `json:"why"`
}

// names is a repeatable flag of names.
type names []string

func (n *names) String() string     { return strings.Join(*n, ",") }
func (n *names) Set(v string) error { *n = append(*n, v); return nil }

// extraSearchPathFlag adds the repeatable --extra-search-path flag to fs.
func extraSearchPathFlag(fs *flag.FlagSet) *names {
	var n names
	fs.Var(&n, "extra-search-path", "`schema` the application puts on tenants' search_path after theirs (tenancy.WithExtraSearchPath),\n"+
		"such as one holding extensions; the Citus check allows its types and functions (repeatable)")
	return &n
}

func (c *cli) checkCitus(ctx context.Context, cmd *command, args []string) error {
	fs, g := c.flagSet(cmd)
	slug := fs.String("tenant", "", "check only the tenant with this `slug`")
	typ := fs.String("type", "", "check only tenants of this `type`")
	extra := extraSearchPathFlag(fs)
	if err := c.parse(cmd, fs, args, false); err != nil {
		return err
	}
	mgr, closeDB, err := c.connect(ctx, g, tenancy.WithExtraSearchPath(*extra...))
	if err != nil {
		return err
	}
	defer closeDB()
	targets, info, err := tenantTargets(ctx, mgr, *slug, *typ)
	if err != nil {
		return err
	}
	var schemas []sqlxschema.Schema
	results := make([]citusResult, 0, len(targets))
	index := map[string]int{}
	for _, tg := range targets {
		if tg.Schema == mgr.SharedSchema() {
			continue // the public tenant's: it stays on the coordinator
		}
		ti := info[tg.Schema.String()]
		index[tg.Schema.String()] = len(results)
		results = append(results, citusResult{Schema: tg.Schema.String(), Tenant: ti.slug, Type: ti.typ, Violations: []citusViolation{}})
		schemas = append(schemas, tg.Schema)
	}
	var vs []sqlxschema.Violation
	if len(schemas) > 0 { // CheckCitus with none checks them all
		if vs, err = mgr.CheckCitus(ctx, schemas...); err != nil {
			return err
		}
	}
	for _, v := range vs {
		r := &results[index[v.Schema]]
		r.Violations = append(r.Violations, citusViolation{Kind: string(v.Kind), Object: v.Object, References: v.References, Why: v.Why})
	}
	bad := 0
	for _, r := range results {
		if len(r.Violations) > 0 {
			bad++
		}
	}
	if g.json {
		if err := writeJSON(c.stdout, results); err != nil {
			return err
		}
	} else {
		for _, v := range vs {
			fmt.Fprintf(c.stdout, "%s\t%s\n", v.Schema, oneLine(v.String()))
		}
		if bad == 0 {
			fmt.Fprintf(c.stdout, "checked %d tenant %s: all self-contained\n", len(results), plural(len(results), "schema", "schemas"))
		} else {
			fmt.Fprintf(c.stdout, "checked %d tenant %s: %d %s in %d %s\n", len(results), plural(len(results), "schema", "schemas"),
				len(vs), plural(len(vs), "problem", "problems"), bad, plural(bad, "schema", "schemas"))
		}
	}
	if bad > 0 {
		return fmt.Errorf("check-citus: %d of %d tenant schemas would not move to a Citus worker on their own (see docs/citus.md)", bad, len(results))
	}
	return nil
}
