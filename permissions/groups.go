package permissions

import (
	"context"
	"fmt"
	"slices"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Group is a named set of permissions of a tenant.
type Group struct {
	// Name is the group's name, unique in the tenant.
	Name string `db:"name"`
	// Permissions are the codenames the group holds, sorted.
	Permissions []string `db:"-"`
}

// Groups lists the groups of the tenant in ctx, by name, with their
// permissions.
func (s *Store) Groups(ctx context.Context) ([]Group, error) {
	var rows []struct {
		Name  string         `db:"name"`
		Perms pq.StringArray `db:"perms"`
	}
	err := s.db.Tx(ctx, func(tx *sqlx.Tx) error {
		return tx.SelectContext(ctx, &rows, `SELECT g.name,
				array(SELECT p.codename FROM tenantkit_group_permissions gp
					JOIN tenantkit_permissions p ON p.id = gp.permission_id WHERE gp.group_id = g.id) AS perms
			FROM tenantkit_groups g ORDER BY g.name`)
	})
	if err != nil {
		return nil, fmt.Errorf("permissions: groups: %w", err)
	}
	out := make([]Group, len(rows))
	for i, r := range rows {
		slices.Sort(r.Perms)
		out[i] = Group{Name: r.Name, Permissions: r.Perms}
	}
	return out, nil
}

// SetGroupPermissions makes perms the permissions of the named group of
// the tenant in ctx, replacing the ones it had. It returns ErrUnknownGroup,
// ErrInvalidPermission or ErrUnknownPermission, and then changes nothing.
func (s *Store) SetGroupPermissions(ctx context.Context, group string, perms ...string) error {
	return s.SetGroupPermissionsTx(ctx, nil, group, perms...)
}

// SetGroupPermissionsTx is SetGroupPermissions inside the caller's transaction tx, for the
// tenant in ctx (its path is set for the call only); a nil tx is SetGroupPermissions.
func (s *Store) SetGroupPermissionsTx(ctx context.Context, tx *sqlx.Tx, group string, perms ...string) error {
	return s.write(ctx, tx, func(tx *sqlx.Tx) error {
		var ids []int64
		if err := tx.SelectContext(ctx, &ids, `SELECT id FROM tenantkit_groups WHERE name = $1`, group); err != nil {
			return fmt.Errorf("permissions: set group permissions: %w", err)
		}
		if len(ids) == 0 {
			return fmt.Errorf("permissions: set permissions of %q: %w", group, ErrUnknownGroup)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tenantkit_group_permissions WHERE group_id = $1`, ids[0]); err != nil {
			return fmt.Errorf("permissions: set group permissions: %w", err)
		}
		for _, p := range perms {
			pid, err := permissionID(ctx, tx, p)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO tenantkit_group_permissions (group_id, permission_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, ids[0], pid); err != nil {
				return fmt.Errorf("permissions: set group permissions: %w", err)
			}
		}
		return nil
	})
}

// DeleteGroup deletes the named group of the tenant in ctx; its members
// lose the permissions they held through it. It returns ErrUnknownGroup.
func (s *Store) DeleteGroup(ctx context.Context, group string) error {
	return s.DeleteGroupTx(ctx, nil, group)
}

// DeleteGroupTx is DeleteGroup inside the caller's transaction tx, for the
// tenant in ctx (its path is set for the call only); a nil tx is DeleteGroup.
func (s *Store) DeleteGroupTx(ctx context.Context, tx *sqlx.Tx, group string) error {
	return s.write(ctx, tx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM tenantkit_groups WHERE name = $1`, group)
		if err != nil {
			return fmt.Errorf("permissions: delete group: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("permissions: delete group %q: %w", group, ErrUnknownGroup)
		}
		return nil
	})
}
