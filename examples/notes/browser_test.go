package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tenantkit/tenantkit/internal/pgtest"
)

var screenshotDir = flag.String("screenshots", "", "directory where TestBrowser saves screenshots of the main pages (PNG)")

// chromium returns the path of the Chromium binary (CHROMIUM if set, else
// Debian's /usr/bin/chromium or chromium on PATH). Without one the test
// fails in CI (TENANTKIT_CI, which .ci/run sets, after installing Debian's
// chromium) and skips elsewhere with a message naming the package, so
// `go test ./...` needs nothing but PostgreSQL's server.
func chromium(t *testing.T) string {
	t.Helper()
	names := []string{"/usr/bin/chromium", "chromium", "chromium-browser"}
	if env := os.Getenv("CHROMIUM"); env != "" {
		names = []string{env}
	}
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	pgtest.MissingTool(t, fmt.Errorf("TestBrowser needs Chromium, and found none of %v: install Debian's chromium package "+
		"(apt-get install chromium), or set CHROMIUM to a Chromium or Chrome binary", names))
	return ""
}

// tab is one person's browser: a tab in its own browser context, so each
// person has their own cookies.
type tab struct {
	t    *testing.T
	ctx  context.Context
	name string
}

// newTab opens a tab with its own cookie jar in the browser of parent.
func newTab(t *testing.T, parent context.Context, name string) *tab {
	ctx, cancel := chromedp.NewContext(parent, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	return &tab{t: t, ctx: ctx, name: name}
}

// load runs the actions, which must lead to a page load, and returns the
// status of the page loaded (after redirects).
func (b *tab) load(what string, actions ...chromedp.Action[chromedp.Void]) int64 {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, actions...)
	if err != nil {
		b.t.Fatalf("%s: %s: %v", b.name, what, err)
	}
	return resp.Status
}

// open loads url and checks its status.
func (b *tab) open(url string, want int64) {
	b.t.Helper()
	if got := b.load("open "+url, chromedp.Navigate(url)); got != want {
		b.t.Fatalf("%s: GET %s: status %d, want %d\n%s", b.name, url, got, want, b.text())
	}
}

// submit fills the fields of the form matched by form (CSS) and presses
// its button, and checks the status of the page it leads to.
func (b *tab) submit(form string, fields map[string]string, want int64) {
	b.t.Helper()
	var actions []chromedp.Action[chromedp.Void]
	for name, value := range fields {
		sel := chromedp.CSS(form + ` [name="` + name + `"]`)
		actions = append(actions, chromedp.WaitVisible(sel), chromedp.SetValue(sel, value))
	}
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: fill %s: %v", b.name, form, err)
	}
	if got := b.load("submit "+form, chromedp.Click(chromedp.CSS(form+" button"))); got != want {
		b.t.Fatalf("%s: submit %s: status %d, want %d\n%s", b.name, form, got, want, b.text())
	}
}

// click follows the link or presses the button matched by sel.
func (b *tab) click(sel string, want int64) {
	b.t.Helper()
	if got := b.load("click "+sel, chromedp.Click(chromedp.CSS(sel))); got != want {
		b.t.Fatalf("%s: click %s: status %d, want %d\n%s", b.name, sel, got, want, b.text())
	}
}

func (b *tab) eval(js string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("%s: evaluate %s: %v", b.name, js, err)
	}
	return v
}

// text is the text of the page as the person sees it.
func (b *tab) text() string { return b.eval(`document.body ? document.body.innerText : ""`) }

// url is the address of the page shown.
func (b *tab) url() string { return b.eval(`location.href`) }

// waitProvisioned waits on the welcome page, which reloads itself while
// the tenant is being prepared, until it links to the tenant (10s at
// most).
func (b *tab) waitProvisioned() {
	b.t.Helper()
	if !strings.Contains(b.url(), "/welcome?") {
		b.t.Fatalf("%s: at %s after sign up, want the welcome page", b.name, b.url())
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`a.tenant-link`))); err != nil {
		b.t.Fatalf("%s: the new tenant is not ready after 10s: %v\n%s", b.name, err, b.text())
	}
}

