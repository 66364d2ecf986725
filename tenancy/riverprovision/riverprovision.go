// Package riverprovision provisions tenants asynchronously on River
// (github.com/riverqueue/river), a PostgreSQL job queue, through its
// database/sql driver, so it runs on the application's lib/pq pool.
//
// # Flow
//
// ProvisionAsync records the tenant in state pending with its primary
// domain (tenancy.Manager.ReserveTx) and inserts a River job, in one
// transaction, and returns at once. A worker (Start) takes the job and
// completes the tenant (tenancy.Manager.FinishProvision: schema,
// migrations, owner membership, state ready) and marks the job completed
// in that same transaction, so the two cannot disagree. A failed attempt
// is retried up to Config.MaxAttempts times; after the last one, or at
// once for an error that retrying cannot cure (owner deleted, schema name
// taken), the tenant is set to state failed with the reason
// (tenancy.Manager.FailProvision).
//
// The job lives in PostgreSQL: a process that stops before the job ran
// loses nothing, and the next one to Start works it. The job is unique per
// tenant, and WithIdempotencyKey makes a repeated request return the first
// one's tenant, so running a request twice makes one tenant.
//
// # lib/pq
//
// River's database/sql driver has no LISTEN with lib/pq: workers find new
// jobs by polling every Config.PollInterval (default 1s), which bounds the
// extra latency of a provisioning. Everything else (unique jobs, completing
// a job in the worker's transaction, migrations) works as with pgx.
//
// # Setup
//
// Migrate creates River's tables in the Manager's shared schema; run it
// next to Manager.Migrate. Web processes only call ProvisionAsync; worker
// processes call Start (a process may do both).
package riverprovision

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/tenantkit/tenantkit/permissions"
	"github.com/tenantkit/tenantkit/tenancy"
)

// Kind is the River job kind of a provisioning job.
const Kind = "tenantkit_provision"

// Config configures a Queue. Every field has a default.
type Config struct {
	// Queue is the River queue the jobs go to. Default "tenantkit_provision".
	Queue string
	// MaxAttempts bounds how many times a tenant's provisioning is tried
	// before it fails for good. Default 5.
	MaxAttempts int
	// Workers is how many tenants one process provisions at once. Default 2.
	Workers int
	// PollInterval is how often workers look for new jobs (lib/pq has no
	// LISTEN for River). Default 1s.
	PollInterval time.Duration
	// Timeout bounds one attempt (schema, migrations, hooks). Default 5
	// minutes.
	Timeout time.Duration
	// RetryDelay gives the wait before attempt+1 after a failed attempt.
	// Default: River's (attempt^4 seconds, with jitter).
	RetryDelay func(attempt int) time.Duration
	// Logger receives River's logs. Default slog.Default().
	Logger *slog.Logger
}

// Queue provisions tenants through River. Build it with New; it is safe
// for concurrent use.
type Queue struct {
	m      *tenancy.Manager
	db     *sqlx.DB
	cfg    Config
	client *river.Client[*sql.Tx]
}

// args is the job: which tenant, and the owner's flags.
type args struct {
	TenantID  int64 `json:"tenant_id" river:"unique"`
	Superuser bool  `json:"superuser"`
	Staff     bool  `json:"staff"`
}

func (args) Kind() string { return Kind }

// New returns a Queue for m's tenants, on m's pool. It does no I/O: call
// Migrate once, then ProvisionAsync, and Start in workers.
func New(m *tenancy.Manager, cfg Config) (*Queue, error) {
	if m == nil {
		return nil, errors.New("riverprovision: New: nil Manager")
	}
	db := m.DB().Unwrap()
	if cfg.Queue == "" {
		cfg.Queue = "tenantkit_provision"
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Minute
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxAttempts < 1 || cfg.Workers < 1 || cfg.PollInterval < time.Millisecond || cfg.Timeout < 0 {
		return nil, fmt.Errorf("riverprovision: New: need MaxAttempts >= 1, Workers >= 1, PollInterval >= 1ms, Timeout >= 0 (got %d, %d, %v, %v)",
			cfg.MaxAttempts, cfg.Workers, cfg.PollInterval, cfg.Timeout)
	}
	q := &Queue{m: m, db: db, cfg: cfg}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &worker{q: q}); err != nil {
		return nil, fmt.Errorf("riverprovision: New: %w", err)
	}
	client, err := river.NewClient(riverdatabasesql.New(db.DB), &river.Config{
		Schema:            m.SharedSchema().String(),
		Queues:            map[string]river.QueueConfig{cfg.Queue: {MaxWorkers: cfg.Workers}},
		Workers:           workers,
		MaxAttempts:       cfg.MaxAttempts,
		FetchPollInterval: cfg.PollInterval,
		FetchCooldown:     min(cfg.PollInterval, 100*time.Millisecond),
		Logger:            cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("riverprovision: New: %w", err)
	}
	q.client = client
	return q, nil
}

// Client returns the River client, to subscribe to its events or list its
// jobs.
func (q *Queue) Client() *river.Client[*sql.Tx] { return q.client }

// Migrate creates or updates River's tables in the Manager's shared
// schema. It is safe to run at every start.
func (q *Queue) Migrate(ctx context.Context) error {
	mig, err := rivermigrate.New(riverdatabasesql.New(q.db.DB), &rivermigrate.Config{
		Schema: q.m.SharedSchema().String(),
		Logger: q.cfg.Logger,
	})
	if err != nil {
		return fmt.Errorf("riverprovision: migrate: %w", err)
	}
	if _, err := mig.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("riverprovision: migrate: %w", err)
	}
	return nil
}

