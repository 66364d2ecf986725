package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/tenancy"
	"github.com/tenantkit/tenantkit/users"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// newServer builds the app, demo data included, on a fresh database, with
// cheap password hashing, and serves it.
func newServer(t *testing.T) (*httptest.Server, *app) {
	t.Helper()
	db := testkit.DB(t)
	store, err := users.New(db, users.WithArgon2Params(testkit.FastArgon2))
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(t.Context(), db, tenancy.WithUsers(store))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeApp(t, a) })
	srv := httptest.NewServer(a.routes())
	t.Cleanup(srv.Close)
	return srv, a
}

// closeApp stops the app's provisioning workers.
func closeApp(t *testing.T, a *app) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.close(ctx); err != nil {
		t.Errorf("close app: %v", err)
	}
}

// browser is one user agent talking to one host. Every request goes to the
// test server's 127.0.0.1 address with the Host header set, so a cookie
// jar (which keys by URL host) would mix hosts up: browser keeps the
// host's cookies itself. It does not follow redirects.
type browser struct {
	t       *testing.T
	srv     *httptest.Server
	client  http.Client
	host    string
	cookies map[string]string
}

func newBrowser(t *testing.T, srv *httptest.Server, host string) *browser {
	c := *srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, srv: srv, client: c, host: host, cookies: map[string]string{}}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path, contentType, body string) response {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), method, b.srv.URL+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Host = b.host
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for name, value := range b.cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return response{resp.StatusCode, resp.Header, string(data)}
}

func (b *browser) get(path string) response { b.t.Helper(); return b.do(http.MethodGet, path, "", "") }

func (b *browser) postForm(path string, form url.Values) response {
	b.t.Helper()
	return b.do(http.MethodPost, path, "application/x-www-form-urlencoded", form.Encode())
}

func (b *browser) postJSON(path, body string) response {
	b.t.Helper()
	return b.do(http.MethodPost, path, "application/json", body)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf loads the page at path and returns the CSRF token of its form.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	r := b.get(path)
	m := csrfRE.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		b.t.Fatalf("GET %s %s: no CSRF token (status %d)\n%s", b.host, path, r.status, r.body)
	}
	return m[1]
}

// login logs in through the form, as a person would.
func (b *browser) login(email, password string) response {
	b.t.Helper()
	return b.postForm("/login", url.Values{"csrf": {b.csrf("/login")}, "email": {email}, "password": {password}})
}

// mustLogin logs in and fails the test unless it worked.
func (b *browser) mustLogin(email, password string) *browser {
	b.t.Helper()
	if r := b.login(email, password); r.status != http.StatusSeeOther {
		b.t.Fatalf("log in as %s at %s: status %d, want 303\n%s", email, b.host, r.status, r.body)
	}
	if b.cookies["tenantkit_session"] == "" {
		b.t.Fatalf("log in as %s at %s: no session cookie", email, b.host)
	}
	return b
}

func expectStatus(t *testing.T, what string, r response, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("%s: status %d, want %d\n%s", what, r.status, want, r.body)
	}
}

func decodeNotes(t *testing.T, r response) []note {
	t.Helper()
	var notes []note
	if err := json.Unmarshal([]byte(r.body), &notes); err != nil {
		t.Fatalf("notes JSON: %v\n%s", err, r.body)
	}
	return notes
}

func hasNote(notes []note, body string) bool {
	for _, n := range notes {
		if n.Body == body {
			return true
		}
	}
	return false
}

