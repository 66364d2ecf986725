package main

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/tenancy"
)

// execResult is one tenant's part of exec's --json output.
type execResult struct {
	Tenant   string      `json:"tenant"`
	Schema   string      `json:"schema"`
	Columns  []string    `json:"columns,omitempty"`
	Rows     [][]*string `json:"rows"`               // a query's rows, null for NULL; null for other statements
	Affected *int64      `json:"affected,omitempty"` // for a statement without rows
	Error    string      `json:"error,omitempty"`
}

func (c *cli) exec(ctx context.Context, cmd *command, args []string) error {
	fs, g := c.flagSet(cmd)
	stmt := fs.String("sql", "", "the SQL `statement`; unqualified names resolve in each tenant's schema")
	parallel := fs.Int("parallel", 4, "run in at most `N` tenants at once")
	slug := fs.String("tenant", "", "run only in the tenant with this `slug`")
	typ := fs.String("type", "", "run only in tenants of this `type`")
	if err := c.parse(cmd, fs, args, false); err != nil {
		return err
	}
	if err := required([2]string{"sql", *stmt}); err != nil {
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
	tenants, err := liveTenants(ctx, mgr, *slug, *typ)
	if err != nil {
		return err
	}

	// Workers run the statement; this goroutine prints each tenant's
	// output in tenant order as soon as it and those before it are done.
	start := time.Now()
	outs := make([]execResult, len(tenants))
	done := make([]chan struct{}, len(tenants))
	for i := range done {
		done[i] = make(chan struct{})
	}
	go func() {
		sem := make(chan struct{}, *parallel)
		for i := range tenants {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; close(done[i]) }()
				outs[i] = execIn(ctx, mgr, &tenants[i], *stmt)
			}()
		}
	}()
	failed := 0
	for i := range tenants {
		<-done[i]
		out := &outs[i]
		if out.Error != "" {
			failed++
		}
		if g.json {
			continue
		}
		for _, line := range out.lines() {
			fmt.Fprintln(c.stdout, line)
		}
		if out.Error != "" {
			fmt.Fprintf(c.stderr, "tenantctl: exec in %s: %s\n", out.Tenant, out.Error)
		}
	}
	if g.json {
		if err := writeJSON(c.stdout, outs); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("exec: the statement failed in %d of %d tenants", failed, len(tenants))
	}
	if !g.json {
		fmt.Fprintf(c.stderr, "exec: ran in %d %s in %v\n",
			len(tenants), plural(len(tenants), "tenant", "tenants"), time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// lines renders r for people: "slug<TAB>N rows affected", or one
// "slug<TAB>value<TAB>value..." line per row returned.
func (r *execResult) lines() []string {
	if r.Error != "" {
		return nil
	}
	if r.Affected != nil {
		return []string{fmt.Sprintf("%s\t%d %s affected", r.Tenant, *r.Affected, plural(*r.Affected, "row", "rows"))}
	}
	if len(r.Columns) == 0 { // such as WITH ... DELETE without RETURNING
		return []string{r.Tenant + "\tok"}
	}
	var out []string
	for _, row := range r.Rows {
		var b strings.Builder
		b.WriteString(r.Tenant)
		for _, v := range row {
			b.WriteByte('\t')
			if v != nil {
				b.WriteString(cellEscaper.Replace(*v))
			} else {
				b.WriteString("NULL")
			}
		}
		out = append(out, b.String())
	}
	return out
}

// liveTenants returns the live tenants, without the public one (its
// schema is the shared schema), or only the one with slug, or only
// those of type typ.
func liveTenants(ctx context.Context, mgr *tenancy.Manager, slug, typ string) ([]tenancy.Tenant, error) {
	if slug != "" {
		t, err := mgr.BySlug(ctx, slug)
		if err != nil {
			return nil, err
		}
		if typ != "" && t.Type != typ {
			return nil, nil
		}
		return []tenancy.Tenant{*t}, nil
	}
	all, err := mgr.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []tenancy.Tenant
	for _, t := range all {
		if t.IsLive() && !t.IsPublic() && (typ == "" || t.Type == typ) {
			out = append(out, t)
		}
	}
	return out, nil
}

// execIn runs stmt in tenant t's schema, in a transaction of its own.
func execIn(ctx context.Context, mgr *tenancy.Manager, t *tenancy.Tenant, stmt string) execResult {
	out := execResult{Tenant: t.Slug, Schema: t.SchemaName}
	err := mgr.DB().SchemaTx(ctx, t.Schema(), nil, func(tx *sqlx.Tx) error {
		if !returnsRows(stmt) {
			res, err := tx.ExecContext(ctx, stmt)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err == nil {
				out.Affected = &n
			}
			return nil
		}
		rows, err := tx.QueryContext(ctx, stmt)
		if err != nil {
			return err
		}
		defer rows.Close()
		if out.Columns, err = rows.Columns(); err != nil {
			return err
		}
		out.Rows = [][]*string{}
		vals := make([]sql.NullString, len(out.Columns))
		ptrs := make([]any, len(out.Columns))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			row := make([]*string, len(vals))
			for i, v := range vals {
				if v.Valid {
					s := v.String
					row[i] = &s
				}
			}
			out.Rows = append(out.Rows, row)
		}
		return rows.Err()
	})
	if err != nil {
		out = execResult{Tenant: t.Slug, Schema: t.SchemaName, Error: oneLine(err.Error())}
	}
	return out
}

// cellEscaper keeps a value on its line and in its column.
var cellEscaper = strings.NewReplacer("\\", `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`)

func plural[N int | int64](n N, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

var (
	leadingNoise = regexp.MustCompile(`^(?:\s+|--[^\n]*(?:\n|$)|/\*(?s:.*?)\*/|\()+`)
	firstWord    = regexp.MustCompile(`^[A-Za-z]+`)
	returning    = regexp.MustCompile(`(?i)\breturning\b`)
)

// returnsRows guesses whether stmt returns rows (a query, or a write with
// RETURNING) or only a count of affected rows: the driver cannot tell
// before running it, and running it twice is not an option.
func returnsRows(stmt string) bool {
	s := leadingNoise.ReplaceAllString(stmt, "")
	switch strings.ToLower(firstWord.FindString(s)) {
	case "select", "with", "values", "table", "show", "explain", "fetch":
		return true
	}
	return returning.MatchString(s)
}
