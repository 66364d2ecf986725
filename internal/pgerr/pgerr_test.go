package pgerr_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lib/pq"

	"github.com/tenantkit/tenantkit/internal/pgerr"
	"github.com/tenantkit/tenantkit/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestCodeOfEitherDriver(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		code       string
		ok         bool
		constraint string
	}{
		{"nil", nil, "", false, ""},
		{"plain", errors.New("boom"), "", false, ""},
		{"pq", &pq.Error{Code: "23505", Constraint: "u"}, "23505", true, "u"},
		{"pq wrapped", fmt.Errorf("x: %w", &pq.Error{Code: "42P01"}), "42P01", true, ""},
		{"pgx", &pgconn.PgError{Code: "23505", ConstraintName: "c"}, "23505", true, "c"},
		{"pgx wrapped", fmt.Errorf("x: %w", &pgconn.PgError{Code: "40001"}), "40001", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, ok := pgerr.Code(tt.err)
			if code != tt.code || ok != tt.ok {
				t.Errorf("Code = %q, %v; want %q, %v", code, ok, tt.code, tt.ok)
			}
			if got := pgerr.Constraint(tt.err); got != tt.constraint {
				t.Errorf("Constraint = %q, want %q", got, tt.constraint)
			}
			if got := pgerr.IsUnique(tt.err); got != (tt.code == pgerr.UniqueViolation) {
				t.Errorf("IsUnique = %v", got)
			}
		})
	}
}

// TestCodeFromServer checks a real unique violation through the tests'
// driver (TENANTKIT_TEST_DRIVER).
func TestCodeFromServer(t *testing.T) {
	t.Parallel()
	db, err := pgtest.Open(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE t (id int CONSTRAINT t_pk PRIMARY KEY); INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`INSERT INTO t VALUES (1)`)
	if code, ok := pgerr.Code(err); !ok || code != pgerr.UniqueViolation {
		t.Fatalf("Code(%v) = %q, %v", err, code, ok)
	}
	if c := pgerr.Constraint(err); c != "t_pk" {
		t.Fatalf("Constraint = %q", c)
	}
}
