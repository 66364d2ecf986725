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
	// ErrSchemaNotFound: AdoptSchema for a schema that does not exist.
	ErrSchemaNotFound = errors.New("schema not found")
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
	// ErrUserLive: RestoreUser for a user that is not deleted.
	ErrUserLive = errors.New("user is not deleted")
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
	// ErrInvalidHost: Resolve with a host that is not a valid domain name;
	// AddDomain with one, or with an IP address.
	ErrInvalidHost = errors.New("invalid host")
	// ErrTenantPending: Resolve, ResolveSlug, AddUser and the other writes
	// for a tenant that ProvisionAsync created and no worker has finished
	// yet. The error is a *PendingError that carries the tenant.
	ErrTenantPending = errors.New("tenant is being prepared")
	// ErrProvisionFailed: RestoreTenant for a tenant whose asynchronous
	// provisioning failed for good (it has no schema to bring back).
	ErrProvisionFailed = errors.New("tenant provisioning failed")
	// ErrTenantLive: RestoreTenant for a tenant that is not deleted, and
	// PurgeTenant for one that is (delete it first).
	ErrTenantLive = errors.New("tenant is not deleted")
	// ErrDomainNotFound: RemoveDomain and SetPrimaryDomain for a domain the
	// tenant does not have.
	ErrDomainNotFound = errors.New("domain not found")
	// ErrPrimaryDomain: RemoveDomain for the tenant's primary domain (make
	// another one primary first).
	ErrPrimaryDomain = errors.New("cannot remove the primary domain")
	// ErrClonePublic: CloneTenant with the public tenant as the source.
	ErrClonePublic = errors.New("cannot clone the public tenant")
	// ErrCloneUnsupported: CloneTenant for a source schema holding objects
	// that cloning cannot copy (views, functions, triggers, types); the
	// error is a *CloneUnsupportedError that lists them.
	ErrCloneUnsupported = errors.New("cannot clone these objects")
	// ErrInvalidOption: an option given a bad argument (nil hook, empty
	// idempotency key, ...).
	ErrInvalidOption = errors.New("invalid option")
)

// PendingError is returned (wrapped) for a tenant whose asynchronous
// provisioning has not finished: Tenant.State is StatePending.
type PendingError struct {
	Tenant *Tenant
}

func (e *PendingError) Error() string {
	return fmt.Sprintf("tenant %q is being prepared", e.Tenant.Slug)
}

// Is makes errors.Is(err, ErrTenantPending) true.
func (e *PendingError) Is(target error) bool { return target == ErrTenantPending }

// DomainTakenError is returned by RestoreTenant when a live tenant now has
// one of the deleted tenant's domains; nothing is restored.
type DomainTakenError struct {
	Domains []string
}

func (e *DomainTakenError) Error() string {
	return fmt.Sprintf("domain exists: %s is now another tenant's", strings.Join(e.Domains, ", "))
}

// Is makes errors.Is(err, ErrDomainExists) true.
func (e *DomainTakenError) Is(target error) bool { return target == ErrDomainExists }

// CloneUnsupportedError lists the objects of a source schema that
// CloneTenant cannot copy, as "kind name".
type CloneUnsupportedError struct {
	Objects []string
}

func (e *CloneUnsupportedError) Error() string {
	return "cannot clone " + strings.Join(e.Objects, ", ")
}

// Is makes errors.Is(err, ErrCloneUnsupported) true.
func (e *CloneUnsupportedError) Is(target error) bool { return target == ErrCloneUnsupported }

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
