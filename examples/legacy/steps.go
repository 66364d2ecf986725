package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/middleware"
	"github.com/tenantkit/tenantkit/tenancy"
)

// The steps from the legacy service to a multi-tenant one. Each is a
// runnable state (go run ./examples/legacy -step N), and each builds on
// the one before in the same database, so a deployment can stop at any of
// them.
const (
	// stepBefore is the legacy service, untouched.
	stepBefore = iota
	// stepInstalled adds tenantkit beside it: tenantkit's shared tables in
	// a schema of their own ("tenantkit"), and the legacy schema (public)
	// adopted as the first tenant, its data where it is. No route changes.
	stepInstalled
	// stepOneRoute moves one handler, GET /todos, onto tenantkit: it
	// resolves the tenant from the Host and reads in the tenant's schema.
	// POST /todos is not adopted yet: it still writes through the raw pool,
	// so it is served for the legacy tenant only, never for a new one.
	stepOneRoute
	// stepAll mounts every route on a subrouter behind middleware.Tenant:
	// new tenants are fully served, each in its own schema.
	stepAll
)

// lastStep is the finished adoption.
const lastStep = stepAll

const (
	baseDomain   = "localhost"
	legacyHost   = "localhost"     // where the legacy service has always answered
	publicHost   = "www.localhost" // tenantkit's public tenant
	legacySlug   = "legacy"
	ownerEmail   = "owner@example.com"
	sharedSchema = "tenantkit"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// server is the service at one step.
type server struct {
	handler http.Handler
	mgr     *tenancy.Manager // nil before tenantkit is installed
}

// setup brings the database to step (every step before it included; each
// is idempotent, so a database already there is left as it is) and
// returns the service's routes at that step.
func setup(ctx context.Context, db *sqlx.DB, step int) (*server, error) {
	if step < stepBefore || step > lastStep {
		return nil, fmt.Errorf("no step %d: steps are %d to %d", step, stepBefore, lastStep)
	}
	legacy := &legacyService{db: db}
	if err := legacy.migrate(ctx); err != nil {
		return nil, err
	}
	r := mux.NewRouter()
	if step == stepBefore {
		legacy.routes(r)
		return &server{handler: r}, nil
	}

	mgr, legacyTenant, err := install(ctx, db)
	if err != nil {
		return nil, err
	}
	mw, err := middleware.New(middleware.Config{Tenants: mgr, Members: mgr, Perms: mgr.Permissions(), Sessions: mgr.Users()})
	if err != nil {
		return nil, err
	}
	adopted := &tenantService{mgr: mgr}
	switch step {
	case stepInstalled:
		legacy.routes(r)
	case stepOneRoute:
		// One handler wrapped; the others exactly as before.
		r.Handle("/todos", mw.Tenant(tenantOnly(adopted.list))).Methods(http.MethodGet)
		r.Handle("/todos", mw.Tenant(onlyTenant(legacyTenant.ID, http.HandlerFunc(legacy.add)))).Methods(http.MethodPost)
		r.HandleFunc("/healthz", health).Methods(http.MethodGet)
	case stepAll:
		// A whole subrouter at once, as for a gorilla/mux API prefix.
		sub := r.NewRoute().Subrouter()
		sub.Use(mw.Tenant)
		sub.Handle("/todos", tenantOnly(adopted.list)).Methods(http.MethodGet)
		sub.Handle("/todos", tenantOnly(adopted.add)).Methods(http.MethodPost)
		r.HandleFunc("/healthz", health).Methods(http.MethodGet)
	}
	return &server{handler: r, mgr: mgr}, nil
}

// install is stepInstalled: it migrates tenantkit's tables into their own
// schema, creates the public tenant, and adopts the legacy schema as the
// tenant "legacy", reached on the host the service always had.
func install(ctx context.Context, db *sqlx.DB) (*tenancy.Manager, *tenancy.Tenant, error) {
	migrations, _ := fs.Sub(migrationFiles, "migrations")
	mgr, err := tenancy.NewManager(db,
		tenancy.WithSharedSchema(sharedSchema), // never collides with a legacy table
		tenancy.WithBaseDomain(baseDomain),
		tenancy.WithTenantMigrations(migrations))
	if err != nil {
		return nil, nil, err
	}
	if _, err := mgr.Migrate(ctx); err != nil {
		return nil, nil, err
	}
	if _, err := mgr.PublicTenant(ctx); errors.Is(err, tenancy.ErrNoPublicTenant) {
		_, _, err = mgr.CreatePublicTenant(ctx, publicHost, ownerEmail)
		if err != nil {
			return nil, nil, err
		}
	} else if err != nil {
		return nil, nil, err
	}
	t, err := mgr.BySlug(ctx, legacySlug)
	if err == nil {
		return mgr, t, nil
	}
	if !errors.Is(err, tenancy.ErrTenantNotFound) {
		return nil, nil, err
	}
	owner, err := mgr.Users().ByEmail(ctx, ownerEmail)
	if err != nil {
		return nil, nil, err
	}
	// The table exists: 0001_todos is recorded, not run; 0002_done runs.
	t, _, err = mgr.AdoptSchema(ctx, "public", "Legacy", legacySlug, owner.ID, tenancy.WithBaseline("0001_todos"))
	if err != nil {
		return nil, nil, err
	}
	if _, err := mgr.AddDomain(ctx, t.ID, legacyHost, true); err != nil {
		return nil, nil, err
	}
	return mgr, t, nil
}

// onlyTenant serves next for one tenant only, and 404 for the others: a
// route that is not adopted yet knows one schema, the legacy one.
func onlyTenant(id int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t, ok := tenancy.TenantFromContext(r.Context()); !ok || t.ID != id {
			http.Error(w, "not available for this tenant yet", http.StatusNotFound)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tenantService is the adopted handlers: the legacy queries, run in the
// request's tenant's schema.
type tenantService struct{ mgr *tenancy.Manager }

// tenantOnly answers the public tenant's host (www.localhost: tenantkit's
// own, on the shared schema, which has no todos) with 404.
func tenantOnly(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t, ok := tenancy.TenantFromContext(r.Context()); !ok || t.IsPublic() {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		next(w, r)
	})
}

// fail answers an internal error with a generic 500 and logs it.
func fail(w http.ResponseWriter, r *http.Request, err error) {
	slog.Error("legacy: request failed", "method", r.Method, "host", r.Host, "path", r.URL.Path, "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

func (s *tenantService) list(w http.ResponseWriter, r *http.Request) {
	var todos []todo
	err := s.mgr.DB().Tx(r.Context(), func(tx *sqlx.Tx) error {
		var err error
		todos, err = listTodos(r.Context(), tx)
		return err
	})
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, todos)
}

func (s *tenantService) add(w http.ResponseWriter, r *http.Request) {
	title, ok := readTitle(w, r)
	if !ok {
		return
	}
	var t todo
	err := s.mgr.DB().Tx(r.Context(), func(tx *sqlx.Tx) error {
		var err error
		t, err = addTodo(r.Context(), tx, title)
		return err
	})
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, t)
}
