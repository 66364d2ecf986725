package tenanttest

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/sqlxschema"
)

// DatabaseURLEnv names the environment variable that points the tests at a
// PostgreSQL server of your own instead of a throwaway one: a postgres://
// URL (user, password, host, port, options) of a database to connect to
// for creating the tests' databases, as a role allowed to create
// databases (CREATEDB). PostgreSQL 13 or newer.
const DatabaseURLEnv = "TENANTKIT_TEST_DATABASE_URL"

// TB is the part of testing.TB that tenanttest uses. *testing.T,
// *testing.B and *testing.F satisfy it; so can a harness of your own.
type TB interface {
	Helper()
	Name() string
	Context() context.Context
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Main runs a test package's tests with a throwaway PostgreSQL server for
// Database: it starts a private cluster from the PostgreSQL server
// binaries on the machine (on a unix socket in a temporary directory, as
// the "postgres" account when run as root), runs m, stops the cluster and
// exits with m's code. Use it from TestMain:
//
//	func TestMain(m *testing.M) { tenanttest.Main(m) }
//
// With DatabaseURLEnv set it starts nothing and runs m. A machine without
// the server binaries fails the run with a message naming Debian's
// "postgresql" package; it never skips the tests.
func Main(m *testing.M) { os.Exit(run(m, pgtest.Options{}, os.Stderr)) }

// run is Main without the exit, for tests.
func run(m pgtest.M, opts pgtest.Options, stderr io.Writer) int {
	if os.Getenv(DatabaseURLEnv) != "" {
		return m.Run()
	}
	code, err := pgtest.Run(m, opts)
	if err != nil {
		fmt.Fprintf(stderr, "tenanttest: %v\n(or set %s to a postgres:// URL of a server of your own)\n", err, DatabaseURLEnv)
	}
	return code
}

// Database creates a new, empty database for the test and returns a
// postgres:// URL for it, which lib/pq and pgx both open. The database
// lives on the server that Main started, or on the server DatabaseURLEnv
// names when it is set; its name starts with "tt_" and the test's name.
// At cleanup it is dropped (DROP DATABASE ... WITH (FORCE), which ends
// connections still open on it), so close your pool in a cleanup
// registered after this call, or let the drop end it.
//
// Without Main and without DatabaseURLEnv it fails the test, saying so.
func Database(t TB) string {
	t.Helper()
	admin := os.Getenv(DatabaseURLEnv)
	if admin == "" {
		c := pgtest.SharedCluster()
		if c == nil {
			t.Fatalf("tenanttest: Database: no PostgreSQL server: call tenanttest.Main(m) from TestMain, or set %s", DatabaseURLEnv)
			return ""
		}
		admin = c.URL("postgres")
	}
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("tenanttest: Database: %s is not a postgres:// URL", DatabaseURLEnv)
		return ""
	}
	name := databaseName(t.Name())
	db, err := pgtest.Open(admin)
	if err != nil {
		t.Fatalf("tenanttest: Database: %v", err)
		return ""
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), `CREATE DATABASE `+sqlxschema.QuoteIdent(name)); err != nil {
		t.Fatalf("tenanttest: Database: create %s: %v", name, err)
		return ""
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		db, err := pgtest.Open(admin)
		if err == nil {
			defer db.Close()
			_, err = db.ExecContext(ctx, `DROP DATABASE IF EXISTS `+sqlxschema.QuoteIdent(name)+` WITH (FORCE)`)
		}
		if err != nil {
			t.Errorf("tenanttest: Database: drop %s: %v", name, err)
		}
	})
	u.Path, u.RawPath = "/"+name, ""
	return u.String()
}

// databaseName makes a database name from a test's name: "tt_", the name
// in lower-case letters, digits and underscores, and a random suffix, so
// that test processes sharing a server never collide.
func databaseName(test string) string {
	return "tt_" + label(test, '_', 40) + "_" + randomSuffix()
}

// label turns s into at most max lower-case letters and digits, each run
// of other characters one sep, without sep at either end.
func label(s string, sep byte, max int) string {
	var b strings.Builder
	pending := false
	for _, r := range strings.ToLower(s) {
		if b.Len() >= max {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if pending && b.Len() > 0 && b.Len() < max-1 {
				b.WriteByte(sep)
			}
			pending = false
			b.WriteRune(r)
			continue
		}
		pending = true
	}
	if b.Len() == 0 {
		return "test"
	}
	return b.String()
}

// randomSuffix returns 8 random lower-case letters and digits.
func randomSuffix() string { return strings.ToLower(rand.Text()[:8]) }
