package platformapi

import (
	"sync"
	"time"
)

// limiter is a per-key token bucket: each key (an organization) holds up to
// perMinute tokens and regains them at perMinute per minute, so a quota of
// 10,000/min allows a burst of 10,000 and then a steady 166/s. Memory is
// bounded by sweeping buckets that have been full (idle) for a minute.
type limiter struct {
	perMinute float64
	now       func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(perMinute int, now func() time.Time) *limiter {
	if now == nil {
		now = time.Now
	}
	return &limiter{perMinute: float64(perMinute), now: now, buckets: make(map[string]*bucket)}
}

// allow takes one token from key's bucket and reports whether there was one.
// A non-positive quota disables limiting.
func (l *limiter) allow(key string) bool {
	if l.perMinute <= 0 {
		return true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > time.Minute {
		l.sweep(now)
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.perMinute, at: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.at); el > 0 {
		b.tokens = min(l.perMinute, b.tokens+el.Minutes()*l.perMinute)
		b.at = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep drops buckets that would be full by now: forgetting them changes
// nothing, since a new bucket starts full.
func (l *limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.at) >= time.Minute {
			delete(l.buckets, k)
		}
	}
	l.lastSweep = now
}
