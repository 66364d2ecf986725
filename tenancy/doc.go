// Package tenancy manages tenants: each customer organisation gets a row in
// the shared schema, a PostgreSQL schema of its own for its data, and one
// or more domains that resolve to it.
//
// # Setting up
//
//	mgr, err := tenancy.NewManager(db,
//		tenancy.WithBaseDomain("example.com"),
//		tenancy.WithTenantMigrations(tenantFS))
//	_, err = mgr.Migrate(ctx)                      // shared tables, then every tenant
//	_, _, err = mgr.CreatePublicTenant(ctx, "example.com", "ops@example.com")
//
// NewManager does no I/O; schema changes happen only in Migrate,
// CreatePublicTenant and Provision.
//
// # Lifecycle
//
// Provision creates a tenant, its schema, its migrations, its primary
// domain slug.<base> and its owner's membership in one transaction: all or
// nothing. DeleteTenant and DeleteUser are soft: rows and schemas stay.
// AddUser, RemoveUser and TransferOwnership manage members; each write has
// a Tx variant that runs inside the caller's transaction. RestoreTenant,
// PurgeTenant, CloneTenant and RestoreUser complete the cycle; Hooks run
// inside the transaction or after it (see Hooks); docs/lifecycle.md in
// the repository describes every step.
//
// # Asynchronous provisioning
//
// ReserveTx records a tenant in state pending (row and domain, no schema),
// FinishProvision builds it in a worker, FailProvision gives up on it with
// a reason. Package tenancy/riverprovision drives these steps with River;
// any other job queue can.
//
// # Citus
//
// WithCitusCheck keeps every tenant schema self-contained (no foreign key,
// view, sequence, type or function reaching into the shared schema), so a
// deployment can move to Citus schema-based sharding, each tenant schema
// on a worker; CheckCitus checks the schemas that exist. docs/citus.md in
// the repository walks through the move.
//
// # Requests
//
// Resolve maps a Host header value to its live tenant (NormalizeHost
// describes the accepted forms). WithTenant puts a tenant, and its schema,
// in a context; sqlxschema and permissions read it from there.
//
// # Read replicas
//
// WithReadReplica gives a pool on a read replica; ReadDB hands out
// read-only transactions on it with each tenant's search_path, exactly as
// DB does on the primary, and falls back to the primary pool (still read
// only) when no replica is configured. Replicas lag: read through DB what
// must include a write just made. Host resolution, memberships,
// permissions and sessions always use the primary.
//
// # Errors
//
// Every error wraps one of the sentinels in errors.go, and the driver's
// errors are translated, so callers test with errors.Is and never import
// the driver.
package tenancy
