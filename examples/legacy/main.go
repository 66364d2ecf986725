// Command legacy shows a single-schema Go service becoming multi-tenant in
// steps, each a state that runs and passes its tests, with no rewrite and
// no downtime for the routes not yet moved:
//
//	0  before:   a todo service on one schema (public), gorilla/mux
//	             handlers on the raw *sqlx.DB
//	1  install:  tenantkit's tables in their own schema ("tenantkit"); the
//	             legacy schema adopted as the first tenant, data in place
//	             (tenancy.AdoptSchema with WithBaseline); routes unchanged
//	2  one route: GET /todos resolves the tenant from the Host and reads
//	             in its schema; POST /todos is untouched, and served for the
//	             legacy tenant only
//	3  all:      every route on a subrouter behind middleware.Tenant; new
//	             tenants get their own schemas
//
// Run a step with
//
//	go run ./examples/legacy -step 2
//
// Without DATABASE_URL it starts a throwaway PostgreSQL and takes it from
// the legacy state to the step; with DATABASE_URL, running the steps one
// after another upgrades that database in place. From step 2 on it also
// provisions a second tenant, acme (acme.localhost). It listens on :8081
// (PORT overrides) and prints curl commands to try.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the "postgres" driver

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/tenancy"
)

func main() {
	step := flag.Int("step", lastStep, fmt.Sprintf("the step of the adoption to run (%d to %d)", stepBefore, lastStep))
	flag.Parse()
	if err := run(*step); err != nil {
		slog.Error("legacy: exiting", "err", err)
		os.Exit(1)
	}
}

func run(step int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		fmt.Println("DATABASE_URL is not set: starting a throwaway PostgreSQL...")
		c, err := pgtest.Start(pgtest.Options{})
		if err != nil {
			return err
		}
		defer c.Stop()
		dsn = c.DSN("postgres")
	}
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return err
	}
	defer db.Close()

	srv, err := setup(ctx, db, step)
	if err != nil {
		return err
	}
	if err := seed(ctx, db, srv.mgr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", ":"+envOr("PORT", "8081"))
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.handler, ReadHeaderTimeout: 10 * time.Second}
	printHelp(step, ln.Addr().(*net.TCPAddr).Port)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// seed gives the legacy schema its first rows, once, and from step 2 on
// provisions acme.
func seed(ctx context.Context, db *sqlx.DB, mgr *tenancy.Manager) error {
	if _, err := db.ExecContext(ctx, `INSERT INTO public.todos (title)
		SELECT t FROM unnest(ARRAY['water the plants', 'file the taxes']) t
		WHERE NOT EXISTS (SELECT 1 FROM public.todos)`); err != nil {
		return err
	}
	if mgr == nil {
		return nil
	}
	if _, err := mgr.BySlug(ctx, "acme"); err == nil || !errors.Is(err, tenancy.ErrTenantNotFound) {
		return err
	}
	owner, err := mgr.Users().ByEmail(ctx, ownerEmail)
	if err != nil {
		return err
	}
	_, _, err = mgr.Provision(ctx, "Acme", "acme", owner.ID)
	return err
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func printHelp(step, port int) {
	fmt.Printf("\nlegacy todo service, step %d, on port %d. Try:\n\n", step, port)
	fmt.Printf("  curl -s localhost:%d/todos\n", port)
	fmt.Printf("  curl -s -d '{\"title\":\"buy milk\"}' localhost:%d/todos\n", port)
	if step >= stepOneRoute { // before, every host is the legacy service
		fmt.Printf("  curl -s -H 'Host: acme.localhost' localhost:%d/todos\n", port)
		fmt.Printf("  curl -s -H 'Host: acme.localhost' -d '{\"title\":\"acme only\"}' localhost:%d/todos\n", port)
	}
	fmt.Println("\nPress Ctrl-C to stop.")
}
