package users_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tenantkit/tenantkit/users"
)

// timingStore is a store with the production argon2id parameters, so the
// timing tests measure what a real login costs.
func timingStore(t testing.TB) (*users.Store, *sqlx.DB) {
	t.Helper()
	s, db := newStore(t, users.WithArgon2Params(users.DefaultArgon2Params))
	if _, err := s.CreateUser(t.Context(), "alice@example.com", "the right password", true); err != nil {
		t.Fatal(err)
	}
	return s, db
}

// TestFailedLoginTimingDoesNotRevealTheEmail is a tolerant statistical
// check that an unknown email and a wrong password cost about the same.
// It interleaves the two and compares the fastest run of each: load from
// other processes only ever adds time, so the minimum is the estimate
// least moved by a busy machine (medians swung by a factor of two under
// load in one run of eight). It fails only if one minimum is more than
// three times the other. Skipping the password hash for unknown emails
// (the bug it guards against) makes them about a hundred times faster.
// The precise figures come from BenchmarkLogin.
func TestFailedLoginTimingDoesNotRevealTheEmail(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("timing check skipped in -short mode")
	}
	s, db := timingStore(t)
	ctx := t.Context()
	// Accounts whose stored hash is of a format Authenticate does not
	// check (Django's unusable password, an algorithm it lacks) must not
	// answer faster either.
	for email, hash := range map[string]string{
		"unusable@example.com": "!UnusablePasswordFromDjango",
		"md5@example.com":      "md5$salt$0123456789abcdef0123456789abcdef",
	} {
		u, err := s.CreateUser(ctx, email, "x", true)
		if err != nil {
			t.Fatal(err)
		}
		db.MustExec(`UPDATE tenantkit_users SET password_hash = $2 WHERE id = $1`, u.ID, hash)
	}
	measure := func(email string) time.Duration {
		start := time.Now()
		_, err := s.Authenticate(ctx, email, "a wrong password")
		d := time.Since(start)
		if !errors.Is(err, users.ErrInvalidCredentials) {
			t.Fatalf("Authenticate(%s) = %v", email, err)
		}
		return d
	}
	emails := []string{"alice@example.com", "nobody@example.com", "unusable@example.com", "md5@example.com"}
	for _, e := range emails {
		measure(e) // warm up: the dummy hash, the pool
	}
	const n = 15
	runs := make([][]time.Duration, len(emails))
	for range n {
		for i, e := range emails {
			runs[i] = append(runs[i], measure(e))
		}
	}
	wrong := slices.Min(runs[0]) // a wrong password for a real account
	for i, e := range emails[1:] {
		fastest := slices.Min(runs[i+1])
		ratio := float64(fastest) / float64(wrong)
		t.Logf("fastest failed login: wrong password %v, %s %v (ratio %.2f)", wrong, e, fastest, ratio)
		if ratio < 1.0/3 || ratio > 3 {
			t.Errorf("%s takes %.2f times as long as a wrong password (fastest %v vs %v)", e, ratio, fastest, wrong)
		}
	}
}

// BenchmarkLogin measures Authenticate with the production argon2id
// parameters for each way a login can go. unknown_email and
// wrong_password must cost the same (users/doc.go records the figures):
//
//	go test ./users -run '^$' -bench Login -benchtime 40x -count 3
func BenchmarkLogin(b *testing.B) {
	s, _ := timingStore(b)
	ctx := b.Context()
	cases := []struct {
		name, email, password string
		wantErr               bool
	}{
		{"unknown_email", "nobody@example.com", "a wrong password", true},
		{"wrong_password", "alice@example.com", "a wrong password", true},
		{"right_password", "alice@example.com", "the right password", false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				_, err := s.Authenticate(ctx, c.email, c.password)
				if (err != nil) != c.wantErr {
					b.Fatalf("Authenticate(%s) = %v", c.email, err)
				}
			}
		})
	}
	// The two failures alternated, so a change of load on the machine
	// weighs on both alike: their means and the ratio are reported.
	b.Run("interleaved", func(b *testing.B) {
		var unknown, wrong time.Duration
		for b.Loop() {
			start := time.Now()
			_, err1 := s.Authenticate(ctx, "nobody@example.com", "a wrong password")
			mid := time.Now()
			_, err2 := s.Authenticate(ctx, "alice@example.com", "a wrong password")
			unknown, wrong = unknown+mid.Sub(start), wrong+time.Since(mid)
			if err1 == nil || err2 == nil {
				b.Fatal("a wrong login succeeded")
			}
		}
		b.ReportMetric(float64(unknown.Milliseconds())/float64(b.N), "unknown-ms/op")
		b.ReportMetric(float64(wrong.Milliseconds())/float64(b.N), "wrong-ms/op")
		b.ReportMetric(float64(unknown)/float64(wrong), "ratio")
	})
}
