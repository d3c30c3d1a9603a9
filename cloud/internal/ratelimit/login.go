package ratelimit

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

// LoginLimits tune a LoginGuard. A client address gets more free failures
// than an account because many people can share one address (NAT).
type LoginLimits struct {
	AccountFree int           // failures of one account that cost no wait
	AddrFree    int           // failures from one address that cost no wait
	Delay       time.Duration // the first delay; it doubles with each further failure
	MaxDelay    time.Duration // the longest delay (a lockout window)
	// Forget is how long after its last failure an account or address
	// starts afresh; at least MaxDelay.
	Forget time.Duration
}

// Failures are the failed attempts counted against one key (an account
// or a client address).
type Failures struct {
	N    int
	Last time.Time
}

// LoginState is where a LoginGuard keeps its counts: this process's
// memory (NewLoginGuard) or a store that several cloud instances share
// (the PostgreSQL store), so that failures split across instances count
// as on one.
type LoginState interface {
	// LoginFailures returns the counts of keys, in their order (zero for
	// a key without failures).
	LoginFailures(ctx context.Context, keys []string) ([]Failures, error)
	// AddLoginFailure counts one failure at now against each key; a key
	// whose last failure is forget or more before now starts afresh.
	AddLoginFailure(ctx context.Context, keys []string, now time.Time, forget time.Duration) error
	// ForgetLoginFailures drops key's failures.
	ForgetLoginFailures(ctx context.Context, key string) error
	// SweepLoginFailures drops the keys whose last failure is before
	// cutoff.
	SweepLoginFailures(ctx context.Context, cutoff time.Time) error
}

// LoginGuard slows down password guessing: once an account or a client
// address has used its free failures, each further attempt must wait a
// delay that doubles with every failure, up to MaxDelay. Attempts refused
// for waiting are not failures, so a guesser cannot extend the wait of the
// account it guesses. A success forgets the
// account's failures, not the address's: one valid account must not let a
// guesser reset the count of the address it guesses other accounts from.
// It is safe for concurrent use. In memory (NewLoginGuard) a restart
// forgets every failure; on a shared LoginState every instance sees the
// same counts.
type LoginGuard struct {
	lim   LoginLimits
	now   func() time.Time
	state LoginState
	log   *slog.Logger
	sweep minuteGate
}

// storeTimeout bounds one call to a shared state: a guard or limiter that
// cannot reach it lets the request through (logged) rather than hang.
const storeTimeout = 2 * time.Second

// NewLoginGuard returns a guard with the given limits that counts in
// memory; now nil means time.Now.
func NewLoginGuard(l LoginLimits, now func() time.Time) *LoginGuard {
	return NewSharedLoginGuard(l, &memoryLogins{entries: map[string]Failures{}}, now, nil)
}

// NewSharedLoginGuard returns a guard that counts in state. A failing
// state is logged and throttles nothing (a login needs the same store
// anyway); logger nil discards.
func NewSharedLoginGuard(l LoginLimits, state LoginState, now func() time.Time, logger *slog.Logger) *LoginGuard {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l.Forget = max(l.Forget, l.MaxDelay)
	return &LoginGuard{lim: l, now: now, state: state, log: logger}
}

// Wait returns how long an attempt from addr for account ("": any) must
// wait; zero means it may go ahead.
func (g *LoginGuard) Wait(addr, account string) time.Duration {
	now := g.now()
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	g.maybeSweep(ctx, now)
	fs, err := g.state.LoginFailures(ctx, []string{addrKey(addr), accountKey(account)})
	if err != nil || len(fs) != 2 {
		g.log.Warn("login throttle: counts not read", "err", err)
		return 0
	}
	return max(g.wait(fs[0], g.lim.AddrFree, now), g.wait(fs[1], g.lim.AccountFree, now))
}

// wait is the delay after f.N failures: none below free, then Delay after
// the free-th failure, doubling with each further one.
func (g *LoginGuard) wait(f Failures, free int, now time.Time) time.Duration {
	if f.N == 0 || f.N < free {
		return 0
	}
	d := g.lim.Delay
	for i := max(free, 1); i < f.N && d < g.lim.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, g.lim.MaxDelay)
	return max(0, f.Last.Add(d).Sub(now))
}

// Failed records a failed attempt from addr for account ("" counts
// against the address only).
func (g *LoginGuard) Failed(addr, account string) {
	keys := []string{addrKey(addr)}
	if account != "" {
		keys = append(keys, accountKey(account))
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := g.state.AddLoginFailure(ctx, keys, g.now(), g.lim.Forget); err != nil {
		g.log.Warn("login throttle: failure not counted", "err", err)
	}
}

// Succeeded forgets the account's failures.
func (g *LoginGuard) Succeeded(addr, account string) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := g.state.ForgetLoginFailures(ctx, accountKey(account)); err != nil {
		g.log.Warn("login throttle: failures not forgotten", "err", err)
	}
}

// maybeSweep drops forgotten keys once a minute.
func (g *LoginGuard) maybeSweep(ctx context.Context, now time.Time) {
	if g.sweep.due(now) {
		if err := g.state.SweepLoginFailures(ctx, now.Add(-g.lim.Forget)); err != nil {
			g.log.Warn("login throttle: sweep", "err", err)
		}
	}
}

func accountKey(account string) string { return "u:" + account }

// addrKey groups an IPv6 address by its /64, the block one subscriber
// usually holds, so rotating through it buys no fresh attempts.
func addrKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return "a:" + addr
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return "a:" + p.String()
	}
	return "a:" + ip.String()
}

// memoryLogins is the LoginState of one process.
type memoryLogins struct {
	mu      sync.Mutex
	entries map[string]Failures
}

func (m *memoryLogins) LoginFailures(_ context.Context, keys []string) ([]Failures, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Failures, len(keys))
	for i, k := range keys {
		out[i] = m.entries[k]
	}
	return out, nil
}

func (m *memoryLogins) AddLoginFailure(_ context.Context, keys []string, now time.Time, forget time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		f, ok := m.entries[k]
		if !ok || now.Sub(f.Last) >= forget {
			f = Failures{}
		}
		f.N++
		f.Last = now
		m.entries[k] = f
	}
	return nil
}

func (m *memoryLogins) ForgetLoginFailures(_ context.Context, key string) error {
	m.mu.Lock()
	delete(m.entries, key)
	m.mu.Unlock()
	return nil
}

func (m *memoryLogins) SweepLoginFailures(_ context.Context, cutoff time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, f := range m.entries {
		if !f.Last.After(cutoff) {
			delete(m.entries, k)
		}
	}
	return nil
}
