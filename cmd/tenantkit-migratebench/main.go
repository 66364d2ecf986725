// Command tenantkit-migratebench measures provisioning and migrations at
// scale, the numbers an operator of thousands of tenant schemas cares
// about, and says whether each target is met:
//
//   - provision: a tenant type of 10 tables (each a serial key, a text
//     column, a timestamptz column and an index on it); -provision tenants
//     (1,000) provisioned one after another through tenancy.Manager.Provision.
//     It reports tenants per second overall and for the first and the last
//     -window (100). Targets: at least 50 per second, and the last window
//     within 25% of the first.
//   - migrate: -tenants existing tenants (2,000) of that type, then one new
//     migration (add a column and an index) run over all of them by
//     Manager.Migrate (shared schema, tenant list, every tenant schema),
//     with 1, 2 and 4 workers (-workers), a new migration each time. Target:
//     at least 150 schemas per second.
//   - memory: the migrator (Migrator.Run) over the first N tenants for each
//     N of -mem (500 and 2,000), one new migration each: allocations and
//     bytes allocated per schema, the peak of the live heap during the run
//     (above its size before; a full GC at ten points of the run), the peak heap in use (garbage included) and
//     the heap still held after the run (the results). Target: flat, that is
//     the bytes allocated per schema at the largest N within 25% of those
//     at the smallest, and the peak live heap growing by at most 2 KiB
//     per extra schema (what its result and its target hold).
//
// Right before the first window and right after the last, -window
// schemas with the same tables are created directly (CREATE SCHEMA and
// the DDL in one statement, no tenantkit): the baseline, on about the
// same catalog, that tells PostgreSQL's own DDL cost apart from what
// Provision adds (printed as a ratio).
//
// Run it with
//
//	go run ./cmd/tenantkit-migratebench
//	go run ./cmd/tenantkit-migratebench -provision 100 -window 20 -tenants 200 -mem 50,200   # quick
//
// Without DATABASE_URL it starts a throwaway PostgreSQL (internal/pgtest:
// unix socket, fsync off unless -durable). With DATABASE_URL it uses that
// database, which must not hold the shared schemas bench_provision and
// bench_migrate yet; it leaves them and every tenant schema behind.
// -cpuprofile writes a CPU profile of this process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing/fstest"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the PostgreSQL driver

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/sqlxschema"
	"github.com/tenantkit/tenantkit/tenancy"
)

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "tenantkit-migratebench:", err)
		os.Exit(2)
	}
	rep, err := run(context.Background(), cfg)
	if rep != nil {
		rep.print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tenantkit-migratebench:", err)
		os.Exit(1)
	}
}

// config is the command line.
type config struct {
	provision  int   // tenants provisioned one after another
	window     int   // first and last window of provisioning
	tenants    int   // existing tenants for the migrate runs
	workers    []int // worker counts of the migrate runs
	mem        []int // tenant counts of the memory runs
	create     int   // workers that create the existing tenants
	durable    bool  // throwaway cluster with fsync on
	cpuprofile string
}

func parseFlags(args []string) (*config, error) {
	fset := flag.NewFlagSet("tenantkit-migratebench", flag.ContinueOnError)
	var c config
	var workers, mem string
	fset.IntVar(&c.provision, "provision", 1000, "tenants provisioned one after another (0 skips the provisioning run)")
	fset.IntVar(&c.window, "window", 100, "size of the first and the last window of provisioning")
	fset.IntVar(&c.tenants, "tenants", 2000, "existing tenants migrated by the migrate runs (0 skips them and the memory runs)")
	fset.StringVar(&workers, "workers", "1,2,4", "worker counts of the migrate runs")
	fset.StringVar(&mem, "mem", "500,2000", "tenant counts of the memory runs (each at most -tenants)")
	fset.IntVar(&c.create, "create-workers", 4, "workers that provision the existing tenants (not measured)")
	fset.BoolVar(&c.durable, "durable", false, "run the throwaway PostgreSQL with fsync and synchronous_commit on")
	fset.StringVar(&c.cpuprofile, "cpuprofile", "", "write a CPU profile of this process to `file`")
	if err := fset.Parse(args); err != nil {
		return nil, err
	}
	var err error
	if c.workers, err = ints("workers", workers); err != nil {
		return nil, err
	}
	if c.mem, err = ints("mem", mem); err != nil {
		return nil, err
	}
	switch {
	case fset.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q", fset.Arg(0))
	case c.provision < 0 || c.tenants < 0:
		return nil, errors.New("-provision and -tenants must not be negative")
	case c.provision > 0 && (c.window < 1 || 2*c.window > c.provision):
		return nil, fmt.Errorf("-window %d: need 1 <= window <= provision/2", c.window)
	case c.create < 1:
		return nil, errors.New("-create-workers must be at least 1")
	}
	for _, n := range c.mem {
		if c.tenants > 0 && n > c.tenants {
			return nil, fmt.Errorf("-mem %d: more than -tenants %d", n, c.tenants)
		}
	}
	return &c, nil
}

