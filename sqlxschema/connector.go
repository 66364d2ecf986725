package sqlxschema

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"strings"
	"sync/atomic"
)

// Connector wraps a database/sql driver connector with a safety net for
// search_path: a connection on which any statement changed the
// search_path outside a transaction-local SET is reset (RESET search_path)
// before anyone else's first statement on it, and discarded if the reset
// fails. So even code that runs "SET search_path" through the raw *sql.DB,
// or a pinned connection that was never closed properly, cannot leave a
// tenant's path on a pooled connection.
//
// The reset is lazy: it costs nothing when the next user of the connection
// sets a path of its own, and with ReuseSearchPath a pinned connection
// (DB.Conn, DB.RequestConn) that is already on the tenant's path skips its
// SET altogether. It also counts the statements sent, which tests and
// benchmarks use to show what a path costs.
//
//	connector, _ := pq.NewConnector(dsn)
//	db := sqlx.NewDb(sql.OpenDB(sqlxschema.WrapConnector(connector)), "postgres")
type Connector struct {
	inner      driver.Connector
	reuse      bool
	statements atomic.Int64
	txControl  atomic.Int64
	resets     atomic.Int64
	skips      atomic.Int64
}

// ConnectorOption configures WrapConnector.
type ConnectorOption func(*Connector)

// ReuseSearchPath lets a pinned connection skip its SET when the session is
// known to be on the wanted path already. The knowledge is dropped by
// anything that may change the path behind our back (a SET inside a
// transaction, which a rollback may undo; any other statement naming
// search_path), and a broken connection is never reused. Never enable it
// behind a transaction pooler such as PgBouncer in transaction mode: the
// server session there is not the client connection's (pinned connections
// are not supported there at all; use DB.Tx).
func ReuseSearchPath() ConnectorOption { return func(c *Connector) { c.reuse = true } }

// WrapConnector returns c wrapped in the safety net.
func WrapConnector(c driver.Connector, opts ...ConnectorOption) *Connector {
	w := &Connector{inner: c}
	for _, o := range opts {
		o(w)
	}
	return w
}

// Connect implements driver.Connector.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &guardConn{inner: conn, c: c}, nil
}

// Driver implements driver.Connector.
func (c *Connector) Driver() driver.Driver { return c.inner.Driver() }

// Statements returns how many statements (queries, execs, prepares) went
// through the connector's connections. A BEGIN sent together with its SET
// LOCAL counts as one statement.
func (c *Connector) Statements() int64 { return c.statements.Load() }

// TransactionControl returns how many BEGIN, COMMIT and ROLLBACK round
// trips went through the connector's connections (a BEGIN sent with its
// SET LOCAL is a statement instead). Statements plus TransactionControl is
// the number of round trips, counting a parameterised lib/pq query as one.
func (c *Connector) TransactionControl() int64 { return c.txControl.Load() }

// Resets returns how many times the safety net reset a connection's path.
func (c *Connector) Resets() int64 { return c.resets.Load() }

// Skips returns how many SETs ReuseSearchPath saved.
func (c *Connector) Skips() int64 { return c.skips.Load() }

// setPathPrefix starts the one statement whose effect the guard tracks
// exactly; DB.SchemaConn sends it.
const setPathPrefix = "SET search_path TO "

// guardConn is one wrapped connection. database/sql uses a connection from
// one goroutine at a time, so its fields need no lock.
type guardConn struct {
	inner     driver.Conn
	c         *Connector
	dirty     bool   // the session's search_path may differ from its default
	path      string // the session's path, when known is set
	known     bool
	needReset bool // dirty, and handed out again: reset before other use
	inTx      bool // in a transaction begun through database/sql
	textTx    bool // in a transaction begun with SQL text (see textTxOpen)
}

