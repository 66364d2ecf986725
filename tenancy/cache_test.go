package tenancy_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/tenancy"
)

func TestCacheHitSendsNoStatement(t *testing.T) {
	t.Parallel()
	m, conn, _ := testkit.CountingManager(t)
	ctx := t.Context()
	u, _ := m.Users().CreateUser(ctx, "alice@example.com", "pw", true)
	acme, _, err := m.Provision(ctx, "Acme", "acme", u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Resolve(ctx, "acme.example.com"); err != nil { // miss: one query
		t.Fatal(err)
	}
	if _, err := m.Resolve(ctx, "nope.example.com"); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Fatal(err)
	}
	before := conn.Statements()
	for _, host := range []string{"acme.example.com", "acme.example.com:8080", "ACME.example.com.", "nope.example.com"} {
		for i := 0; i < 100; i++ {
			got, err := m.Resolve(ctx, host)
			if host == "nope.example.com" {
				if !errors.Is(err, tenancy.ErrTenantNotFound) {
					t.Fatalf("negative hit = %v", err)
				}
				continue
			}
			if err != nil || got.ID != acme.ID {
				t.Fatalf("Resolve(%q) = %v, %v", host, got, err)
			}
		}
	}
	if n := conn.Statements() - before; n != 0 {
		t.Fatalf("400 cache hits sent %d statements, want 0", n)
	}
}

func TestConcurrentMissesShareOneQuery(t *testing.T) {
	t.Parallel()
	m, conn, _ := testkit.CountingManager(t)
	ctx := t.Context()
	u, _ := m.Users().CreateUser(ctx, "alice@example.com", "pw", true)
	if _, _, err := m.Provision(ctx, "Acme", "acme", u.ID); err != nil {
		t.Fatal(err)
	}
	m.FlushCache()
	before := conn.Statements()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := m.Resolve(ctx, "acme.example.com"); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	// 50 concurrent misses; without collapsing that would be up to 50.
	if n := conn.Statements() - before; n > 3 {
		t.Fatalf("50 concurrent misses sent %d statements", n)
	}
}

func TestOwnWritesInvalidateAtOnce(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	if _, err := f.m.Resolve(ctx, "acme.example.com"); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Fatal(err) // cached negative entry
	}
	acme := f.provision(t, "acme", f.alice.ID)
	if got, err := f.m.Resolve(ctx, "acme.example.com"); err != nil || got.ID != acme.ID {
		t.Fatalf("new tenant hidden by a negative entry: %v", err)
	}
	if err := f.m.DeleteTenant(ctx, acme.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.Resolve(ctx, "acme.example.com"); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Fatalf("deleted tenant served from cache: %v", err)
	}
}

// TestWatchInvalidatesAcrossProcesses: a second manager on its own pool
// (another process, as far as the first can tell) deletes a tenant, and
// plain SQL changes one; the first manager stops serving both within a
// second.
func TestWatchInvalidatesAcrossProcesses(t *testing.T) {
	t.Parallel()
	m1, _, dsn := testkit.CountingManager(t, tenancy.WithResolveCache(100, time.Hour, time.Hour))
	ctx := t.Context()
	admin, _ := m1.Users().CreateUser(ctx, "admin@example.com", "pw", true)
	m1.CreatePublicTenant(ctx, "example.com", admin.Email)
	u, _ := m1.Users().CreateUser(ctx, "alice@example.com", "pw", true)
	acme, _, _ := m1.Provision(ctx, "Acme", "acme", u.ID)
	globex, _, _ := m1.Provision(ctx, "Globex", "globex", u.ID)

	wctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- m1.Watch(wctx, dsn) }()
	// Wait until the watcher listens: a change made now must arrive.
	waitFor(t, func() bool {
		var n int
		testkit.DBFromDSN(t, dsn).Get(&n, `SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'`)
		return n > 0
	})
	for _, host := range []string{"acme.example.com", "globex.example.com", "new.example.com"} {
		m1.Resolve(ctx, host) // warm the cache, the last one negative
	}

	db2 := testkit.DBFromDSN(t, dsn)
	m2, err := tenancy.NewManager(db2, tenancy.WithBaseDomain("example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.DeleteTenant(ctx, acme.ID); err != nil {
		t.Fatal(err)
	}
	db2.MustExec(`UPDATE tenantkit_tenants SET is_active = false WHERE id = $1`, globex.ID)
	db2.MustExec(`INSERT INTO tenantkit_domains (domain, tenant_id) VALUES ('new.example.com', $1)`, acme.ID)
	db2.MustExec(`UPDATE tenantkit_tenants SET is_active = true, deleted_at = NULL WHERE id = $1`, acme.ID)

	deadline := time.Now().Add(time.Second)
	waitUntil(t, deadline, "globex stops resolving", func() bool {
		_, err := m1.Resolve(ctx, "globex.example.com")
		return errors.Is(err, tenancy.ErrTenantNotFound)
	})
	waitUntil(t, deadline, "the new domain resolves despite a negative entry", func() bool {
		got, err := m1.Resolve(ctx, "new.example.com")
		return err == nil && got.ID == acme.ID
	})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Watch returned %v", err)
	}
}