// ints parses a comma-separated list of positive integers.
func ints(name, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-%s: %q is not a positive integer", name, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// tablesSQL is the tenant type's migration: 10 tables, each with a serial
// key, a text column, a timestamptz column and an index.
func tablesSQL() string {
	var b strings.Builder
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&b, "CREATE TABLE t%02d (id serial PRIMARY KEY, body text NOT NULL DEFAULT '', created_at timestamptz NOT NULL DEFAULT now());\n", i)
		fmt.Fprintf(&b, "CREATE INDEX t%02d_created_at ON t%02d (created_at);\n", i, i)
	}
	return b.String()
}

// addColumnSQL is a new migration: a column and an index on it.
func addColumnSQL(col string) string {
	return fmt.Sprintf("ALTER TABLE t01 ADD COLUMN %[1]s text;\nCREATE INDEX t01_%[1]s ON t01 (%[1]s);\n", col)
}

// typeFS returns the tenant type's migrations: the tables, then one
// add-column migration per name of cols.
func typeFS(cols ...string) fs.FS {
	m := fstest.MapFS{"0001_tables.sql": {Data: []byte(tablesSQL())}}
	for i, col := range cols {
		m[fmt.Sprintf("%04d_add_%s.sql", i+2, col)] = &fstest.MapFile{Data: []byte(addColumnSQL(col))}
	}
	return m
}

// report collects the figures.
type report struct {
	machine   string
	provision *provisionFigures
	migrate   []migrateFigures
	memory    []memoryFigures
}

type provisionFigures struct {
	n, window          int
	total              time.Duration
	first, last        time.Duration // of the first and the last window
	rawFirst, rawLast  time.Duration // the baseline's median, before the first and after the last window
	medFirst, medLast  time.Duration // Provision's median in the first and the last window
	p50, p99, max      time.Duration // of one Provision, over all
	stalls             []stall       // Provisions that took over 10x the median
	perSecond          float64
	firstRate, lastRte float64
}

type migrateFigures struct {
	workers, schemas int
	total            time.Duration
	perSecond        float64
}

type memoryFigures struct {
	schemas                  int
	peakLive                 uint64 // the live heap's peak above its size before the run
	allocsPerSchema          float64
	bytesPerSchema           float64
	peakHeapInuse, heldAfter uint64
}

