package tenancy

import (
	"context"
	"errors"
	"time"

	"github.com/lib/pq"
)

// ChangesChannel is the PostgreSQL notification channel on which triggers on
// the tenants and domains tables announce every change.
const ChangesChannel = "tenantkit_changes"

// Watch keeps Resolve's cache in step with changes made by other processes
// (or by plain SQL): it listens on ChangesChannel over a connection of its
// own, opened from dsn (a lib/pq connection string or URL), and drops the
// stale entries of each change within moments of its commit. If the
// connection drops, Watch reconnects, flushing the cache each time since
// notifications may have been missed; meanwhile the TTL bounds staleness.
// It blocks until ctx is done and returns nil then; it returns an error
// only if it cannot listen at first. Run it in a goroutine:
//
//	go mgr.Watch(ctx, os.Getenv("DATABASE_URL"))
func (m *Manager) Watch(ctx context.Context, dsn string) error {
	if m.cache == nil {
		return errors.New("tenancy: Watch: the resolve cache is off")
	}
	l := pq.NewListener(dsn, 50*time.Millisecond, 5*time.Second, nil)
	defer l.Close()
	if err := l.Listen(ChangesChannel); err != nil {
		return err
	}
	// Whatever was cached before we listened may already be stale.
	m.cache.flush()
	ping := time.NewTicker(30 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case n := <-l.Notify:
			if n == nil { // reconnected: notifications may have been lost
				m.cache.flush()
				continue
			}
			m.cache.invalidate(n.Extra)
		case <-ping.C:
			go l.Ping() // notices a dead connection and triggers reconnection
		}
	}
}

// forget drops a tenant from this process's cache at once, after a change
// this Manager committed (other processes hear of it through Watch).
func (m *Manager) forget(tenantID int64) {
	if m.cache != nil {
		m.cache.dropTenant(tenantID)
	}
}

// FlushCache empties Resolve's cache.
func (m *Manager) FlushCache() {
	if m.cache != nil {
		m.cache.flush()
	}
}
