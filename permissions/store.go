package permissions

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/tenantkit/tenantkit/internal/pgerr"
	"github.com/tenantkit/tenantkit/internal/shared"
	"github.com/tenantkit/tenantkit/sqlxschema"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the migration set for the permission tables, applied to
// every tenant schema before the tenant's own migrations (tenancy does it).
// A tenant migration may register its permissions with
// INSERT INTO tenantkit_permissions (codename, name) VALUES (...).
func Migrations() sqlxschema.Set {
	sub, _ := fs.Sub(migrationFiles, "migrations")
	return sqlxschema.Set{Name: "tenantkit.permissions", FS: sub}
}

var codenameRE = regexp.MustCompile(`^[a-z0-9_]+\.[a-z0-9_]+$`)

// ValidCodename reports whether perm has the form "app.action".
func ValidCodename(perm string) bool { return len(perm) <= 200 && codenameRE.MatchString(perm) }

// Permission is a registered permission of a tenant.
type Permission struct {
	// Codename is "app.action", e.g. "notes.add".
	Codename string `db:"codename"`
	// Name is a readable name, e.g. "Can add notes".
	Name string `db:"name"`
	// App is the app the permission belongs to: the part of Codename before
	// the dot. Register derives it; it is read-only.
	App string `db:"app"`
}

// Flags are a member's tenant-wide flags. A superuser of a tenant has
// every permission there; staff is a separate flag for the application.
type Flags struct {
	IsSuperuser bool `db:"is_superuser"`
	IsStaff     bool `db:"is_staff"`
}

// Store reads and writes permissions in the schema of the tenant in the
// context. Build it with New; it is safe for concurrent use.
type Store struct {
	db  *sqlxschema.DB
	raw *sqlx.DB
	t   shared.Tables
}

// Option configures a Store.
type Option func(*Store) error

// WithSharedSchema names the schema that holds the shared users table.
// Default "public".
func WithSharedSchema(name string) Option {
	return func(s *Store) error {
		sch, err := sqlxschema.ParseSchema(name)
		if err != nil {
			return err
		}
		s.t = shared.New(sch)
		return nil
	}
}