func run(ctx context.Context, cfg *config) (*report, error) {
	if cfg.cpuprofile != "" {
		f, err := os.Create(cfg.cpuprofile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	dsn := os.Getenv("DATABASE_URL")
	where := "DATABASE_URL"
	if dsn == "" {
		var opts pgtest.Options
		where = "throwaway PostgreSQL (fsync off)"
		if cfg.durable {
			opts.Settings = []string{"fsync=on", "synchronous_commit=on", "full_page_writes=on"}
			where = "throwaway PostgreSQL (fsync on)"
		}
		c, err := pgtest.Start(opts)
		if err != nil {
			return nil, err
		}
		defer c.Stop()
		name, err := c.CreateDatabase(ctx, "migratebench")
		if err != nil {
			return nil, err
		}
		dsn = c.DSN(name)
	}
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	// Room for every worker's connection in the idle pool, so that no
	// run pays for reconnecting.
	db.SetMaxIdleConns(max(2, cfg.create, slices.Max(append(cfg.workers, 1))))
	var version string
	if err := db.GetContext(ctx, &version, `SHOW server_version`); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	rep := &report{machine: fmt.Sprintf("%d CPUs (GOMAXPROCS %d), %s/%s, %s, PostgreSQL %s on a %s, load average at start %s",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version(), version, where, loadavg())}

	if cfg.provision > 0 {
		fmt.Fprintf(os.Stderr, "provisioning %d tenants one after another...\n", cfg.provision)
		if rep.provision, err = benchProvision(ctx, db, cfg); err != nil {
			return rep, fmt.Errorf("provision: %w", err)
		}
	}
	if cfg.tenants > 0 {
		if rep.migrate, rep.memory, err = benchMigrate(ctx, db, cfg); err != nil {
			return rep, fmt.Errorf("migrate: %w", err)
		}
	}
	rep.machine += ", at end " + loadavg()
	return rep, nil
}

// loadavg returns the 1-minute load average, or "?".
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return "?"
	}
	return f[0]
}

// newManager returns a Manager on shared schema shared whose default
// tenant type has the migrations in fsys, and migrates the shared schema.
func newManager(ctx context.Context, db *sqlx.DB, shared string, fsys fs.FS, workers int) (*tenancy.Manager, error) {
	mgr, err := tenancy.NewManager(db, tenancy.WithSharedSchema(shared), tenancy.WithBaseDomain("bench.example"),
		tenancy.WithTenantMigrations(fsys), tenancy.WithMigrationWorkers(workers))
	if err != nil {
		return nil, err
	}
	if _, err := mgr.MigrateShared(ctx); err != nil {
		return nil, err
	}
	return mgr, nil
}

// fresh fails if the shared schema already holds tenants.
func fresh(ctx context.Context, db *sqlx.DB, shared string) error {
	var there bool
	if err := db.GetContext(ctx, &there, `SELECT to_regclass($1) IS NOT NULL`, shared+".tenantkit_tenants"); err != nil {
		return err
	}
	if there {
		return fmt.Errorf("schema %s already holds tenants: use an empty database", shared)
	}
	return nil
}

// owner creates the tenants' owner (without a password: no hashing).
func owner(ctx context.Context, mgr *tenancy.Manager) (int64, error) {
	u, err := mgr.Users().CreateUser(ctx, "owner@bench.example", "", true)
	if err != nil {
		return 0, err
	}
	return u.ID, nil
}