func TestWatchNeedsTheCache(t *testing.T) {
	t.Parallel()
	m, _, dsn := testkit.CountingManager(t, tenancy.WithResolveCache(0, 0, 0))
	if err := m.Watch(t.Context(), dsn); err == nil || !strings.Contains(err.Error(), "cache is off") {
		t.Fatalf("Watch without cache = %v", err)
	}
}

func TestCacheStaysBounded(t *testing.T) {
	t.Parallel()
	m, _, _ := testkit.CountingManager(t, tenancy.WithResolveCache(64, time.Hour, time.Hour))
	ctx := t.Context()
	for i := 0; i < 2000; i++ {
		m.Resolve(ctx, strings.Repeat("x", i%50+1)+".nope.example.com")
		m.Resolve(ctx, "h"+strings.Repeat("y", i%7)+string(rune('a'+i%26))+".example.org")
	}
	if n := tenancy.CacheLen(m); n > 64+64 {
		t.Fatalf("cache holds %d entries, bound is about 64", n)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	waitUntil(t, time.Now().Add(5*time.Second), "condition", ok)
}

// waitUntil polls ok until deadline; it fails the test if ok never holds.
func waitUntil(t *testing.T, deadline time.Time, what string, ok func() bool) {
	t.Helper()
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWatchFlushesAfterReconnecting: a change made while the listener's
// connection is down is never notified; reconnecting must flush the cache.
func TestWatchFlushesAfterReconnecting(t *testing.T) {
	t.Parallel()
	m, _, dsn := testkit.CountingManager(t, tenancy.WithResolveCache(100, time.Hour, time.Hour))
	ctx := t.Context()
	u, _ := m.Users().CreateUser(ctx, "alice@example.com", "pw", true)
	acme, _, err := m.Provision(ctx, "Acme", "acme", u.ID)
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go m.Watch(wctx, dsn)
	admin, err := testkit.DBFromDSN(t, dsn).Connx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	listener := func() (pid int) {
		admin.GetContext(ctx, &pid, `SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'`)
		return pid
	}
	waitFor(t, func() bool { return listener() != 0 })
	if _, err := m.Resolve(ctx, "acme.example.com"); err != nil {
		t.Fatal(err)
	}
	// Keep the listener out while the change happens.
	var db string
	admin.GetContext(ctx, &db, `SELECT current_database()`)
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := admin.ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	other := testkit.DBFromDSN(t, pgtest.Shared(t).DSN("postgres")) // ALTER DATABASE runs elsewhere
	if _, err := other.Exec(`ALTER DATABASE "` + db + `" ALLOW_CONNECTIONS false`); err != nil {
		t.Fatal(err)
	}
	old := listener()
	mustExec(`SELECT pg_terminate_backend($1)`, old)
	waitFor(t, func() bool { // terminating is asynchronous
		var n int
		admin.GetContext(ctx, &n, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, old)
		return n == 0
	})
	mustExec(`UPDATE tenantkit_tenants SET is_active = false WHERE id = $1`, acme.ID)
	if got, err := m.Resolve(ctx, "acme.example.com"); err != nil || got.ID != acme.ID {
		t.Fatalf("the change reached the cache while the listener was down (%v): the test proves nothing", err)
	}
	if _, err := other.Exec(`ALTER DATABASE "` + db + `" ALLOW_CONNECTIONS true`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { pid := listener(); return pid != 0 && pid != old })
	waitUntil(t, time.Now().Add(2*time.Second), "the inactive tenant stops resolving after the reconnect", func() bool {
		_, err := m.Resolve(ctx, "acme.example.com")
		return errors.Is(err, tenancy.ErrTenantNotFound)
	})
}
