package sqlxschema

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// DB hands out schema-scoped transactions and connections from the
// application's own pool. It opens no connections of its own and never
// changes the search_path of a pooled connection outside a transaction or a
// pinned Conn. It is safe for concurrent use.
type DB struct {
	db       *sqlx.DB
	extra    []Schema
	readOnly bool
}

// Option configures a DB.
type Option func(*DB) error

// WithExtraSchemas appends schemas to every tenant search_path, after the
// tenant's own schema (for example a schema that holds extensions). The
// shared schema should not be one of them: an unqualified table name must
// never fall through to shared data.
func WithExtraSchemas(schemas ...Schema) Option {
	return func(d *DB) error {
		for _, s := range schemas {
			if s.IsZero() {
				return fmt.Errorf("sqlxschema: WithExtraSchemas: zero Schema")
			}
		}
		d.extra = append(d.extra, schemas...)
		return nil
	}
}

// WithReadOnly makes every transaction of the DB read-only: Tx and
// SchemaTx begin READ ONLY whatever options they are given (keeping the
// isolation level), so PostgreSQL refuses any write in them, on a
// replica and on a primary alike; fn's error then matches ErrReadOnly.
// It guards the application's code against mistakes, not against itself:
// on a primary, fn could lift it with SET TRANSACTION READ WRITE (a hot
// standby refuses writes whatever the transaction says).
// Pinned connections (Conn, SchemaConn, RequestConn) run outside a
// transaction, where read-only cannot be enforced without changing the
// session: they return ErrReadOnlyConn. Use it for a pool of read
// replicas (see tenancy.WithReadReplica), or for read-only work on the
// primary pool.
func WithReadOnly() Option {
	return func(d *DB) error { d.readOnly = true; return nil }
}

