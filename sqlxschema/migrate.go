package sqlxschema

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jmoiron/sqlx"
)

// MigrationsTable is the bookkeeping table that every migrated schema holds.
const MigrationsTable = "tenantkit_migrations"

// Set is a named, ordered list of SQL migrations read from the top level of
// an fs.FS (use fs.Sub for a folder). Files end in ".sql" and start with a
// version number ("0001_create_notes.sql"); they run in numeric order, once
// per schema, with the search_path set to that schema, so unqualified names
// land in it. Name keeps several sets apart in one schema's bookkeeping.
//
// A file may hold several statements. Files written for goose work as they
// are: with a "-- +goose Up" annotation only the Up section runs (the Down
// section is ignored; tenantkit migrates forward only), and
// "-- +goose StatementBegin"/"StatementEnd" blocks are accepted (the whole
// section goes to PostgreSQL at once, so they need no splitting). A file
// marked "-- +goose NO TRANSACTION" is refused with ErrNoTransaction, since
// every schema migrates in one transaction. The checksum covers the whole
// file, Down section included.
type Set struct {
	Name string
	FS   fs.FS
}

// Migration is one file of a Set.
type Migration struct {
	Version  string // the file name without ".sql"
	Number   int64  // its leading number
	SQL      string // what runs: the file, or its goose Up section
	Checksum string // hex SHA-256 of the whole file
}