// New returns a Store on db. It does no I/O.
func New(db *sqlx.DB, opts ...Option) (*Store, error) {
	sdb, err := sqlxschema.New(db)
	if err != nil {
		return nil, err
	}
	s := &Store{db: sdb, raw: db, t: shared.New(sqlxschema.MustSchema(shared.DefaultSchema))}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// write runs fn for the tenant in ctx: in a transaction of its own, or,
// with tx, inside the caller's transaction with the search_path on the
// tenant's schema for fn's length (sqlxschema.DB.InTx). Then the
// request's memo (WithRequestCache) forgets that tenant's rights.
func (s *Store) write(ctx context.Context, tx *sqlx.Tx, fn func(*sqlx.Tx) error) error {
	sch, ok := sqlxschema.SchemaFromContext(ctx)
	var err error
	switch {
	case tx == nil:
		err = s.db.Tx(ctx, fn)
	case !ok:
		err = sqlxschema.ErrNoSchema
	default:
		err = s.db.InTx(ctx, tx, sch, fn)
	}
	if ok {
		forget(ctx, sch)
	}
	return err
}

func schemaOf(ctx context.Context) (sqlxschema.Schema, error) {
	s, ok := sqlxschema.SchemaFromContext(ctx)
	if !ok {
		return s, ErrNoTenant
	}
	return s, nil
}

// HasPerm reports whether user userID has perm in the tenant in ctx: true
// for an active member who is the tenant's superuser, or holds perm
// directly or through a group. A non-member, an inactive or deleted user,
// or an invalid codename has none. Without a tenant in ctx it returns
// ErrNoTenant. With WithRequestCache, repeated checks in one request cost
// one query.
func (s *Store) HasPerm(ctx context.Context, userID int64, perm string) (bool, error) {
	return s.HasPerms(ctx, userID, perm)
}

// HasPerms reports whether the user has every one of perms (see HasPerm).
// With no perms it reports active membership alone.
func (s *Store) HasPerms(ctx context.Context, userID int64, perms ...string) (bool, error) {
	if _, err := schemaOf(ctx); err != nil {
		return false, err
	}
	for _, p := range perms {
		if !ValidCodename(p) {
			return false, nil
		}
	}
	r, err := s.rightsOf(ctx, userID)
	if err != nil {
		return false, fmt.Errorf("permissions: check %v: %w", perms, err)
	}
	if !r.member {
		return false, nil
	}
	if r.superuser {
		return true, nil
	}
	for _, p := range perms {
		if !r.has(p) {
			return false, nil
		}
	}
	return true, nil
}

// HasModulePerms reports whether the user holds any permission of app (the
// part of codenames before the dot: "notes" for "notes.add") in the tenant
// in ctx, as Django's has_module_perms: true for the tenant's superuser,
// false for a non-member, an inactive user or an invalid app label.
func (s *Store) HasModulePerms(ctx context.Context, userID int64, app string) (bool, error) {
	if _, err := schemaOf(ctx); err != nil {
		return false, err
	}
	if !validApp(app) {
		return false, nil
	}
	r, err := s.rightsOf(ctx, userID)
	if err != nil {
		return false, fmt.Errorf("permissions: module perms %q: %w", app, err)
	}
	if !r.member {
		return false, nil
	}
	if r.superuser {
		return true, nil
	}
	prefix := app + "."
	for _, p := range r.all() {
		if strings.HasPrefix(p, prefix) {
			return true, nil
		}
	}
	return false, nil
}

// AllPermissions returns the codenames the user holds in the tenant in ctx,
// directly or through groups, sorted. A superuser gets every registered
// one; a non-member or inactive user none.
func (s *Store) AllPermissions(ctx context.Context, userID int64) ([]string, error) {
	r, err := s.rightsOf(ctx, userID)
	if err != nil {
		return nil, err
	}
	if r.superuser && r.member {
		return slices.Clone(r.registered), nil
	}
	return r.all(), nil
}

// GroupPermissions returns the codenames the user holds through its groups
// in the tenant in ctx, sorted. As in Django, a superuser gets every
// registered one; a non-member or inactive user none.
func (s *Store) GroupPermissions(ctx context.Context, userID int64) ([]string, error) {
	r, err := s.rightsOf(ctx, userID)
	if err != nil {
		return nil, err
	}
	if r.superuser && r.member {
		return slices.Clone(r.registered), nil
	}
	return slices.Clone(r.viaGroups), nil
}

// UserPermissions returns the codenames granted to the user directly in
// the tenant in ctx, sorted. As in Django, a superuser gets every
// registered one; a non-member or inactive user none.
func (s *Store) UserPermissions(ctx context.Context, userID int64) ([]string, error) {
	r, err := s.rightsOf(ctx, userID)
	if err != nil {
		return nil, err
	}
	if r.superuser && r.member {
		return slices.Clone(r.registered), nil
	}
	return slices.Clone(r.direct), nil
}

// UserFlags returns the member's flags in the tenant in ctx, or ErrNotMember.
func (s *Store) UserFlags(ctx context.Context, userID int64) (Flags, error) {
	var f Flags
	sch, err := schemaOf(ctx)
	if err != nil {
		return f, err
	}
	rows, err := s.raw.QueryxContext(ctx, `SELECT is_superuser, is_staff FROM `+sch.Qualify("tenantkit_user_tenant_permissions")+` WHERE user_id = $1`, userID)
	if err != nil {
		return f, fmt.Errorf("permissions: flags: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return f, fmt.Errorf("permissions: flags of user %d: %w", userID, ErrNotMember)
	}
	if err := rows.StructScan(&f); err != nil {
		return f, err
	}
	return f, rows.Err()
}

// Register adds permissions to the tenant in ctx; one already registered
// keeps its row and gets the new name.
func (s *Store) Register(ctx context.Context, perms ...Permission) error {
	return s.RegisterTx(ctx, nil, perms...)
}

// RegisterTx is Register inside the caller's transaction tx, for the
// tenant in ctx (its path is set for the call only); a nil tx is Register.
func (s *Store) RegisterTx(ctx context.Context, tx *sqlx.Tx, perms ...Permission) error {
	for _, p := range perms {
		if !ValidCodename(p.Codename) {
			return fmt.Errorf("%w: %q", ErrInvalidPermission, p.Codename)
		}
	}
	return s.write(ctx, tx, func(tx *sqlx.Tx) error {
		for _, p := range perms {
			if _, err := tx.ExecContext(ctx, `INSERT INTO tenantkit_permissions (codename, name) VALUES ($1, $2)
				ON CONFLICT (codename) DO UPDATE SET name = excluded.name`, p.Codename, p.Name); err != nil {
				return fmt.Errorf("permissions: register %q: %w", p.Codename, err)
			}
		}
		return nil
	})
}

// Permissions lists the permissions registered in the tenant in ctx, by
// codename.
func (s *Store) Permissions(ctx context.Context) ([]Permission, error) {
	var out []Permission
	err := s.db.Tx(ctx, func(tx *sqlx.Tx) error {
		return tx.SelectContext(ctx, &out, `SELECT codename, name, app FROM tenantkit_permissions ORDER BY codename`)
	})
	return out, err
}

// Grant gives the member perms directly, in the tenant in ctx. It returns
// ErrNotMember or ErrUnknownPermission; granting a held permission is not
// an error.
func (s *Store) Grant(ctx context.Context, userID int64, perms ...string) error {
	return s.GrantTx(ctx, nil, userID, perms...)
}

// GrantTx is Grant inside the caller's transaction tx, for the
// tenant in ctx (its path is set for the call only); a nil tx is Grant.
func (s *Store) GrantTx(ctx context.Context, tx *sqlx.Tx, userID int64, perms ...string) error {
	return s.write(ctx, tx, func(tx *sqlx.Tx) error {
		if err := requireMember(ctx, tx, userID); err != nil {
			return err
		}
		for _, p := range perms {
			id, err := permissionID(ctx, tx, p)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO tenantkit_user_permissions (user_id, permission_id) VALUES ($1, $2)
				ON CONFLICT DO NOTHING`, userID, id); err != nil {
				return fmt.Errorf("permissions: grant %q: %w", p, err)
			}
		}
		return nil
	})
}

// Revoke takes perms held directly from the member in the tenant in ctx
// (not those held through a group).
func (s *Store) Revoke(ctx context.Context, userID int64, perms ...string) error {
	return s.RevokeTx(ctx, nil, userID, perms...)
}

// RevokeTx is Revoke inside the caller's transaction tx, for the
// tenant in ctx (its path is set for the call only); a nil tx is Revoke.
func (s *Store) RevokeTx(ctx context.Context, tx *sqlx.Tx, userID int64, perms ...string) error {
	return s.write(ctx, tx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM tenantkit_user_permissions up USING tenantkit_permissions p
			WHERE up.permission_id = p.id AND up.user_id = $1 AND p.codename = ANY($2)`, userID, pq.Array(perms))
		if err != nil {
			return fmt.Errorf("permissions: revoke: %w", err)
		}
		return nil
	})
}

// SetFlags sets the member's superuser and staff flags in the tenant in ctx.
func (s *Store) SetFlags(ctx context.Context, userID int64, f Flags) error {
	return s.SetFlagsTx(ctx, nil, userID, f)
}

// SetFlagsTx is SetFlags inside the caller's transaction tx, for the
// tenant in ctx (its path is set for the call only); a nil tx is SetFlags.
func (s *Store) SetFlagsTx(ctx context.Context, tx *sqlx.Tx, userID int64, f Flags) error {
	return s.write(ctx, tx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE tenantkit_user_tenant_permissions SET is_superuser = $2, is_staff = $3 WHERE user_id = $1`,
			userID, f.IsSuperuser, f.IsStaff)
		if err != nil {
			return fmt.Errorf("permissions: set flags: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("permissions: set flags of user %d: %w", userID, ErrNotMember)
		}
		return nil
	})
}

// CreateGroup creates a group holding perms in the tenant in ctx. It
// returns ErrGroupExists or ErrUnknownPermission.
func (s *Store) CreateGroup(ctx context.Context, name string, perms ...string) error {
	return s.CreateGroupTx(ctx, nil, name, perms...)
}

// CreateGroupTx is CreateGroup inside the caller's transaction tx, for the
// tenant in ctx (its path is set for the call only); a nil tx is CreateGroup.
func (s *Store) CreateGroupTx(ctx context.Context, tx *sqlx.Tx, name string, perms ...string) error {
	return s.write(ctx, tx, func(tx *sqlx.Tx) error {
		var gid int64
		err := tx.GetContext(ctx, &gid, `INSERT INTO tenantkit_groups (name) VALUES ($1) RETURNING id`, name)
		if pgerr.IsUnique(err) {
			return fmt.Errorf("permissions: create group %q: %w", name, ErrGroupExists)
		}
		if err != nil {
			return fmt.Errorf("permissions: create group %q: %w", name, err)
		}
		for _, p := range perms {
			pid, err := permissionID(ctx, tx, p)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO tenantkit_group_permissions (group_id, permission_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, gid, pid); err != nil {
				return fmt.Errorf("permissions: create group %q: %w", name, err)
			}
		}
		return nil
	})
}

// AddToGroup puts the member in the named group of the tenant in ctx.
func (s *Store) AddToGroup(ctx context.Context, userID int64, group string) error {
	return s.AddToGroupTx(ctx, nil, userID, group)
}

// AddToGroupTx is AddToGroup inside the caller's transaction tx, for the
// tenant in ctx (its path is set for the call only); a nil tx is AddToGroup.
func (s *Store) AddToGroupTx(ctx context.Context, tx *sqlx.Tx, userID int64, group string) error {
	return s.write(ctx, tx, func(tx *sqlx.Tx) error {
		if err := requireMember(ctx, tx, userID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO tenantkit_user_groups (user_id, group_id)
			SELECT $1, id FROM tenantkit_groups WHERE name = $2 ON CONFLICT DO NOTHING`, userID, group)
		if err != nil {
			return fmt.Errorf("permissions: add to group %q: %w", group, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var exists bool
			if err := tx.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM tenantkit_groups WHERE name = $1)`, group); err != nil {
				return err
			}
			if !exists {
				return fmt.Errorf("permissions: add to group %q: %w", group, ErrUnknownGroup)
			}
		}
		return nil
	})
}

// RemoveFromGroup takes the member out of the named group.
func (s *Store) RemoveFromGroup(ctx context.Context, userID int64, group string) error {
	return s.RemoveFromGroupTx(ctx, nil, userID, group)
}

// RemoveFromGroupTx is RemoveFromGroup inside the caller's transaction tx, for the
// tenant in ctx (its path is set for the call only); a nil tx is RemoveFromGroup.
func (s *Store) RemoveFromGroupTx(ctx context.Context, tx *sqlx.Tx, userID int64, group string) error {
	return s.write(ctx, tx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM tenantkit_user_groups ug USING tenantkit_groups g
			WHERE ug.group_id = g.id AND ug.user_id = $1 AND g.name = $2`, userID, group)
		return err
	})
}

