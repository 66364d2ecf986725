package sqlxschema

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// BaselineTx records the migrations of set up to and including the one
// named through (a version: the file name without ".sql") as applied to
// schema s, without running them, inside the caller's transaction tx. It
// is for a schema that already holds what those files create: a legacy
// application's schema adopted as a tenant, whose tables predate
// tenantkit. Later files of the set run as usual on the next Apply.
//
// It takes the schema's migration lock and creates the bookkeeping table
// like ApplyTx. A file that is already recorded is left alone, unless its
// checksum differs (ErrChecksumMismatch). A through that names no file of
// the set is ErrUnknownVersion, and then nothing is recorded. It returns
// the versions it recorded ("set/version").
func (m *Migrator) BaselineTx(ctx context.Context, tx sqlx.ExtContext, s Schema, set Set, through string) ([]string, error) {
	fail := func(version string, err error) ([]string, error) {
		return nil, &MigrationError{Schema: s.String(), Set: set.Name, Version: version, Err: err}
	}
	migs, err := set.Load()
	if err != nil {
		return fail("", err)
	}
	end := -1
	for i, mig := range migs {
		if mig.Version == through {
			end = i
		}
	}
	if end < 0 {
		return fail(through, ErrUnknownVersion)
	}
	// Lock, path and bookkeeping table, as ApplyTx takes them; no set to run.
	if _, err := m.apply(ctx, tx, s, nil, nil, modeCreate); err != nil {
		return nil, err
	}
	book := s.Qualify(MigrationsTable)
	done, err := readBookkeeping(ctx, tx, "SELECT set_name, version, checksum FROM "+book)
	if err != nil {
		return fail("", err)
	}
	var recorded []string
	for _, mig := range migs[:end+1] {
		if sum, ok := done[bookKey{set.Name, mig.Version}]; ok {
			if sum != mig.Checksum {
				return fail(mig.Version, ErrChecksumMismatch)
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+book+` (set_name, version, checksum) VALUES ($1, $2, $3)`,
			set.Name, mig.Version, mig.Checksum); err != nil {
			return fail(mig.Version, fmt.Errorf("record baseline: %w", err))
		}
		recorded = append(recorded, set.Name+"/"+mig.Version)
	}
	return recorded, nil
}
