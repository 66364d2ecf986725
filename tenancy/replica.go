package tenancy

import (
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/sqlxschema"
)

// readPool is where a Manager sends read-only work: the pool given to
// WithReadReplica, or the primary pool; NewManager builds its DB.
type readPool struct {
	replica *sqlx.DB
	db      *sqlxschema.DB
}

// WithReadReplica sends the work that ReadDB hands out to db, a pool on a
// read replica of the primary database (a streaming hot standby, or a
// load balancer in front of several): same database, same schemas, with
// the same schema handling as DB. Give your replica pool the same safety
// net as the primary's if you wrap that one (sqlxschema.WrapConnector or
// sqlxschema/pgxschema). A nil db, or a second WithReadReplica, fails
// NewManager with ErrInvalidOption. Default: none, and ReadDB uses the
// primary pool.
func WithReadReplica(db *sqlx.DB) Option {
	return func(m *Manager) error {
		if db == nil {
			return fmt.Errorf("tenancy: WithReadReplica: nil *sqlx.DB: %w", ErrInvalidOption)
		}
		if m.read.replica != nil {
			return fmt.Errorf("tenancy: WithReadReplica given twice: %w", ErrInvalidOption)
		}
		m.read.replica = db
		return nil
	}
}

// ReadDB returns the schema-scoping wrapper for read-only work: on the
// pool given to WithReadReplica, else on the primary pool, so code written
// against it runs unchanged with or without a replica. Its Tx and
// SchemaTx run READ ONLY transactions with the tenant's search_path,
// exactly as DB's (extra schemas included); a write in one fails with an
// error matching sqlxschema.ErrReadOnly, on the primary as on a replica.
// It hands out no pinned connections (sqlxschema.ErrReadOnlyConn).
//
//	err := mgr.ReadDB().Tx(r.Context(), func(tx *sqlx.Tx) error {
//		return tx.SelectContext(r.Context(), &notes, `SELECT id, body FROM notes`)
//	})
//
// A replica lags behind the primary: a read through ReadDB right after a
// write (in the same request, or in the next one after a redirect) may not
// see it. Read through DB instead when you must see your own writes. A
// tenant provisioned a moment ago may not have its schema on the replica
// yet: its reads then fail ("relation does not exist"), never reading
// another schema.
//
// Everything that decides who sees what stays on the primary: Resolve and
// the middleware's host resolution, memberships, permissions and
// sessions, so a deleted tenant or a revoked session stops at once, not
// when the replica catches up. On a hot standby, a long query may be
// cancelled when it conflicts with replay (see PostgreSQL's
// max_standby_streaming_delay and hot_standby_feedback), and SERIALIZABLE
// transactions are not available.
func (m *Manager) ReadDB() *sqlxschema.DB { return m.read.db }

// newReadDB builds ReadDB's wrapper, after every option applied.
func (m *Manager) newReadDB() (*sqlxschema.DB, error) {
	pool := m.read.replica
	if pool == nil {
		pool = m.db
	}
	return sqlxschema.New(pool, sqlxschema.WithExtraSchemas(m.extraSearch...), sqlxschema.WithReadOnly())
}

// HasReadReplica reports whether WithReadReplica gave a replica pool, that
// is, whether ReadDB may lag behind DB.
func (m *Manager) HasReadReplica() bool { return m.read.replica != nil }