// UserGroups lists the names of the member's groups, sorted.
func (s *Store) UserGroups(ctx context.Context, userID int64) ([]string, error) {
	var out []string
	err := s.db.Tx(ctx, func(tx *sqlx.Tx) error {
		return tx.SelectContext(ctx, &out, `SELECT g.name FROM tenantkit_groups g JOIN tenantkit_user_groups ug ON ug.group_id = g.id
			WHERE ug.user_id = $1 ORDER BY g.name`, userID)
	})
	return out, err
}

// AddMemberTx creates the member's row in schema sch with flags, inside the
// caller's transaction. tenancy calls it when a user joins a tenant; it is
// not for direct use.
func (s *Store) AddMemberTx(ctx context.Context, ex sqlx.ExecerContext, sch sqlxschema.Schema, userID int64, f Flags) error {
	_, err := ex.ExecContext(ctx, `INSERT INTO `+sch.Qualify("tenantkit_user_tenant_permissions")+` (user_id, is_superuser, is_staff)
		VALUES ($1, $2, $3) ON CONFLICT (user_id) DO UPDATE SET is_superuser = excluded.is_superuser, is_staff = excluded.is_staff`,
		userID, f.IsSuperuser, f.IsStaff)
	forget(ctx, sch)
	if err != nil {
		return fmt.Errorf("permissions: add member %d to %s: %w", userID, sch, err)
	}
	return nil
}