func benchProvision(ctx context.Context, db *sqlx.DB, cfg *config) (*provisionFigures, error) {
	const shared = "bench_provision"
	if err := fresh(ctx, db, shared); err != nil {
		return nil, err
	}
	mgr, err := newManager(ctx, db, shared, typeFS(), 1)
	if err != nil {
		return nil, err
	}
	ownerID, err := owner(ctx, mgr)
	if err != nil {
		return nil, err
	}
	// The baseline: the type's tables alone in a new schema (one
	// transaction of one statement, no tenantkit), window times right
	// before the first provisioning and right after the last, so that
	// each sees about the catalog its window sees. It tells PostgreSQL's
	// own DDL cost apart from what Provision adds. It is not interleaved
	// with the provisioning: DDL on another connection makes each
	// Provision rebuild the catalog caches it invalidated (measured: a
	// window of interleaved provisionings took twice as long).
	// Medians, not sums: a checkpoint or an autovacuum of the catalog
	// during a window of a few seconds moved the sum by 3x between runs.
	raw := func(prefix string) (time.Duration, error) {
		took := make([]time.Duration, cfg.window)
		for i := range took {
			d, err := rawSchema(ctx, db, fmt.Sprintf("raw_%s_%d", prefix, i+1))
			if err != nil {
				return 0, err
			}
			took[i] = d
		}
		return medianDuration(took), nil
	}
	rawFirst, err := raw("first")
	if err != nil {
		return nil, err
	}
	took := make([]time.Duration, cfg.provision)
	start := time.Now()
	for i := range took {
		t0 := time.Now()
		if _, _, err := mgr.Provision(ctx, fmt.Sprintf("Tenant %d", i+1), fmt.Sprintf("p%05d", i+1), ownerID); err != nil {
			return nil, err
		}
		took[i] = time.Since(t0)
	}
	total := time.Since(start)
	rawLast, err := raw("last")
	if err != nil {
		return nil, err
	}
	f := &provisionFigures{n: cfg.provision, window: cfg.window, total: total, rawFirst: rawFirst, rawLast: rawLast,
		medFirst: medianDuration(took[:cfg.window]), medLast: medianDuration(took[len(took)-cfg.window:])}
	for i := range cfg.window {
		f.first += took[i]
		f.last += took[len(took)-1-i]
	}
	sorted := slices.Clone(took)
	slices.Sort(sorted)
	f.p50, f.p99, f.max = sorted[len(sorted)/2], sorted[len(sorted)*99/100], sorted[len(sorted)-1]
	for i, d := range took {
		if d > 10*f.p50 {
			f.stalls = append(f.stalls, stall{i + 1, d})
		}
	}
	f.perSecond = float64(f.n) / f.total.Seconds()
	f.firstRate = float64(f.window) / f.first.Seconds()
	f.lastRte = float64(f.window) / f.last.Seconds()
	// Every tenant has its tables.
	var tables int
	if err := db.GetContext(ctx, &tables, `SELECT count(*) FROM pg_tables WHERE schemaname IN (SELECT schema_name FROM `+
		shared+`.tenantkit_tenants) AND tablename ~ '^t[0-9]{2}$'`); err != nil {
		return nil, err
	}
	if tables != 10*f.n {
		return nil, fmt.Errorf("%d tenants have %d tables, want %d", f.n, tables, 10*f.n)
	}
	return f, nil
}

// rawSchema creates schema name holding the type's tables, in one
// transaction of one statement, and returns the time it took.
// stall is the i-th Provision (from 1), which took d.
type stall struct {
	i int
	d time.Duration
}

func medianDuration(d []time.Duration) time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2]
}

func rawSchema(ctx context.Context, db *sqlx.DB, name string) (time.Duration, error) {
	s, err := sqlxschema.ParseSchema(name)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "CREATE SCHEMA "+s.Quoted()+";\nSET LOCAL search_path TO "+s.Quoted()+";\n"+tablesSQL()); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func benchMigrate(ctx context.Context, db *sqlx.DB, cfg *config) ([]migrateFigures, []memoryFigures, error) {
	const shared = "bench_migrate"
	if err := fresh(ctx, db, shared); err != nil {
		return nil, nil, err
	}
	mgr, err := newManager(ctx, db, shared, typeFS(), 1)
	if err != nil {
		return nil, nil, err
	}
	ownerID, err := owner(ctx, mgr)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(os.Stderr, "creating %d tenants with %d workers (not measured)...\n", cfg.tenants, cfg.create)
	if err := provisionParallel(ctx, mgr, ownerID, cfg.tenants, cfg.create); err != nil {
		return nil, nil, err
	}

	// Each run adds one migration to the type: a column and an index.
	var cols []string
	var mig []migrateFigures
	for _, w := range cfg.workers {
		cols = append(cols, fmt.Sprintf("extra_w%d_%d", w, len(cols)+1))
		fmt.Fprintf(os.Stderr, "migrating %d tenants with %d workers...\n", cfg.tenants, w)
		mgr, err := tenancy.NewManager(db, tenancy.WithSharedSchema(shared), tenancy.WithBaseDomain("bench.example"),
			tenancy.WithTenantMigrations(typeFS(cols...)), tenancy.WithMigrationWorkers(w))
		if err != nil {
			return nil, nil, err
		}
		start := time.Now()
		results, err := mgr.Migrate(ctx)
		total := time.Since(start)
		if err != nil {
			return nil, nil, err
		}
		if err := appliedOnce(results, cfg.tenants); err != nil {
			return nil, nil, err
		}
		mig = append(mig, migrateFigures{workers: w, schemas: len(results), total: total, perSecond: float64(len(results)) / total.Seconds()})
	}

	// Memory: the migrator alone, over the first n tenants, a set of its
	// own with one new migration each time.
	targets, err := mgr.Targets(ctx)
	if err != nil {
		return nil, nil, err
	}
	var mem []memoryFigures
	for _, n := range cfg.mem {
		fmt.Fprintf(os.Stderr, "memory: migrating %d tenants with %d workers...\n", n, slices.Max(cfg.workers))
		f, err := measureMemory(ctx, mgr, targets[:n], slices.Max(cfg.workers))
		if err != nil {
			return nil, nil, err
		}
		mem = append(mem, f)
	}
	return mig, mem, nil
}

