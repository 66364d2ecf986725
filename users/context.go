package users

import "context"

type userKey struct{}

// WithUser returns a copy of ctx carrying the authenticated user u.
// middleware.Authenticate calls it.
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFromContext returns the user set by WithUser, if any.
func UserFromContext(ctx context.Context) (*User, bool) {
	u, ok := ctx.Value(userKey{}).(*User)
	return u, ok && u != nil
}