// TestAnonymous checks what the middleware answers before anyone logs in.
func TestAnonymous(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t)
	tests := []struct {
		name, host, method, path string
		wantStatus               int
		wantLocation             string // for redirects
		wantBody                 string // a substring
	}{
		{"public home", "localhost", "GET", "/", 200, "", "Log in</a> to see"},
		{"public home with port", "localhost:8080", "GET", "/", 200, "", "tenantkit notes"},
		{"public login form", "localhost", "GET", "/login", 200, "", `name="csrf"`},
		{"public host has no API", "localhost", "GET", "/api/notes", 404, "", ""},
		{"tenant page names the tenant", "acme.localhost", "GET", "/", 200, "", `<h1>Acme Corp</h1>`},
		{"tenant page links to its login", "acme.localhost", "GET", "/", 200, "", `href="/login?next=%2F"`},
		{"tenant page shows no notes", "acme.localhost", "GET", "/", 200, "", `to read them`},
		{"tenant host normalised", "ACME.localhost.:8080", "GET", "/", 200, "", `<h1>Acme Corp</h1>`},
		{"members page redirects to login", "acme.localhost", "GET", "/members", 303, "/login?next=%2Fmembers", ""},
		{"tenant login form", "acme.localhost", "GET", "/login", 200, "", "Log in to Acme Corp"},
		{"API list is 401", "acme.localhost", "GET", "/api/notes", 401, "", `{"error":"login required"}`},
		{"API add is 401", "acme.localhost", "POST", "/api/notes", 401, "", `{"error":"login required"}`},
		{"unknown tenant", "nosuch.localhost", "GET", "/", 404, "", "tenant not found"},
		{"unknown tenant API", "nosuch.localhost", "GET", "/api/notes", 404, "", "tenant not found"},
		{"malformed host", "bad_host!", "GET", "/", 400, "", "bad host"},
		{"IP address", "127.0.0.1", "GET", "/", 404, "", "tenant not found"},
		{"wrong method", "acme.localhost", "DELETE", "/api/notes", 405, "", ""},
		{"unknown path", "acme.localhost", "GET", "/nope", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newBrowser(t, srv, tt.host).do(tt.method, tt.path, "application/json", `{"body":"x"}`)
			expectStatus(t, tt.host+" "+tt.path, r, tt.wantStatus)
			if loc := r.header.Get("Location"); loc != tt.wantLocation {
				t.Errorf("Location %q, want %q", loc, tt.wantLocation)
			}
			if !strings.Contains(r.body, tt.wantBody) {
				t.Errorf("body does not contain %q:\n%s", tt.wantBody, r.body)
			}
		})
	}
}

