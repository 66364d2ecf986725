package middleware_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/middleware"
)

// BenchmarkStack measures the middleware on a request, the handler doing
// nothing, against the bare handler as a baseline: Tenant alone (a cache hit), then with an anonymous
// Authenticate, then a logged-in member through RequireMember and
// RequirePerm, which read the session and the tenant's rights.
//
//	go test ./middleware -run '^$' -bench Stack -benchmem
func BenchmarkStack(b *testing.B) {
	m, _ := testkit.Manager(b)
	ctx := b.Context()
	u, _ := m.Users().CreateUser(ctx, "alice@example.com", "pw", true)
	for i := 0; i < 100; i++ {
		if _, _, err := m.Provision(ctx, "T", fmt.Sprintf("t%d", i), u.ID); err != nil {
			b.Fatal(err)
		}
	}
	token, _, _ := m.Users().NewSession(ctx, u.ID)
	mw, err := middleware.New(middleware.Config{Tenants: m, Members: m, Perms: m.Permissions(), Sessions: m.Users()})
	if err != nil {
		b.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, bc := range []struct {
		name   string
		h      http.Handler
		cookie bool
	}{
		{"none (baseline)", ok, false},
		{"Tenant", mw.Tenant(ok), false},
		{"Tenant+Authenticate/anonymous", mw.Tenant(mw.Authenticate(ok)), false},
		{"Tenant+Authenticate+RequireMember", mw.Tenant(mw.Authenticate(mw.RequireMember(ok))), true},
		{"Tenant+Authenticate+RequirePerm", mw.Tenant(mw.Authenticate(mw.RequirePerm("notes.add")(ok))), true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					r := httptest.NewRequest("GET", "/", nil)
					r.Host = fmt.Sprintf("t%d.example.com", i%100)
					if bc.cookie {
						r.AddCookie(&http.Cookie{Name: "tenantkit_session", Value: token})
					}
					w := httptest.NewRecorder()
					bc.h.ServeHTTP(w, r)
					if w.Code != 200 {
						b.Fatalf("status %d", w.Code)
					}
					i++
				}
			})
		})
	}
}
