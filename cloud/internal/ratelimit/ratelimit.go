// Package ratelimit holds the cloud's request limiters: per-key token
// buckets (golang.org/x/time/rate) for quotas such as requests per
// organization or registrations per address, and LoginGuard, which slows
// down password guessing per client address and per account.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Keyed is a token bucket per key: each key holds up to perMinute tokens
// and regains them at perMinute per minute, so a quota of 10,000/min allows
// a burst of 10,000 and then a steady 166/s. Memory is bounded by sweeping
// buckets that have been full (idle) for a minute.
type Keyed struct {
	perMinute int
	now       func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

// NewKeyed returns a limiter of perMinute requests per key; a non-positive
// quota disables limiting. now nil means time.Now.
func NewKeyed(perMinute int, now func() time.Time) *Keyed {
	if now == nil {
		now = time.Now
	}
	return &Keyed{perMinute: perMinute, now: now, buckets: make(map[string]*bucket)}
}

// Allow takes one token from key's bucket and reports whether there was one.
func (k *Keyed) Allow(key string) bool {
	if k.perMinute <= 0 {
		return true
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	if now.Sub(k.lastSweep) > time.Minute {
		k.sweep(now)
	}
	b, ok := k.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(float64(k.perMinute)/60), k.perMinute)}
		k.buckets[key] = b
	}
	b.used = now
	return b.lim.AllowN(now, 1)
}

// sweep drops buckets that would be full by now: forgetting them changes
// nothing, since a new bucket starts full.
func (k *Keyed) sweep(now time.Time) {
	for key, b := range k.buckets {
		if now.Sub(b.used) >= time.Minute {
			delete(k.buckets, key)
		}
	}
	k.lastSweep = now
}
