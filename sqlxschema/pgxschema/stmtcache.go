package pgxschema

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"
)

// stmtKey is a pipelined statement and the search_path it runs on.
//
// PostgreSQL keeps with each prepared statement the search_path it was
// parsed under, and parses it again when it runs under another one. A
// statement cache keyed by the query alone (pgx's own) therefore saves
// nothing when the connection serves a different tenant than last time,
// which on a shared pool is nearly always. Keyed by path and query, each
// tenant's statement keeps its parse and plan. This is only speed: a
// statement run on a path it was not prepared under is parsed again by
// the server, never run against the other tenant's tables.
type stmtKey struct{ path, query string }

// stmtCache is one connection's prepared statements by stmtKey, at most
// capacity of them (the oldest goes first). A connection uses it from one
// goroutine at a time.
type stmtCache struct {
	capacity int
	byKey    map[stmtKey]*pgconn.StatementDescription
	order    []stmtKey // oldest first
	stale    []string  // statements to deallocate before the next prepare
	seq      uint64
}

// newStmtCache returns a cache of capacity statements, or nil for 0.
func newStmtCache(capacity int) *stmtCache {
	if capacity <= 0 {
		return nil
	}
	return &stmtCache{capacity: capacity, byKey: map[stmtKey]*pgconn.StatementDescription{}}
}

func (c *stmtCache) get(k stmtKey) *pgconn.StatementDescription { return c.byKey[k] }

// prepare prepares k.query on pc, whose search_path must be k.path now,
// and caches it, evicting the oldest statement when full.
func (c *stmtCache) prepare(ctx context.Context, pc *pgconn.PgConn, k stmtKey) (*pgconn.StatementDescription, error) {
	if len(c.order) >= c.capacity {
		old := c.order[0]
		c.order = c.order[1:]
		c.stale = append(c.stale, c.byKey[old].Name)
		delete(c.byKey, old)
	}
	for _, name := range c.stale {
		// Best effort: a statement the server lost (DISCARD ALL) is gone
		// anyway.
		_ = pc.Deallocate(ctx, name)
	}
	c.stale = c.stale[:0]
	c.seq++
	sd, err := pc.Prepare(ctx, "tenantkit_"+strconv.FormatUint(c.seq, 10), k.query, nil)
	if err != nil {
		return nil, err
	}
	c.byKey[k] = sd
	c.order = append(c.order, k)
	return sd, nil
}

// failed drops every statement when err says the server's copy of one no
// longer fits: its tables changed shape ("cached plan must not change
// result type", 0A000) or it is gone (26000, after DISCARD ALL). The next
// use prepares again.
func (c *stmtCache) failed(err error) {
	var pe *pgconn.PgError
	if c == nil || !errors.As(err, &pe) || (pe.Code != "0A000" && pe.Code != "26000") {
		return
	}
	for _, k := range c.order {
		if pe.Code == "0A000" {
			c.stale = append(c.stale, c.byKey[k].Name)
		}
		delete(c.byKey, k)
	}
	c.order = c.order[:0]
}
