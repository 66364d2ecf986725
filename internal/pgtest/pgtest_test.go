package pgtest_test

import (
	"os"
	"path/filepath"
	"testing"

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

func TestMissingBinariesNamesThePackage(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := os.Stat("/usr/lib/postgresql"); err == nil {
		// BinDir falls back to /usr/lib/postgresql, so it still finds one.
		if _, err := pgtest.BinDir(); err != nil {
			t.Fatalf("BinDir with empty PATH: %v", err)
		}
		return
	}
	if _, err := pgtest.BinDir(); err != pgtest.ErrNoServer {
		t.Fatalf("BinDir = %v, want ErrNoServer", err)
	}
}
