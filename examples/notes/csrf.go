package main

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
)

// CSRF protection for the HTML forms, by double submit: a random token in
// the cookie "csrf" (HttpOnly, SameSite=Strict, host-only) must come back
// in the form field "csrf". Another site can make a browser post a form
// here, but it can neither read the cookie nor set it for this host.
// The JSON API needs no token: it requires Content-Type application/json,
// which a cross-site form cannot send.
const (
	csrfCookie  = "csrf"
	csrfField   = "csrf"
	maxFormSize = 64 << 10
)

// csrfToken returns the request's CSRF token, and sets a new one in the
// cookie when the request has none. Pages that show a form call it.
func csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	token := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{
		Name:     csrfCookie,
		Value:    token,
		Path:     "/",
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
	return token
}

// checkCSRF parses a posted form (at most maxFormSize bytes) and lets it
// through only when its csrf field matches the csrf cookie: 403 otherwise.
func checkCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormSize)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		c, err := r.Cookie(csrfCookie)
		if err != nil || c.Value == "" ||
			subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue(csrfField))) != 1 {
			http.Error(w, "forbidden: missing or wrong CSRF token, reload the page", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
