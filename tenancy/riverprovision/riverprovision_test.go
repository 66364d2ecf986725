package riverprovision_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/tenancy"
	"github.com/tenantkit/tenantkit/tenancy/riverprovision"
	"github.com/tenantkit/tenantkit/users"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type fixture struct {
	m     *tenancy.Manager
	db    *sqlx.DB
	alice *users.User
}

func setup(t *testing.T, opts ...tenancy.Option) *fixture {
	t.Helper()
	t.Parallel()
	m, db := testkit.Manager(t, opts...)
	ctx := t.Context()
	if _, _, err := m.CreatePublicTenant(ctx, "example.com", "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	alice, err := m.Users().CreateUser(ctx, "alice@example.com", "pw", true)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{m: m, db: db, alice: alice}
}

// queue builds a migrated Queue with fast polling and retries.
func (f *fixture) queue(t *testing.T, cfg riverprovision.Config) *riverprovision.Queue {
	t.Helper()
	cfg.PollInterval = 20 * time.Millisecond
	cfg.RetryDelay = func(int) time.Duration { return time.Millisecond }
	cfg.Logger = slog.New(slog.DiscardHandler)
	q, err := riverprovision.New(f.m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return q
}

// start starts q, stopped at cleanup, and returns its finished-job events.
func start(t *testing.T, q *riverprovision.Queue) <-chan *river.Event {
	t.Helper()
	events, cancel := q.Client().Subscribe(river.EventKindJobCompleted, river.EventKindJobCancelled, river.EventKindJobFailed)
	t.Cleanup(cancel)
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q.Stop(ctx)
	})
	return events
}

// wait returns the next event that ends a job (completed or cancelled),
// skipping failed attempts that River will retry.
func wait(t *testing.T, events <-chan *river.Event) *river.Event {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Kind == river.EventKindJobFailed && ev.Job.State != rivertype.JobStateDiscarded {
				continue
			}
			return ev
		case <-deadline:
			t.Fatal("no job finished within 30s")
			return nil
		}
	}
}