// New wraps db. It does no I/O.
func New(db *sqlx.DB, opts ...Option) (*DB, error) {
	if db == nil {
		return nil, errors.New("sqlxschema: New: nil *sqlx.DB")
	}
	d := &DB{db: db}
	for _, o := range opts {
		if err := o(d); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Unwrap returns the underlying pool.
func (d *DB) Unwrap() *sqlx.DB { return d.db }

// ReadOnly reports whether the DB was made WithReadOnly.
func (d *DB) ReadOnly() bool { return d.readOnly }

// SearchPath returns the search_path value for schema s: s, then any extra
// schemas, each quoted, then pg_temp. Naming pg_temp last keeps a
// temporary table that some code left on a pooled connection from
// shadowing the tenant's tables: PostgreSQL searches pg_temp first unless
// the path places it.
func (d *DB) SearchPath(s Schema) string {
	parts := make([]string, 0, 2+len(d.extra))
	parts = append(parts, s.Quoted())
	for _, e := range d.extra {
		parts = append(parts, e.Quoted())
	}
	return strings.Join(append(parts, "pg_temp"), ", ")
}

// setLocalQuery sets a transaction-local search_path, the path a bound
// value. The Connector recognises it as transaction-local.
const setLocalQuery = "SELECT pg_catalog.set_config('search_path', $1, true)"

// SetLocal sets the search_path to s for the rest of the transaction tx,
// with set_config('search_path', $1, true), the path a bound value: it
// reverts by itself at commit or rollback, so it is safe behind a
// transaction pooler such as PgBouncer. Use it to scope a transaction the
// application began itself. It costs one round trip (two on lib/pq
// without binary_parameters=yes, which prepares every parameterised
// statement).
func (d *DB) SetLocal(ctx context.Context, tx sqlx.ExecerContext, s Schema) error {
	if s.IsZero() {
		return ErrNoSchema
	}
	_, err := tx.ExecContext(ctx, setLocalQuery, d.SearchPath(s))
	return err
}

// InTx runs fn inside the caller's transaction tx with the search_path
// set to schema s for fn's length only: it sets it transaction-locally
// (SetLocal) and puts back the path tx had, also when fn fails. Library
// code uses it to offer Tx variants of its writes (permissions.GrantTx)
// without leaving the caller's transaction on a tenant's path. It costs
// three round trips besides fn's.
func (d *DB) InTx(ctx context.Context, tx *sqlx.Tx, s Schema, fn func(*sqlx.Tx) error) error {
	if s.IsZero() {
		return ErrNoSchema
	}
	var prev string
	if err := tx.GetContext(ctx, &prev, `SELECT pg_catalog.current_setting('search_path')`); err != nil {
		return err
	}
	if err := d.SetLocal(ctx, tx, s); err != nil {
		return err
	}
	err := fn(tx)
	if _, rerr := tx.ExecContext(ctx, setLocalQuery, prev); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// Tx runs fn in a transaction whose search_path is the schema carried by
// ctx (see WithSchema, tenancy.WithTenant). It commits when fn returns nil
// and rolls back when fn returns an error or panics (the panic goes on).
// Without a schema in ctx it returns ErrNoSchema and runs nothing.
func (d *DB) Tx(ctx context.Context, fn func(*sqlx.Tx) error) error {
	s, ok := SchemaFromContext(ctx)
	if !ok {
		return ErrNoSchema
	}
	return d.SchemaTx(ctx, s, nil, fn)
}

// SchemaTx is Tx for an explicit schema and transaction options. On a
// read-only DB (WithReadOnly) the transaction is READ ONLY whatever opts
// say. When fn fails because it wrote in a read-only transaction (a
// read-only DB, opts.ReadOnly, or a hot standby), its error also matches
// ErrReadOnly.
func (d *DB) SchemaTx(ctx context.Context, s Schema, opts *sql.TxOptions, fn func(*sqlx.Tx) error) (err error) {
	if s.IsZero() {
		return ErrNoSchema
	}
	if d.readOnly {
		ro := sql.TxOptions{ReadOnly: true}
		if opts != nil {
			ro.Isolation = opts.Isolation
		}
		opts = &ro
	}
	// Through a Connector the SET LOCAL may travel with the BEGIN.
	hint := &beginHint{path: d.SearchPath(s)}
	tx, err := d.db.BeginTxx(context.WithValue(ctx, beginHintKey{}, hint), opts)
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			_ = tx.Rollback() // fn panicked
		}
	}()
	if !hint.done {
		if err := d.SetLocal(ctx, tx, s); err != nil {
			done = true
			_ = tx.Rollback()
			return err
		}
	}
	if err := fn(tx); err != nil {
		done = true
		_ = tx.Rollback()
		return readOnlyError(err)
	}
	done = true
	return tx.Commit()
}

// readOnlyError makes err match ErrReadOnly as well when it is
// PostgreSQL's read_only_sql_transaction (SQLSTATE 25006). Both drivers'
// errors have a SQLState method, so no driver is imported.
func readOnlyError(err error) error {
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) && pg.SQLState() == "25006" && !errors.Is(err, ErrReadOnly) {
		return fmt.Errorf("%w: %w", ErrReadOnly, err)
	}
	return err
}

// Conn is a connection pinned from the pool with its search_path set to one
// schema. Close resets the path before the connection goes back to the pool;
// a connection whose reset fails is discarded, never reused. Always
// defer Close.
type Conn struct {
	*sqlx.Conn
	closed  bool
	guarded bool // the Connector resets lazily: Close need not
	request bool // owned by a request: Close is the middleware's job
}

// Conn pins a connection for the schema carried by ctx. Without one it
// returns ErrNoSchema; on a read-only DB, ErrReadOnlyConn. Prefer Tx
// behind a transaction pooler.
func (d *DB) Conn(ctx context.Context) (*Conn, error) {
	s, ok := SchemaFromContext(ctx)
	if !ok {
		return nil, ErrNoSchema
	}
	return d.SchemaConn(ctx, s)
}

// SchemaConn is Conn for an explicit schema. On a read-only DB
// (WithReadOnly) it returns ErrReadOnlyConn.
func (d *DB) SchemaConn(ctx context.Context, s Schema) (*Conn, error) {
	if s.IsZero() {
		return nil, ErrNoSchema
	}
	if d.readOnly {
		return nil, ErrReadOnlyConn
	}
	c, err := d.db.Connx(ctx)
	if err != nil {
		return nil, err
	}
	path := d.SearchPath(s)
	guarded, skip := false, false
	_ = c.Raw(func(dc any) error {
		if g, ok := dc.(*guardConn); ok {
			guarded = true
			skip = g.claim(path) || g.pipelinePath(path)
		}
		return nil
	})
	if !skip {
		if _, err := c.ExecContext(ctx, setPathPrefix+path); err != nil {
			discard(c)
			return nil, err
		}
	}
	return &Conn{Conn: c, guarded: guarded}, nil
}

