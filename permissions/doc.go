// Package permissions keeps each tenant's rights inside that tenant's
// schema, on Django's model: a member's superuser and staff flags, a
// registry of permissions ("notes.add": codename "app.action", a readable
// name, and the app it belongs to), groups that hold permissions, users in
// groups, and permissions granted to users directly.
//
// Every method works on the tenant carried by the context
// (tenancy.WithTenant, or middleware.Tenant for a request) and fails
// closed with ErrNoTenant without one, so rights granted in one tenant can
// never be read in another.
//
// # Registry
//
// Register adds permissions to a tenant; a tenant migration may do the same
// with INSERT INTO tenantkit_permissions (codename, name). Permissions
// lists them with their app, the part of the codename before the dot.
//
// # Checks
//
// HasPerm, HasPerms, HasModulePerms, AllPermissions, GroupPermissions and
// UserPermissions answer as Django's ModelBackend does, for the tenant in
// the context: the tenant's superuser has every permission; an active
// member has those granted directly or through a group; a user who is not
// a member, is inactive or was deleted has none. Staff is a separate flag
// (UserFlags) that grants nothing by itself.
//
// Each check reads the user's whole rights in the tenant in one query.
// Within one request, WithRequestCache (which middleware.Authenticate
// installs) remembers them per tenant schema and user, so repeated checks
// repeat no query; the memo lives only as long as the request's context,
// and a write through the Store forgets the tenant's entries.
//
// Membership itself (the row in tenantkit_user_tenant_permissions, and the
// shared memberships table) is managed by tenancy.Manager's AddUser,
// RemoveUser, Provision and TransferOwnership.
package permissions
