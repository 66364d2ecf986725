package main

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/gorilla/mux"
	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/middleware"
	"github.com/tenantkit/tenantkit/tenancy"
	"github.com/tenantkit/tenantkit/tenancy/riverprovision"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

//go:embed templates/*.html
var templateFiles embed.FS

// app is the notes application: the tenancy manager, the provisioning
// queue, the middleware and the parsed pages.
type app struct {
	mgr   *tenancy.Manager
	queue *riverprovision.Queue  // provisions signed-up tenants in the background
	mw    *middleware.Middleware // pages: anonymous GETs go to /login
	apiMW *middleware.Middleware // JSON API: anonymous requests get 401
	pages map[string]*template.Template
	log   *slog.Logger
}

// queuePoll is how often the provisioning workers look for new jobs (River
// on lib/pq polls): the most a new tenant waits before its worker starts.
const queuePoll = 250 * time.Millisecond

// newApp builds the app on db: it migrates the shared schema, every tenant
// schema and the provisioning queue's tables, seeds the demo data, and
// starts the queue's workers; close stops them. opts go to
// tenancy.NewManager after the app's own (the test passes cheap password
// hashing).
func newApp(ctx context.Context, db *sqlx.DB, opts ...tenancy.Option) (*app, error) {
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	mgr, err := tenancy.NewManager(db, append([]tenancy.Option{
		tenancy.WithBaseDomain("localhost"),
		tenancy.WithTenantMigrations(migrations),
	}, opts...)...)
	if err != nil {
		return nil, err
	}
	if _, err := mgr.Migrate(ctx); err != nil {
		return nil, err
	}
	if err := seed(ctx, mgr); err != nil {
		return nil, err
	}

	a := &app{mgr: mgr, log: slog.Default()}
	if a.queue, err = riverprovision.New(mgr, riverprovision.Config{PollInterval: queuePoll,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}); err != nil {
		return nil, err
	}
	if err := a.queue.Migrate(ctx); err != nil {
		return nil, err
	}
	cfg := middleware.Config{
		Tenants:  mgr,
		Members:  mgr,
		Perms:    mgr.Permissions(),
		Sessions: mgr.Users(),
		Logger:   a.log,
	}
	pageCfg := cfg
	pageCfg.LoginURL = "/login"
	if a.mw, err = middleware.New(pageCfg); err != nil {
		return nil, err
	}
	apiCfg := cfg
	apiCfg.Unauthorized = jsonError(http.StatusUnauthorized, "login required")
	apiCfg.Forbidden = jsonError(http.StatusForbidden, "forbidden")
	apiCfg.Error = jsonError(http.StatusInternalServerError, "internal error")
	if a.apiMW, err = middleware.New(apiCfg); err != nil {
		return nil, err
	}
	if a.pages, err = parsePages("home.html", "landing.html", "login.html", "notes.html", "signup.html", "members.html", "welcome.html"); err != nil {
		return nil, err
	}
	// The workers live until close, not until ctx ends (River stops its
	// workers when the start context is cancelled).
	if err := a.queue.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, err
	}
	return a, nil
}

// close stops the provisioning workers, waiting for a running job at most
// until ctx ends; a job cut short is worked again at the next start.
func (a *app) close(ctx context.Context) error {
	return a.queue.Stop(ctx)
}

// parsePages parses each page together with the shared layout.
func parsePages(names ...string) (map[string]*template.Template, error) {
	pages := make(map[string]*template.Template, len(names))
	for _, name := range names {
		t, err := template.ParseFS(templateFiles, "templates/layout.html", "templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// routes returns the app's handler. Every request goes through
// middleware.Tenant (Host -> tenant; 404 unknown, 400 malformed) and
// Authenticate (session cookie -> user), then to the public site's router
// for the public tenant (localhost) or to the tenants' router.
func (a *app) routes() http.Handler {
	get := []string{http.MethodGet, http.MethodHead}

	public := mux.NewRouter()
	public.HandleFunc("/", a.home).Methods(get...)
	public.HandleFunc("/signup", a.signupForm).Methods(get...)
	public.Handle("/signup", checkCSRF(http.HandlerFunc(a.signup))).Methods(http.MethodPost)
	public.HandleFunc("/welcome", a.welcome).Methods(get...)
	a.authRoutes(public)

	tenant := mux.NewRouter()
	// RequirePerm lets through only members who hold the permission (or
	// are the tenant's superuser); others get a redirect to /login or 403.
	view, add := a.mw.RequirePerm("notes.view"), a.mw.RequirePerm("notes.add")
	tenant.Handle("/", a.tenantHome(view(http.HandlerFunc(a.notesPage)))).Methods(get...)
	tenant.Handle("/notes", checkCSRF(add(http.HandlerFunc(a.addNoteForm)))).Methods(http.MethodPost)
	manage := a.mw.RequirePerm(permManage)
	tenant.Handle("/members", manage(http.HandlerFunc(a.membersPage))).Methods(get...)
	tenant.Handle("/members", checkCSRF(manage(http.HandlerFunc(a.memberAction)))).Methods(http.MethodPost)
	a.authRoutes(tenant)

	api := tenant.PathPrefix("/api").Subrouter()
	apiView, apiAdd := a.apiMW.RequirePerm("notes.view"), a.apiMW.RequirePerm("notes.add")
	api.Handle("/notes", apiView(http.HandlerFunc(a.apiListNotes))).Methods(get...)
	api.Handle("/notes", apiAdd(http.HandlerFunc(a.apiAddNote))).Methods(http.MethodPost)

	byHost := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t, ok := tenancy.TenantFromContext(r.Context()); ok && t.IsPublic() {
			public.ServeHTTP(w, r)
			return
		}
		tenant.ServeHTTP(w, r)
	})
	return secureHeaders(a.mw.Tenant(a.mw.Authenticate(byHost)))
}

// authRoutes adds the login form and logout to r. Both hosts need them:
// session cookies are host-only, so each host has its own login.
func (a *app) authRoutes(r *mux.Router) {
	r.HandleFunc("/login", a.loginForm).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/login", checkCSRF(http.HandlerFunc(a.login))).Methods(http.MethodPost)
	r.Handle("/logout", checkCSRF(http.HandlerFunc(a.logout))).Methods(http.MethodPost)
}

// secureHeaders sets conservative headers on every response: the pages
// need nothing but their own inline stylesheet and same-origin forms.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}
