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

	"github.com/jmoiron/sqlx"
)

// MigrationsTable is the bookkeeping table that every migrated schema holds.
const MigrationsTable = "tenantkit_migrations"

// Set is a named, ordered list of SQL migrations read from the top level of
// an fs.FS (use fs.Sub for a folder). Files end in ".sql" and start with a
// version number ("0001_create_notes.sql"); they run in numeric order, once
// per schema, with the search_path set to that schema, so unqualified names
// land in it. Name keeps several sets apart in one schema's bookkeeping.
type Set struct {
	Name string
	FS   fs.FS
}

// Migration is one file of a Set.
type Migration struct {
	Version  string // the file name without ".sql"
	Number   int64  // its leading number
	SQL      string
	Checksum string // hex SHA-256 of the file
}

// Load reads and orders the set's migrations. Files that do not end in
// ".sql" are ignored; a ".sql" file without a leading number, or two files
// with one number, is an error.
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
		sum := sha256.Sum256(body)
		out = append(out, Migration{Version: version, Number: n, SQL: string(body), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out, nil
}

// Migrator applies migration sets to schemas. Build it once; it is safe for
// concurrent use.
type Migrator struct {
	db *DB
}

// NewMigrator returns a Migrator that runs on d's pool.
func NewMigrator(d *DB) *Migrator { return &Migrator{db: d} }

// ApplyTx brings schema s up to date with sets inside the caller's
// transaction tx: it sets the search_path to s for the rest of tx, takes a
// transaction-scoped advisory lock for s (so two migrators never interleave
// on one schema), creates the bookkeeping table if needed, refuses applied
// files whose checksum changed (ErrChecksumMismatch), and runs what is
// pending in order. It returns the versions it applied. The schema itself
// must exist.
func (m *Migrator) ApplyTx(ctx context.Context, tx sqlx.ExtContext, s Schema, sets ...Set) ([]string, error) {
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('tenantkit.migrate'), hashtext($1))`, s.String()); err != nil {
		return nil, &MigrationError{Schema: s.String(), Err: err}
	}
	if err := m.db.SetLocal(ctx, tx, s); err != nil {
		return nil, &MigrationError{Schema: s.String(), Err: err}
	}
	book := s.Qualify(MigrationsTable)
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+book+` (
		set_name   text NOT NULL,
		version    text NOT NULL,
		checksum   text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (set_name, version))`); err != nil {
		return nil, &MigrationError{Schema: s.String(), Err: err}
	}
	var applied []string
	for _, set := range sets {
		migs, err := set.Load()
		if err != nil {
			return nil, &MigrationError{Schema: s.String(), Set: set.Name, Err: err}
		}
		if len(migs) == 0 {
			continue
		}
		rows, err := tx.QueryxContext(ctx, `SELECT version, checksum FROM `+book+` WHERE set_name = $1`, set.Name)
		if err != nil {
			return nil, &MigrationError{Schema: s.String(), Set: set.Name, Err: err}
		}
		done := map[string]string{}
		for rows.Next() {
			var v, sum string
			if err := rows.Scan(&v, &sum); err != nil {
				rows.Close()
				return nil, &MigrationError{Schema: s.String(), Set: set.Name, Err: err}
			}
			done[v] = sum
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, &MigrationError{Schema: s.String(), Set: set.Name, Err: err}
		}
		for _, mig := range migs {
			if sum, ok := done[mig.Version]; ok {
				if sum != mig.Checksum {
					return nil, &MigrationError{Schema: s.String(), Set: set.Name, Version: mig.Version, Err: ErrChecksumMismatch}
				}
				continue
			}
			if _, err := tx.ExecContext(ctx, mig.SQL); err != nil {
				return nil, &MigrationError{Schema: s.String(), Set: set.Name, Version: mig.Version, Err: err}
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO `+book+` (set_name, version, checksum) VALUES ($1, $2, $3)`,
				set.Name, mig.Version, mig.Checksum); err != nil {
				return nil, &MigrationError{Schema: s.String(), Set: set.Name, Version: mig.Version, Err: err}
			}
			applied = append(applied, set.Name+"/"+mig.Version)
		}
	}
	return applied, nil
}

