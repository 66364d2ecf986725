package sqlxschema

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidSchema is matched (errors.Is) by every *InvalidSchemaError,
// which ParseSchema returns.
var ErrInvalidSchema = errors.New("sqlxschema: invalid schema name")

// ErrNoSchema is returned by DB.Tx and DB.Conn when the context carries no
// schema: scoped work fails closed instead of running on the default path.
var ErrNoSchema = errors.New("sqlxschema: no schema in context")

// ErrNoRequestConn is returned by DB.RequestConn when the context has no
// request slot (see DB.WithRequestConn and middleware.PinConn).
var ErrNoRequestConn = errors.New("sqlxschema: no request connection slot in context")

// ErrRequestConnMismatch is returned by DB.RequestConn when the request's
// connection was already taken for another schema or by another DB: a
// request's pinned connection serves one tenant only. Use Tx (or a Conn of
// its own) for a second tenant in one request.
var ErrRequestConnMismatch = errors.New("sqlxschema: the request's connection is pinned to another schema or pool")

// ErrReadOnly is matched by the error of a DB.Tx or DB.SchemaTx whose
// function wrote in a read-only transaction (PostgreSQL's SQLSTATE 25006,
// read_only_sql_transaction): on a read-only DB (WithReadOnly), with
// sql.TxOptions.ReadOnly, or on a hot standby. The driver's error stays in
// the chain.
var ErrReadOnly = errors.New("sqlxschema: write in a read-only transaction")

// ErrReadOnlyConn is returned by DB.Conn, DB.SchemaConn and
// DB.RequestConn on a read-only DB (WithReadOnly): a pinned connection
// runs outside a transaction, where read-only is not enforced. Use Tx.
var ErrReadOnlyConn = errors.New("sqlxschema: no pinned connection on a read-only DB; use Tx")

// ErrChecksumMismatch is matched by a *MigrationError whose migration file
// changed after it was applied.
var ErrChecksumMismatch = errors.New("applied migration was edited afterwards")

// InvalidSchemaError says why a schema name was refused.
type InvalidSchemaError struct {
	Name   string
	Reason string
}

func (e *InvalidSchemaError) Error() string {
	return fmt.Sprintf("sqlxschema: invalid schema name %q: %s", e.Name, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidSchema) true.
func (e *InvalidSchemaError) Is(target error) bool { return target == ErrInvalidSchema }

// MigrationError is one schema's failed migration run.
type MigrationError struct {
	Schema  string // the schema
	Set     string // the migration set's name
	Version string // the file, when one file failed; empty otherwise
	Err     error
}

func (e *MigrationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sqlxschema: migrate schema %q", e.Schema)
	if e.Set != "" {
		fmt.Fprintf(&b, " set %s", e.Set)
	}
	if e.Version != "" {
		fmt.Fprintf(&b, " file %s", e.Version)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *MigrationError) Unwrap() error { return e.Err }
