package users

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/mail"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/pgerr"
	"github.com/tenantkit/tenantkit/internal/shared"
	"github.com/tenantkit/tenantkit/sqlxschema"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the migration set for the users and sessions tables, to be
// applied to the shared schema (tenancy.Manager.Migrate does it).
func Migrations() sqlxschema.Set {
	sub, _ := fs.Sub(migrationFiles, "migrations")
	return sqlxschema.Set{Name: "tenantkit.users", FS: sub}
}

// User is a global user. Email is the username.
type User struct {
	ID          int64      `db:"id" json:"id"`
	Email       string     `db:"email" json:"email"`
	IsActive    bool       `db:"is_active" json:"is_active"`
	IsVerified  bool       `db:"is_verified" json:"is_verified"`
	IsSuperuser bool       `db:"is_superuser" json:"is_superuser"`
	CreatedAt   time.Time  `db:"created_at" json:"created_at"`
	LastLogin   *time.Time `db:"last_login" json:"last_login,omitempty"`
	DeletedAt   *time.Time `db:"deleted_at" json:"deleted_at,omitempty"`
}

const userColumns = `id, email, is_active, is_verified, is_superuser, created_at, last_login, deleted_at`

// Store keeps users and their sessions in the shared schema. Build it with
// New; it is safe for concurrent use.
type Store struct {
	db         *sqlx.DB
	t          shared.Tables
	params     Argon2Params
	sessionTTL time.Duration
	idle       time.Duration // idle timeout of sessions
	throttle   LoginThrottle

	dummyOnce sync.Once
	dummyHash string
}

// Option configures a Store.
type Option func(*Store) error

// WithSharedSchema names the schema that holds the users and sessions
// tables. Default "public".
func WithSharedSchema(name string) Option {
	return func(s *Store) error {
		sch, err := sqlxschema.ParseSchema(name)
		if err != nil {
			return err
		}
		s.t = shared.New(sch)
		return nil
	}
}

// WithArgon2Params sets the cost of new password hashes. Default
// DefaultArgon2Params.
func WithArgon2Params(p Argon2Params) Option {
	return func(s *Store) error {
		if p.Memory < 8 || p.Time < 1 || p.Threads < 1 || p.SaltLen < 8 || p.KeyLen < 16 {
			return fmt.Errorf("users: WithArgon2Params: parameters too weak: %+v", p)
		}
		if p.Memory > maxArgon2Memory || p.Time > maxArgon2Time || p.Threads > maxArgon2Threads ||
			p.SaltLen > maxArgon2Bytes || p.KeyLen > maxArgon2Bytes {
			return fmt.Errorf("users: WithArgon2Params: more than a stored hash may ask for (256 MiB, 16 passes, 64 lanes, 128-byte salt and key): %+v", p)
		}
		s.params = p
		return nil
	}
}

// WithSessionLifetime sets how long a session lasts. Default 14 days.
func WithSessionLifetime(d time.Duration) Option {
	return func(s *Store) error {
		if d <= 0 {
			return fmt.Errorf("users: WithSessionLifetime: %v is not positive", d)
		}
		s.sessionTTL = d
		return nil
	}
}

// WithSessionIdleTimeout ends a session that has not been used for d.
// Default 24 hours; use a shorter one for sensitive applications. The
// session's last use is recorded at most once a minute (once per d/2 for
// shorter timeouts), so the timeout is exact to within that.
func WithSessionIdleTimeout(d time.Duration) Option {
	return func(s *Store) error {
		if d < 2*time.Second {
			return fmt.Errorf("users: WithSessionIdleTimeout: %v is shorter than 2s", d)
		}
		s.idle = d
		return nil
	}
}

// New returns a Store on db. It does no I/O.
func New(db *sqlx.DB, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, errors.New("users: New: nil *sqlx.DB")
	}
	s := &Store{db: db, t: shared.New(sqlxschema.MustSchema(shared.DefaultSchema)),
		params: DefaultArgon2Params, sessionTTL: 14 * 24 * time.Hour, idle: 24 * time.Hour,
		throttle: DefaultLoginThrottle}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// NormalizeEmail trims spaces and lower-cases the domain part, and checks
