// Package pgxschema is sqlxschema's fast path for pgx (github.com/jackc/pgx/v5)
// through database/sql: it sends a tenant's search_path in the same round
// trip as the first statement that needs it, so a schema-scoped request
// costs no round trip more than a single-schema one.
//
// # Use
//
// Build the pool on NewConnector instead of stdlib.GetConnector; sqlx,
// sqlxschema.DB and the safety net work as before:
//
//	cfg, _ := pgx.ParseConfig(dsn)
//	db := sqlx.NewDb(sql.OpenDB(pgxschema.NewConnector(*cfg)), "pgx")
//	sdb, _ := sqlxschema.New(db)
//
// # What it pipelines
//
//   - DB.Tx and DB.SchemaTx: BEGIN, SET LOCAL search_path and the
//     transaction's first statement travel as one pgx batch: one round
//     trip, then COMMIT. A transaction that runs no statement sends nothing
//     at all. Everything stays inside the transaction, so this is safe
//     behind PgBouncer in transaction pooling mode.
//   - DB.Conn, DB.SchemaConn and DB.RequestConn: SET search_path and the
//     connection's first statement travel as one batch, in one implicit
//     transaction: if the path cannot be set the statement does not run,
//     and if the statement fails the path change is undone (and the safety
//     net forgets what path the session is on). With
//     sqlxschema.ReuseSearchPath a connection already on the tenant's path
//     sends nothing extra at all. Session state: not behind a transaction
//     pooler.
//
// The path is a list of validated, quoted schema names (sqlxschema builds
// it), sent as SET rather than set_config('search_path', $1, ...): a
// utility statement costs the server a third less CPU than the function
// call's parse, plan and execution. Any other path string goes to
// set_config as a bound value.
//
// # Statements per tenant
//
// With pgx's default QueryExecModeCacheStatement, the pipelined statement
// is prepared once per connection and search_path (up to
// StatementCacheCapacity per connection, oldest dropped first) and then
// runs without being parsed or planned again. pgx's own cache, keyed by
// the query alone, cannot do this on a shared pool: PostgreSQL parses a
// prepared statement again whenever it runs under another search_path
// than it was prepared under, which is what keeps a statement prepared
// for one tenant from ever reading another's tables, here as there. Other
// exec modes (QueryExecModeExec behind PgBouncer) send the statement
// unnamed, parsed each time.
//
// A first statement sent through Prepare, or one that PostgreSQL refuses to
// run inside a transaction block (VACUUM, CREATE INDEX CONCURRENTLY), does
// not pipeline well: Prepare sends the path in a round trip of its own, and
// such statements belong on the raw pool anyway, never on a tenant's path.
//
// Rows of a pipelined statement are converted to database/sql values the way
// pgx's stdlib does (integers as int64, floats as float64, timestamps as
// time.Time, bytea and json as []byte, everything else as its PostgreSQL
// text form).
package pgxschema

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/tenantkit/tenantkit/sqlxschema"
)

// NewConnector returns a database/sql connector for cfg (pgx's stdlib
// driver) whose connections pipeline the search_path with the first
// statement, wrapped in sqlxschema's safety net with opts (see
// sqlxschema.WrapConnector, sqlxschema.ReuseSearchPath). It does no I/O.
func NewConnector(cfg pgx.ConnConfig, opts ...sqlxschema.ConnectorOption) *sqlxschema.Connector {
	pc := pipeConnector{inner: stdlib.GetConnector(cfg)}
	if cfg.DefaultQueryExecMode == pgx.QueryExecModeCacheStatement && cfg.StatementCacheCapacity > 0 {
		pc.statements = cfg.StatementCacheCapacity
	}
	return sqlxschema.WrapConnector(pc, opts...)
}

type pipeConnector struct {
	inner      driver.Connector
	statements int // capacity of each connection's statement cache; 0: none
}

