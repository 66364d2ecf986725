package sqlxschema

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"
)

// ViolationKind says how an object of a schema reaches outside it.
type ViolationKind string

// The kinds of Violation that CheckSelfContained reports.
const (
	// KindForeignKey: a foreign key from a table of the schema to a table
	// of another schema.
	KindForeignKey ViolationKind = "foreign key"
	// KindReferencedBy: a foreign key from a table of another schema to a
	// table of the schema.
	KindReferencedBy ViolationKind = "referenced by foreign key"
	// KindSequence: a column default that draws from a sequence of another
	// schema.
	KindSequence ViolationKind = "sequence"
	// KindView: a view or materialized view over a relation of another
	// schema.
	KindView ViolationKind = "view"
	// KindFunction: a default, check, index, trigger or function that uses a
	// function of another schema.
	KindFunction ViolationKind = "function"
	// KindType: a column, function or type that uses a type of another
	// schema.
	KindType ViolationKind = "type"
	// KindInheritance: table inheritance (INHERITS) involving a table of the
	// schema, or a partition whose parent is in another schema.
	KindInheritance ViolationKind = "inheritance"
	// KindForeignTable: a foreign table in the schema.
	KindForeignTable ViolationKind = "foreign table"
	// KindExtension: an extension installed in the schema.
	KindExtension ViolationKind = "extension"
	// KindRule: a rule (CREATE RULE) on a table of the schema.
	KindRule ViolationKind = "rule"
	// KindDependency: any other dependency on an object of another schema,
	// such as a row-level security policy that reads another schema's table.
	KindDependency ViolationKind = "dependency"
)

// why says in a few words why each kind keeps a schema from moving alone.
var why = map[ViolationKind]string{
	KindForeignKey:   "Citus distributes a schema only when its foreign keys stay inside it or point at reference tables",
	KindReferencedBy: "Citus refuses foreign keys from another schema into a distributed schema",
	KindSequence:     "the schema's ids come from a counter that does not move with it",
	KindView:         "it reads data that does not move with the schema",
	KindFunction:     "the function does not move with the schema",
	KindType:         "the type does not move with the schema",
	KindInheritance:  "Citus refuses inheritance, and partitions across schemas, in a distributed schema",
	KindForeignTable: "Citus refuses foreign tables in a distributed schema",
	KindExtension:    "Citus cannot distribute a schema that holds an extension",
	KindRule:         "Citus does not support rules on distributed tables",
	KindDependency:   "the object does not move with the schema",
}

// Violation is one object of a schema that keeps the schema from being
// self-contained.
type Violation struct {
	Schema string        // the schema checked
	Kind   ViolationKind // how it reaches outside
	// Object is the object in the schema, as PostgreSQL identifies it:
	// "table constraint notes_author_fk on acme.notes", "view acme.report",
	// "default value for acme.notes.id".
	Object string
	// References is what Object depends on outside the schema ("table
	// public.tenantkit_users", "function public.audit()"), or, for
	// KindReferencedBy, the foreign key that points into the schema. It is
	// empty for KindExtension and KindRule, and names the server for
	// KindForeignTable.
	References string
	Why        string // a short reason, for people
}

// String returns "kind: object references references (why)".
func (v Violation) String() string {
	s := string(v.Kind) + ": " + v.Object
	if v.References != "" {
		if v.Kind == KindReferencedBy {
			s += ", by " + v.References
		} else {
			s += " references " + v.References
		}
	}
	return s + " (" + v.Why + ")"
}

// CheckSelfContained reports whether schema s is self-contained: whether
// it could move to a database node of its own, as Citus schema-based
// sharding moves each distributed schema to one worker. It reads the
// catalog (pg_depend, pg_constraint, pg_inherits, pg_class, pg_extension),
// not SQL text, and returns nil, an error if s does not exist, or a
// *SelfContainedError (errors.Is ErrNotSelfContained) listing every
// Violation:
//
//   - a foreign key from s to another schema, or from another schema to s;
//   - a column default that draws from a sequence of another schema;
//   - a view or materialized view over another schema's tables;
//   - a use of a function or type of another schema, by a column, default,
//     check, index, trigger, view or function of s;
//   - table inheritance involving s, or a partition whose parent is in
//     another schema;
//   - a foreign table, an extension or a rule in s;
//   - any other catalog dependency of an object of s on an object of
//     another schema.
//
// Allowed: anything in pg_catalog and information_schema; functions,
// types, operators and the like that belong to an extension, wherever it
// is installed; and those that live in the allowed schemas (for example a
// schema that holds extensions, on the search_path through
// WithExtraSchemas). Tables are never allowed across schemas, whatever
// schema holds them: a foreign key, view or sequence into an allowed
// schema is still reported. What the catalog does not record is not
// checked: a function body or trigger function that queries another
// schema's tables by name is not seen.
//
// It runs one query. Run it in the schema's migration transaction with
// Migrator.WithCheck(SelfContained(allowed...)); for many schemas at once
// see SelfContainedViolations.
func CheckSelfContained(ctx context.Context, q sqlx.QueryerContext, s Schema, allowed ...Schema) error {
	vs, err := SelfContainedViolations(ctx, q, []Schema{s}, allowed...)
	if err != nil {
		return err
	}
	if len(vs) > 0 {
		return &SelfContainedError{Schema: s.String(), Violations: vs}
	}
	return nil
}

