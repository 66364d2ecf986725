package main

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"

	"github.com/tenantkit/tenantkit/users"
)

// apiListNotes answers GET /api/notes: the tenant's notes as a JSON array.
func (a *app) apiListNotes(w http.ResponseWriter, r *http.Request) {
	notes, err := a.listNotes(r.Context())
	if err != nil {
		a.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, notes)
}

// apiAddNote answers POST /api/notes with {"body": "..."}: 201 and the
// new note. Requiring Content-Type application/json is the API's CSRF
// defence: a cross-site form cannot send it.
func (a *app) apiAddNote(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, apiError{"content type must be application/json"})
		return
	}
	var in struct {
		Body string `json:"body"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxFormSize))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || dec.Decode(&struct{}{}) != io.EOF {
		writeJSON(w, http.StatusBadRequest, apiError{"invalid JSON: want {\"body\": \"...\"}"})
		return
	}
	body, err := checkBody(in.Body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
		return
	}
	u, _ := users.UserFromContext(r.Context()) // RequirePerm ensures one
	n, err := a.addNote(r.Context(), u.ID, body)
	if err != nil {
		a.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, n)
}

// apiError is the body of every API error: {"error": "..."}.
type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// jsonError is a handler that answers status with a JSON error: the API's
// middleware uses it for 401, 403 and 500.
func jsonError(status int, msg string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, status, apiError{msg})
	})
}

// apiFail logs err and answers a generic 500.
func (a *app) apiFail(w http.ResponseWriter, r *http.Request, err error) {
	a.log.ErrorContext(r.Context(), "notes: API request failed", "err", err,
		"method", r.Method, "host", r.Host, "path", r.URL.Path)
	writeJSON(w, http.StatusInternalServerError, apiError{"internal error"})
}
