package pgxschema

import (
	"database/sql/driver"
	"io"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// rows are the rows of a pipelined query, as database/sql values.
type rows struct {
	mrr       *pgconn.MultiResultReader
	rr        *pgconn.ResultReader
	names     []string
	conv      []func([]byte) (driver.Value, error)
	first     bool // the first row was read ahead
	firstMore bool
	done      bool
	failed    func(error) // called when the query fails after all
}

func newRows(m *pgtype.Map, mrr *pgconn.MultiResultReader, rr *pgconn.ResultReader, more bool) *rows {
	fds := rr.FieldDescriptions()
	rs := &rows{mrr: mrr, rr: rr, names: make([]string, len(fds)), conv: make([]func([]byte) (driver.Value, error), len(fds)),
		first: true, firstMore: more, done: !more}
	for i, fd := range fds {
		rs.names[i] = fd.Name
		rs.conv[i] = converter(m, fd)
	}
	return rs
}

func (rs *rows) Columns() []string { return rs.names }

func (rs *rows) Close() error {
	_, err := rs.rr.Close()
	if cerr := rs.mrr.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		rs.failed(err)
	}
	return err
}

func (rs *rows) Next(dest []driver.Value) error {
	more := rs.firstMore
	if rs.first {
		rs.first = false
	} else if !rs.done {
		more = rs.rr.NextRow()
	}
	if !more {
		rs.done = true
		if _, err := rs.rr.Close(); err != nil {
			rs.failed(err)
			return err
		}
		return io.EOF
	}
	for i, raw := range rs.rr.Values() {
		if raw == nil {
			dest[i] = nil
			continue
		}
		v, err := rs.conv[i](raw)
		if err != nil {
			return err
		}
		dest[i] = v
	}
	return nil
}

// converter returns the conversion of one text-format column to the value
// pgx's stdlib would give database/sql.
func converter(m *pgtype.Map, fd pgconn.FieldDescription) func([]byte) (driver.Value, error) {
	switch fd.DataTypeOID {
	case pgtype.BoolOID:
		return scanAs(m, fd, func(v bool) (driver.Value, error) { return v, nil })
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
		return scanAs(m, fd, func(v int64) (driver.Value, error) { return v, nil })
	case pgtype.OIDOID, pgtype.XIDOID, pgtype.CIDOID:
		return scanAs(m, fd, func(v pgtype.Uint32) (driver.Value, error) { return v.Value() })
	case pgtype.Float4OID, pgtype.Float8OID:
		return scanAs(m, fd, func(v float64) (driver.Value, error) { return v, nil })
	case pgtype.ByteaOID, pgtype.JSONOID, pgtype.JSONBOID, pgtype.XMLOID:
		return scanAs(m, fd, func(v []byte) (driver.Value, error) { return append([]byte(nil), v...), nil })
	case pgtype.DateOID:
		return scanAs(m, fd, func(v pgtype.Date) (driver.Value, error) { return v.Value() })
	case pgtype.TimestampOID:
		return scanAs(m, fd, func(v pgtype.Timestamp) (driver.Value, error) { return v.Value() })
	case pgtype.TimestamptzOID:
		return scanAs(m, fd, func(v pgtype.Timestamptz) (driver.Value, error) { return v.Value() })
	}
	// Results come in text: the PostgreSQL text form, as stdlib gives.
	return func(src []byte) (driver.Value, error) { return string(src), nil }
}

func scanAs[T any](m *pgtype.Map, fd pgconn.FieldDescription, conv func(T) (driver.Value, error)) func([]byte) (driver.Value, error) {
	var d T
	plan := m.PlanScan(fd.DataTypeOID, fd.Format, &d)
	return func(src []byte) (driver.Value, error) {
		if err := plan.Scan(src, &d); err != nil {
			return nil, err
		}
		return conv(d)
	}
}
