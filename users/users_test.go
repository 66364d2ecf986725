package users_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/internal/pgtest"
	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/sqlxschema"
	"github.com/tenantkit/tenantkit/users"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func newStore(t testing.TB, opts ...users.Option) (*users.Store, *sqlx.DB) {
	t.Helper()
	db := testkit.DB(t)
	sdb, _ := sqlxschema.New(db)
	if _, err := sqlxschema.NewMigrator(sdb).Apply(t.Context(), sqlxschema.MustSchema("public"), false, users.Migrations()); err != nil {
		t.Fatal(err)
	}
	s, err := users.New(db, append([]users.Option{users.WithArgon2Params(testkit.FastArgon2)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s, db
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"alice@example.com", "alice@example.com", true},
		{"  Alice@EXAMPLE.com ", "Alice@example.com", true},
		{"", "", false},
		{"alice", "", false},
		{"Alice <alice@example.com>", "", false},
		{"alice@example.com, bob@example.com", "", false},
		{strings.Repeat("a", 250) + "@example.com", "", false},
	}
	for _, tt := range tests {
		got, err := users.NormalizeEmail(tt.in)
		if tt.ok && (err != nil || got != tt.want) {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if !tt.ok && !errors.Is(err, users.ErrInvalidEmail) {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want ErrInvalidEmail", tt.in, got, err)
		}
	}
}

func TestCreateUserUniqueWhateverTheCase(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	u, err := s.CreateUser(ctx, "Alice@Example.com", "pw", true)
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "Alice@example.com" || !u.IsActive || u.IsSuperuser {
		t.Fatalf("user = %+v", u)
	}
	if _, err := s.CreateUser(ctx, "alice@EXAMPLE.COM", "pw", true); !errors.Is(err, users.ErrExists) {
		t.Fatalf("second create = %v, want ErrExists", err)
	}
	if _, err := s.CreateUser(ctx, "not an email", "pw", true); !errors.Is(err, users.ErrInvalidEmail) {
		t.Fatalf("bad email = %v, want ErrInvalidEmail", err)
	}
	got, err := s.ByEmail(ctx, "ALICE@example.com")
	if err != nil || got.ID != u.ID {
		t.Fatalf("ByEmail = %+v, %v", got, err)
	}
	if _, err := s.ByEmail(ctx, "nobody@example.com"); !errors.Is(err, users.ErrNotFound) {
		t.Fatalf("ByEmail unknown = %v", err)
	}
	su, err := s.CreateSuperuser(ctx, "root@example.com", "pw")
	if err != nil || !su.IsSuperuser {
		t.Fatalf("CreateSuperuser = %+v, %v", su, err)
	}
}

func TestPasswordIsHashedWithArgon2id(t *testing.T) {
	s, db := newStore(t)
	u, err := s.CreateUser(t.Context(), "alice@example.com", "correct horse", true)
	if err != nil {
		t.Fatal(err)
	}
	var hash string
	if err := db.Get(&hash, `SELECT password_hash FROM tenantkit_users WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(hash, "correct horse") {
		t.Fatalf("stored hash %q", hash)
	}
}

func TestAuthenticateFailsAlikeForEveryReason(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	if _, err := s.CreateUser(ctx, "alice@example.com", "right", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, "inactive@example.com", "right", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, "nopass@example.com", "", true); err != nil {
		t.Fatal(err)
	}
	u, err := s.Authenticate(ctx, "ALICE@example.com", "right")
	if err != nil || u.LastLogin == nil {
		t.Fatalf("good login = %+v, %v", u, err)
	}
	tests := []struct{ name, email, password string }{
		{"wrong password", "alice@example.com", "wrong"},
		{"unknown email", "nobody@example.com", "right"},
		{"inactive user", "inactive@example.com", "right"},
		{"no password set", "nopass@example.com", ""},
		{"empty password", "alice@example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := s.Authenticate(ctx, tt.email, tt.password)
			if !errors.Is(err, users.ErrInvalidCredentials) || u != nil || err.Error() != "users: authenticate: invalid email or password" {
				t.Fatalf("Authenticate = %+v, %v; want the one ErrInvalidCredentials message", u, err)
			}
		})
	}
}

func TestOldHashUpgradedOnLogin(t *testing.T) {
	old, db := newStore(t)
	ctx := t.Context()
	u, err := old.CreateUser(ctx, "alice@example.com", "pw", true)
	if err != nil {
		t.Fatal(err)
	}
	stronger := testkit.FastArgon2
	stronger.Memory = 128
	s, err := users.New(db, users.WithArgon2Params(stronger))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "alice@example.com", "pw"); err != nil {
		t.Fatal(err)
	}
	var hash string
	if err := db.Get(&hash, `SELECT password_hash FROM tenantkit_users WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(hash, "m=128,") {
		t.Fatalf("hash not upgraded: %s", hash)
	}
	if _, err := s.Authenticate(ctx, "alice@example.com", "pw"); err != nil {
		t.Fatalf("login after upgrade: %v", err)
	}
}

func TestSessions(t *testing.T) {
	s, db := newStore(t)
	ctx := t.Context()
	u, _ := s.CreateUser(ctx, "alice@example.com", "pw", true)
	token, sess, err := s.NewSession(ctx, u.ID)
	if err != nil || len(token) < 40 || sess.UserID != u.ID {
		t.Fatalf("NewSession = %q, %+v, %v", token, sess, err)
	}
	var stored int
	if err := db.Get(&stored, `SELECT count(*) FROM tenantkit_sessions WHERE token_hash = $1::bytea`, []byte(token)); err != nil || stored != 0 {
		t.Fatalf("the raw token is stored (%d, %v)", stored, err)
	}
	got, err := s.SessionUser(ctx, token)
	if err != nil || got.ID != u.ID {
		t.Fatalf("SessionUser = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "nope", token + "x", strings.Repeat("a", 500)} {
		if _, err := s.SessionUser(ctx, bad); !errors.Is(err, users.ErrSessionNotFound) {
			t.Errorf("SessionUser(%q) = %v", bad, err)
		}
	}
	if err := s.RevokeSession(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionUser(ctx, token); !errors.Is(err, users.ErrSessionNotFound) {
		t.Fatalf("revoked session still valid: %v", err)
	}
}

func TestSessionEndsOnPasswordChangeExpiryAndDeactivation(t *testing.T) {
	s, db := newStore(t, users.WithSessionLifetime(time.Hour))
	ctx := t.Context()
	u, _ := s.CreateUser(ctx, "alice@example.com", "pw", true)

	t1, _, _ := s.NewSession(ctx, u.ID)
	if err := s.SetPassword(ctx, u.ID, "new"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionUser(ctx, t1); !errors.Is(err, users.ErrSessionNotFound) {
		t.Fatalf("session survived a password change: %v", err)
	}
	if _, err := s.Authenticate(ctx, "alice@example.com", "new"); err != nil {
		t.Fatalf("new password: %v", err)
	}

	t2, _, _ := s.NewSession(ctx, u.ID)
	db.MustExec(`UPDATE tenantkit_sessions SET expires_at = now() - interval '1 second'`)
	if _, err := s.SessionUser(ctx, t2); !errors.Is(err, users.ErrSessionNotFound) {
		t.Fatalf("expired session valid: %v", err)
	}

	t3, _, _ := s.NewSession(ctx, u.ID)
	if err := s.DeactivateTx(ctx, db, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionUser(ctx, t3); !errors.Is(err, users.ErrSessionNotFound) {
		t.Fatalf("session of a deactivated user valid: %v", err)
	}
	if _, _, err := s.NewSession(ctx, u.ID); !errors.Is(err, users.ErrNotFound) {
		t.Fatalf("NewSession for a deactivated user = %v", err)
	}
	if _, err := s.CreateUser(ctx, "alice@example.com", "pw", true); !errors.Is(err, users.ErrDeleted) {
		t.Fatalf("re-create deleted email = %v, want ErrDeleted", err)
	}
}

func TestOptionsRejectBadValues(t *testing.T) {
	db := testkit.DB(t)
	bad := []users.Option{
		users.WithArgon2Params(users.Argon2Params{Memory: 1, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}),
		users.WithSessionLifetime(0),
		users.WithSharedSchema("Bad Schema"),
		users.WithSessionIdleTimeout(time.Second),
		users.WithLoginThrottle(users.LoginThrottle{PerAccount: -1, Window: time.Minute}),
		users.WithLoginThrottle(users.LoginThrottle{PerAccount: 1, Window: 0}),
	}
	for i, o := range bad {
		if _, err := users.New(db, o); err == nil {
			t.Errorf("option %d accepted", i)
		}
	}
	if _, err := users.New(nil); err == nil {
		t.Error("New(nil) accepted")
	}
}

// TestSetPasswordTxFollowsTheCaller: the new hash and the revoked sessions
// roll back with the caller's transaction, and commit with it.
func TestSetPasswordTxFollowsTheCaller(t *testing.T) {
	s, db := newStore(t)
	ctx := t.Context()
	u, _ := s.CreateUser(ctx, "alice@example.com", "old", true)
	token, _, _ := s.NewSession(ctx, u.ID)

	tx := db.MustBegin()
	if err := s.SetPasswordTx(ctx, tx, u.ID, "new"); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	if _, err := s.Authenticate(ctx, "alice@example.com", "old"); err != nil {
		t.Fatalf("old password after rollback: %v", err)
	}
	if _, err := s.SessionUser(ctx, token); err != nil {
		t.Fatalf("session after rollback: %v", err)
	}

	tx = db.MustBegin()
	if err := s.SetPasswordTx(ctx, tx, u.ID, "new"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "alice@example.com", "new"); err != nil {
		t.Fatalf("new password after commit: %v", err)
	}
	if _, err := s.SessionUser(ctx, token); !errors.Is(err, users.ErrSessionNotFound) {
		t.Fatalf("session after commit: %v, want ErrSessionNotFound", err)
	}
	if err := s.SetPasswordTx(ctx, db, 999999, "x"); !errors.Is(err, users.ErrNotFound) {
		t.Fatalf("unknown user: %v, want ErrNotFound", err)
	}
}

// TestEmailsPostgreSQLCannotStoreMatchNoOne: a NUL byte or invalid UTF-8
// in an email is an unknown account, not a server error.
func TestEmailsPostgreSQLCannotStoreMatchNoOne(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	for _, email := range []string{"alice\x00@example.com", "alice\xff@example.com"} {
		if _, err := s.Authenticate(ctx, email, "pw"); !errors.Is(err, users.ErrInvalidCredentials) {
			t.Errorf("Authenticate(%q) = %v, want ErrInvalidCredentials", email, err)
		}
		if _, err := s.ByEmail(ctx, email); !errors.Is(err, users.ErrNotFound) {
			t.Errorf("ByEmail(%q) = %v, want ErrNotFound", email, err)
		}
	}
}