// note records the effect of a statement that succeeded on the path.
func (g *guardConn) note(query string) {
	switch {
	case query == "RESET search_path":
		g.dirty, g.known, g.path = false, true, ""
	case !g.inTx && len(query) > len(setPathPrefix) && query[:len(setPathPrefix)] == setPathPrefix:
		g.dirty, g.known, g.path = true, true, query[len(setPathPrefix):]
	case g.inTx && (hasPrefixFold(query, "SET LOCAL ") || query == setLocalQuery):
		// Transaction-local: reverts by itself at commit or rollback.
	case containsFold(query, "search_path") || containsFold(query, "set_config") ||
		containsFold(query, "reset all") || containsFold(query, "discard"):
		// May have changed the path: set_config can take the name as a
		// bound value, RESET ALL and DISCARD ALL set it back. Reset before
		// the next user, and never skip a SET on trust.
		g.dirty, g.known = true, false
	}
	if !g.inTx {
		g.textTx = textTxOpen(query, g.textTx)
	}
}

// textTxOpen reports whether a transaction begun with SQL text (BEGIN,
// START TRANSACTION) is open after query, given whether one was before.
// It reads the first word of each statement of query, without allocating:
// it runs on every statement. A semicolon inside a literal could make it
// mistake a literal's words for a statement, so it errs on one side only:
// a BEGIN counts wherever it is seen (a transaction that is not there
// costs a discarded connection), an end of transaction only in the first
// statement, or anywhere in a string without quotes (a transaction that is
// there must never be missed).
func textTxOpen(query string, open bool) bool {
	quoted := strings.ContainsAny(query, `'"$`)
	for first, rest := true, query; rest != ""; first = false {
		var stmt string
		stmt, rest, _ = strings.Cut(rest, ";")
		word, after := firstWord(stmt)
		next, _ := firstWord(after)
		ends := first || !quoted
		switch {
		case strings.EqualFold(word, "BEGIN"), strings.EqualFold(word, "START"):
			open = true
		case !ends:
		case strings.EqualFold(word, "COMMIT"), strings.EqualFold(word, "END"), strings.EqualFold(word, "ABORT"):
			open = false
		case strings.EqualFold(word, "ROLLBACK"):
			open = open && strings.EqualFold(next, "TO") // ROLLBACK TO a savepoint stays in it
		case strings.EqualFold(word, "PREPARE"):
			open = open && !strings.EqualFold(next, "TRANSACTION")
		}
	}
	return open
}

