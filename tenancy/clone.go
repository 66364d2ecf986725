package tenancy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/permissions"
	"github.com/tenantkit/tenantkit/sqlxschema"
)

// CloneOption configures one CloneTenant call.
type CloneOption func(*cloneConfig) error

type cloneConfig struct {
	data   bool
	schema string
}

// CloneWithData copies the rows of the application's tables too. Without
// it they are copied empty (their sequences still continue from the
// source's values).
func CloneWithData() CloneOption {
	return func(c *cloneConfig) error { c.data = true; return nil }
}

// CloneSchemaName names the clone's schema, as WithSchemaName does for
// Provision.
func CloneSchemaName(name string) CloneOption {
	return func(c *cloneConfig) error {
		if name == "" {
			return fmt.Errorf("%w: CloneSchemaName: empty name", ErrInvalidOption)
		}
		c.schema = name
		return nil
	}
}

// tenantkit's own tables in a tenant schema: their rows are copied always
// (definitions, and the migration bookkeeping so the clone is at the same
// versions), or never (memberships: the clone's only member is its owner).
var (
	cloneAlwaysRows = map[string]bool{sqlxschema.MigrationsTable: true, "tenantkit_permissions": true,
		"tenantkit_groups": true, "tenantkit_group_permissions": true}
	cloneNeverRows = map[string]bool{"tenantkit_user_tenant_permissions": true, "tenantkit_user_groups": true,
		"tenantkit_user_permissions": true}
)

