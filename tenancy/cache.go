package tenancy

import (
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const cacheShards = 64

// hostCache maps normalised hosts to live tenants (positive entries) or to
// nothing (negative entries), with a TTL for each kind and a bounded size.
// Reads take one shard's read lock: no allocation, and no contention
// between different hosts' shards.
type hostCache struct {
	seed     maphash.Seed
	ttl      time.Duration
	negTTL   time.Duration
	perShard int
	gen      atomic.Uint64 // bumped by every invalidation
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]cacheEntry
	_  [40]byte // keep shards on separate cache lines
}

type cacheEntry struct {
	t       *Tenant // nil: no live tenant has this host
	expires int64   // unix nanoseconds
}

func newHostCache(size int, ttl, negTTL time.Duration) *hostCache {
	c := &hostCache{seed: maphash.MakeSeed(), ttl: ttl, negTTL: negTTL, perShard: (size + cacheShards - 1) / cacheShards}
	for i := range c.shards {
		c.shards[i].m = make(map[string]cacheEntry)
	}
	return c
}

func (c *hostCache) shard(host string) *cacheShard {
	return &c.shards[maphash.String(c.seed, host)%cacheShards]
}

// get returns the cached answer for host: found reports a live entry, and
// t is nil for a negative one.
func (c *hostCache) get(host string) (t *Tenant, found bool) {
	s := c.shard(host)
	s.mu.RLock()
	e, ok := s.m[host]
	s.mu.RUnlock()
	if !ok || time.Now().UnixNano() > e.expires {
		return nil, false
	}
	return e.t, true
}

// put stores an answer that was read while the generation was gen; if an
// invalidation happened since, the answer may be stale and is dropped.
func (c *hostCache) put(host string, t *Tenant, gen uint64) {
	ttl := c.ttl
	if t == nil {
		ttl = c.negTTL
	}
	now := time.Now().UnixNano()
	s := c.shard(host)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	if len(s.m) >= c.perShard {
		for k, e := range s.m {
			if now > e.expires {
				delete(s.m, k)
			}
		}
		for k := range s.m { // still full: drop one at random
			if len(s.m) < c.perShard {
				break
			}
			delete(s.m, k)
		}
	}
	s.m[host] = cacheEntry{t: t, expires: now + int64(ttl)}
}

// invalidate drops what a change notification makes stale: "t:<id>" drops
// the entries of that tenant, "d:<id>:<domain>" also the domain's entry
// (which may be negative). Anything else flushes the whole cache.
func (c *hostCache) invalidate(payload string) {
	c.gen.Add(1)
	kind, rest, _ := strings.Cut(payload, ":")
	idText, domain, _ := strings.Cut(rest, ":")
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || (kind != "t" && kind != "d") {
		c.flush()
		return
	}
	if domain != "" {
		s := c.shard(domain)
		s.mu.Lock()
		delete(s.m, domain)
		s.mu.Unlock()
	}
	c.dropTenant(id)
}

func (c *hostCache) dropTenant(id int64) {
	c.gen.Add(1)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if e.t != nil && e.t.ID == id {
				delete(s.m, k)
			}
		}
		s.mu.Unlock()
	}
}

func (c *hostCache) flush() {
	c.gen.Add(1)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

func (c *hostCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// fastHost normalises the common, already canonical Host values (lower-case
// ASCII labels, an optional port) without allocating: it returns a
// substring. Anything else (upper case, non-ASCII, a trailing dot, IDNA
// labels, IPv6) reports false, and NormalizeHost does the full job; when
// fastHost accepts a value, NormalizeHost gives the same result.
func fastHost(h string) (string, bool) {
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		port := h[i+1:]
		if len(port) == 0 || len(port) > 5 {
			return "", false
		}
		for j := 0; j < len(port); j++ {
			if port[j] < '0' || port[j] > '9' {
				return "", false
			}
		}
		h = h[:i]
	}
	if len(h) == 0 || len(h) > 253 {
		return "", false
	}
	start := 0
	for i := 0; i <= len(h); i++ {
		if i < len(h) && h[i] != '.' {
			c := h[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", false
			}
			continue
		}
		label := h[start:i]
		// Empty or long labels, edge hyphens and "ab--" (IDNA's reserved
		// form, punycode included) go the slow way.
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' ||
			(len(label) >= 4 && label[2] == '-' && label[3] == '-') {
			return "", false
		}
		start = i + 1
	}
	return h, true
}