func (p pipeConnector) Connect(ctx context.Context) (driver.Conn, error) {
	c, err := p.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := c.(*stdlib.Conn)
	if !ok {
		_ = c.Close()
		return nil, fmt.Errorf("pgxschema: connector gave %T, not *stdlib.Conn", c)
	}
	return &conn{Conn: sc, stmts: newStmtCache(p.statements)}, nil
}

func (p pipeConnector) Driver() driver.Driver { return p.inner.Driver() }

// conn is one pgx connection with a pending search_path change. database/sql
// uses a connection from one goroutine at a time.
type conn struct {
	*stdlib.Conn
	path  string // session path to set with the next statement
	begin string // BEGIN to send with the next statement, when set
	local string // its SET LOCAL path
	stmts *stmtCache
}

// The statements that carry the path, the schema always a bound value.
// They serve paths that are not a list of quoted plain names (see setPath).
const (
	setSession = "SELECT pg_catalog.set_config('search_path', $1, false)"
	setLocal   = "SELECT pg_catalog.set_config('search_path', $1, true)"
)

// quotedPathRE matches what sqlxschema.DB.SearchPath gives: validated
// schema names, each quoted, joined by ", ".
var quotedPathRE = regexp.MustCompile(`^"[a-z0-9_]{1,63}"(, "[a-z0-9_]{1,63}")*, pg_temp$`)

// setPath appends to b the statement that sets path, for the session or
// the transaction. A path of quoted plain names (the only kind sqlxschema
// sends) goes as SET: a utility statement, which PostgreSQL runs without
// the parse analysis, planning and executor start of a set_config call
// (measured: about a third less server CPU for a request's SET and
// query). Anything else goes to set_config as a bound value.
func setPath(b *pgconn.Batch, path string, local bool) {
	if quotedPathRE.MatchString(path) {
		stmt := "SET search_path TO "
		if local {
			stmt = "SET LOCAL search_path TO "
		}
		b.ExecParams(stmt+path, nil, nil, nil, nil)
		return
	}
	q := setSession
	if local {
		q = setLocal
	}
	b.ExecParams(q, [][]byte{[]byte(path)}, nil, nil, nil)
}

// PipelineSearchPath implements sqlxschema.Pipeliner.
func (c *conn) PipelineSearchPath(path string) { c.path = path }

// BeginWithSearchPath implements sqlxschema.Pipeliner: nothing is sent
// until the transaction's first statement.
func (c *conn) BeginWithSearchPath(ctx context.Context, opts driver.TxOptions, path string) (driver.Tx, error) {
	if c.Conn.Conn().IsClosed() {
		return nil, driver.ErrBadConn
	}
	mode, err := beginSQL(opts)
	if err != nil {
		return nil, err
	}
	if err := c.flush(ctx); err != nil { // a session path still pending goes first
		return nil, err
	}
	c.begin, c.local = mode, path
	return &lazyTx{c: c, ctx: ctx}, nil
}

