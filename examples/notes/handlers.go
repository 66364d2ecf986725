package main

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tenantkit/tenantkit/permissions"
	"github.com/tenantkit/tenantkit/tenancy"
	"github.com/tenantkit/tenantkit/users"
)

// page is what the templates get.
type page struct {
	Title      string
	Tenant     *tenancy.Tenant // the tenant of the request's host
	User       *users.User     // nil when anonymous
	CSRF       string          // token for the forms
	Home       string          // the public site's address
	BaseDomain string          // tenants are slug.BaseDomain
	Tenants    []tenantRef     // the switcher: the user's tenants
	Manage     bool            // the user may manage this tenant's members

	Error   string     // a message for the user
	Notice  string     // a message for the user, not an error
	Email   string     // login, sign up: the email typed
	Next    string     // login: where to go afterwards
	Notes   []noteView // notes page
	CanAdd  bool       // notes page: show the form
	Name    string     // sign up: the organisation's name typed
	Slug    string     // sign up: the address typed
	Members []memberView
	Groups  []permissions.Group
	Perms   []permissions.Permission
	New     *newTenant // welcome page
}

type tenantRef struct {
	Name, URL string
	Current   bool
}

type noteView struct {
	note
	Author string
}

// newPage fills the fields every page has: for a logged-in user, the
// switcher's list of tenants and whether the members page is theirs to
// see.
func (a *app) newPage(w http.ResponseWriter, r *http.Request, title string) (page, error) {
	ctx := r.Context()
	t, _ := tenancy.TenantFromContext(ctx)
	u, _ := users.UserFromContext(ctx)
	p := page{Title: title, Tenant: t, User: u, CSRF: csrfToken(w, r), Home: a.publicURL(r), BaseDomain: a.mgr.BaseDomain()}
	if u == nil {
		return p, nil
	}
	ts, err := a.mgr.TenantsOf(ctx, u.ID)
	if err != nil {
		return p, err
	}
	for _, tt := range ts {
		if !tt.IsPublic() {
			p.Tenants = append(p.Tenants, tenantRef{Name: tt.Name, URL: a.tenantURL(r, &tt), Current: t != nil && tt.ID == t.ID})
		}
	}
	if t != nil && !t.IsPublic() {
		if p.Manage, err = a.mgr.Permissions().HasPerm(ctx, u.ID, permManage); err != nil {
			return p, err
		}
	}
	return p, nil
}

// render writes the page with status, or a 500 if the template fails.
func (a *app) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	var buf bytes.Buffer
	if err := a.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// fail logs err and answers 500 with nothing internal in the body.
