package permissions_test

import (
	"errors"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/permissions"
	"github.com/tenantkit/tenantkit/sqlxschema"
)

// TestWritesInTheCallersTransaction: every ...Tx write joins the caller's
// transaction (its rollback undoes it, its commit publishes it) and leaves
// that transaction's search_path as it found it.
func TestWritesInTheCallersTransaction(t *testing.T) {
	w := newWorld(t)
	db := w.m.DB().Unwrap()
	steps := []struct {
		name  string
		write func(tx *sqlx.Tx) error
		seen  func() bool // whether the write is visible outside tx
	}{
		{"RegisterTx", func(tx *sqlx.Tx) error {
			return w.p.RegisterTx(w.acme, tx, permissionOf("notes.pin", "Can pin notes"))
		}, func() bool { return w.registered(t, "notes.pin") }},
		{"CreateGroupTx", func(tx *sqlx.Tx) error { return w.p.CreateGroupTx(w.acme, tx, "readers", "notes.view") },
			func() bool { return w.group(t, "readers") != nil }},
		{"SetGroupPermissionsTx", func(tx *sqlx.Tx) error {
			return w.p.SetGroupPermissionsTx(w.acme, tx, "readers", "notes.view", "notes.pin")
		}, func() bool { g := w.group(t, "readers"); return g != nil && len(g.Permissions) == 2 }},
		{"AddToGroupTx", func(tx *sqlx.Tx) error { return w.p.AddToGroupTx(w.acme, tx, w.reader.ID, "readers") },
			func() bool { return w.has(t, w.acme, w.reader, "notes.pin") }},
		{"GrantTx", func(tx *sqlx.Tx) error { return w.p.GrantTx(w.acme, tx, w.reader.ID, "notes.add") },
			func() bool { return w.has(t, w.acme, w.reader, "notes.add") }},
		{"RevokeTx", func(tx *sqlx.Tx) error { return w.p.RevokeTx(w.acme, tx, w.reader.ID, "notes.add") },
			func() bool { return !w.has(t, w.acme, w.reader, "notes.add") }},
		{"RemoveFromGroupTx", func(tx *sqlx.Tx) error { return w.p.RemoveFromGroupTx(w.acme, tx, w.reader.ID, "readers") },
			func() bool { return !w.has(t, w.acme, w.reader, "notes.pin") }},
		{"SetFlagsTx", func(tx *sqlx.Tx) error {
			return w.p.SetFlagsTx(w.acme, tx, w.reader.ID, flags(true, false))
		}, func() bool { return w.has(t, w.acme, w.reader, "notes.add") }},
		{"DeleteGroupTx", func(tx *sqlx.Tx) error { return w.p.DeleteGroupTx(w.acme, tx, "readers") },
			func() bool { return w.group(t, "readers") == nil }},
	}
	for _, st := range steps {
		for _, commit := range []bool{false, true} {
			tx := db.MustBegin()
			tx.MustExec(`SET LOCAL search_path TO pg_catalog`)
			if err := st.write(tx); err != nil {
				tx.Rollback()
				t.Fatalf("%s: %v", st.name, err)
			}
			var path string
			if err := tx.Get(&path, `SHOW search_path`); err != nil || path != "pg_catalog" {
				t.Fatalf("%s: the caller's search_path became %q (%v)", st.name, path, err)
			}
			if st.seen() {
				t.Fatalf("%s: visible before the caller committed", st.name)
			}
			if !commit {
				tx.Rollback()
				if st.seen() {
					t.Fatalf("%s: visible after the caller rolled back", st.name)
				}
				continue
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if !st.seen() {
				t.Fatalf("%s: not visible after the caller committed", st.name)
			}
		}
	}

	// A refused write leaves the error, not a half-done change; no tenant
	// in ctx fails closed.
	tx := db.MustBegin()
	defer tx.Rollback()
	if err := w.p.GrantTx(t.Context(), tx, w.reader.ID, "notes.add"); !errors.Is(err, sqlxschema.ErrNoSchema) {
		t.Fatalf("GrantTx without a tenant = %v, want ErrNoSchema", err)
	}
}

func permissionOf(codename, name string) permissions.Permission {
	return permissions.Permission{Codename: codename, Name: name}
}

func flags(superuser, staff bool) permissions.Flags {
	return permissions.Flags{IsSuperuser: superuser, IsStaff: staff}
}

func (w *world) registered(t *testing.T, codename string) bool {
	t.Helper()
	perms, err := w.p.Permissions(w.acme)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range perms {
		if p.Codename == codename {
			return true
		}
	}
	return false
}

func (w *world) group(t *testing.T, name string) *permissions.Group {
	t.Helper()
	groups, err := w.p.Groups(w.acme)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if g.Name == name {
			return &g
		}
	}
	return nil
}
