// Command notes is tenantkit's demo: a small multi-tenant notes app on
// PostgreSQL, one schema per tenant, the tenant picked from the Host.
//
// It shows the whole library at work:
//
//   - tenancy.Manager migrates the shared schema and every tenant schema,
//     and provisions tenants (acme.localhost, globex.localhost) with their
//     own "notes" table and permissions (migrations/0001_notes.sql);
//   - users are global: bob belongs to both tenants, alice to acme only;
//   - middleware resolves the Host to a tenant (unknown host: 404,
//     malformed: 400), reads the session cookie, and checks membership and
//     permissions (notes.view, notes.add) stored in the tenant's schema;
//   - handlers query the unqualified table "notes" through
//     Manager.DB().Tx, which scopes the search_path to the request's tenant;
//   - the same data as server-rendered HTML (with CSRF-protected forms) and
//     as JSON under /api/notes;
//   - sign up (/signup on the public site) creates a user and provisions
//     their tenant in one transaction; a switcher lists the user's tenants;
//   - the members page (/members on a tenant's host, for holders of
//     members.manage: the owner) adds members by email, removes them, puts
//     them in groups (readers, writers, or new ones) and grants or revokes
//     permissions, all stored in the tenant's schema.
//
// Run it with
//
//	go run ./examples/notes
//
// Without DATABASE_URL it starts a throwaway PostgreSQL (removed on exit);
// with DATABASE_URL it uses that database, and a second run reuses the demo
// data. It listens on :8080; PORT (a port) or ADDR (host:port) override
// that. Browsers resolve *.localhost to the loopback address, so open
// http://acme.localhost:8080/ and log in as one of the demo users it prints.
package main

import (
	"context"
	"errors"
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
)

func main() {
	if err := run(); err != nil {
		slog.Error("notes: exiting", "err", err)
		os.Exit(1)
	}
}

func run() error {
	// ctx ends at the first Ctrl-C or SIGTERM; a second one kills the
	// process at once (stop restores the default behaviour).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		fmt.Println("DATABASE_URL is not set: starting a throwaway PostgreSQL...")
		c, err := pgtest.Start(pgtest.Options{})
		if err != nil {
			return err
		}
		defer c.Stop() // shuts the server down and removes its directory
		fmt.Println("PostgreSQL is running in", c.Dir(), "(removed on exit)")
		dsn = c.DSN("postgres")
	}

	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return err
	}
	defer db.Close()

	a, err := newApp(ctx, db)
	if err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.close(stopCtx); err != nil {
			slog.Error("notes: stopping the provisioning workers", "err", err)
		}
	}()

	ln, err := net.Listen("tcp", listenAddr())
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	printWelcome(ln.Addr().(*net.TCPAddr).Port)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	stop()
	fmt.Println("\nshutting down...")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// listenAddr is ADDR if set, else :PORT if set, else :8080.
func listenAddr() string {
	if addr := os.Getenv("ADDR"); addr != "" {
		return addr
	}
	if port := os.Getenv("PORT"); port != "" {
		return ":" + port
	}
	return ":8080"
}

func printWelcome(port int) {
	fmt.Printf(`
tenantkit notes demo is listening:

  public site  http://localhost:%[1]d/
  acme         http://acme.localhost:%[1]d/
  globex       http://globex.localhost:%[1]d/
  JSON         http://acme.localhost:%[1]d/api/notes

Demo logins (log in on each host: session cookies are per host):

  %-20[2]s %-16[3]s owner of acme
  %-20[4]s %-16[5]s owner of globex, member of acme (notes.view, notes.add)

Or sign up for a tenant of your own: http://localhost:%[1]d/signup
Owners manage their members at http://<tenant>.localhost:%[1]d/members

With curl: curl -si -H 'Host: acme.localhost' localhost:%[1]d/
Press Ctrl-C to stop.
`, port, aliceEmail, alicePassword, bobEmail, bobPassword)
}