// firstWord splits s after its first word.
func firstWord(s string) (word, rest string) {
	s = strings.TrimLeft(s, " \t\r\n")
	if i := strings.IndexAny(s, " \t\r\n("); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

// before runs ahead of every statement: a connection that was handed out
// while dirty is reset first, unless the statement sets a path itself.
func (g *guardConn) before(ctx context.Context, query string) error {
	if !g.needReset || g.inTx {
		// Inside a transaction the path is settled: a plain BeginTx reset
		// before BEGIN, and a combined BEGIN set its own with SET LOCAL,
		// which a RESET here would undo.
		return nil
	}
	if !g.inTx && len(query) > len(setPathPrefix) && query[:len(setPathPrefix)] == setPathPrefix {
		g.needReset = false // overridden anyway
		return nil
	}
	e, ok := g.inner.(driver.ExecerContext)
	if !ok {
		return driver.ErrBadConn
	}
	g.c.statements.Add(1)
	if _, err := e.ExecContext(ctx, "RESET search_path", nil); err != nil {
		return driver.ErrBadConn
	}
	g.c.resets.Add(1)
	g.needReset, g.dirty, g.known, g.path = false, false, true, ""
	return nil
}

// Pipeliner is implemented by a driver connection that can send a
// search_path in the same round trip as the statement after it
// (sqlxschema/pgxschema does, for pgx). The Connector uses it when the
// connection it wraps has it: DB.Tx and DB.SchemaTx then cost no round
// trip for the path, and neither does a pinned connection's SET.
//
// The contract: PipelineSearchPath makes path the session's search_path
// from the connection's next statement on, set in the same implicit
// transaction as that statement (if the statement fails, the path goes
// with the next one). BeginWithSearchPath begins a transaction whose
// search_path is path, local to it (set_config(..., true)), and may defer
// sending anything until the transaction's first statement; a transaction
// that runs none sends nothing. Neither may change anything else of the
// session.
type Pipeliner interface {
	PipelineSearchPath(path string)
	BeginWithSearchPath(ctx context.Context, opts driver.TxOptions, path string) (driver.Tx, error)
}

// beginPipelined begins a transaction whose local path travels with its
// first statement (Pipeliner). A pending lazy reset is moot: the
// transaction sets its own path, and the reset happens before the next
// statement after it.
func (g *guardConn) beginPipelined(ctx context.Context, opts driver.TxOptions, h *beginHint, p Pipeliner) (driver.Tx, error) {
	tx, err := p.BeginWithSearchPath(ctx, opts, h.path)
	if err != nil {
		return nil, err
	}
	h.done = true
	g.inTx = true
	return &guardTx{inner: tx, g: g}, nil
}

// pipelinePath hands a pinned connection's SET to a Pipeliner, and
// reports false when the connection has none.
func (g *guardConn) pipelinePath(path string) bool {
	p, ok := g.inner.(Pipeliner)
	if !ok || g.inTx {
		return false
	}
	p.PipelineSearchPath(path)
	g.needReset, g.dirty, g.known, g.path = false, true, true, path
	return true
}

// claim reports whether a pinned connection that wants path may skip its
// SET: reuse is on, and the session is known to be on path already.
func (g *guardConn) claim(path string) bool {
	if !g.c.reuse || g.inTx || g.textTx || !g.known || !g.dirty || g.path != path {
		return false
	}
	g.needReset = false
	g.c.skips.Add(1)
	return true
}

func (g *guardConn) Prepare(query string) (driver.Stmt, error) {
	return g.PrepareContext(context.Background(), query)
}

func (g *guardConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if err := g.before(ctx, query); err != nil {
		return nil, err
	}
	g.c.statements.Add(1)
	g.note(query)
	if p, ok := g.inner.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return g.inner.Prepare(query)
}

func (g *guardConn) Close() error { return g.inner.Close() }

func (g *guardConn) Begin() (driver.Tx, error) { //nolint:staticcheck // required by driver.Conn
	return g.BeginTx(context.Background(), driver.TxOptions{})
}

func (g *guardConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if h, ok := ctx.Value(beginHintKey{}).(*beginHint); ok {
		if p, ok := g.inner.(Pipeliner); ok {
			return g.beginPipelined(ctx, opts, h, p)
		}
		if tx, ok, err := g.beginWithPath(ctx, opts, h); ok {
			return tx, err
		}
	}
	if err := g.before(ctx, ""); err != nil {
		return nil, err
	}
	g.c.txControl.Add(1)
	var tx driver.Tx
	var err error
	if b, ok := g.inner.(driver.ConnBeginTx); ok {
		bctx := ctx
		if _, combines := g.inner.(driver.Tx); combines {
			// lib/pq keeps the watch it arms on BeginTx's context and
			// calls it at every later Commit or Rollback of the
			// connection, also those of combined BEGINs (beginWithPath),
			// where it panics or closes the connection. So it gets none;
			// database/sql still rolls back and discards the connection
			// when ctx ends during the transaction.
			bctx = context.WithoutCancel(ctx)
		}
		tx, err = b.BeginTx(bctx, opts)
	} else {
		tx, err = g.inner.Begin() //nolint:staticcheck
	}
	if err != nil {
		return nil, err
	}
	g.inTx = true
	return &guardTx{inner: tx, g: g}, nil
}

func (g *guardConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := g.inner.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	if err := g.before(ctx, query); err != nil {
		return nil, err
	}
	g.c.statements.Add(1)
	rows, err := q.QueryContext(ctx, query, args)
	if err == nil {
		g.note(query)
	}
	return rows, err
}

func (g *guardConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := g.inner.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	if err := g.before(ctx, query); err != nil {
		return nil, err
	}
	g.c.statements.Add(1)
	res, err := e.ExecContext(ctx, query, args)
	if err == nil {
		g.note(query)
	}
	return res, err
}

func (g *guardConn) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := g.inner.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (g *guardConn) Ping(ctx context.Context) error {
	if p, ok := g.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// ResetSession runs before database/sql reuses the connection: a dirty
// connection is marked for a reset before its next statement (see before).
func (g *guardConn) ResetSession(ctx context.Context) error {
	if g.inTx || g.textTx {
		return driver.ErrBadConn // a transaction left open: never reuse
	}
	if g.dirty {
		g.needReset = true
	}
	if r, ok := g.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (g *guardConn) IsValid() bool {
	if v, ok := g.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// Raw lets sqlx.Conn.Raw callers reach the driver's own connection.
func (g *guardConn) Raw() driver.Conn { return g.inner }

// beginHint asks BeginTx to set a transaction-local search_path in the
// same round trip as BEGIN; done reports that it did.
type beginHint struct {
	path string
	done bool
}

type beginHintKey struct{}

// beginWithPath sends "BEGIN ...; SET LOCAL search_path TO ..." as one
// simple query, saving a round trip per scoped transaction. It applies to
// drivers whose connection is its own driver.Tx and tracks the transaction
// from the server's replies (lib/pq); ok is false for others, which take
// the ordinary path. The SET LOCAL overrides a pending lazy reset for the
// transaction's length; the reset still happens before the next statement
// after it.
func (g *guardConn) beginWithPath(ctx context.Context, opts driver.TxOptions, h *beginHint) (driver.Tx, bool, error) {
	txer, ok := g.inner.(driver.Tx)
	e, ok2 := g.inner.(driver.ExecerContext)
	mode, ok3 := beginMode(opts)
	if !ok || !ok2 || !ok3 {
		return nil, false, nil
	}
	g.c.statements.Add(1)
	if _, err := e.ExecContext(ctx, "BEGIN"+mode+"; SET LOCAL search_path TO "+h.path, nil); err != nil {
		_ = txer.Rollback() // whatever part of it ran; an error here means not in a transaction
		return nil, true, err
	}
	h.done = true
	g.inTx = true
	return &guardTx{inner: txer, g: g}, true, nil
}

// beginMode renders opts as BEGIN's transaction modes.
func beginMode(opts driver.TxOptions) (string, bool) {
	var mode string
	switch sql.IsolationLevel(opts.Isolation) {
	case sql.LevelDefault:
	case sql.LevelReadUncommitted:
		mode = " ISOLATION LEVEL READ UNCOMMITTED"
	case sql.LevelReadCommitted:
		mode = " ISOLATION LEVEL READ COMMITTED"
	case sql.LevelRepeatableRead:
		mode = " ISOLATION LEVEL REPEATABLE READ"
	case sql.LevelSerializable:
		mode = " ISOLATION LEVEL SERIALIZABLE"
	default:
		return "", false
	}
	if opts.ReadOnly {
		mode += " READ ONLY"
	} else {
		mode += " READ WRITE"
	}
	return mode, true
}

type guardTx struct {
	inner driver.Tx
	g     *guardConn
}

func (t *guardTx) Commit() error {
	t.g.inTx = false
	t.g.c.txControl.Add(1)
	return t.inner.Commit()
}

func (t *guardTx) Rollback() error {
	t.g.inTx = false
	t.g.c.txControl.Add(1)
	return t.inner.Rollback()
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && equalFoldASCII(s[:len(prefix)], prefix)
}

func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if equalFoldASCII(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
