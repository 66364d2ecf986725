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

func (c *cli) exec(ctx context.Context, cmd *command, args []string) error {
	fs, g := c.flagSet(cmd)
	stmt := fs.String("sql", "", "the SQL `statement`; unqualified names resolve in each tenant's schema")
	parallel := fs.Int("parallel", 4, "run in at most `N` tenants at once")
	slug := fs.String("tenant", "", "run only in the tenant with this `slug`")
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
	tenants, err := liveTenants(ctx, mgr, *slug)
	if err != nil {
		return err
	}

	// Workers run the statement; this goroutine prints each tenant's
	// output in tenant order as soon as it and those before it are done.
	start := time.Now()
	type outcome struct {
		lines []string
		err   error
	}
	outs := make([]outcome, len(tenants))
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
				lines, err := execIn(ctx, mgr, &tenants[i], *stmt)
				outs[i] = outcome{lines, err}
			}()
		}
	}()
	failed := 0
	for i := range tenants {
		<-done[i]
		for _, line := range outs[i].lines {
			fmt.Fprintln(c.stdout, line)
		}
		if err := outs[i].err; err != nil {
			failed++
			fmt.Fprintf(c.stderr, "tenantctl: exec in %s: %s\n", tenants[i].Slug, oneLine(err.Error()))
		}
	}
	if failed > 0 {
		return fmt.Errorf("exec: the statement failed in %d of %d tenants", failed, len(tenants))
	}
	fmt.Fprintf(c.stderr, "exec: ran in %d %s in %v\n",
		len(tenants), plural(len(tenants), "tenant", "tenants"), time.Since(start).Round(time.Millisecond))
	return nil
}

// liveTenants returns the live tenants, without the public one (its
// schema is the shared schema), or only the one with slug.
func liveTenants(ctx context.Context, mgr *tenancy.Manager, slug string) ([]tenancy.Tenant, error) {
	if slug != "" {
		t, err := mgr.BySlug(ctx, slug)
		if err != nil {
			return nil, err
		}
		return []tenancy.Tenant{*t}, nil
	}
	all, err := mgr.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []tenancy.Tenant
	for _, t := range all {
		if t.IsLive() && !t.IsPublic() {
			out = append(out, t)
		}
	}
	return out, nil
}

// execIn runs stmt in tenant t's schema, in a transaction of its own, and
// returns its output lines: "slug<TAB>N rows affected", or one
// "slug<TAB>value<TAB>value..." line per row returned.
func execIn(ctx context.Context, mgr *tenancy.Manager, t *tenancy.Tenant, stmt string) ([]string, error) {
	var lines []string
	err := mgr.DB().SchemaTx(ctx, t.Schema(), nil, func(tx *sqlx.Tx) error {
		if !returnsRows(stmt) {
			res, err := tx.ExecContext(ctx, stmt)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				lines = append(lines, t.Slug+"\tok")
				return nil
			}
			lines = append(lines, fmt.Sprintf("%s\t%d %s affected", t.Slug, n, plural(n, "row", "rows")))
			return nil
		}
		rows, err := tx.QueryContext(ctx, stmt)
		if err != nil {
			return err
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			return err
		}
		if len(cols) == 0 { // such as WITH ... DELETE without RETURNING
			lines = append(lines, t.Slug+"\tok")
		}
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			var b strings.Builder
			b.WriteString(t.Slug)
			for _, v := range vals {
				b.WriteByte('\t')
				if v.Valid {
					b.WriteString(cellEscaper.Replace(v.String))
				} else {
					b.WriteString("NULL")
				}
			}
			lines = append(lines, b.String())
		}
		return rows.Err()
	})
	return lines, err
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