// Apply brings schema s up to date with sets in a transaction of its own:
// all of the schema's pending files commit together or not at all. With
// create set, the schema is created first if it does not exist.
func (m *Migrator) Apply(ctx context.Context, s Schema, create bool, sets ...Set) ([]string, error) {
	tx, err := m.db.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, &MigrationError{Schema: s.String(), Err: err}
	}
	defer tx.Rollback()
	if create {
		if _, err := tx.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+s.Quoted()); err != nil {
			return nil, &MigrationError{Schema: s.String(), Err: err}
		}
	}
	applied, err := m.ApplyTx(ctx, tx, s, sets...)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, &MigrationError{Schema: s.String(), Err: err}
	}
	return applied, nil
}

// Target is one schema and the sets it should have.
type Target struct {
	Schema Schema
	Sets   []Set
}

// Result is the outcome for one Target of ApplyAll.
type Result struct {
	Schema  Schema
	Applied []string
	Err     error
}

// ApplyAll migrates every target with at most workers schemas at a time
// (at least 1), each schema in its own transaction. It goes on past a
// failing schema and returns every result in target order, plus an error
// that joins the failures (nil when all succeeded). A cancelled ctx stops
// handing out new schemas.
func (m *Migrator) ApplyAll(ctx context.Context, targets []Target, workers int) ([]Result, error) {
	return m.ApplyAllFunc(ctx, targets, workers, nil)
}

// ApplyAllFunc is ApplyAll that also calls onResult (when not nil) with the
// index and result of each target as soon as it finishes, one call at a
// time, for progress reports.
func (m *Migrator) ApplyAllFunc(ctx context.Context, targets []Target, workers int, onResult func(i int, r Result)) ([]Result, error) {
	if workers < 1 {
		workers = 1
	}
	results := make([]Result, len(targets))
	next := make(chan int)
	var wg sync.WaitGroup
	var report sync.Mutex
	for w := 0; w < workers && w < len(targets); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t := targets[i]
				applied, err := m.Apply(ctx, t.Schema, false, t.Sets...)
				results[i] = Result{Schema: t.Schema, Applied: applied, Err: err}
				if onResult != nil {
					report.Lock()
					onResult(i, results[i])
					report.Unlock()
				}
			}
		}()
	}
	var errs []error
feed:
	for i := range targets {
		select {
		case next <- i:
		case <-ctx.Done():
			for j := i; j < len(targets); j++ {
				results[j] = Result{Schema: targets[j].Schema, Err: &MigrationError{Schema: targets[j].Schema.String(), Err: ctx.Err()}}
				if onResult != nil {
					report.Lock()
					onResult(j, results[j])
					report.Unlock()
				}
			}
			break feed
		}
	}
	close(next)
	wg.Wait()
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return results, errors.Join(errs...)
}

// Pending reports, without changing anything, which migrations of sets
// have not been applied to schema s ("set/version"), and which applied
// ones were edited since. A schema without bookkeeping (or not there at
// all) has everything pending.
func (m *Migrator) Pending(ctx context.Context, q sqlx.QueryerContext, s Schema, sets ...Set) (pending, edited []string, err error) {
	var exists bool
	if err := sqlx.GetContext(ctx, q, &exists, `SELECT to_regclass($1) IS NOT NULL`, s.Qualify(MigrationsTable)); err != nil {
		return nil, nil, &MigrationError{Schema: s.String(), Err: err}
	}
	done := map[string]string{}
	if exists {
		rows, err := q.QueryxContext(ctx, `SELECT set_name || '/' || version, checksum FROM `+s.Qualify(MigrationsTable))
		if err != nil {
			return nil, nil, &MigrationError{Schema: s.String(), Err: err}
		}
		for rows.Next() {
			var k, sum string
			if err := rows.Scan(&k, &sum); err != nil {
				rows.Close()
				return nil, nil, &MigrationError{Schema: s.String(), Err: err}
			}
			done[k] = sum
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, &MigrationError{Schema: s.String(), Err: err}
		}
	}
	for _, set := range sets {
		migs, err := set.Load()
		if err != nil {
			return nil, nil, &MigrationError{Schema: s.String(), Set: set.Name, Err: err}
		}
		for _, mig := range migs {
			key := set.Name + "/" + mig.Version
			sum, ok := done[key]
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
