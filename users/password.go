package users

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are argon2id's cost parameters. They are stored with each
// hash, so changing them never breaks existing passwords: an older hash is
// verified with its own parameters and upgraded at the next login.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// DefaultArgon2Params follow OWASP's argon2id recommendation
// (19 MiB, 2 passes, 1 lane).
var DefaultArgon2Params = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

var errBadHash = errors.New("users: unrecognised password hash")

// maxPBKDF2Iterations bounds the work a stored Django hash can ask for
// (Django 5.2 uses 1,000,000; 6.0 1,200,000).
const maxPBKDF2Iterations = 5_000_000

// The most work a stored argon2 hash may ask for: a hash beyond it (a
// corrupt row, or one written to make a login cost minutes or all the
// memory there is) is refused as malformed, before any work. 256 MiB and
// 16 passes are far above what OWASP recommends (19 to 64 MiB, 2 passes).
const (
	maxArgon2Memory  = 256 << 10 // KiB
	maxArgon2Time    = 16
	maxArgon2Threads = 64
	maxArgon2Bytes   = 128 // salt and key
)

// hashPassword returns a PHC-format argon2id hash:
// $argon2id$v=19$m=...,t=...,p=...$salt$key (unpadded base64).
func hashPassword(p Argon2Params, password string) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// verifyPassword reports whether password matches hash, in constant time,
// and whether hash should be replaced by a new argon2id hash with want:
// because its parameters differ, or because it is one of Django's formats
// (a team moving from django-tenant-users keeps its users):
//
//	$argon2id$v=19$m=..,t=..,p=..$salt$key     tenantkit's own (PHC)
//	pbkdf2_sha256$<iterations>$<salt>$<b64>    Django's default hasher
//	pbkdf2_sha1$<iterations>$<salt>$<b64>      Django's PBKDF2SHA1PasswordHasher
//	argon2$argon2id$v=19$m=..,t=..,p=..$s$k    Django's Argon2PasswordHasher
//	argon2$argon2i$v=19$...                    the same, older variant
func verifyPassword(stored, password string, want Argon2Params) (ok, stale bool, err error) {
	switch {
	case strings.HasPrefix(stored, "$argon2id$"):
		return verifyArgon2(stored, password, want)
	case strings.HasPrefix(stored, "pbkdf2_sha256$"):
		ok, err = verifyDjangoPBKDF2(stored, password, sha256.New)
		return ok, true, err
	case strings.HasPrefix(stored, "pbkdf2_sha1$"):
		ok, err = verifyDjangoPBKDF2(stored, password, sha1.New)
		return ok, true, err
	case strings.HasPrefix(stored, "argon2$argon2"):
		ok, _, err = verifyArgon2(strings.TrimPrefix(stored, "argon2"), password, want)
		return ok, true, err
	}
	return false, false, errBadHash
}

// verifyArgon2 checks a PHC argon2id (or argon2i) hash.
func verifyArgon2(stored, password string, want Argon2Params) (ok, stale bool, err error) {
	parts := strings.Split(stored, "$")
	if len(parts) != 6 || (parts[1] != "argon2id" && parts[1] != "argon2i") {
		return false, false, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, false, errBadHash
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil ||
		p.Time == 0 || p.Threads == 0 || p.Memory < 8*uint32(p.Threads) ||
		p.Memory > maxArgon2Memory || p.Time > maxArgon2Time || p.Threads > maxArgon2Threads {
		return false, false, errBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) > maxArgon2Bytes {
		return false, false, errBadHash
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) == 0 || len(key) > maxArgon2Bytes {
		return false, false, errBadHash
	}
	var got []byte
	if parts[1] == "argon2id" {
		got = argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	} else {
		got = argon2.Key([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	}
	ok = subtle.ConstantTimeCompare(got, key) == 1
	stale = parts[1] != "argon2id" || p.Memory != want.Memory || p.Time != want.Time || p.Threads != want.Threads ||
		uint32(len(key)) != want.KeyLen || uint32(len(salt)) != want.SaltLen
	return ok, stale, nil
}

// verifyDjangoPBKDF2 checks Django's "<algorithm>$<iterations>$<salt>$<hash>"
// where hash is padded standard base64 and salt is used as its bytes.
func verifyDjangoPBKDF2(stored, password string, h func() hash.Hash) (bool, error) {
	parts := strings.Split(stored, "$")
	if len(parts) != 4 || parts[2] == "" {
		return false, errBadHash
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > maxPBKDF2Iterations {
		return false, errBadHash
	}
	want, err := base64.StdEncoding.DecodeString(parts[3])
	if err != nil || len(want) == 0 || len(want) > 128 {
		return false, errBadHash
	}
	got, err := pbkdf2.Key(h, password, []byte(parts[2]), iter, len(want))
	if err != nil {
		return false, errBadHash
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
