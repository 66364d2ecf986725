package users_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tenantkit/tenantkit/users"
)

var testThrottle = users.LoginThrottle{PerAccount: 3, PerAddress: 5, Window: time.Hour}

// attempt logs in and classifies the answer.
func attempt(t *testing.T, s *users.Store, email, password, addr string) string {
	t.Helper()
	_, err := s.Login(t.Context(), email, password, addr)
	var te *users.ThrottledError
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, users.ErrInvalidCredentials):
		return "invalid"
	case errors.As(err, &te) && errors.Is(err, users.ErrThrottled):
		if te.RetryAfter <= 0 || te.RetryAfter > time.Hour {
			t.Fatalf("RetryAfter %v outside (0, 1h]", te.RetryAfter)
		}
		return "throttled"
	default:
		t.Fatalf("Login(%s, %s): %v", email, addr, err)
		return ""
	}
}

func TestLoginThrottlePerAccount(t *testing.T) {
	t.Parallel()
	s, db := newStore(t, users.WithLoginThrottle(testThrottle))
	ctx := t.Context()
	if _, err := s.CreateUser(ctx, "alice@example.com", "right", true); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		email string
	}{
		{"known account", "alice@example.com"},
		// An unknown email is throttled exactly alike, so the throttle
		// tells nobody which emails exist.
		{"unknown account", "nobody@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for i := range 4 {
				// Each from its own address: only the account limit applies.
				got = append(got, attempt(t, s, tt.email, "wrong", fmt.Sprintf("192.0.2.%d", i)))
			}
			got = append(got, attempt(t, s, tt.email, "right", "198.51.100.1"))
			want := "[invalid invalid invalid throttled throttled]"
			if fmt.Sprint(got) != want {
				t.Fatalf("answers %v, want %s", got, want)
			}
		})
	}
	// The case of the email does not open a new account key.
	if got := attempt(t, s, "ALICE@Example.com", "right", ""); got != "throttled" {
		t.Fatalf("upper-case email: %s, want throttled", got)
	}
	// The next window starts afresh.
	db.MustExec(`UPDATE tenantkit_login_attempts SET window_start = now() - interval '61 minutes'`)
	if got := attempt(t, s, "alice@example.com", "right", ""); got != "ok" {
		t.Fatalf("after the window: %s, want ok", got)
	}
	// Only hashes are stored, and the old window's rows were pruned.
	var rows int
	if err := db.Get(&rows, `SELECT count(*) FROM tenantkit_login_attempts WHERE window_start < now() - interval '1 hour'`); err != nil || rows != 0 {
		t.Fatalf("%d rows of past windows left (%v)", rows, err)
	}
	var leaked int
	if err := db.Get(&leaked, `SELECT count(*) FROM tenantkit_login_attempts WHERE position('alice' in encode(key, 'escape')) > 0`); err != nil || leaked != 0 {
		t.Fatalf("an email is stored in clear (%d, %v)", leaked, err)
	}
}

func TestLoginThrottlePerAddress(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, users.WithLoginThrottle(testThrottle))
	ctx := t.Context()
	if _, err := s.CreateUser(ctx, "bob@example.com", "right", true); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		addrs []string // one per attempt, six attempts
	}{
		{"one IPv4 address", []string{"203.0.113.7", "203.0.113.7:5555", "203.0.113.7", "203.0.113.7", "203.0.113.7", "203.0.113.7"}},
		{"IPv4 mapped in IPv6 is the same address", []string{"198.51.100.9", "::ffff:198.51.100.9", "[::ffff:198.51.100.9]:80", "198.51.100.9", "198.51.100.9", "198.51.100.9"}},
		{"one IPv6 /64", []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "[2001:db8:1:2:ffff::3]:443", "2001:db8:1:2::4%eth0", "2001:db8:1:2::5", "2001:db8:1:2::6"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for j, addr := range tt.addrs[:5] {
				// A new email each time: only the address limit applies.
				got = append(got, attempt(t, s, fmt.Sprintf("guess%d-%d@example.com", i, j), "x", addr))
			}
			// Even the right password of a real account is refused now.
			got = append(got, attempt(t, s, "bob@example.com", "right", tt.addrs[5]))
			want := "[invalid invalid invalid invalid invalid throttled]"
			if fmt.Sprint(got) != want {
				t.Fatalf("answers %v, want %s", got, want)
			}
		})
	}
	// Another /64 and no address at all are not affected (a new account:
	// bob's has had three attempts, its limit).
	if _, err := s.CreateUser(ctx, "erin@example.com", "right", true); err != nil {
		t.Fatal(err)
	}
	if got := attempt(t, s, "erin@example.com", "right", "2001:db8:1:3::1"); got != "ok" {
		t.Fatalf("other /64: %s", got)
	}
	if got := attempt(t, s, "erin@example.com", "right", ""); got != "ok" {
		t.Fatalf("no address: %s", got)
	}
}

// TestLoginSuccessClearsTheAccount checks that only failures accumulate:
// a success resets the account and gives its attempt back to the address.
func TestLoginSuccessClearsTheAccount(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, users.WithLoginThrottle(testThrottle))
	if _, err := s.CreateUser(t.Context(), "carol@example.com", "right", true); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 3 {
		got = append(got, attempt(t, s, "carol@example.com", "wrong", "192.0.2.1"),
			attempt(t, s, "carol@example.com", "wrong", "192.0.2.1"),
			attempt(t, s, "carol@example.com", "right", "192.0.2.1"))
	}
	// Without the resets the account (limit three) would be throttled at
	// the fourth attempt; the address (limit five) counts failures only,
	// so it is throttled at the sixth failure.
	want := "[invalid invalid ok invalid invalid ok invalid throttled throttled]"
	if fmt.Sprint(got) != want {
		t.Fatalf("answers %v, want %s", got, want)
	}
}

// TestLoginThrottleHoldsUnderABurst checks that parallel guesses get no
// more tries than the limit: attempts are counted before the password is
// checked, atomically.
func TestLoginThrottleHoldsUnderABurst(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, users.WithLoginThrottle(users.LoginThrottle{PerAccount: 3, Window: time.Hour}))
	if _, err := s.CreateUser(t.Context(), "dave@example.com", "right", true); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			_, err := s.Login(t.Context(), "dave@example.com", "wrong", fmt.Sprintf("192.0.2.%d", i))
			r := "other"
			switch {
			case errors.Is(err, users.ErrInvalidCredentials):
				r = "invalid"
			case errors.Is(err, users.ErrThrottled):
				r = "throttled"
			}
			mu.Lock()
			counts[r]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if counts["invalid"] != 3 || counts["throttled"] != 17 {
		t.Fatalf("answers %v, want 3 invalid and 17 throttled", counts)
	}
}

func TestLoginThrottleOff(t *testing.T) {
	t.Parallel()
	s, db := newStore(t, users.WithLoginThrottle(users.LoginThrottle{Window: time.Minute}))
	for range 5 {
		if got := attempt(t, s, "x@example.com", "x", "192.0.2.1"); got != "invalid" {
			t.Fatalf("throttle off: %s", got)
		}
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM tenantkit_login_attempts`); err != nil || n != 0 {
		t.Fatalf("throttle off wrote %d rows (%v)", n, err)
	}
}