func (b *tab) has(sel string) bool {
	return b.eval(`document.querySelector(`+jsString(sel)+`) ? "yes" : "no"`) == "yes"
}

func (b *tab) mustSee(what ...string) {
	b.t.Helper()
	text := b.text()
	for _, w := range what {
		if !strings.Contains(text, w) {
			b.t.Fatalf("%s at %s: page lacks %q:\n%s", b.name, b.url(), w, text)
		}
	}
}

// shot saves a screenshot of the whole page as name.png when the test was
// asked to (-screenshots=DIR).
func (b *tab) shot(name string) {
	b.t.Helper()
	if *screenshotDir == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(*screenshotDir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// TestBrowser drives the demo in a real headless Chromium: sign up (which
// provisions the tenant), log in on the tenant's host, add a note, give a
// second user read-only rights from the members page, check that they see
// the note but get no form and a 403 when they post one anyway, and that
// a user of another tenant gets 403.
//
//	go test ./examples/notes -run Browser -args -screenshots=/tmp/shots
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	t.Parallel()
	if *screenshotDir != "" {
		if err := os.MkdirAll(*screenshotDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	srv, _ := newServer(t)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	home := fmt.Sprintf("http://localhost:%d/", port)
	olive := fmt.Sprintf("http://olive.localhost:%d/", port)

	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		// *.localhost (the tenants) and localhost (the public site) reach
		// the test server, without DNS or a proxy.
		chromedp.Flag("host-resolver-rules", "MAP *.localhost 127.0.0.1, MAP localhost 127.0.0.1"),
		chromedp.Flag("no-proxy-server", true),
		chromedp.WindowSize(1024, 768),
		// Chromium's own temporary files (its singleton socket) go where
		// the test removes them.
		chromedp.Env("TMPDIR="+t.TempDir()),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil { // starts Chromium
		t.Fatalf("start %s: %v", exe, err)
	}

	const password = "a long enough password"
	signup := func(b *tab, email, name, slug string) {
		t.Helper()
		b.open(home, 200)
		b.click(`a[href="/signup"]`, 200)
		b.submit(`form[action="/signup"]`, map[string]string{"email": email, "password": password, "name": name, "slug": slug}, 200)
		b.waitProvisioned()
		b.mustSee("Your organisation is ready", name)
	}
	login := func(b *tab, email string, want int64) {
		t.Helper()
		b.submit(`form[action="/login"]`, map[string]string{"email": email, "password": password}, want)
	}

	// Olivia signs up: her account and the tenant olive.localhost.
	oli := newTab(t, browser, "olivia")
	oli.open(home, 200)
	oli.shot("1-home")
	oli.click(`a[href="/signup"]`, 200)
	oli.shot("2-signup")
	oli.submit(`form[action="/signup"]`, map[string]string{"email": "olivia@example.org", "password": password, "name": "Olive Co", "slug": "olive"}, 200)
	// A worker builds the tenant's schema; the welcome page waits for it.
	oli.waitProvisioned()
	oli.mustSee("Your organisation is ready", "Olive Co")
	oli.shot("3-signed-up")

	// Her organisation's host has its own session: she logs in there.
	oli.click(`a.tenant-link`, 200)
	if oli.url() != olive {
		t.Fatalf("olivia at %s, want %s", oli.url(), olive)
	}
	oli.mustSee("Olive Co", "Log in")
	oli.click(`a[href="/login?next=%2F"]`, 200)
	oli.mustSee("Log in to Olive Co")
	login(oli, "olivia@example.org", 200)
	oli.mustSee("Olive Co", "No notes yet.")
	oli.submit(`form[action="/notes"]`, map[string]string{"body": "Olive's first note"}, 200)
	oli.mustSee("Olive's first note", "olivia@example.org")
	oli.shot("4-notes")

	// Rita and Carl sign up too, each with an organisation of their own.
	rita := newTab(t, browser, "rita")
	signup(rita, "rita@example.org", "Rita Ltd", "rita")
	carl := newTab(t, browser, "carl")
	signup(carl, "carl@example.org", "Carl GmbH", "carl")

	// Olivia adds Rita to Olive Co and puts her in readers (notes.view).
	oli.click(`nav.tabs a[href="/members"]`, 200)
	oli.submit(`#add-member`, map[string]string{"email": "rita@example.org"}, 200)
	oli.mustSee("Member added.", "rita@example.org")
	ritaRow := `section[data-email="rita@example.org"]`
	oli.submit(ritaRow+` form.join`, map[string]string{"group": "readers"}, 200)
	if !oli.has(ritaRow + ` form.leave input[name="group"][value="readers"]`) {
		t.Fatalf("rita is not shown in readers:\n%s", oli.text())
	}
	oli.shot("5-members")

	// Rita logs in at olive: she sees the note, but no form to add one,
	// and no members page.
	rita.open(olive, 200)
	rita.click(`a[href="/login?next=%2F"]`, 200)
	login(rita, "rita@example.org", 200)
	rita.mustSee("Olive's first note", "Olive Co", "Rita Ltd") // the note and the switcher
	if rita.has(`form[action="/notes"]`) || rita.has(`nav.tabs a[href="/members"]`) {
		t.Fatalf("a reader sees the note form or the members link:\n%s", rita.text())
	}
	rita.shot("6-notes-read-only")
	rita.open(olive+"members", 403)

	// Posting a note anyway, with a valid CSRF token from the page (the
	// logout form has one), is refused by the permission check.
	rita.open(olive, 200)
	forge := `(() => {
		const f = document.createElement("form");
		f.method = "post"; f.action = "/notes";
		for (const [k, v] of [["csrf", document.querySelector('input[name="csrf"]').value], ["body", "forged by a reader"]]) {
			const i = document.createElement("input"); i.type = "hidden"; i.name = k; i.value = v; f.appendChild(i);
		}
		document.body.appendChild(f); f.submit(); return "";
	})()`
	if got := rita.load("forged note", chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
		_, err := chromedp.Evaluate[string](forge)(ctx, tt)
		return err
	})); got != 403 {
		t.Fatalf("rita POST /notes: status %d, want 403\n%s", got, rita.text())
	}
	if text := rita.text(); strings.TrimSpace(text) != "forbidden" {
		t.Fatalf("rita POST /notes: want the permission's 403, got %q", text)
	}
	rita.open(olive, 200)
	if strings.Contains(rita.text(), "forged by a reader") {
		t.Fatal("a reader added a note")
	}

	// On a phone, the pages fit the screen's width.
	for _, b := range []*tab{rita, oli} {
		if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []struct {
		b        *tab
		url, png string
	}{
		{rita, olive, "7-notes-phone"},
		{oli, olive + "members", "8-members-phone"},
		{oli, home, "9-home-phone"},
	} {
		p.b.open(p.url, 200)
		if fits := p.b.eval(`String(document.documentElement.scrollWidth <= window.innerWidth)`); fits != "true" {
			t.Errorf("%s is wider than a phone's screen", p.url)
		}
		p.b.shot(p.png)
	}

	// Carl, of another tenant, logs in at olive and gets 403 there. His
	// session from the public site is not sent to olive's host (cookies
	// are host-only): olive asks him to log in first.
	carl.open(olive, 200)
	if carl.url() != olive || strings.Contains(carl.text(), "carl@example.org") {
		t.Fatalf("carl at %s sees himself logged in: a session crossed hosts", carl.url())
	}
	carl.click(`a[href="/login?next=%2F"]`, 200)
	login(carl, "carl@example.org", 403)
	carl.open(olive+"api/notes", 403)
}
