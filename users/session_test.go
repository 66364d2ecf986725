package users_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tenantkit/tenantkit/users"
)

// TestSessionIdleTimeout checks that an unused session ends after the idle
// timeout, that use keeps it alive, and that use is written at most once a
// minute.
func TestSessionIdleTimeout(t *testing.T) {
	t.Parallel()
	s, db := newStore(t, users.WithSessionIdleTimeout(time.Hour))
	ctx := t.Context()
	u, _ := s.CreateUser(ctx, "alice@example.com", "pw", true)
	token, sess, err := s.NewSession(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sess.LastSeenAt.IsZero() {
		t.Fatal("new session has no last_seen_at")
	}
	seenAgo := func() time.Duration {
		var secs float64
		if err := db.Get(&secs, `SELECT extract(epoch FROM now() - last_seen_at) FROM tenantkit_sessions`); err != nil {
			t.Fatal(err)
		}
		return time.Duration(secs * float64(time.Second))
	}
	tests := []struct {
		name     string
		idleFor  string // set last_seen_at to now() - this
		valid    bool
		touched  bool // last_seen_at is now() afterwards
		untilAgo time.Duration
	}{
		{"recently used: valid, no write", "30 seconds", true, false, 0},
		{"used two minutes ago: valid, recorded", "2 minutes", true, true, 0},
		{"just inside the timeout: valid, recorded", "59 minutes", true, true, 0},
		{"idle longer than the timeout", "61 minutes", false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db.MustExec(`UPDATE tenantkit_sessions SET last_seen_at = now() - $1::interval`, tt.idleFor)
			before := seenAgo()
			_, err := s.SessionUser(ctx, token)
			if tt.valid != (err == nil) {
				t.Fatalf("SessionUser = %v, want valid=%v", err, tt.valid)
			}
			if !tt.valid && !errors.Is(err, users.ErrSessionNotFound) {
				t.Fatalf("SessionUser = %v, want ErrSessionNotFound", err)
			}
			after := seenAgo()
			if tt.touched && after > 5*time.Second {
				t.Fatalf("last use not recorded: %v ago", after)
			}
			if !tt.touched && after < before-time.Second {
				t.Fatalf("last use written (%v -> %v ago) when it should not be", before, after)
			}
		})
	}
}

// TestNewSessionPrunesDeadOnes checks that the user's expired and idle
// sessions go when a new one starts, and DeleteExpiredSessions clears the
// rest.
func TestNewSessionPrunesDeadOnes(t *testing.T) {
	t.Parallel()
	s, db := newStore(t, users.WithSessionIdleTimeout(time.Hour))
	ctx := t.Context()
	alice, _ := s.CreateUser(ctx, "alice@example.com", "pw", true)
	bob, _ := s.CreateUser(ctx, "bob@example.com", "pw", true)
	for range 2 {
		for _, id := range []int64{alice.ID, bob.ID} {
			if _, _, err := s.NewSession(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	db.MustExec(`UPDATE tenantkit_sessions SET expires_at = now() - interval '1 second' WHERE ctid IN (SELECT ctid FROM tenantkit_sessions WHERE user_id = $1 LIMIT 1)`, alice.ID)
	db.MustExec(`UPDATE tenantkit_sessions SET last_seen_at = now() - interval '2 hours' WHERE user_id = $1 AND expires_at > now()`, alice.ID)
	db.MustExec(`UPDATE tenantkit_sessions SET last_seen_at = now() - interval '2 hours' WHERE user_id = $1`, bob.ID)
	count := func(id int64) int {
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM tenantkit_sessions WHERE user_id = $1`, id); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, _, err := s.NewSession(ctx, alice.ID); err != nil {
		t.Fatal(err)
	}
	if n := count(alice.ID); n != 1 {
		t.Fatalf("alice has %d sessions after a new one, want 1 (dead ones pruned)", n)
	}
	if n := count(bob.ID); n != 2 {
		t.Fatalf("bob has %d sessions, want 2 (only the user's own are pruned)", n)
	}
	n, err := s.DeleteExpiredSessions(ctx)
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredSessions = %d, %v; want 2", n, err)
	}
	if count(alice.ID) != 1 {
		t.Fatal("DeleteExpiredSessions removed a live session")
	}
}
