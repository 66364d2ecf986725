package tenanttest_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/middleware"
	"github.com/tenantkit/tenantkit/tenancy"
	"github.com/tenantkit/tenantkit/tenanttest"
	"github.com/tenantkit/tenantkit/users"
)

func TestMain(m *testing.M) { tenanttest.Main(m) }

// newManager is the setup an application's tests have: a migrated
// Manager on a fresh database (tenanttest.Database), with the notes
// migrations for the default tenant type and a public tenant on
// example.com.
func newManager(t tenanttest.TB, opts ...tenancy.Option) *tenancy.Manager {
	t.Helper()
	db, err := sqlx.Open(pgtest.Driver(), tenanttest.Database(t))
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { db.Close() })
	base := []tenancy.Option{
		tenancy.WithBaseDomain("example.com"),
		tenancy.WithTenantMigrations(os.DirFS("../testdata/notes")),
	}
	mgr, err := tenancy.NewManager(db, append(base, opts...)...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	if _, err := mgr.Migrate(t.Context()); err != nil {
		t.Fatalf("%v", err)
	}
	if _, _, err := mgr.CreatePublicTenant(t.Context(), "example.com", "ops@example.com"); err != nil {
		t.Fatalf("%v", err)
	}
	return mgr
}

// notesApp is an application's handler behind tenantkit's middleware:
// GET /notes lists the tenant's notes (members only), POST /notes adds
// one (notes.add only).
func notesApp(t tenanttest.TB, mgr *tenancy.Manager, cfg middleware.Config) (http.Handler, *middleware.Middleware) {
	t.Helper()
	cfg.Tenants, cfg.Members, cfg.Perms, cfg.Sessions = mgr, mgr, mgr.Permissions(), mgr.Users()
	mw, err := middleware.New(cfg)
	if err != nil {
		t.Fatalf("%v", err)
	}
	list := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var bodies []string
		err := mgr.DB().Tx(r.Context(), func(tx *sqlx.Tx) error {
			return tx.SelectContext(r.Context(), &bodies, `SELECT body FROM notes ORDER BY id`)
		})
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, strings.Join(bodies, "\n"))
	})
	add := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := users.UserFromContext(r.Context())
		err := mgr.DB().Tx(r.Context(), func(tx *sqlx.Tx) error {
			_, err := tx.ExecContext(r.Context(), `INSERT INTO notes (body, author_id) VALUES ($1, $2)`, r.FormValue("body"), u.ID)
			return err
		})
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /notes", mw.RequireMember(list))
	mux.Handle("POST /notes", mw.RequirePerm("notes.add")(add))
	return mw.Tenant(mw.Authenticate(mux)), mw
}

// fakeT is a tenanttest.TB for Example functions, which have no
// *testing.T, and for tests of the helpers' own failures. Fatalf ends the
// goroutine as testing.T's does (or panics, for examples); Finish cancels
// the context and runs the cleanups, last registered first.
type fakeT struct {
	name     string
	panics   bool
	ctx      context.Context
	cancel   context.CancelFunc
	mu       sync.Mutex
	cleanups []func()
	failures []string
}

func newFakeT(name string, panics bool) *fakeT {
	ctx, cancel := context.WithCancel(context.Background())
	return &fakeT{name: name, panics: panics, ctx: ctx, cancel: cancel}
}

// exampleT is the *testing.T of an Example: in a real test, use the
// test's own t.
func exampleT(name string) *fakeT { return newFakeT(name, true) }

func (f *fakeT) Helper()                  {}
func (f *fakeT) Name() string             { return f.name }
func (f *fakeT) Context() context.Context { return f.ctx }

func (f *fakeT) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

func (f *fakeT) Errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	f.mu.Lock()
	f.failures = append(f.failures, msg)
	f.mu.Unlock()
	if f.panics {
		panic(msg)
	}
}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}

// Finish ends the fake test: its context, then its cleanups.
func (f *fakeT) Finish() {
	f.cancel()
	for {
		f.mu.Lock()
		n := len(f.cleanups)
		if n == 0 {
			f.mu.Unlock()
			return
		}
		fn := f.cleanups[n-1]
		f.cleanups = f.cleanups[:n-1]
		f.mu.Unlock()
		fn()
	}
}

// failures runs fn as a fake test on its own goroutine, as testing does,
// finishes it and returns what it reported.
func failures(name string, fn func(t *fakeT)) []string {
	f := newFakeT(name, false)
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	f.Finish()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failures
}

// ownerIsSuperuser reports whether the tenant's owner is its superuser.
func ownerIsSuperuser(t tenanttest.TB, mgr *tenancy.Manager, tt *tenanttest.Tenant) bool {
	flags, err := mgr.Permissions().UserFlags(tenanttest.Context(t, tt.Tenant), tt.Owner.ID)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return flags.IsSuperuser
}
