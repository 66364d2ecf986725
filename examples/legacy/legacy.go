package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gorilla/mux"
	"github.com/jmoiron/sqlx"
)

// This file is the service as it was before tenantkit: one schema, one
// table, handlers on the raw pool. The steps (steps.go) leave it as it is.

// legacyDDL is how the legacy service creates its table at start.
const legacyDDL = `CREATE TABLE IF NOT EXISTS todos (id bigserial PRIMARY KEY, title text NOT NULL)`

type todo struct {
	ID    int64  `db:"id" json:"id"`
	Title string `db:"title" json:"title"`
}

// listTodos and addTodo are the service's queries. They take any
// executor, so the same code runs on the raw pool (legacy handlers) and in
// a tenant's transaction (adopted handlers).
func listTodos(ctx context.Context, q sqlx.QueryerContext) ([]todo, error) {
	out := []todo{}
	err := sqlx.SelectContext(ctx, q, &out, `SELECT id, title FROM todos ORDER BY id`)
	return out, err
}

func addTodo(ctx context.Context, q sqlx.QueryerContext, title string) (todo, error) {
	var t todo
	err := sqlx.GetContext(ctx, q, &t, `INSERT INTO todos (title) VALUES ($1) RETURNING id, title`, title)
	return t, err
}

// legacyService is the single-tenant service.
type legacyService struct{ db *sqlx.DB }

func (s *legacyService) migrate(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, legacyDDL)
	return err
}

func (s *legacyService) routes(r *mux.Router) {
	r.HandleFunc("/todos", s.list).Methods(http.MethodGet)
	r.HandleFunc("/todos", s.add).Methods(http.MethodPost)
	r.HandleFunc("/healthz", health).Methods(http.MethodGet)
}

func (s *legacyService) list(w http.ResponseWriter, r *http.Request) {
	todos, err := listTodos(r.Context(), s.db)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, todos)
}

func (s *legacyService) add(w http.ResponseWriter, r *http.Request) {
	title, ok := readTitle(w, r)
	if !ok {
		return
	}
	t, err := addTodo(r.Context(), s.db, title)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusCreated, t)
}

func health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readTitle reads {"title": "..."}: 1 to 200 characters.
func readTitle(w http.ResponseWriter, r *http.Request) (string, bool) {
	var in struct {
		Title string `json:"title"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in); err != nil {
		http.Error(w, `want JSON {"title": "..."}`, http.StatusBadRequest)
		return "", false
	}
	in.Title = strings.TrimSpace(in.Title)
	if in.Title == "" || len(in.Title) > 200 {
		http.Error(w, "title must be 1 to 200 characters", http.StatusBadRequest)
		return "", false
	}
	return in.Title, true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