// SelfContainedViolations is CheckSelfContained for several schemas in
// one query: it returns every violation, ordered by SortViolations, or an
// error naming the schemas that do not exist. A foreign key from one of
// schemas to another is reported in both.
func SelfContainedViolations(ctx context.Context, q sqlx.QueryerContext, schemas []Schema, allowed ...Schema) ([]Violation, error) {
	if len(schemas) == 0 {
		return nil, nil
	}
	for _, s := range append(schemas[:len(schemas):len(schemas)], allowed...) {
		if s.IsZero() {
			return nil, fmt.Errorf("sqlxschema: check self-contained: %w", ErrNoSchema)
		}
	}
	// The names are validated Schemas, so they go into the text as
	// literals: no parameters, one round trip on every driver.
	rows, err := q.QueryContext(ctx, selfContainedQuery(schemas, allowed))
	if err != nil {
		return nil, fmt.Errorf("sqlxschema: check self-contained: %w", err)
	}
	defer rows.Close()
	var out []Violation
	var missing []string
	for rows.Next() {
		var v Violation
		if err := rows.Scan(&v.Schema, &v.Kind, &v.Object, &v.References); err != nil {
			return nil, fmt.Errorf("sqlxschema: check self-contained: %w", err)
		}
		if v.Kind == "" {
			missing = append(missing, v.Schema)
			continue
		}
		v.Why = why[v.Kind]
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlxschema: check self-contained: %w", err)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("sqlxschema: check self-contained: schema %s does not exist", strings.Join(missing, ", "))
	}
	SortViolations(out)
	return out, nil
}

// SortViolations orders vs by schema, object, references and kind, in
// byte order (whatever the database's collation).
func SortViolations(vs []Violation) {
	slices.SortFunc(vs, func(a, b Violation) int {
		return cmp.Or(cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Object, b.Object),
			cmp.Compare(a.References, b.References), cmp.Compare(a.Kind, b.Kind))
	})
}

// SelfContained returns a Check that runs CheckSelfContained with allowed,
// for Migrator.WithCheck.
func SelfContained(allowed ...Schema) Check {
	allowed = append([]Schema(nil), allowed...)
	return func(ctx context.Context, q sqlx.QueryerContext, s Schema) error {
		return CheckSelfContained(ctx, q, s, allowed...)
	}
}

// literals returns the quoted names as a comma-separated SQL list.
func literals(schemas []Schema) string {
	parts := make([]string, len(schemas))
	for i, s := range schemas {
		parts[i] = quoteLiteral(s.String())
	}
	return strings.Join(parts, ", ")
}

// selfContainedQuery returns the check's query: rows of (schema, kind,
// object, references), and (schema, "", "", "") for a schema that does
// not exist. Every catalog name is qualified: in a migration the
// search_path holds the tenant's schema.
func selfContainedQuery(schemas, allowed []Schema) string {
	allowedList := "ARRAY[]::pg_catalog.text[]"
	if len(allowed) > 0 {
		allowedList = "ARRAY[" + literals(allowed) + "]"
	}
	values := make([]string, len(schemas))
	for i, s := range schemas {
		values[i] = "(" + quoteLiteral(s.String()) + ")"
	}
	return strings.NewReplacer(
		"$WANT", strings.Join(values, ", "),
		"$ALLOWED", allowedList,
		"$CLASS", "'pg_catalog.pg_class'::pg_catalog.regclass",
		"$ID(", "pg_catalog.pg_identify_object(",
	).Replace(selfContainedSQL)
}

