package main

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantkit/tenantkit/tenancy"
	"github.com/tenantkit/tenantkit/users"
)

// TestSignup checks the sign-up form's answers, and that a refused sign
// up leaves neither a user nor a tenant behind.
func TestSignup(t *testing.T) {
	t.Parallel()
	srv, a := newServer(t)
	ctx := t.Context()
	ok := url.Values{"email": {"new@example.org"}, "password": {"a good password"}, "name": {"New Co"}, "slug": {"newco"}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for key, vals := range ok {
			f[key] = vals
		}
		f.Set(k, v)
		return f
	}
	tests := []struct {
		name       string
		form       url.Values
		wantStatus int
		wantBody   string
	}{
		{"bad email", with("email", "not an email"), 400, "not an email address"},
		{"short password", with("password", "short"), 400, "at least 10 characters"},
		{"long password", with("password", strings.Repeat("x", 201)), 400, "too long"},
		{"no name", with("name", "  "), 400, "needs a name"},
		{"bad slug", with("slug", "Not_A-slug!"), 400, "lower-case letters"},
		{"reserved-length slug", with("slug", strings.Repeat("a", 64)), 400, "lower-case letters"},
		{"taken slug", with("slug", "acme"), 409, "address is taken"},
		{"existing email", with("email", "ALICE@example.com"), 409, "log in instead"},
		{"created", ok, 303, ""},
		{"same again", with("slug", "newco2"), 409, "log in instead"},
	}
	var welcome string // where the sign up leads
	var newUser *browser
	for _, tt := range tests {
		b := newBrowser(t, srv, "localhost")
		tt.form.Set("csrf", b.csrf("/signup"))
		r := b.postForm("/signup", tt.form)
		expectStatus(t, tt.name, r, tt.wantStatus)
		if !strings.Contains(r.body, tt.wantBody) {
			t.Errorf("%s: body lacks %q:\n%s", tt.name, tt.wantBody, r.body)
		}
		if tt.wantStatus == 303 {
			welcome, newUser = r.header.Get("Location"), b
			if b.cookies["tenantkit_session"] == "" {
				t.Errorf("%s: not logged in after sign up", tt.name)
			}
		}
	}
	// The welcome page waits for the worker, then links to the tenant.
	waitReady(t, newUser, welcome)
	// It is the owner's alone.
	bob := newBrowser(t, srv, "localhost").mustLogin(bobEmail, bobPassword)
	expectStatus(t, "welcome page of another's tenant", bob.get(welcome), 404)
	expectStatus(t, "welcome page, anonymous", newBrowser(t, srv, "localhost").get(welcome), 404)
	expectStatus(t, "welcome page, bad id", newUser.get("/welcome?tenant=x"), 404)
	expectStatus(t, "welcome page, unknown id", newUser.get("/welcome?tenant=999999"), 404)
	// Refusals wrote nothing: the taken slug's user does not exist, the
	// bad emails' tenants do not exist.
	if _, err := a.mgr.Users().ByEmail(ctx, "new@example.org"); err != nil {
		t.Fatalf("the created user: %v", err)
	}
	var users, tenants int
	if err := a.mgr.DB().Unwrap().Get(&users, `SELECT count(*) FROM tenantkit_users`); err != nil {
		t.Fatal(err)
	}
	if err := a.mgr.DB().Unwrap().Get(&tenants, `SELECT count(*) FROM tenantkit_tenants`); err != nil {
		t.Fatal(err)
	}
	if users != 4 || tenants != 4 { // admin, alice, bob + new; public, acme, globex + newco
		t.Fatalf("%d users and %d tenants after sign ups, want 4 and 4", users, tenants)
	}
	// The new tenant answers on its host, and its owner may manage it.
	owner := newBrowser(t, srv, "newco.localhost").mustLogin("new@example.org", "a good password")
	expectStatus(t, "owner GET /", owner.get("/"), 200)
	r := owner.get("/members")
	expectStatus(t, "owner GET /members", r, 200)
	if !strings.Contains(r.body, "new@example.org") || !strings.Contains(r.body, "superuser") {
		t.Fatalf("members page of the new tenant:\n%s", r.body)
	}
}

