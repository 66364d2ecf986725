package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/tenantkit/tenantkit/tenancy"
)

// tenantRow is one line of list-tenants.
type tenantRow struct {
	ID      int64  `json:"id"`
	Slug    string `json:"slug"`
	Name    string `json:"name"`
	Schema  string `json:"schema"`
	Type    string `json:"type"`
	OwnerID int64  `json:"owner_id"`
	Owner   string `json:"owner"` // the owner's email
	State   string `json:"state"` // live, inactive or deleted
	Domain  string `json:"domain"`
}

func (c *cli) listTenants(ctx context.Context, cmd *command, args []string) error {
	fs, g := c.flagSet(cmd)
	all := fs.Bool("all", false, "include deleted tenants")
	typ := fs.String("type", "", "list only tenants of this `type`")
	if err := c.parse(cmd, fs, args, false); err != nil {
		return err
	}
	mgr, closeDB, err := c.connect(ctx, g)
	if err != nil {
		return err
	}
	defer closeDB()
	tenants, err := mgr.List(ctx)
	if err != nil {
		return err
	}
	owners := map[int64]string{}
	rows := []tenantRow{}
	for _, t := range tenants {
		if (!*all && t.DeletedAt != nil) || (*typ != "" && t.Type != *typ) {
			continue
		}
		row := tenantRow{ID: t.ID, Slug: t.Slug, Name: t.Name, Schema: t.SchemaName, Type: t.Type, OwnerID: t.OwnerID, State: "live"}
		switch {
		case t.DeletedAt != nil:
			row.State = "deleted"
		case !t.IsActive:
			row.State = "inactive"
		}
		email, ok := owners[t.OwnerID]
		if !ok {
			u, err := mgr.Users().ByID(ctx, t.OwnerID)
			if err != nil {
				return err
			}
			email, owners[t.OwnerID] = u.Email, u.Email
		}
		row.Owner = email
		domains, err := mgr.Domains(ctx, t.ID)
		if err != nil {
			return err
		}
		if len(domains) > 0 && domains[0].IsPrimary {
			row.Domain = domains[0].Domain
		}
		rows = append(rows, row)
	}
	if g.json {
		return writeJSON(c.stdout, rows)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSLUG\tNAME\tSCHEMA\tTYPE\tOWNER\tSTATE\tDOMAIN")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Slug, r.Name, r.Schema, r.Type, r.Owner, r.State, orDash(r.Domain))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c *cli) createPublicTenant(ctx context.Context, cmd *command, args []string) error {
	fs, g := c.flagSet(cmd)
	domain := fs.String("domain", "", "the public tenant's `domain`, such as example.com")
	owner := fs.String("owner", "", "`email` of its owner, the installation's operator (created without a password if missing)")
	if err := c.parse(cmd, fs, args, false); err != nil {
		return err
	}
	if err := required([2]string{"domain", *domain}, [2]string{"owner", *owner}); err != nil {
		return err
	}
	mgr, closeDB, err := c.connect(ctx, g)
	if err != nil {
		return err
	}
	defer closeDB()
	t, d, err := mgr.CreatePublicTenant(ctx, *domain, *owner)
	if err != nil {
		return err
	}
	return c.emitTenant(g, t, d)
}

func (c *cli) provision(ctx context.Context, cmd *command, args []string) error {
	fs, g := c.flagSet(cmd)
	name := fs.String("name", "", "the tenant's display `name`")
	slug := fs.String("slug", "", "the tenant's `slug`: lower-case letters, digits and inner hyphens")
	owner := fs.String("owner", "", "`email` of the tenant's owner, an existing active user")
	typ := fs.String("type", tenancy.DefaultType, "tenant `type`")
	schema := fs.String("schema", "", "schema `name` (default: made from the slug)")
	if err := c.parse(cmd, fs, args, false); err != nil {
		return err
	}
	if err := required([2]string{"name", *name}, [2]string{"slug", *slug}, [2]string{"owner", *owner}); err != nil {
		return err
	}
	mgr, closeDB, err := c.connect(ctx, g)
	if err != nil {
		return err
	}
	defer closeDB()
	u, err := mgr.Users().ByEmail(ctx, *owner)
	if err != nil {
		return err
	}
	opts := []tenancy.ProvisionOption{tenancy.WithType(*typ)}
	if *schema != "" {
		opts = append(opts, tenancy.WithSchemaName(*schema))
	}
	t, d, err := mgr.Provision(ctx, *name, *slug, u.ID, opts...)
	if err != nil {
		return err
	}
	return c.emitTenant(g, t, d)
}

func (c *cli) deleteTenant(ctx context.Context, cmd *command, args []string) error {
	fs, g := c.flagSet(cmd)
	slug := fs.String("slug", "", "`slug` of the live tenant to delete")
	if err := c.parse(cmd, fs, args, false); err != nil {
		return err
	}
	if err := required([2]string{"slug", *slug}); err != nil {
		return err
	}
	mgr, closeDB, err := c.connect(ctx, g)
	if err != nil {
		return err
	}
	defer closeDB()
	t, err := mgr.BySlug(ctx, *slug)
	if err != nil {
		return err
	}
	if err := mgr.DeleteTenant(ctx, t.ID); err != nil {
		return err
	}
	return c.emit(g, lifecycleResult{ID: t.ID, Slug: t.Slug, Schema: t.SchemaName, Action: "deleted"},
		fmt.Sprintf("deleted tenant %s (id %d); its schema %s and data are kept\n", t.Slug, t.ID, t.SchemaName))
}

// tenantOut is the --json output of the commands that create a tenant.
type tenantOut struct {
	ID     int64  `json:"id"`
	Slug   string `json:"slug"`
	Name   string `json:"name"`
	Schema string `json:"schema"`
	Type   string `json:"type"`
	Domain string `json:"domain"`
}

// emitTenant prints a new tenant: ID<TAB>SCHEMA<TAB>DOMAIN, or JSON.
func (c *cli) emitTenant(g *common, t *tenancy.Tenant, d *tenancy.Domain) error {
	return c.emit(g, tenantOut{ID: t.ID, Slug: t.Slug, Name: t.Name, Schema: t.SchemaName, Type: t.Type, Domain: d.Domain},
		fmt.Sprintf("%d\t%s\t%s\n", t.ID, t.SchemaName, d.Domain))
}
