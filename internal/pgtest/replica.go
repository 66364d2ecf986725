package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// ErrNotReplica is returned by CatchUp on a cluster that StartReplica did
// not start.
var ErrNotReplica = errors.New("pgtest: not a replica (StartReplica makes one)")

// StartReplica starts a hot standby of c: a second server, in a temporary
// directory of its own with its own socket, that streams c's WAL and
// answers read-only queries. It is made with pg_basebackup -R over c's
// unix socket, as the account the servers run as, and started with c's
// settings (a standby needs max_connections and the like at least as
// high as its primary's). The primary needs nothing extra: wal_level is
// "replica" by default, and initdb's pg_hba.conf trusts local replication
// connections. Every database of c is copied, so start the replica of a
// small cluster, not of one many tests have filled.
//
// Call Stop on the replica when done; it does not stop c, and stopping c
// first leaves the replica retrying its connection until it is stopped.
// Use CatchUp before reading what was just written on c.
func (c *Cluster) StartReplica() (*Cluster, error) {
	if c.primary != nil {
		return nil, errors.New("pgtest: StartReplica: a replica of a replica is not supported")
	}
	r, cred, err := newCluster("tenantkit-pg-replica-")
	if err != nil {
		return nil, err
	}
	r.bin, r.primary = c.bin, c
	r.args = append([]string(nil), c.args...)
	cmd := exec.Command(filepath.Join(c.bin, "pg_basebackup"),
		"-h", c.dir, "-p", fmt.Sprint(c.port), "-U", "postgres",
		"-D", filepath.Join(r.dir, "data"),
		"-R",           // standby.signal and primary_conninfo
		"-X", "stream", // the WAL made during the copy, over a second connection
		"--checkpoint=fast", // do not wait for a spread checkpoint
		"--no-sync",         // like the primary's fsync=off
		"--no-verify-checksums",
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = r.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		r.Stop()
		return nil, fmt.Errorf("pgtest: pg_basebackup: %v\n%s", err, out)
	}
	if err := r.launch(cred); err != nil {
		return nil, fmt.Errorf("pgtest: start replica: %w", err)
	}
	return r, nil
}

// CatchUp waits until the replica r has replayed every transaction its
// primary committed before the call, so that r sees them. The primary
// runs with synchronous_commit off, so its latest commits may not even
// be written yet: CatchUp commits a marker transaction with
// synchronous_commit on, which flushes all of the WAL before it, and polls
// r's pg_last_wal_replay_lsn until it reaches the primary's
// pg_current_wal_flush_lsn, until ctx ends. It returns ErrNotReplica on a
// cluster that StartReplica did not start.
func (r *Cluster) CatchUp(ctx context.Context) error {
	if r.primary == nil {
		return ErrNotReplica
	}
	pdb, err := Open(r.primary.DSN("postgres"))
	if err != nil {
		return err
	}
	defer pdb.Close()
	target, err := flushedLSN(ctx, pdb)
	if err != nil {
		return fmt.Errorf("pgtest: catch up: primary's WAL position: %w", err)
	}
	rdb, err := Open(r.DSN("postgres"))
	if err != nil {
		return err
	}
	defer rdb.Close()
	for {
		var done bool
		err := rdb.QueryRowContext(ctx, `SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)`, target).Scan(&done)
		if err != nil {
			return fmt.Errorf("pgtest: catch up to %s: %w", target, err)
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgtest: catch up to %s: %w", target, ctx.Err())
		case <-r.exited:
			log, _ := os.ReadFile(filepath.Join(r.dir, "server.log"))
			return fmt.Errorf("pgtest: catch up: replica exited:\n%s", log)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// flushedLSN commits a transaction that writes WAL (a transactional
// logical message, which nothing decodes) with synchronous_commit on, so
// its commit flushes the WAL up to it, and returns the flushed position:
// every transaction committed before lies before it. A transaction that
// only takes an xid would not do: its commit is asynchronous anyway.
func flushedLSN(ctx context.Context, db *sql.DB) (string, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit = local`); err != nil {
		return "", err
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_logical_emit_message(true, 'pgtest', 'catch up')`); err != nil {
		return "", err
	}
	if err := tx.Commit(); err != nil {
		return "", err
	}
	var lsn string
	err = db.QueryRowContext(ctx, `SELECT pg_current_wal_flush_lsn()::text`).Scan(&lsn)
	return lsn, err
}