// Start starts working jobs until Stop; ctx bounds the start-up only if
// it is cancelled before Stop (River's rule: cancelling it stops work).
func (q *Queue) Start(ctx context.Context) error {
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("riverprovision: start: %w", err)
	}
	return nil
}

// Stop stops taking jobs and waits for the running ones, or for ctx.
func (q *Queue) Stop(ctx context.Context) error {
	if err := q.client.Stop(ctx); err != nil {
		return fmt.Errorf("riverprovision: stop: %w", err)
	}
	return nil
}

// ProvisionAsync records a tenant in state pending with its primary domain
// and queues the job that completes it, in one transaction, and returns at
// once. It takes Provision's options, plus tenancy.WithIdempotencyKey: a
// second call with the same key returns the first call's tenant (in its
// current state) and queues nothing. It returns Provision's validation
// errors (ErrInvalidSlug, ErrSlugExists, ErrDomainExists, ErrUserInactive,
// ...) with nothing written. The tenant's host answers
// tenancy.ErrTenantPending until a worker has finished it.
func (q *Queue) ProvisionAsync(ctx context.Context, name, slug string, ownerID int64, opts ...tenancy.ProvisionOption) (*tenancy.Tenant, *tenancy.Domain, error) {
	r, err := q.provisionAsync(ctx, name, slug, ownerID, opts)
	if errors.Is(err, tenancy.ErrSlugExists) || errors.Is(err, tenancy.ErrDomainExists) {
		// A concurrent call with the same idempotency key can collide on
		// the slug before its key is visible; once it has committed, a
		// second try finds the key (and without a key fails the same way).
		r, err = q.provisionAsync(ctx, name, slug, ownerID, opts)
	}
	if err != nil {
		return nil, nil, err
	}
	q.m.FlushCache() // negative entries for the new domain
	return r.Tenant, r.Domain, nil
}

func (q *Queue) provisionAsync(ctx context.Context, name, slug string, ownerID int64, opts []tenancy.ProvisionOption) (*tenancy.Reservation, error) {
	tx, err := q.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("riverprovision: provision %q: %w", slug, err)
	}
	defer tx.Rollback()
	r, err := q.ProvisionAsyncTx(ctx, tx, name, slug, ownerID, opts...)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("riverprovision: provision %q: %w", slug, err)
	}
	return r, nil
}

// ProvisionAsyncTx is ProvisionAsync inside the caller's transaction: the
// tenant and its job exist when the caller commits, and neither if it rolls
// back.
func (q *Queue) ProvisionAsyncTx(ctx context.Context, tx *sqlx.Tx, name, slug string, ownerID int64, opts ...tenancy.ProvisionOption) (*tenancy.Reservation, error) {
	r, err := q.m.ReserveTx(ctx, tx, name, slug, ownerID, opts...)
	if err != nil {
		return nil, err
	}
	if r.Existing {
		return r, nil
	}
	a := args{TenantID: r.Tenant.ID, Superuser: r.OwnerFlags.IsSuperuser, Staff: r.OwnerFlags.IsStaff}
	if _, err := q.client.InsertTx(ctx, tx.Tx, a, &river.InsertOpts{
		Queue:       q.cfg.Queue,
		MaxAttempts: q.cfg.MaxAttempts,
		UniqueOpts:  river.UniqueOpts{ByArgs: true},
	}); err != nil {
		return nil, fmt.Errorf("riverprovision: provision %q: queue the job: %w", slug, err)
	}
	return r, nil
}

// worker completes one pending tenant.
type worker struct {
	river.WorkerDefaults[args]
	q *Queue
}

// permanent are the errors that another attempt cannot cure.
var permanent = []error{tenancy.ErrTenantNotFound, tenancy.ErrProvisionFailed, tenancy.ErrUserNotFound,
	tenancy.ErrUserInactive, tenancy.ErrSchemaExists}

func (w *worker) Work(ctx context.Context, job *river.Job[args]) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
		if err != nil {
			err = w.failed(ctx, job, err)
		}
	}()
	owner := permissions.Flags{IsSuperuser: job.Args.Superuser, IsStaff: job.Args.Staff}
	_, err = w.q.m.FinishProvision(ctx, job.Args.TenantID, owner, func(ctx context.Context, tx *sqlx.Tx) error {
		_, err := river.JobCompleteTx[*riverdatabasesql.Driver](ctx, tx.Tx, job)
		return err
	})
	return err
}

// failed records a failed attempt: on the last attempt, or for an error
// that retrying cannot cure, the tenant fails for good.
func (w *worker) failed(ctx context.Context, job *river.Job[args], err error) error {
	final := job.Attempt >= job.MaxAttempts
	for _, p := range permanent {
		if errors.Is(err, p) {
			final = true
		}
	}
	if !final {
		return err
	}
	reason := err.Error()
	if ferr := w.q.m.FailProvision(context.WithoutCancel(ctx), job.Args.TenantID, reason); ferr != nil {
		return errors.Join(err, ferr) // retried, if attempts remain, or rescued
	}
	return river.JobCancel(err)
}

func (w *worker) Timeout(*river.Job[args]) time.Duration { return w.q.cfg.Timeout }

func (w *worker) NextRetry(job *river.Job[args]) time.Time {
	if w.q.cfg.RetryDelay == nil {
		return time.Time{} // River's policy
	}
	return time.Now().Add(w.q.cfg.RetryDelay(job.Attempt))
}