// send sends what is pending, then query with args, as one batch: one
// round trip, one Sync, so one transaction. It reads the results of the
// pending part and returns the reader positioned on query's result.
// Without args it may send nothing but the pending part.
func (c *conn) send(ctx context.Context, query string, args []driver.NamedValue, withQuery bool) (mrr *pgconn.MultiResultReader, path string, err error) {
	pc := c.Conn.Conn()
	if pc.IsClosed() {
		return nil, "", driver.ErrBadConn
	}
	var sd *pgconn.StatementDescription
	if withQuery && c.stmts != nil {
		// The path the query will run on is the one this batch sets.
		key := stmtKey{path: c.path, query: query}
		if c.begin != "" {
			key.path = c.local
		}
		if sd = c.stmts.get(key); sd == nil {
			// First use on this connection and path: set the path on its
			// own, prepare the statement under it, then run it.
			if err := c.flush(ctx); err != nil {
				return nil, "", err
			}
			if sd, err = c.stmts.prepare(ctx, pc.PgConn(), key); err != nil {
				return nil, "", err
			}
		}
	}
	// If the batch fails, its transaction is undone: the session path
	// stays pending for the next statement (a transaction is not begun
	// again: its failure is the caller's to roll back).
	path = c.path
	b := &pgconn.Batch{}
	n := 0
	if c.path != "" {
		setPath(b, c.path, false)
		c.path, n = "", n+1
	}
	if c.begin != "" {
		b.ExecParams(c.begin, nil, nil, nil, nil)
		setPath(b, c.local, true)
		c.begin, c.local, n = "", "", n+2
	}
	if withQuery {
		// As pgx's QueryExecModeExec: an unnamed statement, parsed after the
		// path is set, arguments in text for the server to type, results
		// in text.
		var eqb pgx.ExtendedQueryBuilder
		if err := eqb.Build(pc.TypeMap(), nil, values(args)); err != nil {
			c.path = path
			return nil, "", err
		}
		if sd != nil {
			// Prepared under this very path, so PostgreSQL reuses its
			// parse and plan; it would parse again, not run on the wrong
			// tables, if the path differed.
			b.ExecStatement(sd, eqb.ParamValues, eqb.ParamFormats, nil)
		} else {
			b.ExecParams(query, eqb.ParamValues, nil, eqb.ParamFormats, nil)
		}
	}
	mrr = pc.PgConn().ExecBatch(ctx, b)
	for i := 0; i < n; i++ {
		if !mrr.NextResult() {
			c.path = path
			return nil, "", mrr.Close()
		}
		if _, err := mrr.ResultReader().Close(); err != nil {
			c.path = path
			_ = mrr.Close()
			return nil, "", err
		}
	}
	if withQuery && !mrr.NextResult() {
		c.path = path
		return nil, "", mrr.Close()
	}
	return mrr, path, nil
}

// rearm puts back a session path whose batch failed: its transaction was
// undone, so the next statement must carry the path again.
func (c *conn) rearm(path string) {
	if c.path == "" {
		c.path = path
	}
}

// flush sends what is pending in a round trip of its own.
func (c *conn) flush(ctx context.Context) error {
	if c.path == "" && c.begin == "" {
		return nil
	}
	mrr, path, err := c.send(ctx, "", nil, false)
	if err != nil {
		return err
	}
	if err := mrr.Close(); err != nil {
		c.rearm(path)
		return err
	}
	return nil
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if err := c.flush(ctx); err != nil {
		return nil, err
	}
	return c.Conn.PrepareContext(ctx, query)
}

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := c.flush(ctx); err != nil {
		return nil, err
	}
	return c.Conn.BeginTx(ctx, opts)
}

func (c *conn) Begin() (driver.Tx, error) { return c.BeginTx(context.Background(), driver.TxOptions{}) }

