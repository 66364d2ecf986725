package users

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Session is a server-side login session. Only a hash of its token is
// stored.
type Session struct {
	UserID     int64     `db:"user_id"`
	CreatedAt  time.Time `db:"created_at"`
	ExpiresAt  time.Time `db:"expires_at"`
	LastSeenAt time.Time `db:"last_seen_at"`
}

// touchInterval is how stale last_seen_at may get before SessionUser
// writes it again: a minute, or half the idle timeout if that is shorter.
func (s *Store) touchInterval() time.Duration {
	return min(time.Minute, s.idle/2)
}

// NewSession starts a session for an active user and returns its token (to
// hand to the client) and the session. The token is 32 random bytes; only
// its SHA-256 is stored. The user's own expired and idle sessions are
// deleted on the way, so the table holds no more than the live ones.
// It returns ErrNotFound for an unknown, inactive or deleted user.
//
// Its token is good wherever it is presented. middleware.LogIn uses
// NewScopedSession instead, whose token is good on the host (or cookie
// domain) that issued it only.
func (s *Store) NewSession(ctx context.Context, userID int64) (string, *Session, error) {
	return s.NewScopedSession(ctx, userID, "")
}

// NewScopedSession is NewSession for a session whose token is good only
// when presented with the same scope to ScopedSessionUser: a token issued
// on one tenant's host and replayed on another's (by a tenant that runs
// its own custom domain and collects its visitors' cookies, say) finds no
// session there. The scope goes into the stored hash, so it costs nothing.
// An empty scope is NewSession's.
func (s *Store) NewScopedSession(ctx context.Context, userID int64, scope string) (string, *Session, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	var sess Session
	err := sqlx.GetContext(ctx, s.db, &sess, `WITH pruned AS (
			DELETE FROM `+s.t.Sessions+` WHERE user_id = $2
				AND (expires_at <= now() OR last_seen_at <= now() - $4 * interval '1 second'))
		INSERT INTO `+s.t.Sessions+` (token_hash, user_id, expires_at, last_seen_at)
		SELECT $1, id, now() + $3 * interval '1 second', now() FROM `+s.t.Users+` WHERE id = $2 AND is_active AND deleted_at IS NULL
		RETURNING user_id, created_at, expires_at, last_seen_at`,
		tokenHash(scope, token), userID, s.sessionTTL.Seconds(), s.idle.Seconds())
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, fmt.Errorf("users: new session for %d: %w", userID, ErrNotFound)
	}
	if err != nil {
		return "", nil, fmt.Errorf("users: new session: %w", err)
	}
	return token, &sess, nil
}

// SessionUser returns the active user whose live session token is token,
// or ErrSessionNotFound for an unknown, revoked or expired token, one idle
// for longer than the idle timeout, or one of an inactive or deleted user.
// It is one statement; it records the session's use when the last record
// is older than a minute (see WithSessionIdleTimeout), so most requests
// write nothing.
func (s *Store) SessionUser(ctx context.Context, token string) (*User, error) {
	return s.ScopedSessionUser(ctx, token, "")
}

// ScopedSessionUser is SessionUser for a token presented in scope: it
// finds sessions made by NewScopedSession with that scope, and those made
// by NewSession (good in every scope).
func (s *Store) ScopedSessionUser(ctx context.Context, token, scope string) (*User, error) {
	if token == "" || len(token) > 128 {
		return nil, errSessionNotFound
	}
	var u User
	err := sqlx.GetContext(ctx, s.db, &u, `WITH live AS (
			SELECT token_hash, user_id, last_seen_at FROM `+s.t.Sessions+`
			WHERE token_hash IN ($1, $4) AND expires_at > now() AND last_seen_at > now() - $2 * interval '1 second'
		), touched AS (
			UPDATE `+s.t.Sessions+` ss SET last_seen_at = now() FROM live
			WHERE ss.token_hash = live.token_hash AND live.last_seen_at < now() - $3 * interval '1 second'
		)
		SELECT u.id, u.email, u.is_active, u.is_verified, u.is_superuser, u.created_at, u.last_login, u.deleted_at
		FROM live JOIN `+s.t.Users+` u ON u.id = live.user_id
		WHERE u.is_active AND u.deleted_at IS NULL`,
		tokenHash(scope, token), s.idle.Seconds(), s.touchInterval().Seconds(), tokenHash("", token))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errSessionNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("users: session: %w", err)
	}
	return &u, nil
}

// RevokeSession ends the session with token. Revoking an unknown token is
// not an error.
func (s *Store) RevokeSession(ctx context.Context, token string) error {
	return s.RevokeScopedSession(ctx, token, "")
}

// RevokeScopedSession ends the session that ScopedSessionUser would find
// for token in scope.
func (s *Store) RevokeScopedSession(ctx context.Context, token, scope string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM `+s.t.Sessions+` WHERE token_hash IN ($1, $2)`,
		tokenHash(scope, token), tokenHash("", token)); err != nil {
		return fmt.Errorf("users: revoke session: %w", err)
	}
	return nil
}

// RevokeUserSessionsTx ends every session of a user. SetPassword and
// DeactivateTx call it.
func (s *Store) RevokeUserSessionsTx(ctx context.Context, ex sqlx.ExecerContext, userID int64) error {
	if _, err := ex.ExecContext(ctx, `DELETE FROM `+s.t.Sessions+` WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("users: revoke sessions of %d: %w", userID, err)
	}
	return nil
}

// DeleteExpiredSessions deletes every expired or idle session and returns
// how many it deleted. NewSession already prunes a user's own; run this
// from a periodic job to clear the sessions of users who never come back.
func (s *Store) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM `+s.t.Sessions+`
		WHERE expires_at <= now() OR last_seen_at <= now() - $1 * interval '1 second'`, s.idle.Seconds())
	if err != nil {
		return 0, fmt.Errorf("users: delete expired sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// tokenHash is what the sessions table stores for token in scope: the
// SHA-256 of the token, or of scope, a NUL and the token.
func tokenHash(scope, token string) []byte {
	if scope == "" {
		h := sha256.Sum256([]byte(token))
		return h[:]
	}
	h := sha256.Sum256([]byte(scope + "\x00" + token))
	return h[:]
}