// TestNotes walks alice and bob through both tenants: members see their
// tenant's notes, nobody sees another tenant's, non-members get 403.
func TestNotes(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t)

	aliceAcme := newBrowser(t, srv, "acme.localhost").mustLogin(aliceEmail, alicePassword)
	r := aliceAcme.get("/")
	expectStatus(t, "alice GET acme /", r, http.StatusOK)
	if !strings.Contains(r.body, "Acme Corp") || !strings.Contains(r.body, `action="/notes"`) {
		t.Fatalf("acme page: want the tenant's name and the form\n%s", r.body)
	}

	r = aliceAcme.postJSON("/api/notes", `{"body": "  acme launch plan  "}`)
	expectStatus(t, "alice POST acme /api/notes", r, http.StatusCreated)
	var created note
	if err := json.Unmarshal([]byte(r.body), &created); err != nil {
		t.Fatal(err)
	}
	if created.ID == 0 || created.Body != "acme launch plan" || created.CreatedAt.IsZero() {
		t.Fatalf("created note %+v", created)
	}

	r = aliceAcme.get("/api/notes")
	expectStatus(t, "alice GET acme /api/notes", r, http.StatusOK)
	if notes := decodeNotes(t, r); !hasNote(notes, "acme launch plan") {
		t.Fatalf("acme notes %+v: missing alice's note", notes)
	}

	// The HTML form, with its CSRF token, and HTML escaping.
	form := url.Values{"csrf": {aliceAcme.csrf("/")}, "body": {"<script>alert(1)</script>"}}
	r = aliceAcme.postForm("/notes", form)
	expectStatus(t, "alice POST acme /notes", r, http.StatusSeeOther)
	r = aliceAcme.get("/")
	if !strings.Contains(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;") || strings.Contains(r.body, "<script>") {
		t.Fatalf("note body not escaped:\n%s", r.body)
	}
	if !strings.Contains(r.body, aliceEmail) {
		t.Fatalf("notes page does not name the author:\n%s", r.body)
	}
	form.Set("body", "   ")
	r = aliceAcme.postForm("/notes", form)
	expectStatus(t, "alice POST acme /notes (empty)", r, http.StatusBadRequest)

	// alice's session is valid at globex, but she is not a member there.
	aliceGlobex := newBrowser(t, srv, "globex.localhost").mustLogin(aliceEmail, alicePassword)
	expectStatus(t, "alice GET globex /", aliceGlobex.get("/"), http.StatusForbidden)
	expectStatus(t, "alice GET globex /api/notes", aliceGlobex.get("/api/notes"), http.StatusForbidden)
	expectStatus(t, "alice POST globex /api/notes", aliceGlobex.postJSON("/api/notes", `{"body":"hi"}`), http.StatusForbidden)

	// Sessions are host-only: alice's acme cookie, replayed at globex,
	// logs nobody in there.
	stolen := newBrowser(t, srv, "globex.localhost")
	stolen.cookies = aliceAcme.cookies
	expectStatus(t, "acme cookie at globex", stolen.get("/api/notes"), http.StatusUnauthorized)

	// bob owns globex and sees none of acme's notes there.
	bobGlobex := newBrowser(t, srv, "globex.localhost").mustLogin(bobEmail, bobPassword)
	r = bobGlobex.get("/api/notes")
	expectStatus(t, "bob GET globex /api/notes", r, http.StatusOK)
	if notes := decodeNotes(t, r); len(notes) != 0 {
		t.Fatalf("globex notes %+v: want none", notes)
	}
	expectStatus(t, "bob POST globex /api/notes", bobGlobex.postJSON("/api/notes", `{"body":"globex secret"}`), http.StatusCreated)

	// bob is a plain member of acme with notes.view and notes.add.
	bobAcme := newBrowser(t, srv, "acme.localhost").mustLogin(bobEmail, bobPassword)
	r = bobAcme.get("/api/notes")
	expectStatus(t, "bob GET acme /api/notes", r, http.StatusOK)
	if notes := decodeNotes(t, r); !hasNote(notes, "acme launch plan") || hasNote(notes, "globex secret") {
		t.Fatalf("acme notes as bob %+v: want acme's, not globex's", notes)
	}
	expectStatus(t, "bob POST acme /api/notes", bobAcme.postJSON("/api/notes", `{"body":"from bob"}`), http.StatusCreated)
}

// TestPermissions checks that rights come from the tenant's schema: bob
// loses notes.add at acme and can still read, but no longer write.
func TestPermissions(t *testing.T) {
	t.Parallel()
	srv, a := newServer(t)
	ctx := t.Context()
	acme, err := a.mgr.BySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := a.mgr.Users().ByEmail(ctx, bobEmail)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.mgr.Permissions().Revoke(tenancy.WithTenant(ctx, acme), bob.ID, "notes.add"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, srv, "acme.localhost").mustLogin(bobEmail, bobPassword)
	expectStatus(t, "bob GET /api/notes", b.get("/api/notes"), http.StatusOK)
	expectStatus(t, "bob POST /api/notes", b.postJSON("/api/notes", `{"body":"x"}`), http.StatusForbidden)
	r := b.get("/")
	expectStatus(t, "bob GET /", r, http.StatusOK)
	if strings.Contains(r.body, `action="/notes"`) {
		t.Error("notes page shows the form to a member without notes.add")
	}
	form := url.Values{"csrf": {b.csrf("/")}, "body": {"x"}}
	expectStatus(t, "bob POST /notes", b.postForm("/notes", form), http.StatusForbidden)
}

