package users_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/tenantkit/tenantkit/users"
)

// djangoArgon2 builds a hash the way Django's Argon2PasswordHasher stores
// it: "argon2" followed by argon2-cffi's PHC string.
func djangoArgon2(variant, password, salt string, m, t uint32, p uint8) string {
	var key []byte
	if variant == "argon2id" {
		key = argon2.IDKey([]byte(password), []byte(salt), t, m, p, 32)
	} else {
		key = argon2.Key([]byte(password), []byte(salt), t, m, p, 32)
	}
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("argon2$%s$v=19$m=%d,t=%d,p=%d$%s$%s", variant, m, t, p,
		b64.EncodeToString([]byte(salt)), b64.EncodeToString(key))
}

// TestDjangoHashesVerifiedAndUpgraded checks that users moved from Django
// (django-tenant-users) log in with their old hashes, which are replaced by
// argon2id on the first successful login and left alone on a failed one.
// The pbkdf2 vectors come from Django's own test suite and Python's
// hashlib.pbkdf2_hmac, not from this code.
func TestDjangoHashesVerifiedAndUpgraded(t *testing.T) {
	t.Parallel()
	s, db := newStore(t)
	ctx := t.Context()
	tests := []struct {
		name, hash, password string
	}{
		// Django's test_hashers: make_password("lètmein", "seasalt", "pbkdf2_sha256").
		{"pbkdf2_sha256 Django 5.2", "pbkdf2_sha256$1000000$seasalt$r1uLUxoxpP2Ued/qxvmje7UH9PUJBkRrvf9gGPL7Cps=", "lètmein"},
		{"pbkdf2_sha256 older iterations", "pbkdf2_sha256$260000$seasalt$YlZ2Vggtqdc61YjArZuoApoBh9JNGYoDRBUGu6tcJQo=", "lètmein"},
		{"pbkdf2_sha1", "pbkdf2_sha1$260000$seasalt$zrDjmJzNam+WoKQzDHPbJ8HXc0Y=", "letmein"},
		{"argon2id Django", djangoArgon2("argon2id", "s3cret pw", "somesaltsalt", 256, 2, 2), "s3cret pw"},
		{"argon2i Django", djangoArgon2("argon2i", "s3cret pw", "somesaltsalt", 256, 2, 2), "s3cret pw"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email := fmt.Sprintf("django%d@example.com", i)
			u, err := s.CreateUser(ctx, email, "", true)
			if err != nil {
				t.Fatal(err)
			}
			db.MustExec(`UPDATE tenantkit_users SET password_hash = $2 WHERE id = $1`, u.ID, tt.hash)
			stored := func() string {
				var h string
				if err := db.Get(&h, `SELECT password_hash FROM tenantkit_users WHERE id = $1`, u.ID); err != nil {
					t.Fatal(err)
				}
				return h
			}
			if _, err := s.Authenticate(ctx, email, tt.password+"x"); !errors.Is(err, users.ErrInvalidCredentials) {
				t.Fatalf("wrong password: %v", err)
			}
			if stored() != tt.hash {
				t.Fatal("a failed login changed the hash")
			}
			if _, err := s.Authenticate(ctx, email, tt.password); err != nil {
				t.Fatalf("right password: %v", err)
			}
			if h := stored(); !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
				t.Fatalf("hash not upgraded to argon2id: %s", h)
			}
			if _, err := s.Authenticate(ctx, email, tt.password); err != nil {
				t.Fatalf("login after upgrade: %v", err)
			}
		})
	}
}

// TestMalformedStoredHashesFailClosed checks that a damaged or hostile
// hash in the table is a failed login, never a panic or a long stall.
func TestMalformedStoredHashesFailClosed(t *testing.T) {
	t.Parallel()
	s, db := newStore(t)
	ctx := t.Context()
	u, err := s.CreateUser(ctx, "alice@example.com", "", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{
		"plaintext",
		"pbkdf2_sha256$abc$salt$r1uLUxoxpP2Ued/qxvmje7UH9PUJBkRrvf9gGPL7Cps=",
		"pbkdf2_sha256$0$salt$r1uLUxoxpP2Ued/qxvmje7UH9PUJBkRrvf9gGPL7Cps=",
		"pbkdf2_sha256$999999999999$salt$r1uLUxoxpP2Ued/qxvmje7UH9PUJBkRrvf9gGPL7Cps=",
		"pbkdf2_sha256$1000$salt$not base64!",
		"pbkdf2_sha256$1000$$lpccZTffBJE0LpqnRLVeuaqassUYkb5vY7r+rifZiqM=",
		"pbkdf2_sha256$1000$salt",
		"pbkdf2_md5$1000$salt$lpccZTffBJE0LpqnRLVeuaqassUYkb5vY7r+rifZiqM=",
		"argon2$argon2id$v=19$m=0,t=0,p=0$c2FsdA$aGFzaA",
		"argon2$argon2d$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdA$aGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$",
		"$argon2id$v=19$m=64,t=1$c2FsdA$aGFzaA",
	} {
		db.MustExec(`UPDATE tenantkit_users SET password_hash = $2 WHERE id = $1`, u.ID, h)
		if _, err := s.Authenticate(ctx, "alice@example.com", "pass word"); !errors.Is(err, users.ErrInvalidCredentials) {
			t.Errorf("hash %q: %v, want ErrInvalidCredentials", h, err)
		}
	}
	// A well-formed Django hash of another password still fails.
	db.MustExec(`UPDATE tenantkit_users SET password_hash = $2 WHERE id = $1`, u.ID,
		"pbkdf2_sha256$1000$NaCl$lpccZTffBJE0LpqnRLVeuaqassUYkb5vY7r+rifZiqM=")
	if _, err := s.Authenticate(ctx, "alice@example.com", "pass word!"); !errors.Is(err, users.ErrInvalidCredentials) {
		t.Fatalf("wrong password against a Django hash: %v", err)
	}
	if _, err := s.Authenticate(ctx, "alice@example.com", "pass word"); err != nil {
		t.Fatalf("right password against a Django hash: %v", err)
	}
}
