package sqlxschema

import (
	"errors"
	"fmt"
	"strings"
)

// The migration runner's errors beyond those in errors.go.

// ErrAnnotation is matched (errors.Is) by every *AnnotationError: a goose
// annotation in a migration file that tenantkit cannot follow. Set.Load
// returns it, and so every Apply that loads the file.
var ErrAnnotation = errors.New("bad goose annotation")

// ErrNoTransaction is matched by the *AnnotationError of a file marked
// "-- +goose NO TRANSACTION": tenantkit migrates each schema in one
// transaction, so a statement that cannot run in one (such as CREATE INDEX
// CONCURRENTLY) has to run outside the migrator.
var ErrNoTransaction = errors.New("-- +goose NO TRANSACTION is not supported: each schema migrates in one transaction")

// ErrNotRun is matched by the Result.Err of a target that Migrator.Run did
// not start, because its context was cancelled or (with StopOnFailure) an
// earlier schema failed. Nothing was changed in that schema; run again to
// migrate it.
var ErrNotRun = errors.New("not started")

// ErrUnknownVersion is matched by the *MigrationError of Migrator.BaselineTx
// when the version to record up to names no file of the set.
var ErrUnknownVersion = errors.New("no migration of that version in the set")

// AnnotationError says which goose annotation of which file was refused.
type AnnotationError struct {
	Set  string // the migration set's name
	File string // the file name
	Line int    // 1-based line of the annotation; 0 for the file as a whole
	Err  error  // ErrNoTransaction, or an error wrapping ErrAnnotation
}

func (e *AnnotationError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("sqlxschema: migration %s/%s line %d: %v", e.Set, e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("sqlxschema: migration %s/%s: %v", e.Set, e.File, e.Err)
}

func (e *AnnotationError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrAnnotation) true for every AnnotationError,
// NO TRANSACTION included.
func (e *AnnotationError) Is(target error) bool { return target == ErrAnnotation }

// ErrNotSelfContained is matched (errors.Is) by every *SelfContainedError:
// a schema holds objects that depend on other schemas, so it could not
// move to a node of its own (Citus schema-based sharding).
// CheckSelfContained returns it, and so does a migration run by a Migrator
// with WithCheck(SelfContained(...)), inside its *MigrationError.
var ErrNotSelfContained = errors.New("schema is not self-contained")

// SelfContainedError lists what keeps a schema from being self-contained.
// Inside a *MigrationError it means the schema's migration was rolled
// back.
type SelfContainedError struct {
	Schema     string      // the schema checked
	Violations []Violation // at least one, ordered by object
}

func (e *SelfContainedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sqlxschema: schema %q is not self-contained: ", e.Schema)
	for i, v := range e.Violations {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(v.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNotSelfContained) true.
func (e *SelfContainedError) Is(target error) bool { return target == ErrNotSelfContained }