// that the result is a bare address (no display name). Emails are compared
// case-insensitively as a whole.
func NormalizeEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	if len(email) > 254 {
		return "", fmt.Errorf("users: %w: longer than 254 bytes", ErrInvalidEmail)
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" {
		return "", fmt.Errorf("users: %w: %q is not a bare address", ErrInvalidEmail, email)
	}
	at := strings.LastIndexByte(email, '@')
	return email[:at] + "@" + strings.ToLower(email[at+1:]), nil
}

// CreateUser creates a user. An empty password makes an account that
// cannot log in with a password. It returns ErrInvalidEmail, ErrExists for
// an email a live user has (whatever its case), or ErrDeleted for one that
// belongs to a soft-deleted user.
func (s *Store) CreateUser(ctx context.Context, email, password string, isActive bool) (*User, error) {
	return s.create(ctx, s.db, email, password, isActive, false)
}

// CreateUserTx is CreateUser inside the caller's transaction (or any
// executor).
func (s *Store) CreateUserTx(ctx context.Context, ex sqlx.ExtContext, email, password string, isActive bool) (*User, error) {
	return s.create(ctx, ex, email, password, isActive, false)
}

// CreateSuperuser creates an active user with the global superuser flag
// (an operator of the whole installation, not of one tenant).
func (s *Store) CreateSuperuser(ctx context.Context, email, password string) (*User, error) {
	return s.create(ctx, s.db, email, password, true, true)
}

func (s *Store) create(ctx context.Context, ex sqlx.ExtContext, email, password string, isActive, super bool) (*User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	hash := ""
	if password != "" {
		if hash, err = hashPassword(s.params, password); err != nil {
			return nil, fmt.Errorf("users: hash password: %w", err)
		}
	}
	var u User
	err = sqlx.GetContext(ctx, ex, &u, `INSERT INTO `+s.t.Users+` (email, password_hash, is_active, is_superuser)
		VALUES ($1, $2, $3, $4) RETURNING `+userColumns, email, hash, isActive, super)
	if err != nil {
		if pgerr.IsUnique(err) {
			var deleted bool
			if qerr := sqlx.GetContext(ctx, ex, &deleted, `SELECT deleted_at IS NOT NULL FROM `+s.t.Users+` WHERE lower(email) = lower($1)`, email); qerr == nil && deleted {
				return nil, fmt.Errorf("users: create %q: %w", email, ErrDeleted)
			}
			return nil, fmt.Errorf("users: create %q: %w", email, ErrExists)
		}
		return nil, fmt.Errorf("users: create %q: %w", email, err)
	}
	return &u, nil
}

// ByID returns the user with id, live or deleted, or ErrNotFound.
func (s *Store) ByID(ctx context.Context, id int64) (*User, error) {
	return s.ByIDTx(ctx, s.db, id)
}

