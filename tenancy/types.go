package tenancy

import "fmt"

// Provisioning states of a tenant (Tenant.State).
const (
	// StateReady: the tenant's schema exists and is migrated. Every tenant
	// made by Provision, CloneTenant and CreatePublicTenant is ready.
	StateReady = "ready"
	// StatePending: ProvisionAsync recorded the tenant and its domain, and
	// a worker has not finished its schema yet. Resolve answers
	// ErrTenantPending for it.
	StatePending = "pending"
	// StateFailed: the worker gave up after its last attempt;
	// Tenant.StateReason says why. The tenant is then also deleted, so its
	// slug and domain are free again.
	StateFailed = "failed"
)

// HasType reports whether typ is a registered tenant type (PublicType
// included).
func (m *Manager) HasType(typ string) bool {
	_, ok := m.types[typ]
	return ok
}

// CheckType returns nil if a tenant of type typ can be provisioned, else an
// *UnknownTypeError (errors.Is ErrUnknownType) whose message lists the
// valid types. PublicType cannot be provisioned.
func (m *Manager) CheckType(typ string) error {
	if err := m.checkType(typ); err != nil {
		return fmt.Errorf("tenancy: %w", err)
	}
	return nil
}