// RemoveMemberTx deletes the member's row in schema sch, and with it its
// groups and direct permissions there. tenancy calls it.
func (s *Store) RemoveMemberTx(ctx context.Context, ex sqlx.ExecerContext, sch sqlxschema.Schema, userID int64) error {
	_, err := ex.ExecContext(ctx, `DELETE FROM `+sch.Qualify("tenantkit_user_tenant_permissions")+` WHERE user_id = $1`, userID)
	forget(ctx, sch)
	if err != nil {
		return fmt.Errorf("permissions: remove member %d from %s: %w", userID, sch, err)
	}
	return nil
}

// GroupCountTx returns how many groups of schema sch the user is in.
func (s *Store) GroupCountTx(ctx context.Context, ex sqlx.QueryerContext, sch sqlxschema.Schema, userID int64) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, ex, &n, `SELECT count(*) FROM `+sch.Qualify("tenantkit_user_groups")+` WHERE user_id = $1`, userID)
	return n, err
}

// SetSuperuserTx sets only the superuser flag of a member in schema sch.
func (s *Store) SetSuperuserTx(ctx context.Context, ex sqlx.ExecerContext, sch sqlxschema.Schema, userID int64, super bool) error {
	_, err := ex.ExecContext(ctx, `UPDATE `+sch.Qualify("tenantkit_user_tenant_permissions")+` SET is_superuser = $2 WHERE user_id = $1`, userID, super)
	forget(ctx, sch)
	return err
}

func requireMember(ctx context.Context, tx *sqlx.Tx, userID int64) error {
	var ok bool
	if err := tx.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM tenantkit_user_tenant_permissions WHERE user_id = $1)`, userID); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("permissions: user %d: %w", userID, ErrNotMember)
	}
	return nil
}

func permissionID(ctx context.Context, tx *sqlx.Tx, perm string) (int64, error) {
	if !ValidCodename(perm) {
		return 0, fmt.Errorf("%w: %q", ErrInvalidPermission, perm)
	}
	var ids []int64
	if err := tx.SelectContext(ctx, &ids, `SELECT id FROM tenantkit_permissions WHERE codename = $1`, perm); err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, fmt.Errorf("%w: %q", ErrUnknownPermission, perm)
	}
	return ids[0], nil
}