// TestLogin checks failures, redirects after login, and logout.
func TestLogin(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t)

	t.Run("bad credentials look alike", func(t *testing.T) {
		t.Parallel()
		b := newBrowser(t, srv, "acme.localhost")
		wrong := b.login(aliceEmail, "not-her-password")
		expectStatus(t, "wrong password", wrong, http.StatusUnauthorized)
		unknown := b.login("nobody@example.com", "not-her-password")
		expectStatus(t, "unknown email", unknown, http.StatusUnauthorized)
		if !strings.Contains(wrong.body, "invalid email or password") {
			t.Fatalf("no generic message:\n%s", wrong.body)
		}
		// The form shows the email typed back; apart from that, the same.
		a := strings.ReplaceAll(wrong.body, aliceEmail, "EMAIL")
		u := strings.ReplaceAll(unknown.body, "nobody@example.com", "EMAIL")
		if a != u {
			t.Fatalf("answers differ:\n%s\n---\n%s", a, u)
		}
		if b.cookies["tenantkit_session"] != "" {
			t.Fatal("failed login set a session cookie")
		}
	})

	t.Run("next", func(t *testing.T) {
		t.Parallel()
		for next, want := range map[string]string{
			"/api/notes":           "/api/notes",
			"//evil.example/":      "/",
			"/\\evil.example/":     "/",
			"https://evil.example": "/",
			"":                     "/",
		} {
			b := newBrowser(t, srv, "acme.localhost")
			r := b.postForm("/login", url.Values{"csrf": {b.csrf("/login")}, "next": {next},
				"email": {aliceEmail}, "password": {alicePassword}})
			expectStatus(t, "login next="+next, r, http.StatusSeeOther)
			if loc := r.header.Get("Location"); loc != want {
				t.Errorf("next=%q: Location %q, want %q", next, loc, want)
			}
		}
	})

	t.Run("logout", func(t *testing.T) {
		t.Parallel()
		b := newBrowser(t, srv, "acme.localhost").mustLogin(aliceEmail, alicePassword)
		session := b.cookies["tenantkit_session"]
		expectStatus(t, "logout", b.postForm("/logout", url.Values{"csrf": {b.csrf("/")}}), http.StatusSeeOther)
		if r := b.get("/"); r.status != http.StatusOK || !strings.Contains(r.body, "to read them") {
			t.Fatalf("GET / after logout: %d, want the anonymous front page", r.status)
		}
		// The session is revoked on the server, not only forgotten.
		b.cookies["tenantkit_session"] = session
		expectStatus(t, "old session after logout", b.get("/api/notes"), http.StatusUnauthorized)
	})

	t.Run("public home lists the user's tenants", func(t *testing.T) {
		t.Parallel()
		bob := newBrowser(t, srv, "localhost:8080").mustLogin(bobEmail, bobPassword)
		r := bob.get("/")
		for _, want := range []string{`href="http://acme.localhost:8080/"`, `href="http://globex.localhost:8080/"`} {
			if !strings.Contains(r.body, want) {
				t.Errorf("bob's home lacks %s", want)
			}
		}
		alice := newBrowser(t, srv, "localhost").mustLogin(aliceEmail, alicePassword)
		r = alice.get("/")
		if !strings.Contains(r.body, `href="http://acme.localhost/"`) || strings.Contains(r.body, "globex") {
			t.Errorf("alice's home should list acme only:\n%s", r.body)
		}
	})
}

