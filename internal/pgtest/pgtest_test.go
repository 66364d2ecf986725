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

	"github.com/tenantkit/tenantkit/internal/pgerr"
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

func TestStartWithBinDirWithoutServerIsAClearError(t *testing.T) {
	t.Parallel()
	_, err := pgtest.Start(pgtest.Options{BinDir: t.TempDir()})
	if !errors.Is(err, pgtest.ErrNoServer) {
		t.Fatalf("Start(empty BinDir) = %v, want ErrNoServer", err)
	}
}

type fakeM struct{ ran bool }

func (m *fakeM) Run() int { m.ran = true; return 0 }

func TestRunWithoutServerFailsWithoutRunningTests(t *testing.T) {
	t.Parallel()
	m := &fakeM{}
	code, err := pgtest.Run(m, pgtest.Options{BinDir: t.TempDir()})
	if code != 1 || !errors.Is(err, pgtest.ErrNoServer) || m.ran {
		t.Fatalf("Run without server = %d, %v, tests ran: %v; want 1, ErrNoServer, false", code, err, m.ran)
	}
}

// TestReplica: StartReplica makes a hot standby that streams the
// primary's writes, refuses its own, and leaves nothing behind on Stop.
func TestReplica(t *testing.T) {
	t.Parallel()
	primary, err := pgtest.Start(pgtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(primary.Stop)
	if err := primary.CatchUp(t.Context()); !errors.Is(err, pgtest.ErrNotReplica) {
		t.Fatalf("CatchUp on a primary = %v, want ErrNotReplica", err)
	}
	replica, err := primary.StartReplica()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(replica.Stop)
	if replica.Dir() == primary.Dir() {
		t.Fatal("replica shares the primary's directory")
	}

	name, err := primary.CreateDatabase(t.Context(), "replicated")
	if err != nil {
		t.Fatal(err)
	}
	pdb, err := pgtest.Open(primary.DSN(name))
	if err != nil {
		t.Fatal(err)
	}
	defer pdb.Close()
	if _, err := pdb.Exec(`CREATE TABLE t (v text); INSERT INTO t VALUES ('written on the primary')`); err != nil {
		t.Fatal(err)
	}
	if err := replica.CatchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	rdb, err := pgtest.Open(replica.DSN(name))
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	var v string
	var recovery bool
	if err := rdb.QueryRow(`SELECT v, pg_is_in_recovery() FROM t`).Scan(&v, &recovery); err != nil {
		t.Fatal(err)
	}
	if v != "written on the primary" || !recovery {
		t.Fatalf("replica read %q, in recovery %v", v, recovery)
	}
	_, err = rdb.Exec(`INSERT INTO t VALUES ('written on the replica')`)
	if code, _ := pgerr.Code(err); code != "25006" {
		t.Fatalf("write on the replica = %v, want read_only_sql_transaction (25006)", err)
	}

	// A later write arrives too.
	if _, err := pdb.Exec(`INSERT INTO t VALUES ('second')`); err != nil {
		t.Fatal(err)
	}
	if err := replica.CatchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := rdb.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("replica has %d rows (%v), want 2", n, err)
	}
	rdb.Close()

	dir := replica.Dir()
	replica.Stop()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("replica directory %s still there after Stop (err=%v)", dir, err)
	}
	// The primary goes on without it.
	if _, err := pdb.Exec(`INSERT INTO t VALUES ('third')`); err != nil {
		t.Fatal(err)
	}
}
