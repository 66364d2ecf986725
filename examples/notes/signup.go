package main

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tenantkit/tenantkit/tenancy"
	"github.com/tenantkit/tenantkit/users"
)

// Password rules of the sign-up form: long enough to resist guessing,
// short enough to hash cheaply.
const (
	minPasswordLen = 10
	maxPasswordLen = 200
	maxNameLen     = 100
)

// signupForm shows the sign-up form on the public site.
func (a *app) signupForm(w http.ResponseWriter, r *http.Request) {
	p, err := a.newPage(w, r, "Sign up")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "signup.html", p)
}

// signup creates a user and reserves an organisation (a tenant) owned by
// them, in one transaction: either both exist afterwards or neither does.
// A background worker then builds the tenant's schema (riverprovision);
// meanwhile its host answers 503 "being prepared". The new user is logged
// in on the public site and sent to the welcome page, which waits for the
// tenant and links to it; its own host has its own session (cookies are
// host-only).
func (a *app) signup(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	password := r.PostFormValue("password")
	name := strings.TrimSpace(r.PostFormValue("name"))
	slug := strings.ToLower(strings.TrimSpace(r.PostFormValue("slug")))

	again := func(status int, msg string) {
		p, err := a.newPage(w, r, "Sign up")
		if err != nil {
			a.fail(w, r, err)
			return
		}
		p.Email, p.Name, p.Slug, p.Error = email, name, slug, msg
		a.render(w, r, status, "signup.html", p)
	}
	switch n := utf8.RuneCountInString(password); {
	case n < minPasswordLen:
		again(http.StatusBadRequest, "The password needs at least 10 characters.")
		return
	case n > maxPasswordLen || !utf8.ValidString(password):
		again(http.StatusBadRequest, "The password is too long.")
		return
	case name == "" || utf8.RuneCountInString(name) > maxNameLen || !utf8.ValidString(name) || strings.ContainsRune(name, 0):
		again(http.StatusBadRequest, "The organisation needs a name of at most 100 characters.")
		return
	}

	u, t, err := a.createAccount(r.Context(), email, password, name, slug)
	switch {
	case errors.Is(err, users.ErrInvalidEmail):
		again(http.StatusBadRequest, "That is not an email address.")
	case errors.Is(err, users.ErrExists), errors.Is(err, users.ErrDeleted):
		again(http.StatusConflict, "An account with this email exists: log in instead.")
	case errors.Is(err, tenancy.ErrInvalidSlug):
		again(http.StatusBadRequest, "The address needs 1 to 63 lower-case letters, digits and inner dashes.")
	case errors.Is(err, tenancy.ErrSlugExists), errors.Is(err, tenancy.ErrSchemaExists), errors.Is(err, tenancy.ErrDomainExists):
		again(http.StatusConflict, "That address is taken: choose another.")
	case err != nil:
		a.fail(w, r, err)
	default:
		if err := a.mw.LogIn(w, r, u); err != nil {
			a.fail(w, r, err)
			return
		}
		http.Redirect(w, r, "/welcome?tenant="+strconv.FormatInt(t.ID, 10), http.StatusSeeOther)
	}
}

// createAccount creates the user and reserves their tenant, and queues
// its provisioning, in one transaction.
func (a *app) createAccount(ctx context.Context, email, password, name, slug string) (*users.User, *tenancy.Tenant, error) {
	tx, err := a.mgr.DB().Unwrap().BeginTxx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	u, err := a.mgr.CreateUserTx(ctx, tx, email, password, true)
	if err != nil {
		return nil, nil, err
	}
	res, err := a.queue.ProvisionAsyncTx(ctx, tx, name, slug, u.ID)
	if err != nil {
		return nil, nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, err
	}
	a.mgr.FlushCache() // a "no such host" answer cached for the new domain
	return u, res.Tenant, nil
}

// welcome shows the signed-up user's new tenant: "being prepared" (the
// page reloads itself every second) until the worker has built it, then a
// link to it. Only the tenant's owner sees it; anyone else gets 404.
func (a *app) welcome(w http.ResponseWriter, r *http.Request) {
	p, err := a.newPage(w, r, "Welcome")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	id, err := strconv.ParseInt(r.URL.Query().Get("tenant"), 10, 64)
	if p.User == nil || err != nil {
		http.NotFound(w, r)
		return
	}
	t, err := a.mgr.Get(r.Context(), id)
	if errors.Is(err, tenancy.ErrTenantNotFound) || (err == nil && t.OwnerID != p.User.ID) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p.New = &newTenant{Name: t.Name, State: t.State, URL: a.tenantURL(r, t)}
	a.render(w, r, http.StatusOK, "welcome.html", p)
}

// newTenant is the welcome page's tenant.
type newTenant struct {
	Name, State, URL string
}
