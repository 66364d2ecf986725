package users

import "errors"

var (
	// ErrExists is returned by CreateUser when a live user has the email.
	ErrExists = errors.New("a user with this email exists")
	// ErrDeleted is returned by CreateUser when the email belongs to a
	// soft-deleted user; Restore brings that user back instead.
	ErrDeleted = errors.New("the user with this email was deleted")
	// ErrNotFound is returned when no user matches.
	ErrNotFound = errors.New("user not found")
	// ErrInvalidEmail is returned for an email that is not a bare address.
	ErrInvalidEmail = errors.New("invalid email")
	// ErrInvalidCredentials is returned by Authenticate for an unknown email,
	// a wrong password, an inactive user or a user without a password alike,
	// so a caller cannot tell which.
	ErrInvalidCredentials = errors.New("invalid email or password")
	// ErrSessionNotFound is returned by SessionUser for an unknown, expired
	// or revoked token, or a token of an inactive user.
	ErrSessionNotFound = errors.New("session not found")
)

// ErrThrottled is matched by the *ThrottledError that Login returns when
// an account or a client address has had too many attempts.
var ErrThrottled = errors.New("too many login attempts")
