package tenancy_test

import (
	"io/fs"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/tenancy"
	"github.com/tenantkit/tenantkit/users"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fixture is a migrated manager with a public tenant owned by admin, and
// an active user alice.
type fixture struct {
	m     *tenancy.Manager
	db    *sqlx.DB
	admin *users.User
	alice *users.User
}

func setup(t *testing.T, opts ...tenancy.Option) *fixture {
	t.Helper()
	t.Parallel()
	m, db := testkit.Manager(t, opts...)
	ctx := t.Context()
	admin, err := m.Users().CreateUser(ctx, "admin@example.com", "pw", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.CreatePublicTenant(ctx, "example.com", "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	return &fixture{m: m, db: db, admin: admin, alice: f_user(t, m, "alice@example.com")}
}

func f_user(t *testing.T, m *tenancy.Manager, email string) *users.User {
	t.Helper()
	u, err := m.Users().CreateUser(t.Context(), email, "pw", true)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (f *fixture) user(t *testing.T, email string) *users.User { return f_user(t, f.m, email) }

func (f *fixture) provision(t *testing.T, slug string, owner int64, opts ...tenancy.ProvisionOption) *tenancy.Tenant {
	t.Helper()
	tn, _, err := f.m.Provision(t.Context(), slug+" Inc", slug, owner, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

func (f *fixture) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := f.db.Get(&n, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// footprint counts what tenants leave in the database: tenant rows, domain
// rows, memberships and non-system schemas.
func (f *fixture) footprint(t *testing.T) [4]int {
	return [4]int{
		f.count(t, `SELECT count(*) FROM tenantkit_tenants`),
		f.count(t, `SELECT count(*) FROM tenantkit_domains`),
		f.count(t, `SELECT count(*) FROM tenantkit_memberships`),
		f.count(t, `SELECT count(*) FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema'`),
	}
}

func (f *fixture) member(t *testing.T, tn *tenancy.Tenant, userID int64) bool {
	t.Helper()
	ok, err := f.m.IsMember(t.Context(), tn.ID, userID)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func fsReadFile(fsys fs.FS, name string) ([]byte, error) { return fs.ReadFile(fsys, name) }
