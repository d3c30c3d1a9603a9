// Package ratelimit holds the cloud's request limiters: per-key token
// buckets (golang.org/x/time/rate) for quotas such as requests per
// organization or registrations per address, and LoginGuard, which slows
// down password guessing per client address and per account. Both keep
// their state in memory for one instance (SQLite) or in a store that
// several instances share (Shared, NewSharedLoginGuard over the
// PostgreSQL store), so that N instances allow what one does.
package ratelimit

import (
	"context"
	"log/slog"
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

// Buckets keeps token buckets where several cloud instances share them
// (the PostgreSQL store): each key's bucket holds up to perMinute tokens
// and regains them at perMinute per minute, as Keyed's do.
type Buckets interface {
	// TakeToken takes one token from key's bucket at now and reports
	// whether there was one.
	TakeToken(ctx context.Context, key string, perMinute int, now time.Time) (bool, error)
	// SweepBuckets drops the buckets untouched since cutoff (full again:
	// forgetting them changes nothing).
	SweepBuckets(ctx context.Context, cutoff time.Time) error
}

// Shared is a per-key quota kept in Buckets, so N instances together allow
// what one would. Its keys are prefixed with its name, so limiters of
// different quotas can share one store. When the store fails it limits
// in this process's memory instead (logged), so an outage of the store
// neither lifts the quota nor refuses every request.
type Shared struct {
	name      string
	perMinute int
	buckets   Buckets
	now       func() time.Time
	log       *slog.Logger
	local     *Keyed

	sweep, warned minuteGate
}

// NewShared returns a limiter of perMinute requests per key kept in b; a
// non-positive quota disables limiting. now nil means time.Now, logger
// nil discards.
func NewShared(name string, perMinute int, b Buckets, now func() time.Time, logger *slog.Logger) *Shared {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Shared{name: name, perMinute: perMinute, buckets: b, now: now, log: logger, local: NewKeyed(perMinute, now)}
}

// Allow takes one token from key's bucket and reports whether there was one.
func (s *Shared) Allow(key string) bool {
	if s.perMinute <= 0 {
		return true
	}
	now := s.now()
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if s.sweep.due(now) {
		if err := s.buckets.SweepBuckets(ctx, now.Add(-time.Minute)); err != nil {
			s.warn(now, "rate limit: sweep", err)
		}
	}
	ok, err := s.buckets.TakeToken(ctx, s.name+":"+key, s.perMinute, now)
	if err != nil {
		s.warn(now, "rate limit: shared bucket unreachable, limiting in memory", err)
		return s.local.Allow(key)
	}
	return ok
}

// warn logs at most once a minute.
func (s *Shared) warn(now time.Time, msg string, err error) {
	if s.warned.due(now) {
		s.log.Warn(msg, "limiter", s.name, "err", err)
	}
}

// minuteGate is due at most once a minute (its first call is), across
// goroutines: sweeps of shared state and repeated warnings.
type minuteGate struct {
	mu   sync.Mutex
	last time.Time
}

func (g *minuteGate) due(now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Sub(g.last) < time.Minute {
		return false
	}
	g.last = now
	return true
}