// selfContainedSQL is the check, before selfContainedQuery fills in the
// schema names. It reaches the schemas' objects through indexes
// (pg_depend's reference to the namespace, then each relation's oid), and
// never scans pg_class, pg_type or pg_depend whole, so its cost follows the
// size of the schemas checked rather than the number of tenants.
// pg_identify_object names objects in a form that is never translated and
// always schema-qualified.
const selfContainedSQL = `WITH want(name) AS (VALUES $WANT),
s AS MATERIALIZED (
	SELECT n.oid, n.nspname FROM pg_catalog.pg_namespace n JOIN want ON n.nspname = want.name
),
-- The objects that live in the schemas: relations, types, functions,
-- operators and the like (all but composite types' relations).
top AS MATERIALIZED (
	SELECT s.oid AS nsp, s.nspname AS name, d.classid, d.objid FROM s
	JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND d.refobjid = s.oid AND d.refobjsubid = 0
	WHERE d.deptype = 'n'
),
rels AS MATERIALIZED (
	SELECT t.nsp, t.name, c.oid, c.relkind FROM top t JOIN pg_catalog.pg_class c ON c.oid = t.objid WHERE t.classid = $CLASS
	UNION ALL
	SELECT t.nsp, t.name, c.oid, c.relkind FROM top t JOIN pg_catalog.pg_type y ON y.oid = t.objid
	JOIN pg_catalog.pg_class c ON c.oid = y.typrelid
	WHERE t.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND y.typtype = 'c' AND c.relkind = 'c'
),
-- Every object of the schemas that pg_depend can name as dependent.
own(nsp, name, classid, objid) AS MATERIALIZED (
	SELECT nsp, name, classid, objid FROM top WHERE classid <> $CLASS
	UNION ALL SELECT nsp, name, $CLASS, oid FROM rels
	UNION ALL SELECT r.nsp, r.name, $CLASS, i.indexrelid FROM rels r JOIN pg_catalog.pg_index i ON i.indrelid = r.oid
	UNION ALL SELECT r.nsp, r.name, 'pg_catalog.pg_constraint'::pg_catalog.regclass, k.oid FROM rels r
		JOIN pg_catalog.pg_constraint k ON k.conrelid = r.oid WHERE k.contype <> 'f'
	UNION ALL SELECT t.nsp, t.name, d.classid, d.objid FROM top t -- domains' constraints
		JOIN pg_catalog.pg_depend d ON d.refclassid = t.classid AND d.refobjid = t.objid
			AND d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass AND d.deptype = 'a'
		WHERE t.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
	UNION ALL SELECT r.nsp, r.name, 'pg_catalog.pg_attrdef'::pg_catalog.regclass, a.oid FROM rels r
		JOIN pg_catalog.pg_attrdef a ON a.adrelid = r.oid
	UNION ALL SELECT r.nsp, r.name, 'pg_catalog.pg_rewrite'::pg_catalog.regclass, w.oid FROM rels r
		JOIN pg_catalog.pg_rewrite w ON w.ev_class = r.oid WHERE w.rulename = '_RETURN'
	UNION ALL SELECT r.nsp, r.name, 'pg_catalog.pg_trigger'::pg_catalog.regclass, g.oid FROM rels r
		JOIN pg_catalog.pg_trigger g ON g.tgrelid = r.oid WHERE NOT g.tgisinternal
	UNION ALL SELECT r.nsp, r.name, 'pg_catalog.pg_policy'::pg_catalog.regclass, y.oid FROM rels r
		JOIN pg_catalog.pg_policy y ON y.polrelid = r.oid
)
SELECT DISTINCT v.name, v.kind, v.object, v.refs FROM (
	-- Foreign keys out of the schema.
	SELECT r.name, 'foreign key' AS kind, o.type || ' ' || o.identity AS object, f.type || ' ' || f.identity AS refs
	FROM rels r
	JOIN pg_catalog.pg_constraint k ON k.conrelid = r.oid AND k.contype = 'f'
	JOIN pg_catalog.pg_class rc ON rc.oid = k.confrelid
	CROSS JOIN LATERAL $ID('pg_catalog.pg_constraint'::pg_catalog.regclass, k.oid, 0) o
	CROSS JOIN LATERAL $ID($CLASS, rc.oid, 0) f
	WHERE rc.relnamespace <> r.nsp
	UNION ALL
	-- Foreign keys into the schema (found through their dependency on
	-- the table they reference).
	SELECT r.name, 'referenced by foreign key', f.type || ' ' || f.identity, o.type || ' ' || o.identity
	FROM rels r
	JOIN pg_catalog.pg_depend d ON d.refclassid = $CLASS AND d.refobjid = r.oid AND d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
	JOIN pg_catalog.pg_constraint k ON k.oid = d.objid AND k.contype = 'f' AND k.confrelid = r.oid
	JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
	CROSS JOIN LATERAL $ID('pg_catalog.pg_constraint'::pg_catalog.regclass, k.oid, 0) o
	CROSS JOIN LATERAL $ID($CLASS, r.oid, 0) f
	WHERE c.relnamespace <> r.nsp
	UNION ALL
	-- Inheritance, in either direction; partitions only across schemas.
	SELECT r.name, 'inheritance', o.type || ' ' || o.identity, f.type || ' ' || f.identity
	FROM rels r
	JOIN pg_catalog.pg_inherits h ON r.oid IN (h.inhrelid, h.inhparent)
	JOIN pg_catalog.pg_class ch ON ch.oid = h.inhrelid
	JOIN pg_catalog.pg_class pa ON pa.oid = h.inhparent
	CROSS JOIN LATERAL $ID($CLASS, ch.oid, 0) o
	CROSS JOIN LATERAL $ID($CLASS, pa.oid, 0) f
	WHERE NOT (ch.relispartition AND ch.relnamespace = pa.relnamespace) AND pa.relkind <> 'I'
	UNION ALL
	-- Every other dependency on an object of another schema.
	SELECT o.name,
		CASE
			WHEN o.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass THEN 'view'
			WHEN d.refclassid = $CLASS AND f.type = 'sequence' THEN 'sequence'
			WHEN d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass THEN 'function'
			WHEN d.refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass THEN 'type'
			ELSE 'dependency'
		END,
		CASE WHEN o.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
			THEN (SELECT i.type || ' ' || i.identity FROM pg_catalog.pg_rewrite w
				CROSS JOIN LATERAL $ID($CLASS, w.ev_class, 0) i WHERE w.oid = o.objid)
			ELSE (SELECT i.type || ' ' || i.identity FROM $ID(d.classid, d.objid, d.objsubid) i)
		END,
		f.type || ' ' || f.identity
	FROM own o
	JOIN pg_catalog.pg_depend d ON d.classid = o.classid AND d.objid = o.objid
	CROSS JOIN LATERAL $ID(d.refclassid, d.refobjid, 0) f
	WHERE d.deptype NOT IN ('e', 'x', 'P', 'S') -- extension membership; partitions' parts (reported above)
		AND d.refclassid <> 'pg_catalog.pg_namespace'::pg_catalog.regclass
		AND f.schema IS NOT NULL
		AND f.schema NOT IN ('pg_catalog', 'information_schema')
		AND f.schema <> o.name
		-- Allowed schemas hold types and functions, never tables.
		AND NOT (d.refclassid <> $CLASS AND f.schema = ANY ($ALLOWED))
		-- Inheritance is reported above.
		AND NOT (d.classid = $CLASS AND d.refclassid = $CLASS AND EXISTS (
			SELECT 1 FROM pg_catalog.pg_inherits h WHERE h.inhrelid = d.objid AND h.inhparent = d.refobjid))
		-- An extension's own objects in the schema are reported below.
		AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e
			WHERE e.classid = o.classid AND e.objid = o.objid AND e.deptype = 'e')
		-- An extension's types and functions, and arrays of its types.
		AND NOT (d.refclassid <> $CLASS AND EXISTS (SELECT 1 FROM pg_catalog.pg_depend e
			WHERE e.classid = d.refclassid AND e.deptype = 'e' AND e.objid IN (d.refobjid,
				(SELECT t.typelem FROM pg_catalog.pg_type t
					WHERE d.refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass AND t.oid = d.refobjid AND t.typelem <> 0))))
	UNION ALL
	SELECT r.name, 'foreign table', o.type || ' ' || o.identity, 'server ' || pg_catalog.quote_ident(fs.srvname)
	FROM rels r
	JOIN pg_catalog.pg_foreign_table t ON t.ftrelid = r.oid
	JOIN pg_catalog.pg_foreign_server fs ON fs.oid = t.ftserver
	CROSS JOIN LATERAL $ID($CLASS, r.oid, 0) o
	UNION ALL
	SELECT s.nspname, 'extension', 'extension ' || pg_catalog.quote_ident(x.extname), ''
	FROM pg_catalog.pg_extension x JOIN s ON x.extnamespace = s.oid
	UNION ALL
	SELECT r.name, 'rule', o.type || ' ' || o.identity, ''
	FROM rels r
	JOIN pg_catalog.pg_rewrite w ON w.ev_class = r.oid
	CROSS JOIN LATERAL $ID('pg_catalog.pg_rewrite'::pg_catalog.regclass, w.oid, 0) o
	WHERE w.rulename <> '_RETURN'
) v
UNION ALL
SELECT want.name, '', '', '' FROM want WHERE NOT EXISTS (SELECT 1 FROM s WHERE s.nspname = want.name)`
