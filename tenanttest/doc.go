// Package tenanttest gives your tests throwaway tenants, so you test your
// own handlers, repositories and jobs the way tenantkit tests its own: on
// a real PostgreSQL, through the real middleware, one schema per tenant.
//
// # A database
//
// Main starts a private PostgreSQL server for the test binary and stops
// it afterwards; Database creates a fresh, empty database on it for one
// test and drops it at cleanup:
//
//	func TestMain(m *testing.M) { tenanttest.Main(m) }
//
//	func newManager(t *testing.T) *tenancy.Manager {
//		db := sqlx.MustOpen("postgres", tenanttest.Database(t))
//		t.Cleanup(func() { db.Close() })
//		mgr, err := tenancy.NewManager(db, tenancy.WithBaseDomain("example.com"),
//			tenancy.WithTenantMigrations(migrations))
//		// ... mgr.Migrate(ctx), mgr.CreatePublicTenant(ctx, "example.com", "ops@example.com")
//		return mgr
//	}
//
// The server runs from the PostgreSQL server binaries installed on the
// machine (Debian's "postgresql" package), on a unix socket in a
// temporary directory, so nothing needs to be running and runs never
// collide. Without the binaries the run fails with a message naming the
// package; it never skips.
//
// # Your own server
//
// Set TENANTKIT_TEST_DATABASE_URL (DatabaseURLEnv) to a postgres:// URL to
// use a server you run instead, in CI for example: Main then starts
// nothing, and each Database call creates a database of its own on that
// server (the URL's role needs CREATEDB) and drops it at cleanup.
//
// # A tenant per test
//
// NewTenant provisions a tenant with a unique slug and a fresh owner on
// your *tenancy.Manager, through Provision as in production, and at
// cleanup deletes and purges it (its schema is dropped). Tests that call
// it may run in parallel on one database: each has its own tenant,
// schema and domain. Options set the tenant type, the owner's flags, the
// owner, extra members, and any tenancy.ProvisionOption; AddMember and
// NewUser make more users.
//
// # Driving handlers
//
// NewRequest builds a request whose Host is the tenant's domain, so it
// passes through middleware.Tenant like production traffic; LogIn starts
// a session for a user through your middleware and adds its cookie, so
// RequireMember and RequirePerm check that user against that tenant.
// Context puts a tenant in the test's context for code below the HTTP
// layer:
//
//	tt := tenanttest.NewTenant(t, mgr)
//	r := tenanttest.NewRequest(tt.Tenant, "POST", "/notes", strings.NewReader("body=hi"))
//	r.Header.Set("Content-Type", "application/x-www-form-urlencoded") // for r.FormValue
//	tenanttest.LogIn(t, mw, r, tt.Owner)
//	w := httptest.NewRecorder()
//	app.ServeHTTP(w, r) // mw.Tenant(mw.Authenticate(mw.RequirePerm("notes.add")(addNote)))
//
//	err := mgr.DB().Tx(tenanttest.Context(t, tt.Tenant), func(tx *sqlx.Tx) error { ... })
//
// # Failures
//
// Every helper fails the test (Fatalf) when it cannot do its job, and a
// cleanup that fails reports it (Errorf). The helpers take a TB, which
// *testing.T, *testing.B and *testing.F satisfy.
package tenanttest
