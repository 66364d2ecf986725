package tenancy_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/sqlxschema"
	"github.com/tenantkit/tenantkit/tenancy"
)

// Send a tenant's read-only work to ReadDB. With
// tenancy.WithReadReplica(replicaPool) it runs on the replica; without
// one, as here, on the primary pool: read-only either way, on the
// tenant's schema.
func ExampleManager_ReadDB() {
	ctx := context.Background()
	mgr := testkit.ExampleManager() // tenancy.NewManager(db, tenancy.WithReadReplica(replicaPool), ...)
	alice, _ := mgr.Users().CreateUser(ctx, "alice@example.com", "pw", true)
	acme, _, _ := mgr.Provision(ctx, "Acme", "acme", alice.ID)
	ctx = tenancy.WithTenant(ctx, acme)

	mgr.DB().Tx(ctx, func(tx *sqlx.Tx) error { // writes: the primary
		_, err := tx.Exec(`INSERT INTO notes (body, author_id) VALUES ('hello', $1)`, alice.ID)
		return err
	})

	var bodies []string
	err := mgr.ReadDB().Tx(ctx, func(tx *sqlx.Tx) error {
		return tx.Select(&bodies, `SELECT body FROM notes`)
	})
	fmt.Println(bodies, err)

	err = mgr.ReadDB().Tx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.Exec(`DELETE FROM notes`)
		return err
	})
	fmt.Println("write refused:", errors.Is(err, sqlxschema.ErrReadOnly))
	// Output:
	// [hello] <nil>
	// write refused: true
}
