package pgtest

import (
	"os"
	"testing"
)

// CIEnv names the environment variable that CI (.ci/run) sets. Tests that
// need a tool beyond PostgreSQL's server (PgBouncer, Chromium) fail without
// it there, and skip with a message naming the package to install
// elsewhere, so `go test ./...` on a machine with only PostgreSQL passes.
const CIEnv = "TENANTKIT_CI"

// MissingTool ends a test that cannot find a tool it needs: missing says
// what is missing and how to install it. It fails the test when CIEnv is
// set, and skips it otherwise.
func MissingTool(t testing.TB, missing error) {
	t.Helper()
	if os.Getenv(CIEnv) != "" {
		t.Fatalf("%v (%s is set: CI must have it)", missing, CIEnv)
	}
	t.Skipf("%v; skipped (set %s=1 to make this a failure)", missing, CIEnv)
}
