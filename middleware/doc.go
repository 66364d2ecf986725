// Package middleware is tenantkit's request path as plain
// func(http.Handler) http.Handler pieces, which mount unchanged in
// net/http, gorilla/mux (Router.Use) and chi:
//
//	mw, err := middleware.New(middleware.Config{
//		Tenants: mgr, Members: mgr, Perms: mgr.Permissions(), Sessions: mgr.Users(),
//	})
//	h := mw.Tenant(mw.Authenticate(mw.RequireMember(app)))
//	add := mw.RequirePerm("notes.add")(addNote)
//
// # Order
//
// Tenant resolves the Host and puts the tenant in the context;
// Authenticate puts the session's user in the context; RequireMember and
// RequirePerm then check that user against that tenant.
//
// # Sessions
//
// LogIn starts a session with a new token (revoking the one the request
// carried) and sets the cookie: HttpOnly, SameSite=Lax, Secure over TLS,
// and host-only, so a login on one tenant's host is not sent to another's;
// with a Sessions that implements ScopedSessions (users.Store does) the
// session is bound to that host on the server too, so a token replayed on
// another host logs nobody in.
// Config.CookieDomain shares one login across the subdomains of a base
// domain instead; membership and permissions are still checked against
// each request's tenant. LogOut revokes the session on the server.
// Authenticate also gives each request a permissions memo
// (permissions.WithRequestCache).
//
// # Other ways to pick the tenant
//
// TenantBy is Tenant with more sources: a path prefix (/t/acme/...,
// stripped before the handler), a header such as X-Tenant and
// X-Forwarded-Host (each believed only from a peer in the trusted-proxy
// CIDRs), and an optional redirect from a secondary domain to the primary
// one. ByType sends each request to its tenant type's own handler.
//
// # Responses
//
// A rejecting middleware writes its response and does not call the next
// handler. Malformed host: 400; unknown or deleted tenant: 404; tenant
// still being provisioned: 503 with Retry-After; anonymous:
// 401 or a redirect to Config.LoginURL; not a member or missing a
// permission: 403; internal failure: 500. Bodies are short and generic,
// every handler is replaceable through Config, and internal errors go to
// the logger, never to the client.
package middleware
