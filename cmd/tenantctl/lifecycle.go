package main

import (
	"context"
	"fmt"

	"github.com/tenantkit/tenantkit/tenancy"
)

// deletedBySlug returns the most recently deleted tenant with slug.
func deletedBySlug(ctx context.Context, mgr *tenancy.Manager, slug string) (*tenancy.Tenant, error) {
	all, err := mgr.List(ctx)
	if err != nil {
		return nil, err
	}
	var found *tenancy.Tenant
	live := false
	for i := range all {
		t := &all[i]
		if t.Slug != slug {
			continue
		}
		if t.DeletedAt == nil {
			live = true
			continue
		}
		if found == nil || t.DeletedAt.After(*found.DeletedAt) {
			found = t
		}
	}
	switch {
	case found != nil:
		return found, nil
	case live:
		return nil, fmt.Errorf("tenancy: tenant %q: %w", slug, tenancy.ErrTenantLive)
	}
	return nil, fmt.Errorf("tenancy: no deleted tenant %q: %w", slug, tenancy.ErrTenantNotFound)
}

// lifecycleResult is the --json output of restore-tenant and purge-tenant.
type lifecycleResult struct {
	ID     int64  `json:"id"`
	Slug   string `json:"slug"`
	Schema string `json:"schema"`
	Owner  string `json:"owner,omitempty"`
	Action string `json:"action"` // restored or purged
}

func (c *cli) restoreTenant(ctx context.Context, cmd *command, args []string) error {
	fs, g := c.flagSet(cmd)
	slug := fs.String("slug", "", "`slug` of the deleted tenant")
	owner := fs.String("owner", "", "`email` of its new owner, an active user")
	if err := c.parse(cmd, fs, args, false); err != nil {
		return err
	}
	if err := required([2]string{"slug", *slug}, [2]string{"owner", *owner}); err != nil {
		return err
	}
	mgr, closeDB, err := c.connect(ctx, g)
	if err != nil {
		return err
	}
	defer closeDB()
	t, err := deletedBySlug(ctx, mgr, *slug)
	if err != nil {
		return err
	}
	u, err := mgr.Users().ByEmail(ctx, *owner)
	if err != nil {
		return err
	}
	if err := mgr.RestoreTenant(ctx, t.ID, u.ID); err != nil {
		return err
	}
	return c.emit(g, lifecycleResult{ID: t.ID, Slug: t.Slug, Schema: t.SchemaName, Owner: u.Email, Action: "restored"},
		fmt.Sprintf("restored tenant %s (id %d, schema %s), owned by %s\n", t.Slug, t.ID, t.SchemaName, u.Email))
}

func (c *cli) purgeTenant(ctx context.Context, cmd *command, args []string) error {
	fs, g := c.flagSet(cmd)
	slug := fs.String("slug", "", "`slug` of the deleted tenant")
	yes := fs.Bool("yes", false, "confirm: drop the schema and all its data, for good")
	if err := c.parse(cmd, fs, args, false); err != nil {
		return err
	}
	if err := required([2]string{"slug", *slug}); err != nil {
		return err
	}
	if !*yes {
		return usagef("purging drops the tenant's schema and data for good: add --yes to confirm")
	}
	mgr, closeDB, err := c.connect(ctx, g)
	if err != nil {
		return err
	}
	defer closeDB()
	t, err := deletedBySlug(ctx, mgr, *slug)
	if err != nil {
		return err
	}
	if err := mgr.PurgeTenant(ctx, t.ID); err != nil {
		return err
	}
	return c.emit(g, lifecycleResult{ID: t.ID, Slug: t.Slug, Schema: t.SchemaName, Action: "purged"},
		fmt.Sprintf("purged tenant %s (id %d): schema %s and its data are gone\n", t.Slug, t.ID, t.SchemaName))
}

func (c *cli) cloneTenant(ctx context.Context, cmd *command, args []string) error {
	fs, g := c.flagSet(cmd)
	from := fs.String("from", "", "`slug` of the live tenant to copy")
	name := fs.String("name", "", "the new tenant's display `name`")
	slug := fs.String("slug", "", "the new tenant's `slug`")
	owner := fs.String("owner", "", "`email` of the new tenant's owner, an existing active user")
	withData := fs.Bool("with-data", false, "copy the application's rows too (default: empty tables)")
	schema := fs.String("schema", "", "schema `name` of the copy (default: made from the slug)")
	if err := c.parse(cmd, fs, args, false); err != nil {
		return err
	}
	if err := required([2]string{"from", *from}, [2]string{"name", *name}, [2]string{"slug", *slug}, [2]string{"owner", *owner}); err != nil {
		return err
	}
	mgr, closeDB, err := c.connect(ctx, g)
	if err != nil {
		return err
	}
	defer closeDB()
	src, err := mgr.BySlug(ctx, *from)
	if err != nil {
		return err
	}
	u, err := mgr.Users().ByEmail(ctx, *owner)
	if err != nil {
		return err
	}
	var opts []tenancy.CloneOption
	if *withData {
		opts = append(opts, tenancy.CloneWithData())
	}
	if *schema != "" {
		opts = append(opts, tenancy.CloneSchemaName(*schema))
	}
	t, d, err := mgr.CloneTenant(ctx, src.ID, *name, *slug, u.ID, opts...)
	if err != nil {
		return err
	}
	return c.emitTenant(g, t, d)
}
