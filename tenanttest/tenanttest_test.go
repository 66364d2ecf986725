package tenanttest_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/middleware"
	"github.com/tenantkit/tenantkit/sqlxschema"
	"github.com/tenantkit/tenantkit/tenancy"
	"github.com/tenantkit/tenantkit/tenanttest"
	"github.com/tenantkit/tenantkit/users"
)

// adminURL is the URL of the server Database uses, for checks the test
// makes as its owner: the one TENANTKIT_TEST_DATABASE_URL names, or the
// one Main started.
func adminURL() string {
	if u := os.Getenv(tenanttest.DatabaseURLEnv); u != "" {
		return u
	}
	return pgtest.SharedCluster().URL("postgres")
}

// count runs a count query on mgr's pool.
func count(t *testing.T, mgr *tenancy.Manager, query string, args ...any) int {
	t.Helper()
	var n int
	if err := mgr.DB().Unwrap().Get(&n, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// allNotes counts the notes of every live tenant.
func allNotes(t *testing.T, mgr *tenancy.Manager) int {
	t.Helper()
	var names []string
	if err := mgr.DB().Unwrap().Select(&names, `SELECT schema_name FROM tenantkit_tenants WHERE type <> 'public' AND deleted_at IS NULL`); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range names {
		n += count(t, mgr, `SELECT count(*) FROM `+sqlxschema.MustSchema(name).Qualify("notes"))
	}
	return n
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestHandlerBehindTheMiddleware: an application's handler, mounted behind
// the real middleware, driven through NewRequest and LogIn: the owner adds
// and lists notes, and everyone else gets the answer production gives.
func TestHandlerBehindTheMiddleware(t *testing.T) {
	t.Parallel()
	mgr := newManager(t)
	app, mw := notesApp(t, mgr, middleware.Config{})
	acme := tenanttest.NewTenant(t, mgr)
	other := tenanttest.NewTenant(t, mgr)
	reader := acme.AddMember(t)
	stranger := tenanttest.NewUser(t, mgr)

	add := func(u *users.User, tn *tenanttest.Tenant, body string) int {
		r := tenanttest.NewRequest(tn.Tenant, "POST", "/notes", strings.NewReader(url.Values{"body": {body}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if u != nil {
			tenanttest.LogIn(t, mw, r, u)
		}
		return serve(app, r).Code
	}
	list := func(u *users.User, tn *tenanttest.Tenant) (int, string) {
		r := tenanttest.NewRequest(tn.Tenant, "GET", "/notes", nil)
		if u != nil {
			tenanttest.LogIn(t, mw, r, u)
		}
		w := serve(app, r)
		return w.Code, w.Body.String()
	}

	if code := add(acme.Owner, acme, "first"); code != http.StatusCreated {
		t.Fatalf("owner adds a note: %d", code)
	}
	if code, body := list(acme.Owner, acme); code != http.StatusOK || body != "first" {
		t.Fatalf("owner lists notes: %d %q", code, body)
	}
	if code, body := list(reader, acme); code != http.StatusOK || body != "first" {
		t.Fatalf("member lists notes: %d %q", code, body)
	}
	cases := []struct {
		name string
		code int
	}{
		{"member without notes.add adds", add(reader, acme, "nope")},
		{"non-member lists", func() int { c, _ := list(stranger, acme); return c }()},
		{"owner of another tenant lists", func() int { c, _ := list(other.Owner, acme); return c }()},
		{"anonymous lists", func() int { c, _ := list(nil, acme); return c }()},
	}
	want := []int{http.StatusForbidden, http.StatusForbidden, http.StatusForbidden, http.StatusUnauthorized}
	for i, c := range cases {
		if c.code != want[i] {
			t.Errorf("%s: %d, want %d", c.name, c.code, want[i])
		}
	}
	if code, body := list(other.Owner, other); code != http.StatusOK || body != "" {
		t.Fatalf("the other tenant sees %d %q, want no notes", code, body)
	}
	if n := count(t, mgr, `SELECT count(*) FROM `+acme.Schema().Qualify("notes")); n != 1 {
		t.Fatalf("acme has %d notes, want 1", n)
	}
}

// TestParallelTenantsSeeOnlyTheirOwnRows: parallel tests on one database,
// each with its own tenant, each writing, and each then reading only its
// own rows while the other's are there.
func TestParallelTenantsSeeOnlyTheirOwnRows(t *testing.T) {
	t.Parallel()
	mgr := newManager(t)
	app, mw := notesApp(t, mgr, middleware.Config{})
	// Both write before either reads, and both read before either's
	// cleanup purges its tenant.
	var written, read sync.WaitGroup
	written.Add(2)
	read.Add(2)
	for _, name := range []string{"acme", "globex"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Arrive at both barriers also when this test fails early.
			wrote, done := sync.OnceFunc(written.Done), sync.OnceFunc(read.Done)
			defer done()
			defer wrote()
			tt := tenanttest.NewTenant(t, mgr)
			for i := range 3 {
				r := tenanttest.NewRequest(tt.Tenant, "POST", "/notes", strings.NewReader("body="+name+string(rune('1'+i))))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				tenanttest.LogIn(t, mw, r, tt.Owner)
				if w := serve(app, r); w.Code != http.StatusCreated {
					t.Fatalf("add: %d", w.Code)
				}
			}
			wrote()
			written.Wait()
			defer read.Wait()
			defer done()
			if n := allNotes(t, mgr); n != 6 {
				t.Fatalf("%d notes in the database, want both tenants' 6", n)
			}
			r := tenanttest.NewRequest(tt.Tenant, "GET", "/notes", nil)
			tenanttest.LogIn(t, mw, r, tt.Owner)
			w := serve(app, r)
			if want := name + "1\n" + name + "2\n" + name + "3"; w.Code != http.StatusOK || w.Body.String() != want {
				t.Fatalf("list: %d %q, want %q", w.Code, w.Body.String(), want)
			}
			// Below the HTTP layer too.
			var bodies []string
			err := mgr.DB().Tx(tenanttest.Context(t, tt.Tenant), func(tx *sqlx.Tx) error {
				return tx.Select(&bodies, `SELECT body FROM notes WHERE body NOT LIKE $1`, name+"%")
			})
			if err != nil || len(bodies) != 0 {
				t.Fatalf("rows of another tenant: %q (%v)", bodies, err)
			}
		})
	}
}

// TestCleanupPurges: once the test that made it is over, the tenant, its
// schema, its domain and the users tenanttest made are gone; a user the
// test brought stays; a tenant the test deleted or purged itself is fine.
func TestCleanupPurges(t *testing.T) {
	t.Parallel()
	mgr := newManager(t)
	ctx := t.Context()
	mine, err := mgr.Users().CreateUser(ctx, "mine@example.com", "", true)
	if err != nil {
		t.Fatal(err)
	}
	var tn, brought *tenanttest.Tenant
	var member *users.User
	ok := t.Run("test", func(t *testing.T) {
		tn = tenanttest.NewTenant(t, mgr)
		member = tn.AddMember(t)
		brought = tenanttest.NewTenant(t, mgr, tenanttest.WithOwner(mine))
		if n := count(t, mgr, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, tn.SchemaName); n != 1 {
			t.Fatalf("schema %s missing during the test", tn.SchemaName)
		}
	})
	if !ok {
		t.Fatal("the test failed")
	}
	for _, x := range []*tenanttest.Tenant{tn, brought} {
		if n := count(t, mgr, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, x.SchemaName); n != 0 {
			t.Errorf("schema %s still there after the test", x.SchemaName)
		}
		if _, err := mgr.Get(ctx, x.ID); !errors.Is(err, tenancy.ErrTenantNotFound) {
			t.Errorf("tenant %s still there after the test: %v", x.Slug, err)
		}
		if n := count(t, mgr, `SELECT count(*) FROM tenantkit_domains WHERE domain = $1`, x.PrimaryDomain); n != 0 {
			t.Errorf("domain %s still there after the test", x.PrimaryDomain)
		}
	}
	for _, u := range []*users.User{tn.Owner, member} {
		got, err := mgr.Users().ByID(ctx, u.ID)
		if err != nil || got.DeletedAt == nil || got.IsActive {
			t.Errorf("user %s after the test: %+v, %v; want deleted", u.Email, got, err)
		}
	}
	if got, err := mgr.Users().ByID(ctx, mine.ID); err != nil || got.DeletedAt != nil || !got.IsActive {
		t.Errorf("the test's own user after the test: %+v, %v; want it live", got, err)
	}

	var deleted, purged *tenanttest.Tenant
	ok = t.Run("deletes and purges by itself", func(t *testing.T) {
		deleted = tenanttest.NewTenant(t, mgr)
		if err := mgr.DeleteTenant(t.Context(), deleted.ID); err != nil {
			t.Fatal(err)
		}
		purged = tenanttest.NewTenant(t, mgr)
		if err := mgr.DeleteTenant(t.Context(), purged.ID); err != nil {
			t.Fatal(err)
		}
		if err := mgr.PurgeTenant(t.Context(), purged.ID); err != nil {
			t.Fatal(err)
		}
	})
	if !ok {
		t.Fatal("cleanup of tenants the test deleted or purged failed")
	}
	if n := count(t, mgr, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, deleted.SchemaName); n != 0 {
		t.Errorf("schema of the tenant the test deleted is still there")
	}
	if n := count(t, mgr, `SELECT count(*) FROM tenantkit_tenants WHERE type <> 'public'`); n != 0 {
		t.Errorf("%d tenants left", n)
	}
}

func TestNewTenantOptions(t *testing.T) {
	t.Parallel()
	mgr := newManager(t, tenancy.WithTenantType("shop", nil))
	ctx := t.Context()
	alice := tenanttest.NewUser(t, mgr)
	bob := tenanttest.NewUser(t, mgr)
	tn := tenanttest.NewTenant(t, mgr,
		tenanttest.WithType("shop"),
		tenanttest.WithOwner(alice),
		tenanttest.WithOwnerFlags(false, true),
		tenanttest.WithMember(bob, tenancy.AsStaff()),
		tenanttest.WithSlug("shop-one"),
		tenanttest.WithName("Shop One"),
		tenanttest.WithProvisionOptions(tenancy.WithSchemaName("shop_one")),
	)
	if tn.Type != "shop" || tn.Owner != alice || tn.Name != "Shop One" || tn.SchemaName != "shop_one" ||
		tn.PrimaryDomain != "shop-one.example.com" || tn.Domain.Domain != tn.PrimaryDomain {
		t.Fatalf("tenant %+v, domain %+v", tn.Tenant, tn.Domain)
	}
	members, err := mgr.Members(ctx, tn.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]tenancy.Member{}
	for _, m := range members {
		got[m.UserID] = m
	}
	if a := got[alice.ID]; len(got) != 2 || !a.IsOwner || a.IsSuperuser || !a.IsStaff {
		t.Fatalf("members %+v", members)
	}
	if b := got[bob.ID]; b.IsOwner || b.IsSuperuser || !b.IsStaff {
		t.Fatalf("members %+v", members)
	}

	// Without options: a unique slug made from the test's name, a fresh
	// owner who is the tenant's superuser.
	a, b := tenanttest.NewTenant(t, mgr), tenanttest.NewTenant(t, mgr)
	if a.Slug == b.Slug || !strings.HasPrefix(a.Slug, "testnewtenantoptions-") || a.Owner.ID == b.Owner.ID {
		t.Fatalf("slugs %q %q, owners %d %d", a.Slug, b.Slug, a.Owner.ID, b.Owner.ID)
	}
	if a.Type != tenancy.DefaultType || a.Name != t.Name() {
		t.Fatalf("tenant %+v", a.Tenant)
	}
	if ok, err := mgr.Permissions().HasPerms(tenanttest.Context(t, a.Tenant), a.Owner.ID, "notes.add"); err != nil || !ok {
		t.Fatalf("owner has notes.add: %v %v", ok, err)
	}
}

func TestContext(t *testing.T) {
	t.Parallel()
	mgr := newManager(t)
	tn := tenanttest.NewTenant(t, mgr)
	ctx := tenanttest.Context(t, tn.Tenant)
	if got, ok := tenancy.TenantFromContext(ctx); !ok || got != tn.Tenant {
		t.Fatalf("TenantFromContext = %v, %v", got, ok)
	}
	var schema string
	err := mgr.DB().Tx(ctx, func(tx *sqlx.Tx) error { return tx.Get(&schema, `SELECT current_schema()`) })
	if err != nil || schema != tn.SchemaName {
		t.Fatalf("current_schema() = %q, %v; want %q", schema, err, tn.SchemaName)
	}
}

func TestNewRequest(t *testing.T) {
	t.Parallel()
	tn := &tenancy.Tenant{Slug: "acme", PrimaryDomain: "acme.example.com"}
	for _, target := range []string{"/notes?page=2", "http://elsewhere.example.org/notes?page=2"} {
		r := tenanttest.NewRequest(tn, "GET", target, nil)
		if r.Host != "acme.example.com" || r.URL.Path != "/notes" || r.URL.RawQuery != "page=2" {
			t.Errorf("NewRequest(%q): Host %q, URL %v", target, r.Host, r.URL)
		}
		if r.URL.Host != "" && r.URL.Host != "acme.example.com" {
			t.Errorf("NewRequest(%q): URL host %q", target, r.URL.Host)
		}
		if _, ok := tenancy.TenantFromContext(r.Context()); ok {
			t.Errorf("NewRequest(%q) carries a tenant: only middleware.Tenant may put it there", target)
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("NewRequest for a tenant without a domain did not panic")
		}
	}()
	tenanttest.NewRequest(&tenancy.Tenant{Slug: "nodomain"}, "GET", "/", nil)
}

// TestLogIn: the cookie follows the middleware's settings, and a second
// LogIn on one request replaces the first session (which mw.LogIn
// revokes).
func TestLogIn(t *testing.T) {
	t.Parallel()
	mgr := newManager(t)
	app, mw := notesApp(t, mgr, middleware.Config{CookieName: "sid", CookieDomain: "example.com"})
	tn := tenanttest.NewTenant(t, mgr)
	r := tenanttest.NewRequest(tn.Tenant, "GET", "/notes", nil)
	r.AddCookie(&http.Cookie{Name: "theme", Value: "dark"})
	tenanttest.LogIn(t, mw, r, tn.Owner)
	first, err := r.Cookie("sid")
	if err != nil {
		t.Fatal(err)
	}
	tenanttest.LogIn(t, mw, r, tn.Owner)
	var sids []string
	for _, c := range r.Cookies() {
		if c.Name == "sid" {
			sids = append(sids, c.Value)
		}
	}
	if len(sids) != 1 || sids[0] == first.Value {
		t.Fatalf("session cookies after two LogIns: %q (first %q)", sids, first.Value)
	}
	if c, err := r.Cookie("theme"); err != nil || c.Value != "dark" {
		t.Fatalf("other cookie lost: %v %v", c, err)
	}
	if _, err := mgr.Users().SessionUser(t.Context(), first.Value); !errors.Is(err, users.ErrSessionNotFound) {
		t.Fatalf("first session after the second LogIn: %v, want revoked", err)
	}
	if w := serve(app, r); w.Code != http.StatusOK {
		t.Fatalf("GET with the session: %d", w.Code)
	}
}

// TestFailuresAreClear: the helpers fail the test, saying what to do.
func TestFailuresAreClear(t *testing.T) {
	t.Parallel()
	mgr := newManager(t)
	// A manager without a public tenant, on a database of its own.
	noPublic := sqlx.MustOpen(pgtest.Driver(), tenanttest.Database(t))
	t.Cleanup(func() { noPublic.Close() })
	bare, err := tenancy.NewManager(noPublic)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bare.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		fn   func(t *fakeT)
		want string
	}{
		{"no public tenant", func(f *fakeT) { tenanttest.NewTenant(f, bare) }, "call mgr.CreatePublicTenant"},
		{"nil owner", func(f *fakeT) { tenanttest.NewTenant(f, mgr, tenanttest.WithOwner(nil)) }, "WithOwner: nil user"},
		{"taken slug", func(f *fakeT) {
			tenanttest.NewTenant(f, mgr, tenanttest.WithSlug("taken"))
			tenanttest.NewTenant(f, mgr, tenanttest.WithSlug("taken"))
		}, "slug exists"},
		{"nil tenant", func(f *fakeT) { tenanttest.Context(f, nil) }, "nil tenant"},
	}
	for _, c := range cases {
		got := failures(c.name, c.fn)
		if len(got) != 1 || !strings.Contains(got[0], c.want) || !strings.HasPrefix(got[0], "tenanttest: ") {
			t.Errorf("%s: failures %q, want one containing %q", c.name, got, c.want)
		}
	}
	if n := count(t, mgr, `SELECT count(*) FROM tenantkit_tenants WHERE type <> 'public'`); n != 0 {
		t.Errorf("%d tenants left after the failed tests' cleanups", n)
	}
	var n int
	if err := noPublic.Get(&n, `SELECT count(*) FROM tenantkit_tenants`); err != nil || n != 0 {
		t.Errorf("NewTenant without a public tenant made %d tenants (%v)", n, err)
	}
}

func TestDatabaseIsFreshAndDroppedAtCleanup(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("test", func(t *testing.T) {
		dsn := tenanttest.Database(t)
		db := sqlx.MustOpen(pgtest.Driver(), dsn) // left open: the drop ends it
		if err := db.Get(&name, `SELECT current_database()`); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(name, "tt_testdatabaseisfreshanddropped") {
			t.Errorf("database name %q", name)
		}
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`); err != nil || n != 0 {
			t.Errorf("fresh database has %d tables (%v)", n, err)
		}
	})
	admin := sqlx.MustOpen(pgtest.Driver(), adminURL())
	defer admin.Close()
	var n int
	if err := admin.Get(&n, `SELECT count(*) FROM pg_database WHERE datname = $1`, name); err != nil || n != 0 {
		t.Fatalf("database %s still there after the test (%d, %v)", name, n, err)
	}
}

// TestDatabaseOnYourOwnServer: with TENANTKIT_TEST_DATABASE_URL, Database
// creates its databases on that server as that URL's role. The server
// here is the shared cluster, reached as a role of its own.
func TestDatabaseOnYourOwnServer(t *testing.T) {
	c := pgtest.SharedCluster()
	if c == nil { // the suite runs on a server named by the variable itself
		var err error
		if c, err = pgtest.Start(pgtest.Options{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Stop)
	}
	admin := sqlx.MustOpen(pgtest.Driver(), c.DSN("postgres"))
	t.Cleanup(func() { admin.Close() })
	role := "adopter_" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_"))
	if _, err := admin.Exec(`CREATE ROLE ` + role + ` LOGIN CREATEDB`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP ROLE ` + role); err != nil {
			t.Errorf("drop role %s (does it still own a database?): %v", role, err)
		}
	})
	u, err := url.Parse(c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	t.Setenv(tenanttest.DatabaseURLEnv, u.String())

	var name, owner string
	t.Run("test", func(t *testing.T) {
		dsn := tenanttest.Database(t)
		got, err := url.Parse(dsn)
		if err != nil || got.User.Username() != role || got.Query().Get("host") != c.Dir() {
			t.Fatalf("Database = %q (%v), want a URL for %s on the server", dsn, err, role)
		}
		db := sqlx.MustOpen(pgtest.Driver(), dsn)
		defer db.Close()
		var user string
		if err := db.QueryRow(`SELECT current_database(), current_user, pg_get_userbyid(datdba)
			FROM pg_database WHERE datname = current_database()`).Scan(&name, &user, &owner); err != nil {
			t.Fatal(err)
		}
		if user != role || owner != role {
			t.Fatalf("connected as %s to a database owned by %s, want %s", user, owner, role)
		}
		// The rest of the helpers work there as on the throwaway server.
		mgr := newManager(t)
		tenanttest.NewTenant(t, mgr)
	})
	var n int
	if err := admin.Get(&n, `SELECT count(*) FROM pg_database WHERE datname = $1`, name); err != nil || n != 0 {
		t.Fatalf("database %s still there after the test (%d, %v)", name, n, err)
	}

	t.Setenv(tenanttest.DatabaseURLEnv, "host=/tmp user=me")
	got := failures("key=value", func(f *fakeT) { tenanttest.Database(f) })
	if len(got) != 1 || !strings.Contains(got[0], "not a postgres:// URL") {
		t.Fatalf("Database with a key=value %s: %q", tenanttest.DatabaseURLEnv, got)
	}
}

type fakeM struct{ ran bool }

func (m *fakeM) Run() int { m.ran = true; return 0 }

// TestMainWithoutServer: no PostgreSQL binaries fail the run, naming the
// package to install, and run no test; none are skipped.
func TestMainWithoutServer(t *testing.T) {
	t.Setenv(tenanttest.DatabaseURLEnv, "")
	var out bytes.Buffer
	m := &fakeM{}
	code := tenanttest.Run(m, pgtest.Options{BinDir: t.TempDir()}, &out)
	if code != 1 || m.ran {
		t.Fatalf("Run without server = %d, tests ran: %v", code, m.ran)
	}
	for _, want := range []string{`tenanttest: `, `"postgresql" package`, tenanttest.DatabaseURLEnv} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("message %q does not contain %q", out.String(), want)
		}
	}

	// With a server of your own, Main starts nothing.
	t.Setenv(tenanttest.DatabaseURLEnv, "postgres://me@db.example.com/postgres")
	out.Reset()
	m = &fakeM{}
	if code := tenanttest.Run(m, pgtest.Options{BinDir: t.TempDir()}, &out); code != 0 || !m.ran || out.Len() != 0 {
		t.Fatalf("Run with %s = %d, ran %v, output %q", tenanttest.DatabaseURLEnv, code, m.ran, out.String())
	}
}