// Load reads and orders the set's migrations. Files that do not end in
// ".sql" are ignored; a ".sql" file without a leading number, two files
// with one number, or a goose annotation it cannot follow (an
// *AnnotationError) is an error.
func (s Set) Load() ([]Migration, error) {
	if s.FS == nil {
		return nil, nil
	}
	entries, err := fs.ReadDir(s.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("sqlxschema: read migrations %s: %w", s.Name, err)
	}
	var out []Migration
	seen := map[int64]string{}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		version := strings.TrimSuffix(e.Name(), ".sql")
		digits := version
		if i := strings.IndexFunc(version, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
			digits = version[:i]
		}
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("sqlxschema: migration %s/%s: name must start with a number", s.Name, e.Name())
		}
		if prev, dup := seen[n]; dup {
			return nil, fmt.Errorf("sqlxschema: migrations %s/%s and %s share number %d", s.Name, prev, e.Name(), n)
		}
		seen[n] = e.Name()
		body, err := fs.ReadFile(s.FS, e.Name())
		if err != nil {
			return nil, fmt.Errorf("sqlxschema: read migration %s/%s: %w", s.Name, e.Name(), err)
		}
		up, err := gooseUp(s.Name, e.Name(), string(body))
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		out = append(out, Migration{Version: version, Number: n, SQL: up, Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out, nil
}

// Migrator applies migration sets to schemas. Build it once; it is safe for
// concurrent use.
//
// # Round trips
//
// A schema costs few round trips, which is what makes thousands of schemas
// fast: Apply sends BEGIN; one statement string that scopes the
// search_path and takes the schema's advisory lock; the read of the
// bookkeeping; one statement string per pending file, which records the
// file and runs it; and COMMIT. A schema with nothing pending costs four.
// The bookkeeping table is created only when it is missing. A Check
// (WithCheck) costs one more, only in schemas where files were applied.
type Migrator struct {
	db    *DB
	check Check
}

// NewMigrator returns a Migrator that runs on d's pool.
func NewMigrator(d *DB) *Migrator { return &Migrator{db: d} }

// Check inspects schema s in its migration transaction, through q, after
// the schema's pending files ran and before it commits. An error rolls the
// schema's migration back. SelfContained returns one.
type Check func(ctx context.Context, q sqlx.QueryerContext, s Schema) error

// WithCheck returns a copy of m that runs check in every schema it
// migrates (Apply, ApplyTx, Run and the rest), in the schema's
// transaction, after the pending files: when check fails, the schema's
// transaction rolls back (with ApplyTx, the caller's, which must then roll
// back), so nothing of that run is left, and Apply returns a
// *MigrationError that
// wraps check's error and names the schema, and the file when only one
// ran (the set when all that ran are of one set). A schema where nothing
// was pending is not checked: it has not changed. A nil check turns the
// check off. m itself is unchanged.
func (m *Migrator) WithCheck(check Check) *Migrator {
	c := *m
	c.check = check
	return &c
}

// lockKey is the first half of the advisory lock key of every schema's
// migrations; the second is hashtext(schema name).
const lockKey = `hashtext('tenantkit.migrate')`

// ApplyTx brings schema s up to date with sets inside the caller's
// transaction tx: it takes a transaction-scoped advisory lock for s (so
// two migrators never interleave on one schema), sets the search_path to s
// for the rest of tx, creates the bookkeeping table if needed, refuses
// applied files whose checksum changed (ErrChecksumMismatch), and runs what
// is pending in order. It returns the versions it applied ("set/version").
// The schema itself must exist.
func (m *Migrator) ApplyTx(ctx context.Context, tx sqlx.ExtContext, s Schema, sets ...Set) ([]string, error) {
	loaded, err := loadSets(s, sets, nil)
	if err != nil {
		return nil, err
	}
	return m.apply(ctx, tx, s, sets, loaded, modeCreate)
}

// Apply brings schema s up to date with sets in a transaction of its own:
// all of the schema's pending files commit together or not at all. With
// create set, the schema is created first if it does not exist.
func (m *Migrator) Apply(ctx context.Context, s Schema, create bool, sets ...Set) ([]string, error) {
	loaded, err := loadSets(s, sets, nil)
	if err != nil {
		return nil, err
	}
	return m.applyOwnTx(ctx, s, create, sets, loaded)
}

// applyOwnTx is Apply on loaded sets. It first assumes the bookkeeping
// table exists (one statement fewer); if it does not, it starts over in a
// new transaction that creates it.
func (m *Migrator) applyOwnTx(ctx context.Context, s Schema, create bool, sets []Set, loaded [][]Migration) ([]string, error) {
	mode := modeExisting
	if create {
		mode = modeCreateSchema
	}
	for {
		applied, err := m.applyOnce(ctx, s, sets, loaded, mode)
		if mode == modeExisting && isMissingTable(err) {
			mode = modeCreate
			continue
		}
		return applied, err
	}
}

func (m *Migrator) applyOnce(ctx context.Context, s Schema, sets []Set, loaded [][]Migration, mode applyMode) ([]string, error) {
	// The statements obey ctx; the transaction and its COMMIT do not, so a
	// cancellation has one of two outcomes that the result tells apart:
	// rolled back with an error, or committed without one. (A COMMIT cut
	// short by a cancel may have committed all the same: pgx then reports
	// the cancel.)
	tx, err := m.db.db.BeginTxx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return nil, &MigrationError{Schema: s.String(), Err: err}
	}
	defer tx.Rollback()
	applied, err := m.apply(ctx, tx, s, sets, loaded, mode)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, &MigrationError{Schema: s.String(), Err: err}
	}
	if err := tx.Commit(); err != nil {
		return nil, &MigrationError{Schema: s.String(), Err: err}
	}
	return applied, nil
}

// applyMode says what apply may assume about the schema.
type applyMode int

const (
	modeExisting     applyMode = iota // the schema and its bookkeeping table exist
	modeCreate                        // the schema exists; create the table if missing
	modeCreateSchema                  // create the schema and the table if missing
)

// isMissingTable reports whether err says the bookkeeping table (or its
// schema) does not exist.
func isMissingTable(err error) bool {
	var me *MigrationError
	if !errors.As(err, &me) || me.Version != "" {
		return false
	}
	var coded interface{ SQLState() string }
	if errors.As(me.Err, &coded) {
		code := coded.SQLState()
		return code == "42P01" || code == "3F000" // undefined_table, invalid_schema_name
	}
	return false
}

