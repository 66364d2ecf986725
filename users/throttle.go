package users

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// LoginThrottle limits login attempts in a fixed window, per account (the
// email, whether or not a user has it) and per client address. A limit of
// zero turns that limit off.
//
// The counters live in PostgreSQL (tenantkit_login_attempts), so every
// process of an installation shares them and a restart forgets nothing.
// Only the SHA-256 of each key is stored. A row lasts one window and is
// pruned by later attempts, so the table never holds more rows than the
// accounts and addresses that were tried during the last window, and a
// process keeps nothing in memory.
//
// An attempt is counted before the password is checked (atomically, so a
// burst of parallel guesses gets no more tries than the limit); a
// successful login clears the account's count and takes its own attempt
// back from the address's count, so only failures accumulate.
//
// Per-account limiting lets anyone lock an account out for one window by
// failing on purpose. That is the usual trade-off (Django's django-axes
// makes it too); keep the window short and the per-account limit well above
// what a person mistypes.
type LoginThrottle struct {
	// PerAccount is the number of attempts allowed per email per window.
	PerAccount int
	// PerAddress is the number of attempts allowed per client address per
	// window. IPv6 addresses count per /64, the block a single host usually
	// gets.
	PerAddress int
	// Window is the length of the window.
	Window time.Duration
}

// DefaultLoginThrottle is the default: 10 attempts per account and 100 per
// address every 15 minutes.
var DefaultLoginThrottle = LoginThrottle{PerAccount: 10, PerAddress: 100, Window: 15 * time.Minute}

// WithLoginThrottle sets Login's limits. Default DefaultLoginThrottle.
func WithLoginThrottle(t LoginThrottle) Option {
	return func(s *Store) error {
		if t.PerAccount < 0 || t.PerAddress < 0 || t.Window < time.Second {
			return fmt.Errorf("users: WithLoginThrottle: invalid %+v", t)
		}
		s.throttle = t
		return nil
	}
}

// ThrottledError is returned by Login when a limit is reached. It matches
// ErrThrottled with errors.Is. Answer the client without saying which
// limit (HTTP 429 with a Retry-After header is customary).
type ThrottledError struct {
	// RetryAfter is how long until the window that is full ends.
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("users: login: too many attempts, retry in %v", e.RetryAfter.Round(time.Second))
}

// Is reports whether target is ErrThrottled.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// Login is Authenticate for a login form: it counts the attempt against
// the account and against clientAddr (an IP address, or "" when unknown)
// and refuses with a *ThrottledError, without checking the password, once
// either has had too many in the window (see LoginThrottle). Otherwise it
// answers as Authenticate does: the user, or ErrInvalidCredentials after
// the same work for an unknown email as for a wrong password.
func (s *Store) Login(ctx context.Context, email, password, clientAddr string) (*User, error) {
	acct, addr := accountKey(email), addressKey(clientAddr)
	keys := [][]byte{acct}
	if addr != nil {
		keys = append(keys, addr)
	}
	if s.throttle.PerAccount > 0 || s.throttle.PerAddress > 0 {
		if err := s.countAttempt(ctx, keys, acct); err != nil {
			return nil, err
		}
	}
	u, err := s.Authenticate(ctx, email, password)
	if err != nil {
		return nil, err
	}
	if s.throttle.PerAccount > 0 || s.throttle.PerAddress > 0 {
		if _, err := s.db.ExecContext(ctx, `WITH acct AS (DELETE FROM `+s.attemptsTable()+` WHERE key = $1)
			UPDATE `+s.attemptsTable()+` SET attempts = greatest(attempts - 1, 0) WHERE key = $2`, acct, addr); err != nil {
			return nil, fmt.Errorf("users: login: clear attempts: %w", err)
		}
	}
	return u, nil
}

func (s *Store) attemptsTable() string { return s.t.Schema.Qualify("tenantkit_login_attempts") }

// countAttempt adds one attempt to each key and returns a *ThrottledError
// if any key is now over its limit. Rows of past windows (other than
// keys') are deleted in the same statement.
func (s *Store) countAttempt(ctx context.Context, keys [][]byte, acct []byte) error {
	window := s.throttle.Window.Seconds()
	var rows []struct {
		Key       []byte        `db:"key"`
		Attempts  int           `db:"attempts"`
		Remaining time.Duration `db:"remaining"`
	}
	err := sqlx.SelectContext(ctx, s.db, &rows, `WITH pruned AS (
			DELETE FROM `+s.attemptsTable()+` WHERE window_start <= now() - $2 * interval '1 second' AND key <> ALL($1)
		)
		INSERT INTO `+s.attemptsTable()+` AS a (key, attempts, window_start)
		SELECT k, 1, now() FROM unnest($1::bytea[]) AS k
		ON CONFLICT (key) DO UPDATE SET
			attempts = CASE WHEN a.window_start <= now() - $2 * interval '1 second' THEN 1 ELSE a.attempts + 1 END,
			window_start = CASE WHEN a.window_start <= now() - $2 * interval '1 second' THEN now() ELSE a.window_start END
		RETURNING key, attempts,
			(extract(epoch FROM window_start + $2 * interval '1 second' - now()) * 1e9)::bigint AS remaining`,
		pq.ByteaArray(keys), window)
	if err != nil {
		return fmt.Errorf("users: login: count attempt: %w", err)
	}
	var retry time.Duration
	for _, r := range rows {
		limit := s.throttle.PerAddress
		if string(r.Key) == string(acct) {
			limit = s.throttle.PerAccount
		}
		if limit > 0 && r.Attempts > limit {
			retry = max(retry, r.Remaining)
		}
	}
	if retry > 0 {
		return &ThrottledError{RetryAfter: retry}
	}
	return nil
}

// accountKey is the throttle key of an email: its SHA-256, lower-cased as
// a whole (emails are unique whatever their case), whether or not it is
// valid or belongs to anyone.
func accountKey(email string) []byte {
	h := sha256.Sum256([]byte("account\x00" + strings.ToLower(strings.TrimSpace(email))))
	return h[:]
}

// addressKey is the throttle key of a client address: an IPv4 address as
// is, an IPv6 address by its /64, anything else as given (at most 100
// bytes). "" has no key.
func addressKey(addr string) []byte {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return nil
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	if ip, err := netip.ParseAddr(addr); err == nil {
		ip = ip.Unmap().WithZone("")
		if ip.Is6() {
			p, _ := ip.Prefix(64)
			addr = p.String()
		} else {
			addr = ip.String()
		}
	} else if len(addr) > 100 {
		addr = addr[:100]
	}
	h := sha256.Sum256([]byte("address\x00" + addr))
	return h[:]
}
