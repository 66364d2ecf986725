package tenancy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tenantkit/tenantkit/sqlxschema"
	"github.com/tenantkit/tenantkit/users"
)

// Errors returned by Manager. Each is wrapped with the operation
// ("tenancy: provision \"acme\": slug exists"); test with errors.Is.
var (
	// ErrTenantNotFound: no live tenant has that id, slug or host
	// (Resolve, Get, DeleteTenant, AddUser, ...).
	ErrTenantNotFound = errors.New("tenant not found")
	// ErrTenantExists: CreatePublicTenant when a public tenant exists.
	ErrTenantExists = errors.New("tenant exists")
	// ErrSlugExists: Provision with a slug a live tenant has.
	ErrSlugExists = errors.New("slug exists")
	// ErrInvalidSlug: Provision with a slug that is not 1 to 63 lower-case
	// letters, digits and inner hyphens, or a reserved one.
	ErrInvalidSlug = errors.New("invalid slug")
	// ErrSchemaExists: Provision with a schema name in use.
	ErrSchemaExists = errors.New("schema exists")
	// ErrInvalidSchema is sqlxschema.ErrInvalidSchema: Provision with an
	// invalid or reserved schema name.
	ErrInvalidSchema = sqlxschema.ErrInvalidSchema
	// ErrDomainExists: Provision when a live tenant has the domain.
	ErrDomainExists = errors.New("domain exists")
	// ErrUnknownType: Provision with a tenant type that was not registered;
	// the error is an *UnknownTypeError that lists the valid types.
	ErrUnknownType = errors.New("unknown tenant type")
	// ErrUnknownColumn: Provision with extra data whose key is not a column
	// the application added to the tenants or domains table.
	ErrUnknownColumn = errors.New("unknown column")
	// ErrUserNotFound is users.ErrNotFound: the owner or user does not exist.
	ErrUserNotFound = users.ErrNotFound
	// ErrUserInactive: the owner or user is inactive or deleted.
	ErrUserInactive = errors.New("user is inactive")
	// ErrAlreadyMember: AddUser for a member.
	ErrAlreadyMember = errors.New("user is already a member")
	// ErrNotMember: RemoveUser for a user who is not a member.
	ErrNotMember = errors.New("user is not a member")
	// ErrCannotRemoveOwner: RemoveUser for the tenant's owner.
	ErrCannotRemoveOwner = errors.New("cannot remove the tenant's owner")
	// ErrCannotDeleteOwner: DeleteUser for the public tenant's owner.
	ErrCannotDeleteOwner = errors.New("cannot delete the public tenant's owner")
	// ErrPublicTenant: DeleteTenant for the public tenant.
	ErrPublicTenant = errors.New("cannot delete the public tenant")
	// ErrNoPublicTenant: an operation that needs the public tenant (its
	// owner takes over deleted tenants) before CreatePublicTenant ran.
	ErrNoPublicTenant = errors.New("no public tenant: call CreatePublicTenant first")
	// ErrInvalidHost: Resolve with a host that is not a valid domain name.
	ErrInvalidHost = errors.New("invalid host")
)

// UnknownTypeError is returned by Provision for an unregistered type.
type UnknownTypeError struct {
	Type  string
	Valid []string
}

func (e *UnknownTypeError) Error() string {
	return fmt.Sprintf("unknown tenant type %q (valid: %s)", e.Type, strings.Join(e.Valid, ", "))
}

// Is makes errors.Is(err, ErrUnknownType) true.
func (e *UnknownTypeError) Is(target error) bool { return target == ErrUnknownType }

// UnknownColumnError is returned by Provision for extra data naming a
// column the table does not have.
type UnknownColumnError struct {
	Table  string
	Column string
}

func (e *UnknownColumnError) Error() string {
	return fmt.Sprintf("%s has no column %q for extra data", e.Table, e.Column)
}

// Is makes errors.Is(err, ErrUnknownColumn) true.
func (e *UnknownColumnError) Is(target error) bool { return target == ErrUnknownColumn }
