package tenancy_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/pgerr"
	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/sqlxschema"
	"github.com/tenantkit/tenantkit/tenancy"
)

// readNotes reads the notes of the tenant in ctx through db, and where the
// transaction ran: on a server in recovery (a standby), read-only.
func readNotes(ctx context.Context, db *sqlxschema.DB) (bodies []string, standby, readOnly bool, err error) {
	err = db.Tx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.SelectContext(ctx, &bodies, `SELECT body FROM notes ORDER BY id`); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT pg_is_in_recovery(), current_setting('transaction_read_only') = 'on'`).Scan(&standby, &readOnly)
	})
	return bodies, standby, readOnly, err
}

func addNote(t *testing.T, m *tenancy.Manager, tn *tenancy.Tenant, body string) {
	t.Helper()
	err := m.DB().Tx(tenancy.WithTenant(t.Context(), tn), func(tx *sqlx.Tx) error {
		_, err := tx.Exec(`INSERT INTO notes (body, author_id) VALUES ($1, $2)`, body, tn.OwnerID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestWithReadReplicaOptions(t *testing.T) {
	t.Parallel()
	db := testkit.DB(t)
	if _, err := tenancy.NewManager(db, tenancy.WithReadReplica(nil)); !errors.Is(err, tenancy.ErrInvalidOption) {
		t.Fatalf("WithReadReplica(nil) = %v", err)
	}
	if _, err := tenancy.NewManager(db, tenancy.WithReadReplica(db), tenancy.WithReadReplica(db)); !errors.Is(err, tenancy.ErrInvalidOption) {
		t.Fatalf("WithReadReplica twice = %v", err)
	}
}

// TestReadDBWithoutReplica: without a replica ReadDB is the primary pool,
// read-only, with the tenant's path exactly as DB's.
func TestReadDBWithoutReplica(t *testing.T) {
	f := setup(t, tenancy.WithExtraSearchPath("extensions"))
	acme := f.provision(t, "acme", f.alice.ID)
	addNote(t, f.m, acme, "acme's note")
	ctx := tenancy.WithTenant(t.Context(), acme)
	if f.m.HasReadReplica() || f.m.ReadDB().Unwrap() != f.m.DB().Unwrap() || !f.m.ReadDB().ReadOnly() || f.m.ReadDB() != f.m.ReadDB() {
		t.Fatal("ReadDB without a replica is not a read-only wrapper of the primary pool")
	}
	bodies, standby, readOnly, err := readNotes(ctx, f.m.ReadDB())
	if err != nil || len(bodies) != 1 || bodies[0] != "acme's note" || standby || !readOnly {
		t.Fatalf("ReadDB read %q (standby %v, read-only %v): %v", bodies, standby, readOnly, err)
	}
	path := func(db *sqlxschema.DB) string {
		var p string
		if err := db.Tx(ctx, func(tx *sqlx.Tx) error { return tx.Get(&p, `SELECT current_setting('search_path')`) }); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if r, w := path(f.m.ReadDB()), path(f.m.DB()); r != w {
		t.Fatalf("ReadDB's search_path %q, DB's %q", r, w)
	}
	err = f.m.ReadDB().Tx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.Exec(`DELETE FROM notes`)
		return err
	})
	if !errors.Is(err, sqlxschema.ErrReadOnly) {
		t.Fatalf("write through ReadDB = %v, want sqlxschema.ErrReadOnly", err)
	}
	if _, err := f.m.ReadDB().Conn(ctx); !errors.Is(err, sqlxschema.ErrReadOnlyConn) {
		t.Fatalf("ReadDB().Conn = %v, want sqlxschema.ErrReadOnlyConn", err)
	}
}

// TestReadReplica runs a Manager against a real streaming replica: reads
// of each tenant's rows go to the standby with the tenant's path, writes
// fail, tenants stay apart, the replica's lag shows and DB reads past it,
// and host resolution stays on the primary.
func TestReadReplica(t *testing.T) {
	t.Parallel()
	primary, err := pgtest.Start(pgtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(primary.Stop)
	replica, err := primary.StartReplica()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(replica.Stop) // runs before the primary's Stop
	ctx := t.Context()
	name, err := primary.CreateDatabase(ctx, "replica")
	if err != nil {
		t.Fatal(err)
	}
	if err := replica.CatchUp(ctx); err != nil { // the database, on the replica
		t.Fatal(err)
	}
	rpool := testkit.DBFromDSN(t, replica.DSN(name))
	m := testkit.ManagerOn(t, testkit.DBFromDSN(t, primary.DSN(name)), tenancy.WithReadReplica(rpool))
	if !m.HasReadReplica() || m.ReadDB().Unwrap() != rpool {
		t.Fatal("ReadDB is not on the replica pool")
	}
	user := func(email string) int64 {
		u, err := m.Users().CreateUser(ctx, email, "", true)
		if err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	if _, _, err := m.CreatePublicTenant(ctx, "example.com", "ops@example.com"); err != nil {
		t.Fatal(err)
	}
	acme, _, err := m.Provision(ctx, "Acme", "acme", user("alice@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	globex, _, err := m.Provision(ctx, "Globex", "globex", user("bob@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	addNote(t, m, acme, "acme 1")
	addNote(t, m, globex, "globex 1")
	if err := replica.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	actx, gctx := tenancy.WithTenant(ctx, acme), tenancy.WithTenant(ctx, globex)
	exec := func(db *sqlx.DB, query string) {
		t.Helper()
		if _, err := db.ExecContext(ctx, query); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}

	t.Run("each tenant reads its own rows on the replica", func(t *testing.T) {
		for _, c := range []struct {
			ctx  context.Context
			want string
		}{{actx, "acme 1"}, {gctx, "globex 1"}} {
			bodies, standby, readOnly, err := readNotes(c.ctx, m.ReadDB())
			if err != nil || len(bodies) != 1 || bodies[0] != c.want || !standby || !readOnly {
				t.Errorf("ReadDB read %q (standby %v, read-only %v): %v; want [%s] on the standby", bodies, standby, readOnly, err, c.want)
			}
		}
	})

	t.Run("a write through ReadDB fails", func(t *testing.T) {
		err := m.ReadDB().Tx(actx, func(tx *sqlx.Tx) error {
			_, err := tx.Exec(`INSERT INTO notes (body, author_id) VALUES ('nope', 1)`)
			return err
		})
		if code, _ := pgerr.Code(err); !errors.Is(err, sqlxschema.ErrReadOnly) || code != "25006" {
			t.Fatalf("write through ReadDB = %v", err)
		}
	})

	t.Run("the replica lags and DB reads past it", func(t *testing.T) {
		exec(rpool, `SELECT pg_wal_replay_pause()`) // WAL from now on waits
		addNote(t, m, acme, "acme 2")
		bodies, _, _, err := readNotes(actx, m.ReadDB())
		if err != nil || len(bodies) != 1 {
			t.Fatalf("ReadDB with replay paused read %q, %v; want only the old note", bodies, err)
		}
		bodies, _, _, err = readNotes(actx, m.DB())
		if err != nil || len(bodies) != 2 {
			t.Fatalf("DB read %q, %v; want both notes", bodies, err)
		}
		// A tenant provisioned meanwhile resolves at once (on the
		// primary), while its schema is not on the replica yet: reads
		// there fail, and read nothing else.
		initech, _, err := m.Provision(ctx, "Initech", "initech", user("carol@example.com"))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := m.Resolve(ctx, "initech.example.com"); err != nil || got.ID != initech.ID {
			t.Fatalf("Resolve a new tenant with replay paused: %v, %v", got, err)
		}
		ictx := tenancy.WithTenant(ctx, initech)
		_, _, _, err = readNotes(ictx, m.ReadDB())
		if code, _ := pgerr.Code(err); code != "42P01" {
			t.Fatalf("ReadDB for a tenant not replicated yet = %v, want undefined_table (42P01)", err)
		}

		exec(rpool, `SELECT pg_wal_replay_resume()`)
		if err := replica.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if bodies, _, _, err := readNotes(actx, m.ReadDB()); err != nil || len(bodies) != 2 {
			t.Fatalf("ReadDB after catching up read %q, %v; want both notes", bodies, err)
		}
		if bodies, standby, _, err := readNotes(ictx, m.ReadDB()); err != nil || len(bodies) != 0 || !standby {
			t.Fatalf("ReadDB for the new tenant after catching up read %q, %v", bodies, err)
		}
	})

	t.Run("tenants stay apart on the replica", func(t *testing.T) {
		// Unqualified names resolve to the context's tenant only, and the
		// shared schema is not on the path.
		for _, c := range []struct {
			ctx  context.Context
			want int
		}{{actx, 2}, {gctx, 1}} {
			var n, shared int
			err := m.ReadDB().Tx(c.ctx, func(tx *sqlx.Tx) error {
				if err := tx.Get(&n, `SELECT count(*) FROM notes`); err != nil {
					return err
				}
				return tx.Get(&shared, `SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename = 'tenantkit_tenants' AND schemaname = ANY (current_schemas(false))`)
			})
			if err != nil || n != c.want || shared != 0 {
				t.Errorf("%d notes (%v), shared tables on the path: %d; want %d and 0", n, err, shared, c.want)
			}
		}
	})
}
