package main

import (
	"context"
	"errors"
	"net/http"
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

// signup creates a user and provisions an organisation (a tenant) owned
// by them, in one transaction: either both exist afterwards or neither
// does. The new user is logged in on the public site, which lists the
// organisation; its own host has its own session (cookies are host-only).
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

	u, err := a.createAccount(r.Context(), email, password, name, slug)
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
		http.Redirect(w, r, "/?notice=signedup", http.StatusSeeOther)
	}
}

// createAccount creates the user and their tenant in one transaction.
func (a *app) createAccount(ctx context.Context, email, password, name, slug string) (*users.User, error) {
	tx, err := a.mgr.DB().Unwrap().BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	u, err := a.mgr.CreateUserTx(ctx, tx, email, password, true)
	if err != nil {
		return nil, err
	}
	if _, _, err := a.mgr.ProvisionTx(ctx, tx, name, slug, u.ID); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	a.mgr.FlushCache() // a "no such host" answer cached for the new domain
	return u, nil
}