// apply is ApplyTx on loaded sets.
func (m *Migrator) apply(ctx context.Context, tx sqlx.ExtContext, s Schema, sets []Set, loaded [][]Migration, mode applyMode) ([]string, error) {
	fail := func(set, version string, err error) ([]string, error) {
		return nil, &MigrationError{Schema: s.String(), Set: set, Version: version, Err: err}
	}
	book := s.Qualify(MigrationsTable)

	// One statement string: path, lock, (create). It takes no parameters,
	// so both lib/pq and pgx send it in one round trip (simple protocol).
	// It starts with SET LOCAL, which the Connector's safety net knows
	// reverts by itself. The read follows as a statement of its own: its
	// snapshot is taken after the lock is held, so it sees whatever a
	// migrator that held the lock before us committed.
	var q strings.Builder
	q.WriteString(`SET LOCAL search_path TO ` + m.db.SearchPath(s) + ";\n" +
		`SELECT pg_advisory_xact_lock(` + lockKey + `, hashtext(` + quoteLiteral(s.String()) + `));`)
	if mode == modeCreateSchema {
		q.WriteString("\nCREATE SCHEMA IF NOT EXISTS " + s.Quoted() + ";")
	}
	if mode != modeExisting {
		q.WriteString("\nCREATE TABLE IF NOT EXISTS " + book + ` (
	set_name   text NOT NULL,
	version    text NOT NULL,
	checksum   text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (set_name, version));`)
	}
	if _, err := tx.ExecContext(ctx, q.String()); err != nil {
		return fail("", "", err)
	}
	done, err := readBookkeeping(ctx, tx, "SELECT set_name, version, checksum FROM "+book)
	if err != nil {
		return fail("", "", err)
	}

	var applied []string
	var last bookKey // the last file applied
	mixed := false   // whether files of several sets were applied
	for k, set := range sets {
		for _, mig := range loaded[k] {
			if sum, ok := done[bookKey{set.Name, mig.Version}]; ok {
				if sum != mig.Checksum {
					return fail(set.Name, mig.Version, ErrChecksumMismatch)
				}
				continue
			}
			// The record goes first, in the same statement string: it
			// commits or rolls back with the file, and costs no round trip.
			stmt := `INSERT INTO ` + book + ` (set_name, version, checksum) VALUES (` +
				quoteLiteral(set.Name) + `, ` + quoteLiteral(mig.Version) + `, ` + quoteLiteral(mig.Checksum) + ");\n" + mig.SQL
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fail(set.Name, mig.Version, err)
			}
			mixed = mixed || (len(applied) > 0 && last.set != set.Name)
			applied = append(applied, set.Name+"/"+mig.Version)
			last = bookKey{set.Name, mig.Version}
		}
	}
	if m.check != nil && len(applied) > 0 {
		if err := m.check(ctx, tx, s); err != nil {
			// Name the file when one ran, the set when all were of one.
			switch {
			case len(applied) == 1:
				return fail(last.set, last.version, err)
			case !mixed:
				return fail(last.set, "", err)
			}
			return fail("", "", err)
		}
	}
	return applied, nil
}

// bookKey is one bookkeeping row's key.
type bookKey struct{ set, version string }