// waitReady loads the welcome page at path until it links to the new
// tenant (the provisioning worker has finished), for at most 10 seconds.
func waitReady(t *testing.T, b *browser, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := b.get(path)
		expectStatus(t, "welcome page", r, 200)
		switch {
		case strings.Contains(r.body, `class="tenant-link"`):
			return
		case strings.Contains(r.body, "could not be created"):
			t.Fatalf("provisioning failed:\n%s", r.body)
		case time.Now().After(deadline):
			t.Fatalf("tenant still not ready after 10s:\n%s", r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMembers checks the members page's actions and their answers to bad
// input, and who may use them.
func TestMembers(t *testing.T) {
	t.Parallel()
	srv, a := newServer(t)
	ctx := t.Context()
	acme, err := a.mgr.BySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	alice, err := a.mgr.Users().ByEmail(ctx, aliceEmail)
	if err != nil {
		t.Fatal(err)
	}
	carol, err := a.mgr.Users().CreateUser(ctx, "carol@example.com", "carol-password", true)
	if err != nil {
		t.Fatal(err)
	}
	owner := newBrowser(t, srv, "acme.localhost").mustLogin(aliceEmail, alicePassword)
	post := func(name string, form url.Values, want int, wantBody string) {
		t.Helper()
		form.Set("csrf", owner.csrf("/members"))
		r := owner.postForm("/members", form)
		expectStatus(t, name, r, want)
		if !strings.Contains(r.body, wantBody) {
			t.Errorf("%s: body lacks %q:\n%s", name, wantBody, r.body)
		}
	}
	id := func(u int64) string { return strconv.FormatInt(u, 10) }
	tests := []struct {
		name     string
		form     url.Values
		want     int
		wantBody string
	}{
		{"add carol", url.Values{"action": {"add"}, "email": {"Carol@example.com"}}, 303, ""},
		{"add carol again", url.Values{"action": {"add"}, "email": {"carol@example.com"}}, 409, "Already a member"},
		{"add nobody", url.Values{"action": {"add"}, "email": {"nobody@example.com"}}, 404, "sign up first"},
		{"carol joins readers", url.Values{"action": {"join"}, "user": {id(carol.ID)}, "group": {"readers"}}, 303, ""},
		{"unknown group", url.Values{"action": {"join"}, "user": {id(carol.ID)}, "group": {"admins"}}, 400, "No such group"},
		{"grant unknown perm", url.Values{"action": {"grant"}, "user": {id(carol.ID)}, "perm": {"notes.delete"}}, 400, "No such permission"},
		{"grant bad codename", url.Values{"action": {"grant"}, "user": {id(carol.ID)}, "perm": {"x') OR true --"}}, 400, "No such permission"},
		{"grant to a non-member", url.Values{"action": {"grant"}, "user": {"999999"}, "perm": {"notes.add"}}, 404, "No such member"},
		{"bad user id", url.Values{"action": {"join"}, "user": {"1 OR 1=1"}, "group": {"readers"}}, 400, "No such member"},
		{"remove the owner", url.Values{"action": {"remove"}, "user": {id(alice.ID)}}, 400, "owner cannot be removed"},
		{"unknown action", url.Values{"action": {"drop"}}, 400, "Unknown action"},
		{"group without name", url.Values{"action": {"group"}, "name": {" "}}, 400, "needs a name"},
		{"group with unknown perm", url.Values{"action": {"group"}, "name": {"x"}, "perms": {"nope.nope"}}, 400, "No such permission"},
		{"new group", url.Values{"action": {"group"}, "name": {"editors"}, "perms": {"notes.view", "notes.add"}}, 303, ""},
		{"existing group", url.Values{"action": {"group"}, "name": {"editors"}}, 409, "A group has this name"},
	}
	for _, tt := range tests {
		post(tt.name, tt.form, tt.want, tt.wantBody)
	}

	// carol, a reader, may read but not add, and may not manage members.
	carolB := newBrowser(t, srv, "acme.localhost").mustLogin("carol@example.com", "carol-password")
	r := carolB.get("/")
	expectStatus(t, "carol GET /", r, 200)
	if strings.Contains(r.body, `action="/notes"`) || strings.Contains(r.body, `href="/members"`) {
		t.Fatalf("a reader sees the note form or the members link:\n%s", r.body)
	}
	token := carolB.csrf("/")
	expectStatus(t, "carol POST /notes", carolB.postForm("/notes", url.Values{"csrf": {token}, "body": {"x"}}), 403)
	expectStatus(t, "carol GET /members", carolB.get("/members"), 403)
	expectStatus(t, "carol POST /members", carolB.postForm("/members",
		url.Values{"csrf": {token}, "action": {"grant"}, "user": {id(carol.ID)}, "perm": {"notes.add"}}), 403)

	// Given notes.add directly, she may add; revoked, she may not.
	post("grant notes.add", url.Values{"action": {"grant"}, "user": {id(carol.ID)}, "perm": {"notes.add"}}, 303, "")
	expectStatus(t, "carol POST /notes with notes.add", carolB.postForm("/notes", url.Values{"csrf": {token}, "body": {"x"}}), 303)
	post("revoke notes.add", url.Values{"action": {"revoke"}, "user": {id(carol.ID)}, "perm": {"notes.add"}}, 303, "")
	expectStatus(t, "carol POST /notes revoked", carolB.postForm("/notes", url.Values{"csrf": {token}, "body": {"x"}}), 403)

	// Out of readers she cannot read; removed, she is not a member.
	post("carol leaves readers", url.Values{"action": {"leave"}, "user": {id(carol.ID)}, "group": {"readers"}}, 303, "")
	expectStatus(t, "carol GET / without a group", carolB.get("/"), 403)
	post("remove carol", url.Values{"action": {"remove"}, "user": {id(carol.ID)}}, 303, "")
	if ok, err := a.mgr.IsMember(ctx, acme.ID, carol.ID); err != nil || ok {
		t.Fatalf("carol still a member of acme: %v %v", ok, err)
	}
	// Her rights went with her membership: joining again starts empty.
	if err := a.mgr.AddUser(ctx, acme.ID, carol.ID); err != nil {
		t.Fatal(err)
	}
	if has, err := a.mgr.Permissions().HasPerm(tenancy.WithTenant(ctx, acme), carol.ID, "notes.view"); err != nil || has {
		t.Fatalf("carol re-added has notes.view = %v (%v), want false", has, err)
	}
}

var formRE = regexp.MustCompile(`(?s)<form[^>]*method="post".*?</form>`)

// TestEveryFormHasCSRF loads every page that has forms, as a user who
// sees all of them, and checks that each POST form carries the token.
func TestEveryFormHasCSRF(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t)
	pages := []struct {
		b    *browser
		path string
	}{
		{newBrowser(t, srv, "localhost"), "/signup"},
		{newBrowser(t, srv, "localhost"), "/login"},
		{newBrowser(t, srv, "localhost").mustLogin(bobEmail, bobPassword), "/"},
		{newBrowser(t, srv, "acme.localhost").mustLogin(aliceEmail, alicePassword), "/"},
		{newBrowser(t, srv, "acme.localhost").mustLogin(aliceEmail, alicePassword), "/members"},
	}
	total := 0
	for _, p := range pages {
		r := p.b.get(p.path)
		expectStatus(t, p.b.host+p.path, r, 200)
		forms := formRE.FindAllString(r.body, -1)
		if len(forms) == 0 {
			t.Errorf("%s%s: no forms found", p.b.host, p.path)
		}
		for _, f := range forms {
			if !strings.Contains(f, `name="csrf" value="`+p.b.cookies[csrfCookie]+`"`) {
				t.Errorf("%s%s: a form without the CSRF token:\n%s", p.b.host, p.path, f)
			}
		}
		total += len(forms)
	}
	if total < 10 {
		t.Fatalf("only %d forms checked", total)
	}
	// And every POST route refuses a missing token.
	alice := newBrowser(t, srv, "acme.localhost").mustLogin(aliceEmail, alicePassword)
	for _, path := range []string{"/notes", "/members", "/login", "/logout"} {
		expectStatus(t, "POST "+path+" without token", alice.postForm(path, url.Values{"action": {"add"}, "email": {bobEmail}}), http.StatusForbidden)
	}
	anon := newBrowser(t, srv, "localhost")
	expectStatus(t, "POST /signup without token", anon.postForm("/signup", url.Values{"email": {"x@example.org"}}), http.StatusForbidden)
}

// TestLoginThrottled checks that the login form stops answering for an
// account after users.DefaultLoginThrottle's failures: 429 with
// Retry-After, even for the right password, and the same for an unknown
// email, so the throttle tells nothing about which emails exist.
func TestLoginThrottled(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t)
	for _, email := range []string{aliceEmail, "nobody@example.com"} {
		b := newBrowser(t, srv, "acme.localhost")
		for i := range users.DefaultLoginThrottle.PerAccount {
			expectStatus(t, fmt.Sprintf("%s: failure %d", email, i+1), b.login(email, "wrong"), http.StatusUnauthorized)
		}
		r := b.login(email, alicePassword)
		expectStatus(t, email+": after the limit", r, http.StatusTooManyRequests)
		if r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "too many attempts") {
			t.Fatalf("%s: 429 without Retry-After or message:\n%s", email, r.body)
		}
		if b.cookies["tenantkit_session"] != "" {
			t.Fatalf("%s: a throttled login set a session", email)
		}
	}
	// Another account from the same address is not locked out.
	newBrowser(t, srv, "acme.localhost").mustLogin(bobEmail, bobPassword)
}