// CloneTenant creates a tenant named name with slug, owned by ownerID (its
// only member, a superuser), of the source's type, whose schema is a copy of
// the source tenant's: every table with its columns, defaults, constraints
// (foreign keys included) and indexes, and every sequence at its current
// value, all in one transaction, so a failure leaves nothing behind. The
// rows of tenantkit's permission definitions, groups and migration
// bookkeeping are copied (the clone is at the source's migration versions);
// members and their rights are not; the application's rows only with
// CloneWithData (rows that its migrations inserted included: without
// CloneWithData, they are missing from the clone).
//
// Views, functions, triggers, row-level security policies, partitioned
// tables and types of the source schema are not copied: a source that has
// any returns a *CloneUnsupportedError (errors.Is ErrCloneUnsupported)
// listing them, before anything is written. Grants on the tables are not
// copied. The source is locked against deletion meanwhile, but writes to
// its tables go on: with CloneWithData the copy is a consistent snapshot
// only at the REPEATABLE READ isolation level (use CloneTenantTx).
//
// It returns the new tenant and its primary domain slug.<base>. Errors: as
// Provision, plus ErrTenantNotFound, ErrTenantPending and ErrClonePublic
// for the source. The TenantProvisioned hooks run in the transaction.
func (m *Manager) CloneTenant(ctx context.Context, sourceTenantID int64, name, slug string, ownerID int64, opts ...CloneOption) (*Tenant, *Domain, error) {
	var t *Tenant
	var d *Domain
	err := m.inTxHooks(ctx, func(ctx context.Context, tx *sqlx.Tx) error {
		var err error
		t, d, err = m.CloneTenantTx(ctx, tx, sourceTenantID, name, slug, ownerID, opts...)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	m.FlushCache() // negative entries for the new domain
	return t, d, nil
}

// CloneTenantTx is CloneTenant inside the caller's transaction. The
// transaction's search_path is restored before it returns.
func (m *Manager) CloneTenantTx(ctx context.Context, tx *sqlx.Tx, sourceTenantID int64, name, slug string, ownerID int64, opts ...CloneOption) (*Tenant, *Domain, error) {
	fail := func(err error) (*Tenant, *Domain, error) {
		return nil, nil, fmt.Errorf("tenancy: clone tenant %d as %q: %w", sourceTenantID, slug, err)
	}
	var cfg cloneConfig
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return fail(err)
		}
	}
	if err := ValidateSlug(slug); err != nil {
		return fail(err)
	}
	if m.reserved[slug] {
		return fail(fmt.Errorf("%w %q: reserved", ErrInvalidSlug, slug))
	}
	if strings.TrimSpace(name) == "" {
		return fail(errors.New("empty name"))
	}
	var src Tenant
	err := tx.GetContext(ctx, &src, `SELECT `+tenantColumns+` FROM `+m.t.Tenants+` WHERE id = $1 AND deleted_at IS NULL FOR SHARE`, sourceTenantID)
	if errors.Is(err, sql.ErrNoRows) {
		return fail(fmt.Errorf("source: %w", ErrTenantNotFound))
	}
	if err != nil {
		return fail(err)
	}
	src.init()
	switch {
	case src.IsPublic():
		return fail(ErrClonePublic)
	case src.State == StatePending:
		return fail(&PendingError{Tenant: &src})
	case src.Schema().IsZero():
		return fail(fmt.Errorf("%w: %q", ErrInvalidSchema, src.SchemaName))
	}
	var schema sqlxschema.Schema
	if cfg.schema != "" {
		if schema, err = sqlxschema.ParseSchema(cfg.schema); err != nil {
			return fail(err)
		}
		if reason := m.schemaRefusal(cfg.schema, false); reason != "" {
			return fail(&sqlxschema.InvalidSchemaError{Name: cfg.schema, Reason: reason})
		}
	} else if schema, err = schemaForSlug(slug); err != nil {
		return fail(err)
	}
	domain, err := NormalizeHost(slug + "." + m.baseDomain)
	if err != nil {
		return fail(err)
	}
	if err := m.cloneCheck(ctx, tx, src.Schema()); err != nil {
		return fail(err)
	}
	var path string
	if err := tx.GetContext(ctx, &path, `SELECT current_setting('search_path')`); err != nil {
		return fail(err)
	}
	if err := m.lockActiveUser(ctx, tx, ownerID); err != nil {
		return fail(err)
	}
	t, err := m.insertTenant(ctx, tx, name, slug, schema.String(), src.Type, ownerID, nil, nil)
	if err != nil {
		return fail(err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE SCHEMA `+schema.Quoted()); err != nil {
		if c, ok := pqCode(err); ok && c == "42P06" {
			return fail(fmt.Errorf("%w: %s", ErrSchemaExists, schema))
		}
		return fail(err)
	}
	if err := m.cloneSchema(ctx, tx, src.Schema(), schema, cfg.data); err != nil {
		return fail(err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT set_config('search_path', $1, true)`, path); err != nil {
		return fail(err)
	}
	d, err := m.insertDomain(ctx, tx, t.ID, domain, true, nil, nil)
	if err != nil {
		return fail(err)
	}
	t.PrimaryDomain = d.Domain
	if err := m.addMemberTx(ctx, tx, t, ownerID, permissions.Flags{IsSuperuser: true}); err != nil {
		return fail(err)
	}
	if err := m.hookProvisioned(ctx, tx, t); err != nil {
		return fail(err)
	}
	return t, d, nil
}

// cloneCheck lists what cloneSchema cannot copy.
func (m *Manager) cloneCheck(ctx context.Context, tx *sqlx.Tx, src sqlxschema.Schema) error {
	var objs []string
	err := tx.SelectContext(ctx, &objs, `
		SELECT CASE c.relkind WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view ' WHEN 'f' THEN 'foreign table '
			ELSE 'partitioned table ' END || c.relname
		FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('v', 'm', 'f', 'p')
		UNION ALL
		SELECT 'function ' || p.proname FROM pg_proc p WHERE p.pronamespace = $1::regnamespace
		UNION ALL
		SELECT 'trigger ' || tg.tgname || ' on ' || c.relname FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
		WHERE c.relnamespace = $1::regnamespace AND NOT tg.tgisinternal
		UNION ALL
		SELECT 'policy ' || po.polname || ' on ' || c.relname FROM pg_policy po JOIN pg_class c ON c.oid = po.polrelid
		WHERE c.relnamespace = $1::regnamespace
		UNION ALL
		SELECT 'type ' || ty.typname FROM pg_type ty
		WHERE ty.typnamespace = $1::regnamespace AND (ty.typtype IN ('e', 'd', 'r', 'm')
			OR (ty.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = ty.typrelid) = 'c'))
		ORDER BY 1`, src.Quoted())
	if err != nil {
		return err
	}
	if len(objs) > 0 {
		return &CloneUnsupportedError{Objects: objs}
	}
	return nil
}

// cloneSchema copies src's sequences and tables into the empty schema dst.
// Expressions (column defaults, foreign keys) are printed with the
// search_path on src, so names in src come out unqualified, and replayed
// with it on dst, so the same names then mean dst's objects.
func (m *Manager) cloneSchema(ctx context.Context, tx *sqlx.Tx, src, dst sqlxschema.Schema, data bool) error {
	if err := m.sdb.SetLocal(ctx, tx, src); err != nil {
		return err
	}
	// Sequences that are not an identity column's (those come with LIKE).
	var seqs []struct {
		Name      string  `db:"name"`
		Type      string  `db:"type"`
		Start     int64   `db:"start"`
		Increment int64   `db:"increment"`
		Min       int64   `db:"min"`
		Max       int64   `db:"max"`
		Cache     int64   `db:"cache"`
		Cycle     bool    `db:"cycle"`
		Last      *int64  `db:"last"`
		OwnerTab  *string `db:"owner_table"`
		OwnerCol  *string `db:"owner_column"`
	}
	err := tx.SelectContext(ctx, &seqs, `
		SELECT c.relname AS name, format_type(s.seqtypid, NULL) AS type, s.seqstart AS start, s.seqincrement AS increment,
			s.seqmin AS min, s.seqmax AS max, s.seqcache AS cache, s.seqcycle AS cycle, ps.last_value AS last,
			oc.relname AS owner_table, oa.attname AS owner_column
		FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
		JOIN pg_sequences ps ON ps.schemaname = $1 AND ps.sequencename = c.relname
		LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
		LEFT JOIN pg_class oc ON oc.oid = d.refobjid
		LEFT JOIN pg_attribute oa ON oa.attrelid = d.refobjid AND oa.attnum = d.refobjsubid
		WHERE c.relnamespace = $2::regnamespace AND coalesce(d.deptype, 'a') <> 'i'
		ORDER BY c.relname`, src.String(), src.Quoted())
	if err != nil {
		return fmt.Errorf("read sequences: %w", err)
	}
	for _, s := range seqs {
		cycle := "NO CYCLE"
		if s.Cycle {
			cycle = "CYCLE"
		}
		q := fmt.Sprintf(`CREATE SEQUENCE %s AS %s INCREMENT BY %d MINVALUE %d MAXVALUE %d START WITH %d CACHE %d %s`,
			dst.Qualify(s.Name), s.Type, s.Increment, s.Min, s.Max, s.Start, s.Cache, cycle)
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("sequence %s: %w", s.Name, err)
		}
		if s.Last != nil {
			if _, err := tx.ExecContext(ctx, `SELECT setval($1::regclass, $2, true)`, dst.Qualify(s.Name), *s.Last); err != nil {
				return fmt.Errorf("sequence %s: %w", s.Name, err)
			}
		}
	}
	var tables []string
	if err := tx.SelectContext(ctx, &tables, `SELECT relname FROM pg_class WHERE relnamespace = $1::regnamespace AND relkind = 'r' ORDER BY relname`, src.Quoted()); err != nil {
		return fmt.Errorf("read tables: %w", err)
	}
	for _, tb := range tables {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE `+dst.Qualify(tb)+` (LIKE `+src.Qualify(tb)+` INCLUDING ALL)`); err != nil {
			return fmt.Errorf("table %s: %w", tb, err)
		}
	}
	// Defaults that use a sequence of src still point at it: replay them.
	var defaults []struct {
		Table  string `db:"tab"`
		Column string `db:"col"`
		Expr   string `db:"expr"`
	}
	if err := tx.SelectContext(ctx, &defaults, `
		SELECT c.relname AS tab, a.attname AS col, pg_get_expr(ad.adbin, ad.adrelid) AS expr
		FROM pg_attrdef ad JOIN pg_class c ON c.oid = ad.adrelid
		JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
		WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'r' AND EXISTS (
			SELECT 1 FROM pg_depend d JOIN pg_class s ON s.oid = d.refobjid
			WHERE d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid AND d.refclassid = 'pg_class'::regclass
			AND s.relkind = 'S' AND s.relnamespace = c.relnamespace)
		ORDER BY 1, 2`, src.Quoted()); err != nil {
		return fmt.Errorf("read defaults: %w", err)
	}
	var fks []struct {
		Table string `db:"tab"`
		Name  string `db:"name"`
		Def   string `db:"def"`
	}
	if err := tx.SelectContext(ctx, &fks, `
		SELECT c.relname AS tab, con.conname AS name, pg_get_constraintdef(con.oid) AS def
		FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
		WHERE c.relnamespace = $1::regnamespace AND con.contype = 'f' ORDER BY 1, 2`, src.Quoted()); err != nil {
		return fmt.Errorf("read foreign keys: %w", err)
	}
	if err := m.sdb.SetLocal(ctx, tx, dst); err != nil {
		return err
	}
	for _, d := range defaults {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE `+dst.Qualify(d.Table)+` ALTER COLUMN `+sqlxschema.QuoteIdent(d.Column)+` SET DEFAULT `+d.Expr); err != nil {
			return fmt.Errorf("default of %s.%s: %w", d.Table, d.Column, err)
		}
	}
	for _, s := range seqs {
		if s.OwnerTab != nil && s.OwnerCol != nil {
			if _, err := tx.ExecContext(ctx, `ALTER SEQUENCE `+dst.Qualify(s.Name)+` OWNED BY `+dst.Qualify(*s.OwnerTab)+`.`+sqlxschema.QuoteIdent(*s.OwnerCol)); err != nil {
				return fmt.Errorf("sequence %s: %w", s.Name, err)
			}
		}
	}
	// Identity columns got new sequences from LIKE: bring them level.
	if _, err := tx.ExecContext(ctx, `
		SELECT setval(pg_get_serial_sequence(format('%I.%I', $2::text, c.relname), a.attname), ps.last_value, true)
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
		JOIN pg_sequences ps ON format('%I.%I', ps.schemaname, ps.sequencename)::regclass =
			pg_get_serial_sequence(format('%I.%I', $1::text, c.relname), a.attname)::regclass
		WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'r' AND a.attidentity <> '' AND ps.last_value IS NOT NULL`,
		src.String(), dst.String()); err != nil {
		return fmt.Errorf("identity sequences: %w", err)
	}
	for _, tb := range tables {
		if cloneNeverRows[tb] || !(data || cloneAlwaysRows[tb]) {
			continue
		}
		var cols []string
		if err := tx.SelectContext(ctx, &cols, `SELECT quote_ident(attname) FROM pg_attribute
			WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`, src.Qualify(tb)); err != nil {
			return fmt.Errorf("columns of %s: %w", tb, err)
		}
		list := strings.Join(cols, ", ")
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+dst.Qualify(tb)+` (`+list+`) OVERRIDING SYSTEM VALUE SELECT `+list+` FROM `+src.Qualify(tb)); err != nil {
			return fmt.Errorf("rows of %s: %w", tb, err)
		}
	}
	for _, fk := range fks {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE `+dst.Qualify(fk.Table)+` ADD CONSTRAINT `+sqlxschema.QuoteIdent(fk.Name)+` `+fk.Def); err != nil {
			return fmt.Errorf("foreign key %s on %s: %w", fk.Name, fk.Table, err)
		}
	}
	return nil
}