func (f *fixture) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := f.db.Get(&n, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestProvisionAsyncReturnsPendingThenWorkerCompletes(t *testing.T) {
	var inTx, after atomic.Int32
	f := setup(t, tenancy.WithHooks(tenancy.Hooks{
		TenantProvisioned: func(ctx context.Context, tx *sqlx.Tx, tn *tenancy.Tenant) error {
			// Inside the worker's transaction: the schema is there.
			var n int
			err := tx.GetContext(ctx, &n, `SELECT count(*) FROM `+tn.Schema().Qualify("notes"))
			if err == nil && tn.State == tenancy.StateReady {
				inTx.Add(1)
			}
			return err
		},
		AfterTenantProvisioned: func(context.Context, *tenancy.Tenant) { after.Add(1) },
	}))
	ctx := t.Context()
	q := f.queue(t, riverprovision.Config{})

	tn, d, err := q.ProvisionAsync(ctx, "Acme", "acme", f.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if tn.State != tenancy.StatePending || d.Domain != "acme.example.com" || !d.IsPrimary {
		t.Fatalf("ProvisionAsync = %+v, %+v", tn, d)
	}
	// No worker yet: pending, the host says so, and the names are taken.
	if f.count(t, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, tn.SchemaName) != 0 {
		t.Fatal("the schema exists before the worker ran")
	}
	var pe *tenancy.PendingError
	if _, err := f.m.Resolve(ctx, "acme.example.com"); !errors.Is(err, tenancy.ErrTenantPending) || !errors.As(err, &pe) || pe.Tenant.ID != tn.ID {
		t.Fatalf("Resolve pending = %v", err)
	}
	if _, err := f.m.ResolveSlug(ctx, "acme"); !errors.Is(err, tenancy.ErrTenantPending) {
		t.Fatalf("ResolveSlug pending = %v", err)
	}
	if _, _, err := q.ProvisionAsync(ctx, "Acme 2", "acme", f.alice.ID); !errors.Is(err, tenancy.ErrSlugExists) {
		t.Fatalf("second request for the slug = %v", err)
	}
	if _, _, err := f.m.Provision(ctx, "Acme 3", "acme", f.alice.ID); !errors.Is(err, tenancy.ErrSlugExists) {
		t.Fatalf("Provision of a pending slug = %v", err)
	}
	if err := f.m.AddUser(ctx, tn.ID, f.alice.ID); !errors.Is(err, tenancy.ErrTenantPending) {
		t.Fatalf("AddUser to a pending tenant = %v", err)
	}

	ev := wait(t, start(t, q))
	if ev.Kind != river.EventKindJobCompleted {
		t.Fatalf("job ended %s: %v", ev.Kind, ev.Job.Errors)
	}
	got, err := f.m.Resolve(ctx, "acme.example.com")
	if err != nil || got.ID != tn.ID || got.State != tenancy.StateReady || !got.IsLive() {
		t.Fatalf("after the worker: %+v, %v", got, err)
	}
	if inTx.Load() != 1 || after.Load() != 1 {
		t.Fatalf("hooks ran %d in the transaction, %d after", inTx.Load(), after.Load())
	}
	fl, err := f.m.Permissions().UserFlags(tenancy.WithTenant(ctx, got), f.alice.ID)
	if err != nil || !fl.IsSuperuser {
		t.Fatalf("owner flags %+v, %v", fl, err)
	}
	if ok, _ := f.m.IsMember(ctx, tn.ID, f.alice.ID); !ok {
		t.Fatal("owner is not a member")
	}
}

func TestProvisionAsyncIsIdempotent(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	q := f.queue(t, riverprovision.Config{})

	// Concurrent and repeated requests with one key: one tenant, one job.
	var wg sync.WaitGroup
	ids := make([]int64, 6)
	errs := make([]error, 6)
	for i := range ids {
		wg.Go(func() {
			tn, _, err := q.ProvisionAsync(ctx, "Acme", "acme", f.alice.ID, tenancy.WithIdempotencyKey("signup-42"))
			if err == nil {
				ids[i] = tn.ID
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("request %d: tenant %d (first %d), %v", i, ids[i], ids[0], errs[i])
		}
	}
	if n := f.count(t, `SELECT count(*) FROM tenantkit_tenants WHERE slug = 'acme'`); n != 1 {
		t.Fatalf("%d tenants", n)
	}
	if n := f.count(t, `SELECT count(*) FROM river_job`); n != 1 {
		t.Fatalf("%d jobs", n)
	}
	ev := wait(t, start(t, q))
	if ev.Kind != river.EventKindJobCompleted {
		t.Fatalf("job ended %s", ev.Kind)
	}
	// Asked again after it is done: the same, ready tenant.
	tn, d, err := q.ProvisionAsync(ctx, "Other", "other", f.alice.ID, tenancy.WithIdempotencyKey("signup-42"))
	if err != nil || tn.ID != ids[0] || tn.State != tenancy.StateReady || d.Domain != "acme.example.com" {
		t.Fatalf("repeat after completion = %+v, %+v, %v", tn, d, err)
	}
	// Without a key a second request for the slug conflicts.
	if _, _, err := q.ProvisionAsync(ctx, "Acme", "acme", f.alice.ID); !errors.Is(err, tenancy.ErrSlugExists) {
		t.Fatalf("repeat without key = %v", err)
	}
}

func TestProvisionAsyncSurvivesARestart(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	// The first process runs its worker, stops, and only then (its last
	// request) queues the job: no worker is running when it is queued.
	first := f.queue(t, riverprovision.Config{})
	if err := first.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := first.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	tn, _, err := first.ProvisionAsync(ctx, "Acme", "acme", f.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n := f.count(t, `SELECT count(*) FROM river_job WHERE state = 'available'`); n != 1 {
		t.Fatalf("%d available jobs in PostgreSQL", n)
	}
	if got, _ := f.m.Get(ctx, tn.ID); got.State != tenancy.StatePending {
		t.Fatalf("state before restart = %s", got.State)
	}
	// A new process (a new client) works it.
	second := f.queue(t, riverprovision.Config{})
	ev := wait(t, start(t, second))
	if ev.Kind != river.EventKindJobCompleted {
		t.Fatalf("job ended %s", ev.Kind)
	}
	if got, _ := f.m.Get(ctx, tn.ID); got.State != tenancy.StateReady {
		t.Fatalf("state after restart = %s", got.State)
	}
}

func TestProvisionAsyncRetriesThenFails(t *testing.T) {
	cases := []struct {
		name      string
		failures  int32 // attempts whose hook fails
		wantState string
		wantTries int32
	}{
		{"recovers on the second attempt", 1, tenancy.StateReady, 2},
		{"fails after the last attempt", 100, tenancy.StateFailed, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tries atomic.Int32
			f := setup(t, tenancy.WithHooks(tenancy.Hooks{
				TenantProvisioned: func(context.Context, *sqlx.Tx, *tenancy.Tenant) error {
					if tries.Add(1) <= c.failures {
						return errors.New("billing service unavailable")
					}
					return nil
				},
			}))
			ctx := t.Context()
			q := f.queue(t, riverprovision.Config{MaxAttempts: 3})
			tn, _, err := q.ProvisionAsync(ctx, "Acme", "acme", f.alice.ID)
			if err != nil {
				t.Fatal(err)
			}
			wait(t, start(t, q))
			got, err := f.m.Get(ctx, tn.ID)
			if err != nil || got.State != c.wantState || tries.Load() != c.wantTries {
				t.Fatalf("state %s after %d attempts (%v), want %s after %d", got.State, tries.Load(), err, c.wantState, c.wantTries)
			}
			if c.wantState == tenancy.StateReady {
				return
			}
			if !strings.Contains(got.StateReason, "billing service unavailable") || got.DeletedAt == nil || got.IsActive {
				t.Fatalf("failed tenant = %+v", got)
			}
			// A failed attempt leaves no schema, and the names are free again.
			if f.count(t, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, tn.SchemaName) != 0 {
				t.Fatal("a failed provisioning left its schema")
			}
			if _, err := f.m.Resolve(ctx, "acme.example.com"); !errors.Is(err, tenancy.ErrTenantNotFound) {
				t.Fatalf("failed tenant resolves: %v", err)
			}
			if err := f.m.RestoreTenant(ctx, tn.ID, f.alice.ID); !errors.Is(err, tenancy.ErrProvisionFailed) {
				t.Fatalf("restore failed tenant = %v", err)
			}
			if _, _, err := q.ProvisionAsync(ctx, "Acme", "acme", f.alice.ID); err != nil {
				t.Fatalf("slug not freed: %v", err)
			}
			if err := f.m.PurgeTenant(ctx, tn.ID); err != nil {
				t.Fatalf("purge failed tenant: %v", err)
			}
		})
	}
}

func TestProvisionAsyncPermanentErrorFailsAtOnce(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	q := f.queue(t, riverprovision.Config{MaxAttempts: 5})
	tn, _, err := q.ProvisionAsync(ctx, "Acme", "acme", f.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The owner is deactivated before the worker runs: retrying cannot help.
	f.db.MustExec(`UPDATE tenantkit_users SET is_active = false WHERE id = $1`, f.alice.ID)
	ev := wait(t, start(t, q))
	if ev.Kind != river.EventKindJobCancelled || ev.Job.Attempt != 1 {
		t.Fatalf("job ended %s after %d attempts", ev.Kind, ev.Job.Attempt)
	}
	got, _ := f.m.Get(ctx, tn.ID)
	if got.State != tenancy.StateFailed || !strings.Contains(got.StateReason, tenancy.ErrUserInactive.Error()) {
		t.Fatalf("tenant = %s %q", got.State, got.StateReason)
	}
}

func TestProvisionAsyncRejectsBadInputWritingNothing(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	q := f.queue(t, riverprovision.Config{})
	inactive, err := f.m.Users().CreateUser(ctx, "off@example.com", "pw", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.m.Provision(ctx, "Taken", "taken", f.alice.ID); err != nil {
		t.Fatal(err)
	}
	before := f.count(t, `SELECT count(*) FROM tenantkit_tenants`) + f.count(t, `SELECT count(*) FROM tenantkit_domains`)
	cases := []struct {
		name  string
		slug  string
		owner int64
		opts  []tenancy.ProvisionOption
		want  error
	}{
		{"bad slug", "Bad_Slug", f.alice.ID, nil, tenancy.ErrInvalidSlug},
		{"reserved slug", "www", f.alice.ID, nil, tenancy.ErrInvalidSlug},
		{"unknown type", "acme", f.alice.ID, []tenancy.ProvisionOption{tenancy.WithType("nosuch")}, tenancy.ErrUnknownType},
		{"taken slug", "taken", f.alice.ID, nil, tenancy.ErrSlugExists},
		{"unknown owner", "acme", 987654, nil, tenancy.ErrUserNotFound},
		{"inactive owner", "acme", inactive.ID, nil, tenancy.ErrUserInactive},
		{"empty key", "acme", f.alice.ID, []tenancy.ProvisionOption{tenancy.WithIdempotencyKey(" ")}, tenancy.ErrInvalidOption},
		{"unknown column", "acme", f.alice.ID, []tenancy.ProvisionOption{tenancy.WithTenantData(map[string]any{"nope": 1})}, tenancy.ErrUnknownColumn},
	}
	for _, c := range cases {
		if _, _, err := q.ProvisionAsync(ctx, "Acme", c.slug, c.owner, c.opts...); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	after := f.count(t, `SELECT count(*) FROM tenantkit_tenants`) + f.count(t, `SELECT count(*) FROM tenantkit_domains`)
	if after != before || f.count(t, `SELECT count(*) FROM river_job`) != 0 {
		t.Fatalf("rejected requests wrote rows: %d -> %d", before, after)
	}
	// The key belongs to asynchronous provisioning only.
	if _, _, err := f.m.Provision(ctx, "Acme", "acme", f.alice.ID, tenancy.WithIdempotencyKey("k")); !errors.Is(err, tenancy.ErrInvalidOption) {
		t.Fatalf("Provision with a key = %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	m, _ := testkit.Manager(t)
	for _, cfg := range []riverprovision.Config{
		{MaxAttempts: -1}, {Workers: -2}, {PollInterval: time.Microsecond}, {Timeout: -time.Second},
	} {
		if _, err := riverprovision.New(m, cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	if _, err := riverprovision.New(nil, riverprovision.Config{}); err == nil {
		t.Error("New(nil) accepted")
	}
}

func TestProvisionAsyncAttemptTimesOut(t *testing.T) {
	f := setup(t, tenancy.WithHooks(tenancy.Hooks{
		TenantProvisioned: func(ctx context.Context, _ *sqlx.Tx, _ *tenancy.Tenant) error {
			<-ctx.Done() // a migration that hangs
			return ctx.Err()
		},
	}))
	ctx := t.Context()
	q := f.queue(t, riverprovision.Config{MaxAttempts: 1, Timeout: 200 * time.Millisecond})
	tn, _, err := q.ProvisionAsync(ctx, "Acme", "acme", f.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, start(t, q))
	got, _ := f.m.Get(ctx, tn.ID)
	if got.State != tenancy.StateFailed || !strings.Contains(got.StateReason, "deadline exceeded") {
		t.Fatalf("tenant = %s %q", got.State, got.StateReason)
	}
}

func TestProvisionAsyncTxFollowsTheCallersTransaction(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	q := f.queue(t, riverprovision.Config{})
	for _, commit := range []bool{false, true} {
		tx := f.db.MustBeginTx(ctx, nil)
		r, err := q.ProvisionAsyncTx(ctx, tx, "Acme", "acme", f.alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if commit {
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		if commit {
			want = 1
		}
		if n := f.count(t, `SELECT count(*) FROM tenantkit_tenants WHERE id = $1`, r.Tenant.ID); n != want {
			t.Fatalf("commit %v: %d tenant rows", commit, n)
		}
		if n := f.count(t, `SELECT count(*) FROM river_job WHERE (args->>'tenant_id')::bigint = $1`, r.Tenant.ID); n != want {
			t.Fatalf("commit %v: %d jobs", commit, n)
		}
	}
}