// Close resets the search_path and returns the connection to the pool, or
// discards it when the reset fails (killed connection, open transaction,
// cancelled query). Calling Close twice is harmless.
func (c *Conn) Close() error {
	if c.closed || c.request {
		return nil
	}
	return c.release()
}

func (c *Conn) release() error {
	if c.closed {
		return nil
	}
	c.closed = true
	if c.guarded {
		// The Connector resets the path before anyone else's statement,
		// and skips that when the next user wants the same path.
		return c.Conn.Close()
	}
	// Not the caller's context: it may be cancelled, and the reset must run.
	// ROLLBACK first: a transaction begun with SQL text (BEGIN) and left
	// open must not go back to the pool, where the next user's statements
	// would run in it. Outside a transaction it is a mere warning.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Conn.ExecContext(ctx, "ROLLBACK; RESET search_path"); err != nil {
		discard(c.Conn)
		return fmt.Errorf("sqlxschema: reset search_path (connection discarded): %w", err)
	}
	return c.Conn.Close()
}

// discard closes c's driver connection instead of returning it to the pool.
func discard(c *sqlx.Conn) {
	_ = c.Raw(func(any) error { return driver.ErrBadConn })
	_ = c.Close()
}

type requestKey struct{}

// requestSlot holds a request's pinned connection, acquired on first use,
// and the DB and schema it was taken for.
type requestSlot struct {
	mu     sync.Mutex
	conn   *Conn
	db     *DB
	schema Schema
}

// WithRequestConn prepares ctx for RequestConn: the returned context
// carries an empty slot and is cancelled by release, which then closes the
// connection if one was taken. Cancelling first ends a transaction the
// handler left open on the connection (a panic before its Rollback), which
// would otherwise keep the close waiting for the request's own context,
// and net/http ends that only after the handler returns.
// middleware.PinConn does this for each request.
func (d *DB) WithRequestConn(ctx context.Context) (context.Context, func() error) {
	slot := &requestSlot{}
	ctx, cancel := context.WithCancel(ctx)
	return context.WithValue(ctx, requestKey{}, slot), func() error {
		cancel()
		slot.mu.Lock()
		defer slot.mu.Unlock()
		if slot.conn == nil {
			return nil
		}
		err := slot.conn.release()
		slot.conn = nil
		return err
	}
}

// RequestConn returns the request's pinned connection for the schema in
// ctx, taking it from the pool on the first call, so a request that never
// touches the database holds no connection. Its Close does nothing: the
// release function of WithRequestConn returns it to the pool. Without a
// slot in ctx it returns ErrNoRequestConn; without a schema, ErrNoSchema;
// on a read-only DB, ErrReadOnlyConn (the slot may hold a connection of
// another DB's pool: it is never handed out by a read-only one); when the
// connection was taken for another schema or by another DB,
// ErrRequestConnMismatch.
func (d *DB) RequestConn(ctx context.Context) (*Conn, error) {
	if d.readOnly {
		return nil, ErrReadOnlyConn
	}
	slot, ok := ctx.Value(requestKey{}).(*requestSlot)
	if !ok {
		return nil, ErrNoRequestConn
	}
	s, ok := SchemaFromContext(ctx)
	if !ok {
		return nil, ErrNoSchema
	}
	slot.mu.Lock()
	defer slot.mu.Unlock()
	if slot.conn != nil {
		if slot.db != d || slot.schema != s {
			return nil, ErrRequestConnMismatch
		}
		return slot.conn, nil
	}
	c, err := d.SchemaConn(ctx, s)
	if err != nil {
		return nil, err
	}
	c.request = true
	slot.conn, slot.db, slot.schema = c, d, s
	return c, nil
}
