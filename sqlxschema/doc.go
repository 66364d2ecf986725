// Package sqlxschema gives schema-scoped access to a PostgreSQL database
// through the application's own sqlx pool, and migrates schemas.
//
// # Schema names
//
// A Schema can only be built by ParseSchema (or MustSchema for constants),
// which validates it; it reaches SQL text only through Quoted, so a schema
// name is never unquoted or unvalidated.
//
// # Scoped access
//
// DB.Tx runs a function in a transaction whose search_path is the schema in
// the context (SET LOCAL: it ends with the transaction, so it is safe behind
// PgBouncer's transaction pooling). DB.Conn pins a connection whose path is
// reset when it is closed, and discarded if the reset fails. Neither ever
// sets the path on the pool itself. Without a schema in the context both
// fail closed with ErrNoSchema.
//
// The tenant's search_path holds its schema alone (plus the extra schemas
// given to New), so an unqualified table name never falls through to the
// shared schema, and a missing schema makes queries fail instead of reading
// another schema's tables.
//
// # Read-only work
//
// A DB made WithReadOnly begins every transaction READ ONLY (keeping the
// isolation level asked for), with the same schema handling: point it at
// a pool of read replicas, or at the primary pool for work that must not
// write. A write in it fails with an error matching ErrReadOnly, and its
// pinned connections are refused (ErrReadOnlyConn), since outside a
// transaction read-only cannot be enforced.
//
// # Migrations
//
// A Set is a named folder of numbered SQL files. Migrator.Apply brings one
// schema up to date in one transaction under an advisory lock, recording
// each file and its checksum in the schema's own tenantkit_migrations
// table; ApplyAll does many schemas with bounded parallel workers.
//
// # Self-contained schemas
//
// CheckSelfContained reads the catalog to tell whether a schema stands
// alone: no foreign key, view, sequence, type or function that reaches
// into another schema (extensions and pg_catalog aside), and none of what
// Citus refuses in a distributed schema (inheritance, foreign tables,
// extensions installed in it). Such a schema can move to a node of its own,
// as Citus schema-based sharding moves each tenant schema to a worker.
// Migrator.WithCheck(SelfContained()) runs the check in each schema's
// migration transaction, so a migration that would break it is rolled back
// with a *SelfContainedError naming every offending object.
package sqlxschema