func (a *app) fail(w http.ResponseWriter, r *http.Request, err error) {
	a.log.ErrorContext(r.Context(), "notes: request failed", "err", err,
		"method", r.Method, "host", r.Host, "path", r.URL.Path)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

// home is the public site's front page: the user's tenants, or links to
// log in and sign up.
func (a *app) home(w http.ResponseWriter, r *http.Request) {
	p, err := a.newPage(w, r, "tenantkit notes")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p.Notice = noticeText(r.URL.Query().Get("notice"))
	a.render(w, r, http.StatusOK, "home.html", p)
}

// tenantURL is the address of t's primary domain (slug.<base domain>),
// with the scheme and port the request came in with.
func (a *app) tenantURL(r *http.Request, t *tenancy.Tenant) string {
	u := url.URL{Scheme: "http", Host: t.Slug + "." + a.mgr.BaseDomain(), Path: "/"}
	if r.TLS != nil {
		u.Scheme = "https"
	}
	if _, port, err := net.SplitHostPort(r.Host); err == nil {
		u.Host = net.JoinHostPort(u.Host, port)
	}
	return u.String()
}

// publicURL is the address of the public site (the base domain), with the
// scheme and port the request came in with.
func (a *app) publicURL(r *http.Request) string {
	u := url.URL{Scheme: "http", Host: a.mgr.BaseDomain(), Path: "/"}
	if r.TLS != nil {
		u.Scheme = "https"
	}
	if _, port, err := net.SplitHostPort(r.Host); err == nil {
		u.Host = net.JoinHostPort(u.Host, port)
	}
	return u.String()
}

func (a *app) loginForm(w http.ResponseWriter, r *http.Request) {
	p, err := a.newPage(w, r, "Log in")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p.Next = safeNext(r.URL.Query().Get("next"))
	p.Email = r.URL.Query().Get("email")
	p.Notice = noticeText(r.URL.Query().Get("notice"))
	a.render(w, r, http.StatusOK, "login.html", p)
}

// login checks the credentials and starts a session on this host. Every
// failure gets the same answer, so it does not tell which emails exist;
// too many failures for the account or the client address get 429
// (users.Login's throttle).
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	email, password := r.PostFormValue("email"), r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	u, err := a.mgr.Users().Login(r.Context(), email, password, clientAddr(r))
	var throttled *users.ThrottledError
	if errors.Is(err, users.ErrInvalidCredentials) || errors.As(err, &throttled) {
		p, perr := a.newPage(w, r, "Log in")
		if perr != nil {
			a.fail(w, r, perr)
			return
		}
		p.Email, p.Next, p.Error = email, next, "invalid email or password"
		status := http.StatusUnauthorized
		if throttled != nil {
			p.Error, status = "too many attempts: try again later", http.StatusTooManyRequests
			w.Header().Set("Retry-After", strconv.Itoa(int(throttled.RetryAfter.Seconds())+1))
		}
		a.render(w, r, status, "login.html", p)
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.mw.LogIn(w, r, u); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if err := a.mw.LogOut(w, r); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// clientAddr is the client's IP address, for the login throttle. The demo
// is reached directly; behind a proxy, take it from the proxy's header.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	return host
}

// noticeText turns a notice code from a redirect's query into its text, so
// that no text from the URL reaches the page.
func noticeText(code string) string {
	switch code {
	case "added":
		return "Member added."
	}
	return ""
}

// safeNext keeps a redirect target on this host: a path, not "//host" or
// a full URL. Anything else becomes "/".
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

// notesPage lists the tenant's notes, with a form for those who may add.
// tenantHome is a tenant's front page: for anonymous visitors a page that
// names the tenant and links to its login, for users the notes (through
// notes, which checks membership and notes.view).
func (a *app) tenantHome(notes http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := users.UserFromContext(r.Context()); ok {
			notes.ServeHTTP(w, r)
			return
		}
		p, err := a.newPage(w, r, "")
		if err != nil {
			a.fail(w, r, err)
			return
		}
		p.Title = p.Tenant.Name
		a.render(w, r, http.StatusOK, "landing.html", p)
	})
}

func (a *app) notesPage(w http.ResponseWriter, r *http.Request) {
	a.renderNotes(w, r, http.StatusOK, "")
}

func (a *app) renderNotes(w http.ResponseWriter, r *http.Request, status int, msg string) {
	ctx := r.Context()
	p, err := a.newPage(w, r, "")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p.Title, p.Error = p.Tenant.Name+" notes", msg
	notes, err := a.listNotes(ctx)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// Tenant tables hold user ids only (no foreign key leaves the tenant
	// schema); the users store knows the emails.
	emails := map[int64]string{}
	for _, n := range notes {
		if _, seen := emails[n.AuthorID]; !seen {
			emails[n.AuthorID] = "a former user"
			if u, err := a.mgr.Users().ByID(ctx, n.AuthorID); err == nil {
				emails[n.AuthorID] = u.Email
			} else if !errors.Is(err, users.ErrNotFound) {
				a.fail(w, r, err)
				return
			}
		}
		p.Notes = append(p.Notes, noteView{note: n, Author: emails[n.AuthorID]})
	}
	if p.CanAdd, err = a.mgr.Permissions().HasPerm(ctx, p.User.ID, "notes.add"); err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, status, "notes.html", p)
}

// addNoteForm adds the posted note and goes back to the list.
func (a *app) addNoteForm(w http.ResponseWriter, r *http.Request) {
	u, _ := users.UserFromContext(r.Context()) // RequirePerm ensures one
	body, err := checkBody(r.PostFormValue("body"))
	if err != nil {
		a.renderNotes(w, r, http.StatusBadRequest, "Note not added: "+err.Error()+".")
		return
	}
	if _, err := a.addNote(r.Context(), u.ID, body); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