// readBookkeeping runs q, which reads (set_name, version, checksum), and
// returns the checksums by key.
func readBookkeeping(ctx context.Context, tx sqlx.QueryerContext, q string) (map[bookKey]string, error) {
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	done := map[bookKey]string{}
	for rows.Next() {
		var k bookKey
		var sum string
		if err := rows.Scan(&k.set, &k.version, &sum); err != nil {
			return nil, err
		}
		done[k] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return done, rows.Close()
}

// quoteLiteral quotes s as an SQL string literal, valid whatever
// standard_conforming_strings says. Migrations send their fixed text
// through the simple query protocol, which takes no parameters and costs
// one round trip instead of two.
func quoteLiteral(s string) string {
	s = strings.ReplaceAll(s, "'", "''")
	if strings.Contains(s, `\`) {
		return `E'` + strings.ReplaceAll(s, `\`, `\\`) + `'`
	}
	return `'` + s + `'`
}

// loadSets loads each set, through cache when it is not nil (by set name:
// within one run, one name is one set).
func loadSets(s Schema, sets []Set, cache *setCache) ([][]Migration, error) {
	out := make([][]Migration, len(sets))
	for i, set := range sets {
		var migs []Migration
		var err error
		if cache != nil {
			migs, err = cache.load(set)
		} else {
			migs, err = set.Load()
		}
		if err != nil {
			return nil, &MigrationError{Schema: s.String(), Set: set.Name, Err: err}
		}
		out[i] = migs
	}
	return out, nil
}

// setCache loads each set of a run once.
type setCache struct {
	mu   sync.Mutex
	sets map[string]setLoad
}

type setLoad struct {
	migs []Migration
	err  error
}

func (c *setCache) load(set Set) ([]Migration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.sets[set.Name]; ok {
		return l.migs, l.err
	}
	migs, err := set.Load()
	if c.sets == nil {
		c.sets = map[string]setLoad{}
	}
	c.sets[set.Name] = setLoad{migs, err}
	return migs, err
}

// Target is one schema and the sets it should have.
type Target struct {
	Schema Schema
	Sets   []Set
}

// Result is the outcome for one Target of Run.
type Result struct {
	Schema  Schema
	Applied []string // "set/version", in the order they ran
	// Err is nil on success; a *MigrationError otherwise. It matches
	// ErrNotRun when the schema was not started at all.
	Err error
}

// RunOption configures Migrator.Run. Options report bad arguments through
// Run's error, before anything runs.
type RunOption func(*runConfig) error

type runConfig struct {
	workers  int
	stop     bool
	onResult func(int, Result)
}

// Workers sets how many schemas Run migrates at once, each on its own
// connection. Default 1.
func Workers(n int) RunOption {
	return func(c *runConfig) error {
		if n < 1 {
			return fmt.Errorf("sqlxschema: Workers(%d): need at least 1", n)
		}
		c.workers = n
		return nil
	}
}

// StopOnFailure makes Run start no schema after one has failed. Schemas
// that other workers are migrating at that moment still finish. The
// default is to go on past failures.
func StopOnFailure() RunOption {
	return func(c *runConfig) error { c.stop = true; return nil }
}

// OnResult makes Run call fn with the index and result of each target as
// soon as it finishes (or is passed over), one call at a time, for
// progress reports. fn runs on a worker: a slow fn slows the run.
func OnResult(fn func(i int, r Result)) RunOption {
	return func(c *runConfig) error {
		if fn == nil {
			return errors.New("sqlxschema: OnResult(nil)")
		}
		c.onResult = fn
		return nil
	}
}

// Run migrates every target, each schema in its own transaction (as
// Apply, without creating schemas), with Workers schemas at a time. Each
// set is loaded once for the whole run: sets of one name must be the same
// set. Run goes on past a failing schema unless StopOnFailure is given;
// a cancelled ctx stops it from starting more schemas (the one in flight
// is rolled back). An interrupted run resumes where it stopped when run
// again, since every finished schema is committed and recorded.
//
// It returns every result in target order, and an error (nil when all
// succeeded) that joins each failure and, when some targets were not
// started, one error matching ErrNotRun that counts them and wraps the
// cause (ctx.Err() when cancelled).
func (m *Migrator) Run(ctx context.Context, targets []Target, opts ...RunOption) ([]Result, error) {
	cfg := runConfig{workers: 1}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	results := make([]Result, len(targets))
	var (
		next     atomic.Int64
		failed   atomic.Bool
		report   sync.Mutex
		wg       sync.WaitGroup
		cache    setCache
		stopWhy  = errors.New("an earlier schema failed")
		notRunBy = make([]error, len(targets))
	)
	work := func() {
		defer wg.Done()
		for {
			i := int(next.Add(1) - 1)
			if i >= len(targets) {
				return
			}
			t := targets[i]
			var r Result
			switch {
			case ctx.Err() != nil:
				notRunBy[i] = ctx.Err()
			case cfg.stop && failed.Load():
				notRunBy[i] = stopWhy
			}
			if notRunBy[i] != nil {
				r = Result{Schema: t.Schema, Err: &MigrationError{Schema: t.Schema.String(), Err: fmt.Errorf("%w: %w", ErrNotRun, notRunBy[i])}}
			} else {
				loaded, err := loadSets(t.Schema, t.Sets, &cache)
				if err == nil {
					r.Applied, err = m.applyOwnTx(ctx, t.Schema, false, t.Sets, loaded)
				}
				r.Schema, r.Err = t.Schema, err
				if err != nil {
					failed.Store(true)
				}
			}
			results[i] = r
			if cfg.onResult != nil {
				report.Lock()
				cfg.onResult(i, r)
				report.Unlock()
			}
		}
	}
	for w := 0; w < cfg.workers && w < len(targets); w++ {
		wg.Add(1)
		go work()
	}
	wg.Wait()

	var errs []error
	notRun := 0
	var cause error
	for i, r := range results {
		switch {
		case notRunBy[i] != nil:
			notRun++
			if cause == nil || cause == stopWhy {
				cause = notRunBy[i] // a cancellation is the better reason
			}
		case r.Err != nil:
			errs = append(errs, r.Err)
		}
	}
	if notRun > 0 {
		errs = append(errs, fmt.Errorf("sqlxschema: %d of %d schemas %w: %w", notRun, len(targets), ErrNotRun, cause))
	}
	return results, errors.Join(errs...)
}

// ApplyAll is Run with Workers(workers) (at least 1): it migrates every
// target and goes on past a failing schema.
func (m *Migrator) ApplyAll(ctx context.Context, targets []Target, workers int) ([]Result, error) {
	return m.Run(ctx, targets, Workers(max(workers, 1)))
}

// ApplyAllFunc is ApplyAll that also calls onResult (when not nil) with the
// index and result of each target as soon as it finishes, one call at a
// time, for progress reports.
func (m *Migrator) ApplyAllFunc(ctx context.Context, targets []Target, workers int, onResult func(i int, r Result)) ([]Result, error) {
	opts := []RunOption{Workers(max(workers, 1))}
	if onResult != nil {
		opts = append(opts, OnResult(onResult))
	}
	return m.Run(ctx, targets, opts...)
}

// Pending reports, without changing anything, which migrations of sets
// have not been applied to schema s ("set/version", in the order they would
// run), and which applied ones were edited since. A schema without
// bookkeeping (or not there at all) has everything pending.
func (m *Migrator) Pending(ctx context.Context, q sqlx.QueryerContext, s Schema, sets ...Set) (pending, edited []string, err error) {
	loaded, err := loadSets(s, sets, nil)
	if err != nil {
		return nil, nil, err
	}
	var exists bool
	if err := sqlx.GetContext(ctx, q, &exists, `SELECT to_regclass(`+quoteLiteral(s.Qualify(MigrationsTable))+`) IS NOT NULL`); err != nil {
		return nil, nil, &MigrationError{Schema: s.String(), Err: err}
	}
	done := map[bookKey]string{}
	if exists {
		if done, err = readBookkeeping(ctx, q, `SELECT set_name, version, checksum FROM `+s.Qualify(MigrationsTable)); err != nil {
			return nil, nil, &MigrationError{Schema: s.String(), Err: err}
		}
	}
	for k, set := range sets {
		for _, mig := range loaded[k] {
			key := set.Name + "/" + mig.Version
			sum, ok := done[bookKey{set.Name, mig.Version}]
			switch {
			case !ok:
				pending = append(pending, key)
			case sum != mig.Checksum:
				edited = append(edited, key)
			}
		}
	}
	return pending, edited, nil
}
