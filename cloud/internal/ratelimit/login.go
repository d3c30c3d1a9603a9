package ratelimit

import (
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

// LoginGuard slows down password guessing: once an account or a client
// address has used its free failures, each further attempt must wait a
// delay that doubles with every failure, up to MaxDelay. Attempts refused
// for waiting are not failures, so a guesser cannot extend the wait of the
// account it guesses. A success forgets the
// account's failures, not the address's: one valid account must not let a
// guesser reset the count of the address it guesses other accounts from.
// It is safe for concurrent use and keeps no state on disk: a restart
// forgets every failure.
type LoginGuard struct {
	lim LoginLimits
	now func() time.Time

	mu        sync.Mutex
	entries   map[string]*failures
	lastSweep time.Time
}

type failures struct {
	n    int
	last time.Time
}

// NewLoginGuard returns a guard with the given limits; now nil means
// time.Now.
func NewLoginGuard(l LoginLimits, now func() time.Time) *LoginGuard {
	if now == nil {
		now = time.Now
	}
	l.Forget = max(l.Forget, l.MaxDelay)
	return &LoginGuard{lim: l, now: now, entries: make(map[string]*failures)}
}

// Wait returns how long an attempt from addr for account ("": any) must
// wait; zero means it may go ahead.
func (g *LoginGuard) Wait(addr, account string) time.Duration {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.maybeSweep(now)
	return max(g.wait(addrKey(addr), g.lim.AddrFree, now), g.wait(accountKey(account), g.lim.AccountFree, now))
}

// wait is the delay after f.n failures: none below free, then Delay after
// the free-th failure, doubling with each further one.
func (g *LoginGuard) wait(key string, free int, now time.Time) time.Duration {
	f, ok := g.entries[key]
	if !ok || f.n < free {
		return 0
	}
	d := g.lim.Delay
	for i := max(free, 1); i < f.n && d < g.lim.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, g.lim.MaxDelay)
	return max(0, f.last.Add(d).Sub(now))
}

// Failed records a failed attempt from addr for account ("" counts
// against the address only).
func (g *LoginGuard) Failed(addr, account string) {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	keys := []string{addrKey(addr)}
	if account != "" {
		keys = append(keys, accountKey(account))
	}
	for _, k := range keys {
		f, ok := g.entries[k]
		if !ok || now.Sub(f.last) >= g.lim.Forget {
			f = &failures{}
			g.entries[k] = f
		}
		f.n++
		f.last = now
	}
}

// Succeeded forgets the account's failures.
func (g *LoginGuard) Succeeded(addr, account string) {
	g.mu.Lock()
	delete(g.entries, accountKey(account))
	g.mu.Unlock()
}

func (g *LoginGuard) maybeSweep(now time.Time) {
	if now.Sub(g.lastSweep) < time.Minute {
		return
	}
	for k, f := range g.entries {
		if now.Sub(f.last) >= g.lim.Forget {
			delete(g.entries, k)
		}
	}
	g.lastSweep = now
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
