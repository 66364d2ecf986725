package middleware

import (
	"net/http"

	"github.com/tenantkit/tenantkit/sqlxschema"
)

// PinConn gives each request at most one pinned connection for its
// tenant, taken from the pool on the request's first
// db.RequestConn(r.Context()) call, so a request that never touches the
// database holds none, and returned to the pool (its search_path reset)
// when the request ends, even if the handler panics. Mount it after
// Tenant. Pinned connections keep session state: use DB.Tx instead behind
// a transaction pooler such as PgBouncer in transaction mode.
func PinConn(db *sqlxschema.DB) func(http.Handler) http.Handler {
	if db == nil {
		panic("middleware: PinConn: nil *sqlxschema.DB")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, release := db.WithRequestConn(r.Context())
			defer release()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}
