package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/internal/testkit"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// call sends one request to h with the given Host and returns the status
// and body.
func call(t *testing.T, h http.Handler, method, host, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, "http://"+host+"/todos", strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func titles(t *testing.T, body string) []string {
	t.Helper()
	var todos []todo
	if err := json.Unmarshal([]byte(body), &todos); err != nil {
		t.Fatalf("%q: %v", body, err)
	}
	out := make([]string, len(todos))
	for i, td := range todos {
		out[i] = td.Title
	}
	return out
}

// legacyContract is what the service's clients rely on: it must hold at
// every step, on the host the service always had.
func legacyContract(t *testing.T, h http.Handler, db *sqlx.DB, want []string) []string {
	t.Helper()
	code, body := call(t, h, http.MethodGet, legacyHost, "")
	if code != http.StatusOK || strings.Join(titles(t, body), "|") != strings.Join(want, "|") {
		t.Fatalf("GET /todos = %d %q, want %q", code, body, want)
	}
	code, body = call(t, h, http.MethodPost, legacyHost+":8081", `{"title":"added"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST /todos = %d %q", code, body)
	}
	if code, body = call(t, h, http.MethodPost, legacyHost, `{"title":""}`); code != http.StatusBadRequest {
		t.Fatalf("POST with an empty title = %d %q", code, body)
	}
	// The legacy data stays in the legacy table, where the legacy code and
	// its reports read it.
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM public.todos`); err != nil || n != len(want)+1 {
		t.Fatalf("public.todos holds %d rows (%v), want %d", n, err, len(want)+1)
	}
	return append(want, "added")
}

// TestEveryStepKeepsTheLegacyContract takes one database through the
// steps in order, as a deployment would, and checks the legacy contract at
// each: nothing a client of the old service sees changes.
func TestEveryStepKeepsTheLegacyContract(t *testing.T) {
	db := testkit.DB(t)
	ctx := t.Context()
	want := []string{}
	for step := stepBefore; step <= lastStep; step++ {
		srv, err := setup(ctx, db, step)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		want = legacyContract(t, srv.handler, db, want)
		// Running a step again on a database already there is harmless.
		if _, err := setup(ctx, db, step); err != nil {
			t.Fatalf("step %d again: %v", step, err)
		}
	}
}

// TestEachStepFromScratch starts every step on a fresh legacy database
// with data, as `go run ./examples/legacy -step N` does.
func TestEachStepFromScratch(t *testing.T) {
	for step := stepBefore; step <= lastStep; step++ {
		t.Run(stepName(step), func(t *testing.T) {
			t.Parallel()
			db := testkit.DB(t)
			srv, err := setup(t.Context(), db, step)
			if err != nil {
				t.Fatal(err)
			}
			if err := seed(t.Context(), db, srv.mgr); err != nil {
				t.Fatal(err)
			}
			legacyContract(t, srv.handler, db, []string{"water the plants", "file the taxes"})
			if step < stepOneRoute {
				// Not tenant-aware yet: any host gets the one schema.
				if code, body := call(t, srv.handler, http.MethodGet, "acme.localhost", ""); code != http.StatusOK || len(titles(t, body)) != 3 {
					t.Fatalf("step %d: GET on acme = %d %q, want the legacy list", step, code, body)
				}
				return
			}
			h := srv.handler
			if code, body := call(t, h, http.MethodGet, "acme.localhost", ""); code != http.StatusOK || len(titles(t, body)) != 0 {
				t.Fatalf("GET on acme = %d %q, want its own empty list", code, body)
			}
			for _, host := range []string{"nosuch.localhost", publicHost} {
				if code, _ := call(t, h, http.MethodGet, host, ""); code != http.StatusNotFound {
					t.Fatalf("GET on %s = %d, want 404", host, code)
				}
			}
			code, body := call(t, h, http.MethodPost, "acme.localhost", `{"title":"acme only"}`)
			switch step {
			case stepOneRoute:
				// The route that is not adopted yet would write to the
				// legacy schema: refused for every other tenant.
				if code != http.StatusNotFound {
					t.Fatalf("POST on acme at step 2 = %d %q, want 404", code, body)
				}
			case stepAll:
				if code != http.StatusCreated {
					t.Fatalf("POST on acme = %d %q", code, body)
				}
				if _, body := call(t, h, http.MethodGet, "acme.localhost", ""); strings.Join(titles(t, body), "|") != "acme only" {
					t.Fatalf("acme's list = %q", body)
				}
			}
			if _, body := call(t, h, http.MethodGet, legacyHost, ""); strings.Contains(body, "acme only") {
				t.Fatalf("acme's todo shows on the legacy tenant: %q", body)
			}
		})
	}
}

func TestUnknownStep(t *testing.T) {
	db := testkit.DB(t)
	for _, step := range []int{-1, lastStep + 1} {
		if _, err := setup(t.Context(), db, step); err == nil {
			t.Errorf("setup(%d) succeeded", step)
		}
	}
}

func stepName(step int) string {
	return [...]string{"before", "installed", "one route", "all routes"}[step]
}