// provisionParallel provisions n tenants m00001... with workers at once.
func provisionParallel(ctx context.Context, mgr *tenancy.Manager, ownerID int64, n, workers int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) || errs[w] != nil {
					return
				}
				_, _, errs[w] = mgr.Provision(ctx, fmt.Sprintf("Tenant %d", i), fmt.Sprintf("m%05d", i), ownerID)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// appliedOnce checks that each of n tenant schemas applied exactly one
// migration.
func appliedOnce(results []sqlxschema.Result, n int) error {
	if len(results) != n {
		return fmt.Errorf("%d results, want %d", len(results), n)
	}
	for _, r := range results {
		if r.Err != nil || len(r.Applied) != 1 {
			return fmt.Errorf("schema %s: applied %v, error %v; want one migration", r.Schema, r.Applied, r.Err)
		}
	}
	return nil
}

// measureMemory runs one new migration over targets with the Migrator and
// measures the Go heap.
func measureMemory(ctx context.Context, mgr *tenancy.Manager, targets []sqlxschema.Target, workers int) (memoryFigures, error) {
	n := len(targets)
	col := fmt.Sprintf("mem_%d", n)
	set := sqlxschema.Set{Name: "bench." + col, FS: fstest.MapFS{"0001_" + col + ".sql": {Data: []byte(addColumnSQL(col))}}}
	ts := make([]sqlxschema.Target, n)
	for i, t := range targets {
		ts[i] = sqlxschema.Target{Schema: t.Schema, Sets: append(slices.Clip(t.Sets), set)}
	}
	migrator := sqlxschema.NewMigrator(mgr.DB())
	// The live heap is measured by a full GC at ten points of the run
	// (on the reporting worker: the others go on meanwhile); the heap in
	// use also counts garbage not collected yet, which grows up to the
	// GC's goal whatever the migrator holds.
	var before, after, sample runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	peak, peakInuse := before.HeapAlloc, before.HeapInuse
	every := max(n/10, 1)
	results, err := migrator.Run(ctx, ts, sqlxschema.Workers(workers), sqlxschema.OnResult(func(i int, r sqlxschema.Result) {
		if i%every == every-1 {
			runtime.ReadMemStats(&sample)
			peakInuse = max(peakInuse, sample.HeapInuse)
			runtime.GC()
			runtime.ReadMemStats(&sample)
			peak = max(peak, sample.HeapAlloc)
		}
	}))
	runtime.ReadMemStats(&after)
	peakInuse = max(peakInuse, after.HeapInuse)
	if err != nil {
		return memoryFigures{}, err
	}
	if err := appliedOnce(results, n); err != nil {
		return memoryFigures{}, err
	}
	runtime.GC()
	var held runtime.MemStats
	runtime.ReadMemStats(&held)
	runtime.KeepAlive(results)
	return memoryFigures{
		schemas:         n,
		allocsPerSchema: float64(after.Mallocs-before.Mallocs) / float64(n),
		bytesPerSchema:  float64(after.TotalAlloc-before.TotalAlloc) / float64(n),
		peakLive:        peak - before.HeapAlloc,
		peakHeapInuse:   peakInuse,
		heldAfter:       held.HeapAlloc - min(held.HeapAlloc, before.HeapAlloc),
	}, nil
}
