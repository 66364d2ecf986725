package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/middleware"
)

func TestPinConn(t *testing.T) {
	t.Parallel()
	m, db := testkit.Manager(t)
	ctx := t.Context()
	u, _ := m.Users().CreateUser(ctx, "alice@example.com", "pw", true)
	acme, _, err := m.Provision(ctx, "Acme", "acme", u.ID)
	if err != nil {
		t.Fatal(err)
	}
	db.MustExec(`INSERT INTO ` + acme.Schema().Qualify("notes") + ` (body, author_id) VALUES ('pinned', 1)`)
	mw, err := middleware.New(middleware.Config{Tenants: m, Members: m, Perms: m.Permissions(), Sessions: m.Users()})
	if err != nil {
		t.Fatal(err)
	}
	var inUse []int
	handler := func(touch, crash bool) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if touch {
				for i := 0; i < 2; i++ { // twice: one connection
					c, err := m.DB().RequestConn(r.Context())
					if err != nil {
						t.Error(err)
						return
					}
					var body string
					if err := sqlx.GetContext(r.Context(), c, &body, `SELECT body FROM notes`); err != nil || body != "pinned" {
						t.Errorf("read %q, %v", body, err)
					}
				}
			}
			inUse = append(inUse, db.Stats().InUse)
			if crash {
				panic("handler bug")
			}
		})
	}
	for _, tc := range []struct {
		name         string
		touch, crash bool
		wantInUse    int
	}{
		{"no database use holds no connection", false, false, 0},
		{"two uses share one connection", true, false, 1},
		{"a panicking handler still releases it", true, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inUse = nil
			h := mw.Tenant(middleware.PinConn(m.DB())(handler(tc.touch, tc.crash)))
			r := httptest.NewRequest("GET", "/", nil)
			r.Host = "acme.example.com"
			func() {
				defer func() { recover() }()
				h.ServeHTTP(httptest.NewRecorder(), r)
			}()
			if len(inUse) != 1 || inUse[0] != tc.wantInUse {
				t.Fatalf("connections in use during the request: %v, want %d", inUse, tc.wantInUse)
			}
			if n := db.Stats().InUse; n != 0 {
				t.Fatalf("%d connections still in use after the request", n)
			}
			var path string
			if err := db.Get(&path, `SHOW search_path`); err != nil || path != `"$user", public` {
				t.Fatalf("pool left on %q", path)
			}
		})
	}
}
