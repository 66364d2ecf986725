package users_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tenantkit/tenantkit/users"
)

// timingStore is a store with the production argon2id parameters, so the
// timing tests measure what a real login costs.
func timingStore(t testing.TB) *users.Store {
	t.Helper()
	s, _ := newStore(t, users.WithArgon2Params(users.DefaultArgon2Params))
	if _, err := s.CreateUser(t.Context(), "alice@example.com", "the right password", true); err != nil {
		t.Fatal(err)
	}
	return s
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
	s := timingStore(t)
	ctx := t.Context()
	measure := func(email string) time.Duration {
		start := time.Now()
		_, err := s.Authenticate(ctx, email, "a wrong password")
		d := time.Since(start)
		if !errors.Is(err, users.ErrInvalidCredentials) {
			t.Fatalf("Authenticate(%s) = %v", email, err)
		}
		return d
	}
	measure("alice@example.com") // warm up: the dummy hash, the pool
	measure("nobody@example.com")
	const n = 15
	var known, unknown []time.Duration
	for range n {
		known = append(known, measure("alice@example.com"))
		unknown = append(unknown, measure("nobody@example.com"))
	}
	mk, mu := slices.Min(known), slices.Min(unknown)
	ratio := float64(mu) / float64(mk)
	t.Logf("fastest failed login: wrong password %v, unknown email %v (ratio %.2f)", mk, mu, ratio)
	if ratio < 1.0/3 || ratio > 3 {
		t.Fatalf("unknown email takes %.2f times as long as a wrong password (fastest %v vs %v)", ratio, mu, mk)
	}
}

// BenchmarkLogin measures Authenticate with the production argon2id
// parameters for each way a login can go. unknown_email and
// wrong_password must cost the same (users/doc.go records the figures):
//
//	go test ./users -run '^$' -bench Login -benchtime 40x -count 3
func BenchmarkLogin(b *testing.B) {
	s := timingStore(b)
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
