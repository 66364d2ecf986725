package tenancy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"
)

// A tenant has one or more domains, exactly one of them primary (Provision
// makes slug.<base> the primary one). Domains are stored in NormalizeHost's
// form, so "Acme.Example.COM." and "acme.example.com" are one domain, unique
// among live tenants whatever its case.

// normalizeDomain is NormalizeHost for a domain to store: IP addresses are
// refused.
func normalizeDomain(host string) (string, error) {
	h, err := NormalizeHost(host)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(h, "[") || net.ParseIP(h) != nil {
		return "", fmt.Errorf("%w: an IP address cannot be a tenant's domain", ErrInvalidHost)
	}
	return h, nil
}

// AddDomain gives a live tenant another domain, which resolves to it at
// once. With primary true it becomes the primary domain and the previous
// primary one a secondary. It returns the stored domain, or
// ErrInvalidHost, ErrTenantNotFound, ErrTenantPending or ErrDomainExists
// (any live tenant, this one included, has it).
func (m *Manager) AddDomain(ctx context.Context, tenantID int64, host string, primary bool) (*Domain, error) {
	var d *Domain
	err := m.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		d, err = m.AddDomainTx(ctx, tx, tenantID, host, primary)
		return err
	})
	if err != nil {
		return nil, err
	}
	m.domainChanged(tenantID, d.Domain)
	return d, nil
}

// AddDomainTx is AddDomain inside the caller's transaction.
func (m *Manager) AddDomainTx(ctx context.Context, tx *sqlx.Tx, tenantID int64, host string, primary bool) (*Domain, error) {
	h, err := normalizeDomain(host)
	if err != nil {
		return nil, fmt.Errorf("tenancy: add domain: %w", err)
	}
	fail := func(err error) (*Domain, error) {
		return nil, fmt.Errorf("tenancy: add domain %q to tenant %d: %w", h, tenantID, err)
	}
	if _, err := m.lockLiveTenant(ctx, tx, tenantID); err != nil {
		return fail(err)
	}
	var taken bool
	if err := tx.GetContext(ctx, &taken, `SELECT EXISTS (SELECT 1 FROM `+m.t.Domains+` WHERE domain = $1 AND deleted_at IS NULL)`, h); err != nil {
		return fail(err)
	}
	if taken {
		return fail(ErrDomainExists)
	}
	if primary {
		if _, err := tx.ExecContext(ctx, `UPDATE `+m.t.Domains+` SET is_primary = false WHERE tenant_id = $1 AND is_primary AND deleted_at IS NULL`, tenantID); err != nil {
			return fail(err)
		}
	}
	d, err := m.insertDomain(ctx, tx, tenantID, h, primary, nil, nil)
	if err != nil {
		return fail(err)
	}
	return d, nil
}

// RemoveDomain takes a secondary domain from a live tenant; it stops
// resolving at once and its name is free. It returns ErrInvalidHost,
// ErrTenantNotFound, ErrTenantPending, ErrDomainNotFound (the tenant has no
// such live domain) or ErrPrimaryDomain.
func (m *Manager) RemoveDomain(ctx context.Context, tenantID int64, host string) error {
	h, err := normalizeDomain(host)
	if err != nil {
		return fmt.Errorf("tenancy: remove domain: %w", err)
	}
	if err := m.inTx(ctx, func(tx *sqlx.Tx) error { return m.RemoveDomainTx(ctx, tx, tenantID, h) }); err != nil {
		return err
	}
	m.domainChanged(tenantID, h)
	return nil
}

// RemoveDomainTx is RemoveDomain inside the caller's transaction.
func (m *Manager) RemoveDomainTx(ctx context.Context, tx *sqlx.Tx, tenantID int64, host string) error {
	d, err := m.lockDomain(ctx, tx, tenantID, host)
	if err != nil {
		return fmt.Errorf("tenancy: remove domain %q from tenant %d: %w", host, tenantID, err)
	}
	if d.IsPrimary {
		return fmt.Errorf("tenancy: remove domain %q from tenant %d: %w", d.Domain, tenantID, ErrPrimaryDomain)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM `+m.t.Domains+` WHERE id = $1`, d.ID); err != nil {
		return fmt.Errorf("tenancy: remove domain %q: %w", d.Domain, err)
	}
	return nil
}

// SetPrimaryDomain makes one of a live tenant's domains its primary one
// (the previous primary one stays, as a secondary). It returns
// ErrInvalidHost, ErrTenantNotFound, ErrTenantPending or ErrDomainNotFound.
func (m *Manager) SetPrimaryDomain(ctx context.Context, tenantID int64, host string) error {
	h, err := normalizeDomain(host)
	if err != nil {
		return fmt.Errorf("tenancy: set primary domain: %w", err)
	}
	if err := m.inTx(ctx, func(tx *sqlx.Tx) error { return m.SetPrimaryDomainTx(ctx, tx, tenantID, h) }); err != nil {
		return err
	}
	m.domainChanged(tenantID, h)
	return nil
}

// SetPrimaryDomainTx is SetPrimaryDomain inside the caller's transaction.
func (m *Manager) SetPrimaryDomainTx(ctx context.Context, tx *sqlx.Tx, tenantID int64, host string) error {
	d, err := m.lockDomain(ctx, tx, tenantID, host)
	if err != nil {
		return fmt.Errorf("tenancy: set primary domain %q of tenant %d: %w", host, tenantID, err)
	}
	if d.IsPrimary {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE `+m.t.Domains+` SET is_primary = (id = $2) WHERE tenant_id = $1 AND deleted_at IS NULL AND (is_primary OR id = $2)`, tenantID, d.ID); err != nil {
		return fmt.Errorf("tenancy: set primary domain %q: %w", d.Domain, err)
	}
	return nil
}

// PrimaryDomain returns a tenant's live primary domain, or
// ErrDomainNotFound.
func (m *Manager) PrimaryDomain(ctx context.Context, tenantID int64) (*Domain, error) {
	var d Domain
	err := m.db.GetContext(ctx, &d, `SELECT `+domainColumns+` FROM `+m.t.Domains+` WHERE tenant_id = $1 AND is_primary AND deleted_at IS NULL`, tenantID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("tenancy: primary domain of %d: %w", tenantID, ErrDomainNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("tenancy: primary domain of %d: %w", tenantID, err)
	}
	return &d, nil
}

func (m *Manager) lockDomain(ctx context.Context, tx *sqlx.Tx, tenantID int64, host string) (*Domain, error) {
	h, err := normalizeDomain(host)
	if err != nil {
		return nil, err
	}
	if _, err := m.lockLiveTenant(ctx, tx, tenantID); err != nil {
		return nil, err
	}
	var d Domain
	err = tx.GetContext(ctx, &d, `SELECT `+domainColumns+` FROM `+m.t.Domains+` WHERE tenant_id = $1 AND domain = $2 AND deleted_at IS NULL FOR UPDATE`, tenantID, h)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrDomainNotFound
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// domainChanged drops what this process cached about the tenant and the
// domain, after a commit (others hear of it through Watch).
func (m *Manager) domainChanged(tenantID int64, domain string) {
	if m.cache != nil {
		m.cache.invalidate("d:" + strconv.FormatInt(tenantID, 10) + ":" + domain)
	}
}
