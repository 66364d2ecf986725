// Command tenantkit-loadbench measures what tenantkit costs on the request
// path: the same JSON handler (one SELECT of 10 rows) served in several
// modes, one after another in one run, against one PostgreSQL, with the
// load coming from a separate process (this program re-executed with
// -load) over loopback:
//
//   - baseline: a single-schema service without tenancy (the same query on
//     one table, autocommit on the plain pool);
//   - tx: tenantkit, middleware.Tenant (cached host lookup) and DB.Tx
//     (BEGIN, SET LOCAL search_path, the query, COMMIT) on a plain pool;
//   - tx+connector: the same through sqlxschema's Connector, which sends
//     BEGIN and SET LOCAL in one round trip;
//   - tx+pipeline (pgx only): DB.Tx through sqlxschema/pgxschema, which
//     sends BEGIN, set_config and the first query as one batch (one round
//     trip), then COMMIT;
//   - pinned: tenantkit, middleware.Tenant and PinConn with the safety-net
//     Connector and ReuseSearchPath (SET only when the pooled connection is
//     not already on the tenant's path);
//   - pinned+pipeline (pgx only): the same through sqlxschema/pgxschema,
//     which sends the SET in the same round trip as the query;
//   - naive: what a hand-written middleware does: a domain lookup query,
//     SET search_path, the query and RESET on every request.
//
// Each mode runs with a uniform and a Zipf-skewed mix of 100 tenant hosts,
// for each driver setting, in -rounds rounds (each runs every driver and
// mode once, in turn), and the program prints the medians: requests per
// second, p50 and p99 latency, the ratios to the same driver's baseline
// and to lib/pq's (each the median of the per-round ratios), and for
// modes through sqlxschema's Connector the statements (round trips,
// counting a lib/pq parameterised query as one) per request, as a
// markdown table. The load generator checks every response: 10 rows,
// from the Host's tenant. Run it with
//
//	go run ./cmd/tenantkit-loadbench
//
// Without DATABASE_URL it starts a throwaway PostgreSQL (internal/pgtest).
package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/middleware"
	"github.com/tenantkit/tenantkit/sqlxschema"
	"github.com/tenantkit/tenantkit/sqlxschema/pgxschema"
	"github.com/tenantkit/tenantkit/tenancy"
)

var (
	duration = flag.Duration("duration", 5*time.Second, "measured time per mode, mix and round")
	warmup   = flag.Duration("warmup", time.Second, "unmeasured warm-up per mode, mix and round")
	conns    = flag.Int("conns", 32, "concurrent client connections")
	pool     = flag.Int("pool", 16, "database pool size (max open connections)")
	tenants  = flag.Int("tenants", 100, "tenants, each with 10 rows")
	modes    = flag.String("modes", "baseline,tx,tx+connector,tx+pipeline,pinned,pinned+pipeline,naive", "modes to run, in order (+pipeline modes run with pgx only)")
	cpuProf  = flag.String("cpuprofile", "", "write a CPU profile of the server for each run into this directory")
	mixes    = flag.String("mixes", "uniform,zipf", "host mixes: uniform, zipf, one (all requests for one tenant)")
	drivers  = flag.String("drivers", "lib/pq,pgx", "driver settings: lib/pq, lib/pq+binary_parameters, pgx (its database/sql driver); lib/pq's baseline is every row's last ratio")
	rounds   = flag.Int("rounds", 3, "rounds: each runs every driver and mode once; figures are medians")

	loadURL   = flag.String("load", "", "internal: run as the load generator against this URL")
	loadMix   = flag.String("mix", "uniform", "internal: host mix of the load generator")
	loadHosts = flag.Int("hosts", 100, "internal: number of tenant hosts")
	loadCheck = flag.Bool("check-tenant", false, "internal: check that rows come from the Host's tenant")
)

const query = `SELECT id, body FROM items WHERE id <= $1 ORDER BY id`

type item struct {
	ID   int64  `db:"id" json:"id"`
	Body string `db:"body" json:"body"`
}

