package permissions

import "errors"

var (
	// ErrNoTenant is returned when the context carries no tenant schema
	// (see tenancy.WithTenant): checks fail closed.
	ErrNoTenant = errors.New("permissions: no tenant in context")
	// ErrInvalidPermission is returned for a codename that is not
	// "app.action" in lower-case letters, digits and underscores.
	ErrInvalidPermission = errors.New("permissions: invalid permission codename")
	// ErrUnknownPermission is returned by Grant and CreateGroup for a
	// codename not registered in the tenant (Register, or a migration).
	ErrUnknownPermission = errors.New("permissions: unknown permission")
	// ErrUnknownGroup is returned for a group name the tenant does not have.
	ErrUnknownGroup = errors.New("permissions: unknown group")
	// ErrGroupExists is returned by CreateGroup for a name in use.
	ErrGroupExists = errors.New("permissions: group exists")
	// ErrNotMember is returned when the user is not a member of the tenant.
	ErrNotMember = errors.New("permissions: user is not a member of the tenant")
)
