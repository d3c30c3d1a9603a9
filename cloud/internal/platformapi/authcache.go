package platformapi

import (
	"crypto/sha256"
	"sync"
	"time"

	"outpost/cloud/internal/tenancy"
)

// authCache remembers which actor a bearer token resolved to for a short
// time, so a busy client costs one store lookup per TTL instead of two per
// request. Correctness rests on two rules:
//   - every mutating request (anything but GET/HEAD) empties the cache
//     after its change and before its answer is written, so force logout,
//     suspend, role changes and password resets take effect for the very
//     next request;
//   - a lookup that raced with such a request is not stored (generation
//     check), so a stale actor cannot slip back in.
//
// What it can delay, by at most the TTL, is a change made outside this API
// that nobody reports with API.ForgetTokens (the cloud reports every
// revocation and tenancy change, made in the console or on another
// instance) and a session reaching its natural expiry.
type authCache struct {
	ttl time.Duration // ≤ 0 disables the cache
	now func() time.Time

	mu      sync.Mutex
	gen     uint64
	entries map[[32]byte]authEntry
}

type authEntry struct {
	actor   tenancy.Actor
	expires time.Time
}

// maxAuthEntries bounds memory; the cache is emptied when it is reached.
const maxAuthEntries = 100_000

func newAuthCache(ttl time.Duration, now func() time.Time) *authCache {
	return &authCache{ttl: ttl, now: now, entries: make(map[[32]byte]authEntry)}
}

// get returns the cached actor for token and the generation to pass to put.
func (c *authCache) get(token string) (tenancy.Actor, bool, [32]byte, uint64) {
	key := sha256.Sum256([]byte(token))
	if c.ttl <= 0 {
		return tenancy.Actor{}, false, key, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if ok && c.now().Before(e.expires) {
		return e.actor, true, key, c.gen
	}
	if ok {
		delete(c.entries, key)
	}
	return tenancy.Actor{}, false, key, c.gen
}

// put stores an actor resolved at generation gen, unless the cache was
// invalidated since.
func (c *authCache) put(key [32]byte, a tenancy.Actor, gen uint64) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.entries) >= maxAuthEntries {
		clear(c.entries)
	}
	c.entries[key] = authEntry{actor: a, expires: c.now().Add(c.ttl)}
}

// invalidate forgets every entry.
func (c *authCache) invalidate() {
	c.mu.Lock()
	c.gen++
	clear(c.entries)
	c.mu.Unlock()
}
