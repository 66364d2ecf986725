package pgtest_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantkit/tenantkit/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestNewDatabaseIsFreshAndUsable(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	db, err := pgtest.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`select count(*) from pg_tables where schemaname = 'public'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("fresh database has %d tables in public, want 0", n)
	}
	var fsync string
	if err := db.QueryRow(`show fsync`).Scan(&fsync); err != nil {
		t.Fatal(err)
	}
	if fsync != "off" {
		t.Fatalf("fsync = %q, want off", fsync)
	}
}

func TestStopRemovesEverything(t *testing.T) {
	c, err := pgtest.Start(pgtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := c.Dir()
	if _, err := os.Stat(filepath.Join(dir, ".s.PGSQL.5432")); err != nil {
		t.Fatalf("socket missing while running: %v", err)
	}
	c.Stop()
	c.Stop() // twice is fine
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("directory %s still there after Stop (err=%v)", dir, err)
	}
}

// TestDirectoryRemovedWhenTheProcessDies: a test process that dies without
// running Stop (a panicking test, -timeout, kill -9) leaves no cluster
// directory behind. The test runs itself as a child that starts a cluster,
// prints its directory and panics.
func TestDirectoryRemovedWhenTheProcessDies(t *testing.T) {
	if os.Getenv("PGTEST_DIE_CHILD") == "1" {
		c, err := pgtest.Start(pgtest.Options{})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(3)
		}
		fmt.Println("dir:", c.Dir())
		panic("the test process dies without Stop")
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDirectoryRemovedWhenTheProcessDies$")
	cmd.Env = append(os.Environ(), "PGTEST_DIE_CHILD=1")
	out, _ := cmd.CombinedOutput()
	_, rest, ok := strings.Cut(string(out), "dir: ")
	if !ok {
		t.Fatalf("child printed no directory:\n%s", out)
	}
	dir, _, _ := strings.Cut(rest, "\n")
	if !strings.Contains(string(out), "the test process dies without Stop") {
		t.Fatalf("child did not panic:\n%s", out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := os.Stat(dir)
		if os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("directory %s still there 20s after its process died (stat: %v)", dir, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestNoServerBinariesIsAClearError(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := pgtest.BinDirUnder(t.TempDir())
	if !errors.Is(err, pgtest.ErrNoServer) {
		t.Fatalf("BinDirUnder(empty) = %v, want ErrNoServer", err)
	}
	if !strings.Contains(err.Error(), `"postgresql" package`) {
		t.Fatalf("error does not name Debian's package: %v", err)
	}
}