// TestCSRF checks that state-changing forms need the token from the
// csrf cookie.
func TestCSRF(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t)
	alice := newBrowser(t, srv, "acme.localhost").mustLogin(aliceEmail, alicePassword)
	token := alice.cookies[csrfCookie]
	other := newBrowser(t, srv, "acme.localhost")
	otherToken := other.csrf("/login")

	tests := []struct {
		name  string
		b     *browser
		path  string
		token string // "" to leave the field out
	}{
		{"login without token", newBrowser(t, srv, "acme.localhost"), "/login", ""},
		{"login with made-up token", newBrowser(t, srv, "acme.localhost"), "/login", "made-up"},
		{"note without token", alice, "/notes", ""},
		{"note with another browser's token", alice, "/notes", otherToken},
		{"logout without token", alice, "/logout", ""},
	}
	for _, tt := range tests {
		form := url.Values{"email": {aliceEmail}, "password": {alicePassword}, "body": {"forged"}}
		if tt.token != "" {
			form.Set("csrf", tt.token)
		}
		expectStatus(t, tt.name, tt.b.postForm(tt.path, form), http.StatusForbidden)
	}
	// Nothing above took effect: alice is still logged in, no note added.
	r := alice.get("/api/notes")
	expectStatus(t, "alice GET /api/notes", r, http.StatusOK)
	if hasNote(decodeNotes(t, r), "forged") {
		t.Fatal("a forged form added a note")
	}
	if alice.cookies[csrfCookie] != token {
		t.Fatal("csrf cookie changed")
	}
}

// TestAPIInput checks the JSON API's answers to bad input.
func TestAPIInput(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t)
	alice := newBrowser(t, srv, "acme.localhost").mustLogin(aliceEmail, alicePassword)
	tests := []struct {
		name, contentType, body string
		wantStatus              int
	}{
		{"valid", "application/json", `{"body":"ok"}`, 201},
		{"charset parameter", "application/json; charset=utf-8", `{"body":"ok"}`, 201},
		{"form content type", "application/x-www-form-urlencoded", `body=x`, 415},
		{"text content type", "text/plain", `{"body":"x"}`, 415},
		{"no content type", "", `{"body":"x"}`, 415},
		{"not JSON", "application/json", `body=x`, 400},
		{"truncated", "application/json", `{"body":`, 400},
		{"two objects", "application/json", `{"body":"a"}{"body":"b"}`, 400},
		{"unknown field", "application/json", `{"body":"x","author_id":1}`, 400},
		{"wrong type", "application/json", `{"body":1}`, 400},
		{"empty object", "application/json", `{}`, 400},
		{"blank body", "application/json", `{"body":" \n\t "}`, 400},
		{"NUL byte", "application/json", `{"body":"a\u0000b"}`, 400},
		{"too long", "application/json", `{"body":"` + strings.Repeat("x", maxNoteLen+1) + `"}`, 400},
		{"too large", "application/json", `{"body":"` + strings.Repeat("x", maxFormSize) + `"}`, 400},
	}
	for _, tt := range tests {
		r := alice.do(http.MethodPost, "/api/notes", tt.contentType, tt.body)
		expectStatus(t, tt.name, r, tt.wantStatus)
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", tt.name, ct)
		}
		var e apiError
		if tt.wantStatus >= 400 && (json.Unmarshal([]byte(r.body), &e) != nil || e.Error == "") {
			t.Errorf("%s: body %q is not a JSON error", tt.name, r.body)
		}
	}
}

// TestSeedTwice checks that a second start on the same database (as with
// DATABASE_URL) reuses the demo data.
func TestSeedTwice(t *testing.T) {
	t.Parallel()
	db := testkit.DB(t)
	store, err := users.New(db, users.WithArgon2Params(testkit.FastArgon2))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		a, err := newApp(t.Context(), db, tenancy.WithUsers(store))
		if err != nil {
			t.Fatal(err)
		}
		closeApp(t, a)
	}
	var tenants, memberships int
	if err := db.Get(&tenants, `SELECT count(*) FROM tenantkit_tenants`); err != nil {
		t.Fatal(err)
	}
	if err := db.Get(&memberships, `SELECT count(*) FROM tenantkit_memberships`); err != nil {
		t.Fatal(err)
	}
	if tenants != 3 || memberships != 4 { // public: admin; acme: alice, bob; globex: bob
		t.Fatalf("%d tenants, %d memberships; want 3 and 4", tenants, memberships)
	}
}
