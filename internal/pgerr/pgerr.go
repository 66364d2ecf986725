// Package pgerr reads a PostgreSQL error's SQLSTATE and constraint from
// either driver's error type (lib/pq's *pq.Error, pgx's *pgconn.PgError),
// so code that translates driver errors works on both.
package pgerr

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lib/pq"
)

// UniqueViolation is the SQLSTATE of a unique violation.
const UniqueViolation = "23505"

// Code returns the SQLSTATE of the PostgreSQL error in err's chain, and
// false when there is none (a network error, a context error, nil).
func Code(err error) (string, bool) {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return string(pqErr.Code), true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code, true
	}
	return "", false
}

// Constraint returns the constraint named by the PostgreSQL error in err's
// chain, or "".
func Constraint(err error) string {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return pqErr.Constraint
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.ConstraintName
	}
	return ""
}

// IsUnique reports whether err is a unique violation.
func IsUnique(err error) bool {
	c, _ := Code(err)
	return c == UniqueViolation
}
