// Package permissions keeps each tenant's rights inside that tenant's
// schema: a member's superuser and staff flags, registered permissions
// ("notes.add"), groups of permissions, and direct grants.
//
// Every method works on the tenant carried by the context
// (tenancy.WithTenant, or middleware.Tenant for a request) and fails
// closed with ErrNoTenant without one, so rights granted in one tenant can
// never be read in another.
//
// # Checks
//
// HasPerm and HasPerms answer true for the tenant's superuser, and for a
// member who holds every named permission directly or through a group. A
// user who is not a member, is inactive or was deleted has no permission.
// Each check is one query.
//
// Membership itself (the row in tenantkit_user_tenant_permissions, and the
// shared memberships table) is managed by tenancy.Manager's AddUser,
// RemoveUser, Provision and TransferOwnership.
package permissions