// pipelines reports whether a pending path may travel with query. Not
// with a transaction-control statement, nor with a string of several
// statements: in the implicit transaction of one batch, a BEGIN makes the
// SET before it part of an explicit transaction that a later ROLLBACK
// undoes, leaving the connection on its previous user's path.
func pipelines(query string) bool {
	if strings.Contains(query, ";") {
		return false
	}
	first, _, _ := strings.Cut(strings.TrimSpace(query), " ")
	for _, w := range [...]string{"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE", "PREPARE"} {
		if strings.EqualFold(first, w) {
			return false
		}
	}
	return true
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if (c.path != "" || c.begin != "") && !pipelines(query) {
		if err := c.flush(ctx); err != nil {
			return nil, err
		}
	}
	if c.path == "" && c.begin == "" {
		return c.Conn.ExecContext(ctx, query, args)
	}
	if c.Conn.Conn().IsClosed() {
		return nil, driver.ErrBadConn
	}
	if len(args) == 0 {
		pending := c.path // BeginWithSearchPath flushed any session path
		if c.begin != "" {
			pending = c.local
		}
		if !quotedPathRE.MatchString(pending) {
			// Not one SET may take as text: send it bound, on its own.
			if err := c.flush(ctx); err != nil {
				return nil, err
			}
			return c.Conn.ExecContext(ctx, query, args)
		}
		// As pgx does for an Exec without arguments: the simple protocol,
		// which allows several statements. One query string is one implicit
		// transaction: a failed SET runs nothing after it.
		var prefix string
		path := c.path
		if c.path != "" {
			prefix = "SET search_path TO " + c.path + "; "
			c.path = ""
		}
		if c.begin != "" {
			prefix += c.begin + "; SET LOCAL search_path TO " + c.local + "; "
			c.begin, c.local = "", ""
		}
		res, err := c.Conn.Conn().PgConn().Exec(ctx, prefix+query).ReadAll()
		if err != nil {
			c.rearm(path)
			return nil, err
		}
		return driver.RowsAffected(res[len(res)-1].CommandTag.RowsAffected()), nil
	}
	mrr, path, err := c.send(ctx, query, args, true)
	if err != nil {
		c.stmts.failed(err)
		return nil, err
	}
	tag, err := mrr.ResultReader().Close()
	if cerr := mrr.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		c.rearm(path)
		c.stmts.failed(err)
		return nil, err
	}
	return driver.RowsAffected(tag.RowsAffected()), nil
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if (c.path != "" || c.begin != "") && !pipelines(query) {
		if err := c.flush(ctx); err != nil {
			return nil, err
		}
	}
	if c.path == "" && c.begin == "" {
		return c.Conn.QueryContext(ctx, query, args)
	}
	mrr, path, err := c.send(ctx, query, args, true)
	if err != nil {
		c.stmts.failed(err)
		return nil, err
	}
	rr := mrr.ResultReader()
	// Read the first row now, as stdlib does, so errors surface here.
	more := rr.NextRow()
	if !more {
		if _, err := rr.Close(); err != nil {
			_ = mrr.Close()
			c.rearm(path)
			c.stmts.failed(err)
			return nil, err
		}
	}
	rs := newRows(c.Conn.Conn().TypeMap(), mrr, rr, more)
	rs.failed = func(err error) { c.rearm(path); c.stmts.failed(err) }
	return rs, nil
}

func values(args []driver.NamedValue) []any {
	v := make([]any, len(args))
	for i, a := range args {
		v[i] = a.Value
	}
	return v
}

// beginSQL renders opts as a BEGIN statement.
func beginSQL(opts driver.TxOptions) (string, error) {
	s := "BEGIN"
	switch sql.IsolationLevel(opts.Isolation) {
	case sql.LevelDefault:
	case sql.LevelReadUncommitted:
		s += " ISOLATION LEVEL READ UNCOMMITTED"
	case sql.LevelReadCommitted:
		s += " ISOLATION LEVEL READ COMMITTED"
	case sql.LevelRepeatableRead, sql.LevelSnapshot:
		s += " ISOLATION LEVEL REPEATABLE READ"
	case sql.LevelSerializable:
		s += " ISOLATION LEVEL SERIALIZABLE"
	default:
		return "", fmt.Errorf("pgxschema: unsupported isolation level %v", sql.IsolationLevel(opts.Isolation))
	}
	if opts.ReadOnly {
		s += " READ ONLY"
	}
	return s, nil
}

// lazyTx is a transaction whose BEGIN may not have been sent yet.
type lazyTx struct {
	c   *conn
	ctx context.Context
}

func (t *lazyTx) Commit() error { return t.end("COMMIT") }

func (t *lazyTx) Rollback() error { return t.end("ROLLBACK") }

func (t *lazyTx) end(stmt string) error {
	if t.c.begin != "" { // no statement ran: nothing was sent, nothing to end
		t.c.begin, t.c.local = "", ""
		return nil
	}
	tag, err := t.c.Conn.Conn().Exec(t.ctx, stmt)
	if err != nil {
		return err // stdlib's ResetSession discards a connection left in a transaction
	}
	if stmt == "COMMIT" && tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}
