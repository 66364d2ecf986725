package users

import (
	"errors"
	"testing"
)

// TestStoredHashWorkIsBounded: a stored hash that asks for more work than
// any sane setting (a corrupt row, or one written so that a login costs
// minutes or all the memory there is) is refused before any work.
func TestStoredHashWorkIsBounded(t *testing.T) {
	const key = "c2FsdHNhbHRzYWx0c2FsdA" // 16 bytes, base64
	for name, hash := range map[string]string{
		"4 GiB of memory":   "$argon2id$v=19$m=4194304,t=1,p=1$" + key + "$" + key,
		"3,000,000 passes":  "$argon2id$v=19$m=64,t=3000000,p=1$" + key + "$" + key,
		"255 lanes":         "$argon2id$v=19$m=65536,t=1,p=255$" + key + "$" + key,
		"10^8 PBKDF2 turns": "pbkdf2_sha256$100000000$salt$" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	} {
		if _, _, err := verifyPassword(hash, "pw", DefaultArgon2Params); !errors.Is(err, errBadHash) {
			t.Errorf("%s: %v, want it refused as malformed", name, err)
		}
	}
	// The store's own settings stay within what it accepts back.
	for _, p := range []Argon2Params{
		{Memory: maxArgon2Memory + 1, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: maxArgon2Time + 1, Threads: 1, SaltLen: 16, KeyLen: 32},
	} {
		if err := WithArgon2Params(p)(&Store{}); err == nil {
			t.Errorf("WithArgon2Params(%+v) accepted", p)
		}
	}
}