// ByIDTx is ByID on the caller's executor.
func (s *Store) ByIDTx(ctx context.Context, ex sqlx.QueryerContext, id int64) (*User, error) {
	var u User
	err := sqlx.GetContext(ctx, ex, &u, `SELECT `+userColumns+` FROM `+s.t.Users+` WHERE id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("users: user %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("users: user %d: %w", id, err)
	}
	return &u, nil
}

// ByEmail returns the user with email (any case), or ErrNotFound.
func (s *Store) ByEmail(ctx context.Context, email string) (*User, error) {
	var u User
	if !storable(email) {
		return nil, fmt.Errorf("users: %q: %w", email, ErrNotFound)
	}
	err := sqlx.GetContext(ctx, s.db, &u, `SELECT `+userColumns+` FROM `+s.t.Users+` WHERE lower(email) = lower($1)`, strings.TrimSpace(email))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("users: %q: %w", email, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("users: %q: %w", email, err)
	}
	return &u, nil
}

// storable reports whether PostgreSQL could hold email as text: no NUL
// byte, valid UTF-8. Anything else matches no user (and would otherwise
// be an encoding error from the server, a 500 for a typo'd form).
func storable(email string) bool {
	return utf8.ValidString(email) && !strings.ContainsRune(email, 0)
}

// dummy is a hash of a random password with the store's parameters: an
// unknown email is checked against it so it costs the same work.
func (s *Store) dummy() string {
	s.dummyOnce.Do(func() {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		s.dummyHash, _ = hashPassword(s.params, string(b))
	})
	return s.dummyHash
}

// Authenticate checks email and password. It returns the user, or
// ErrInvalidCredentials for an unknown email, a wrong password, an inactive
// or deleted user or one without a password, after the same hashing work in
// every case. A hash made with older parameters is upgraded on success.
func (s *Store) Authenticate(ctx context.Context, email, password string) (*User, error) {
	var row struct {
		User
		Hash string `db:"password_hash"`
	}
	err := sql.ErrNoRows // no email PostgreSQL could store matches
	if storable(email) {
		err = sqlx.GetContext(ctx, s.db, &row, `SELECT `+userColumns+`, password_hash FROM `+s.t.Users+` WHERE lower(email) = lower($1)`, strings.TrimSpace(email))
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("users: authenticate: %w", err)
	}
	hash := row.Hash
	found := err == nil && hash != ""
	if !found {
		hash = s.dummy()
	}
	ok, stale, verr := verifyPassword(hash, password, s.params)
	if verr != nil {
		// A hash of a format we do not check (Django's unusable "!...",
		// an algorithm we lack): spend an unknown email's work, so the
		// answer's time does not tell that the account exists.
		_, _, _ = verifyPassword(s.dummy(), password, s.params)
	}
	if !found || verr != nil || !ok || !row.IsActive || row.DeletedAt != nil {
		return nil, errInvalidCredentials
	}
	if stale {
		if newHash, err := hashPassword(s.params, password); err == nil {
			_, _ = s.db.ExecContext(ctx, `UPDATE `+s.t.Users+` SET password_hash = $2 WHERE id = $1 AND password_hash = $3`, row.ID, newHash, row.Hash)
		}
	}
	now := time.Now()
	_, _ = s.db.ExecContext(ctx, `UPDATE `+s.t.Users+` SET last_login = $2 WHERE id = $1`, row.ID, now)
	u := row.User
	u.LastLogin = &now
	return &u, nil
}

// SetPassword sets a user's password (empty: no password login) and revokes
// all of the user's sessions.
func (s *Store) SetPassword(ctx context.Context, userID int64, password string) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := s.SetPasswordTx(ctx, tx, userID, password); err != nil {
		return err
	}
	return tx.Commit()
}

// SetPasswordTx is SetPassword inside the caller's transaction: the new
// hash and the revocation of the sessions commit or roll back with it.
func (s *Store) SetPasswordTx(ctx context.Context, ex sqlx.ExecerContext, userID int64, password string) error {
	hash := ""
	if password != "" {
		var err error
		if hash, err = hashPassword(s.params, password); err != nil {
			return fmt.Errorf("users: hash password: %w", err)
		}
	}
	res, err := ex.ExecContext(ctx, `UPDATE `+s.t.Users+` SET password_hash = $2 WHERE id = $1`, userID, hash)
	if err != nil {
		return fmt.Errorf("users: set password: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("users: set password for %d: %w", userID, ErrNotFound)
	}
	return s.RevokeUserSessionsTx(ctx, ex, userID)
}

// DeactivateTx marks a user inactive and deleted and revokes its sessions,
// inside the caller's transaction. The row and its data stay. It is the
// user half of tenancy.Manager.DeleteUser, which also takes the user out of
// its tenants; call that instead.
func (s *Store) DeactivateTx(ctx context.Context, ex sqlx.ExtContext, userID int64) error {
	res, err := ex.ExecContext(ctx, `UPDATE `+s.t.Users+` SET is_active = false, deleted_at = coalesce(deleted_at, now()) WHERE id = $1`, userID)
	if err != nil {
		return fmt.Errorf("users: deactivate %d: %w", userID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("users: deactivate %d: %w", userID, ErrNotFound)
	}
	return s.RevokeUserSessionsTx(ctx, ex, userID)
}

var (
	errInvalidCredentials = fmt.Errorf("users: authenticate: %w", ErrInvalidCredentials)
	errSessionNotFound    = fmt.Errorf("users: session: %w", ErrSessionNotFound)
)