func main() {
	flag.Parse()
	if *loadURL != "" {
		if err := generateLoad(); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tenantkit-loadbench:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		c, err := pgtest.Start(pgtest.Options{})
		if err != nil {
			return err
		}
		defer c.Stop()
		name, err := c.CreateDatabase(ctx, "loadbench")
		if err != nil {
			return err
		}
		dsn = c.DSN(name)
	}
	if err := setup(ctx, dsn); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	fmt.Printf("%d tenants x 10 rows, pool %d, %d client connections, %v per run (after %v warm-up), GOMAXPROCS %d\n\n",
		*tenants, *pool, *conns, *duration, *warmup, runtime.GOMAXPROCS(0))
	fmt.Printf("Each figure is the median of %d rounds; a round runs every driver and mode once, in turn, so the\n", *rounds)
	fmt.Println("ratios compare runs made minutes apart at most.")
	fmt.Println()
	fmt.Println("| driver | mix | mode | req/s | p50 | p99 | req/s vs baseline | p99 vs baseline | req/s vs lib/pq baseline | statements/req |")
	fmt.Println("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	drvs := strings.Split(*drivers, ",")
	for _, mix := range strings.Split(*mixes, ",") {
		runs := map[[2]string][]*result{} // by driver and mode, one per round
		for r := 0; r < *rounds; r++ {
			for _, drv := range drvs {
				for _, mode := range strings.Split(*modes, ",") {
					if strings.HasSuffix(mode, "+pipeline") && drv != "pgx" {
						continue // pgxschema pipelines pgx only
					}
					res, err := measure(ctx, driverDSN(dsn, drv), drv, mode, mix)
					if err != nil {
						return fmt.Errorf("%s %s %s: %w", drv, mix, mode, err)
					}
					k := [2]string{drv, mode}
					runs[k] = append(runs[k], res)
				}
			}
		}
		for _, drv := range drvs {
			base, pqBase := runs[[2]string{drv, "baseline"}], runs[[2]string{"lib/pq", "baseline"}]
			for _, mode := range strings.Split(*modes, ",") {
				rs := runs[[2]string{drv, mode}]
				if len(rs) == 0 {
					continue
				}
				// Ratios per round, then their median: each against the
				// baseline of its own round.
				ratio := func(of []*result, f func(*result) float64) string {
					if len(of) != len(rs) {
						return "-"
					}
					v := make([]float64, len(rs))
					for i := range rs {
						v[i] = f(rs[i]) / f(of[i])
					}
					return fmt.Sprintf("%.2f", median(v))
				}
				rps := func(r *result) float64 { return r.RPS }
				p99 := func(r *result) float64 { return float64(r.P99) }
				stmts := "-"
				if s := median(pick(rs, func(r *result) float64 { return r.Statements })); s > 0 {
					stmts = fmt.Sprintf("%.2f", s)
				}
				fmt.Printf("| %s | %s | %s | %.0f | %v | %v | %s | %s | %s | %s |\n", drv, mix, mode,
					median(pick(rs, rps)),
					time.Duration(median(pick(rs, func(r *result) float64 { return float64(r.P50) }))).Round(time.Microsecond),
					time.Duration(median(pick(rs, p99))).Round(time.Microsecond),
					ratio(base, rps), ratio(base, p99), ratio(pqBase, rps), stmts)
			}
		}
	}
	return nil
}

// driverDSN is dsn for one driver setting of -drivers.
func driverDSN(dsn, drv string) string {
	switch {
	case strings.Contains(drv, "binary_parameters"):
		return dsn + " binary_parameters=yes"
	case drv == "pgx":
		return "pgx:" + dsn
	}
	return dsn
}

func pick(rs []*result, f func(*result) float64) []float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	return v
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// setup creates the single-schema baseline table, the tenantkit tables, a
// public tenant and the tenants, each with its own items table of 10 rows.
func setup(ctx context.Context, dsn string) error {
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS single;
		CREATE TABLE IF NOT EXISTS single.items (id bigint PRIMARY KEY, body text NOT NULL);
		INSERT INTO single.items SELECT g, 'single row ' || g FROM generate_series(1, 10) g ON CONFLICT DO NOTHING`); err != nil {
		return err
	}
	mgr, err := tenancy.NewManager(db, tenancy.WithBaseDomain("bench.test"), tenancy.WithTenantMigrations(itemsMigration))
	if err != nil {
		return err
	}
	if _, err := mgr.Migrate(ctx); err != nil {
		return err
	}
	owner, err := mgr.Users().ByEmail(ctx, "owner@bench.test")
	if err != nil {
		if owner, err = mgr.Users().CreateUser(ctx, "owner@bench.test", "", true); err != nil {
			return err
		}
	}
	for i := 0; i < *tenants; i++ {
		slug := fmt.Sprintf("t%d", i)
		if _, err := mgr.BySlug(ctx, slug); err == nil {
			continue
		}
		if _, _, err := mgr.Provision(ctx, "Tenant "+slug, slug, owner.ID); err != nil {
			return err
		}
	}
	return nil
}

// itemsMigration is the tenant migration: a table of 10 rows naming the
// schema, so a response shows which tenant it came from.
var itemsMigration = fstest.MapFS{"0001_items.sql": {Data: []byte(`
	CREATE TABLE items (id bigint PRIMARY KEY, body text NOT NULL);
	INSERT INTO items SELECT g, current_schema() || ' row ' || g FROM generate_series(1, 10) g;`)}}

// served is one mode's handler on a fresh pool.
type served struct {
	handler   http.Handler
	connector *sqlxschema.Connector // nil without the safety net
	db        *sqlx.DB
}

// server builds the handler of one mode on a fresh pool.
func server(dsn, mode string) (*served, error) {
	var pc driver.Connector
	driverName := "postgres"
	var connector *sqlxschema.Connector
	var opts []sqlxschema.ConnectorOption
	if strings.HasPrefix(mode, "pinned") {
		opts = append(opts, sqlxschema.ReuseSearchPath())
	}
	if pgxDSN, ok := strings.CutPrefix(dsn, "pgx:"); ok {
		cfg, err := pgx.ParseConfig(pgxDSN)
		if err != nil {
			return nil, err
		}
		pc, driverName = stdlib.GetConnector(*cfg), "pgx"
		if strings.HasSuffix(mode, "+pipeline") {
			connector = pgxschema.NewConnector(*cfg, opts...)
		}
	} else {
		var err error
		if pc, err = pq.NewConnector(dsn); err != nil {
			return nil, err
		}
	}
	if connector == nil && (mode == "pinned" || mode == "tx+connector") {
		connector = sqlxschema.WrapConnector(pc, opts...)
	}
	if connector != nil {
		pc = connector
	}
	db := sqlx.NewDb(sql.OpenDB(pc), driverName)
	db.SetMaxOpenConns(*pool)
	db.SetMaxIdleConns(*pool)
	s := &served{connector: connector, db: db}
	reply := func(w http.ResponseWriter, items []item, err error) {
		if err != nil {
			log.Printf("%s: %v", mode, err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(items)
	}
	if mode == "baseline" {
		db.MustExec(`SELECT 1`)
		s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var items []item
			err := db.SelectContext(r.Context(), &items, strings.Replace(query, "items", "single.items", 1), 10)
			reply(w, items, err)
		})
		return s, nil
	}
	if mode == "naive" {
		s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			items, err := naive(r.Context(), db, r.Host)
			if errors.Is(err, sql.ErrNoRows) {
				http.NotFound(w, r)
				return
			}
			reply(w, items, err)
		})
		return s, nil
	}
	mgr, err := tenancy.NewManager(db, tenancy.WithBaseDomain("bench.test"))
	if err != nil {
		return nil, err
	}
	mw, err := middleware.New(middleware.Config{Tenants: mgr, Members: mgr, Perms: mgr.Permissions(), Sessions: mgr.Users()})
	if err != nil {
		return nil, err
	}
	switch mode {
	case "tx", "tx+connector", "tx+pipeline":
		s.handler = mw.Tenant(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var items []item
			err := mgr.DB().Tx(r.Context(), func(tx *sqlx.Tx) error {
				return tx.SelectContext(r.Context(), &items, query, 10)
			})
			reply(w, items, err)
		}))
	case "pinned", "pinned+pipeline":
		s.handler = mw.Tenant(middleware.PinConn(mgr.DB())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var items []item
			c, err := mgr.DB().RequestConn(r.Context())
			if err == nil {
				err = c.SelectContext(r.Context(), &items, query, 10)
			}
			reply(w, items, err)
		})))
	default:
		db.Close()
		return nil, fmt.Errorf("unknown mode %q", mode)
	}
	return s, nil
}

// naive resolves the host with a query and switches the path by hand on a
// pinned connection: the approach tenantkit replaces.
func naive(ctx context.Context, db *sqlx.DB, host string) ([]item, error) {
	host, _, _ = strings.Cut(host, ":")
	c, err := db.Connx(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var schema string
	if err := c.GetContext(ctx, &schema, `SELECT t.schema_name FROM tenantkit_domains d JOIN tenantkit_tenants t ON t.id = d.tenant_id
		WHERE d.domain = $1 AND d.deleted_at IS NULL AND t.deleted_at IS NULL`, host); err != nil {
		return nil, err
	}
	if _, err := c.ExecContext(ctx, `SET search_path TO `+pq.QuoteIdentifier(schema)); err != nil {
		return nil, err
	}
	var items []item
	err = c.SelectContext(ctx, &items, query, 10)
	if _, rerr := c.ExecContext(context.Background(), `RESET search_path`); rerr != nil && err == nil {
		err = rerr
	}
	return items, err
}

type result struct {
	Requests   int           `json:"requests"`
	Errors     int           `json:"errors"`
	RPS        float64       `json:"rps"`
	P50        time.Duration `json:"p50"`
	P99        time.Duration `json:"p99"`
	Statements float64       `json:"-"` // per request, through the Connector
}

// measure serves one mode and runs the load generator against it in a
// child process.
func measure(ctx context.Context, dsn, drv, mode, mix string) (*result, error) {
	s, err := server(dsn, mode)
	if err != nil {
		return nil, err
	}
	defer s.db.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	var served atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		s.handler.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if *cpuProf != "" {
		name := strings.NewReplacer("/", "-", "+", "-").Replace(drv + "_" + mix + "_" + mode)
		f, err := os.Create(filepath.Join(*cpuProf, name+".pprof"))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	var stmts0 int64
	if s.connector != nil {
		stmts0 = s.connector.Statements() + s.connector.TransactionControl()
	}
	cmd := exec.CommandContext(ctx, self, "-load", "http://"+ln.Addr().String()+"/", "-mix", mix,
		"-hosts", fmt.Sprint(*tenants), "-conns", fmt.Sprint(*conns),
		"-duration", duration.String(), "-warmup", warmup.String(),
		fmt.Sprintf("-check-tenant=%v", mode != "baseline"))
	cmd.Stderr = os.Stderr
	served.Store(0)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("load generator: %w", err)
	}
	var res result
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("load generator output %q: %w", out, err)
	}
	if res.Errors > 0 {
		return nil, fmt.Errorf("%d of %d requests failed", res.Errors, res.Requests)
	}
	if n := served.Load(); s.connector != nil && n > 0 {
		res.Statements = float64(s.connector.Statements()+s.connector.TransactionControl()-stmts0) / float64(n)
	}
	return &res, nil
}

// generateLoad is the child process: conns keep-alive clients sending GETs
// with tenant Host headers for warm-up, then for the measured duration, and
// a JSON result on stdout.
func generateLoad() error {
	hosts := make([]string, *loadHosts)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("t%d.bench.test", i)
	}
	transport := &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns, DisableCompression: true}
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	var mu sync.Mutex
	var lat []time.Duration
	var requests, failures int
	start := time.Now()
	measureFrom := start.Add(*warmup)
	end := measureFrom.Add(*duration)
	var wg sync.WaitGroup
	var reportOnce sync.Once
	for w := 0; w < *conns; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 42))
			zipf := rand.NewZipf(rng, 1.1, 1, uint64(len(hosts)-1))
			var mine []time.Duration
			n, bad := 0, 0
			for {
				now := time.Now()
				if now.After(end) {
					break
				}
				var i int
				switch *loadMix {
				case "zipf":
					i = int(zipf.Uint64())
				case "one":
					i = 0 // every request for one tenant: the ceiling of path reuse
				default:
					i = rng.IntN(len(hosts))
				}
				req, _ := http.NewRequest("GET", *loadURL, nil)
				req.Host = hosts[i]
				t0 := time.Now()
				resp, err := client.Do(req)
				ok := err == nil && resp.StatusCode == 200
				if err == nil {
					var body []item
					if json.NewDecoder(resp.Body).Decode(&body) != nil || len(body) != 10 ||
						*loadCheck && !fromTenant(body, strings.TrimSuffix(hosts[i], ".bench.test")) {
						ok = false
						reportOnce.Do(func() { log.Printf("bad response for %s: %d %v", hosts[i], resp.StatusCode, body) })
					}
					resp.Body.Close()
				}
				if t0.After(measureFrom) {
					n++
					mine = append(mine, time.Since(t0))
					if !ok {
						bad++
					}
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			requests += n
			failures += bad
			mu.Unlock()
		}(uint64(w + 1))
	}
	wg.Wait()
	if len(lat) == 0 {
		return errors.New("no requests measured")
	}
	slices.Sort(lat)
	res := result{Requests: requests, Errors: failures, RPS: float64(requests) / duration.Seconds(),
		P50: lat[len(lat)/2], P99: lat[len(lat)*99/100]}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// fromTenant reports whether every row names the schema of tenant slug
// (the rows were written as "<schema> row <n>", and a tenant's schema is
// its slug, an underscore and a suffix).
func fromTenant(rows []item, slug string) bool {
	for _, r := range rows {
		schema, _, ok := strings.Cut(r.Body, " row ")
		if !ok || !strings.HasPrefix(schema, slug+"_") {
			return false
		}
	}
	return true
}
