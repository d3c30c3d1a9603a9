package ratelimit

import (
	"testing"
	"time"
)

func TestLoginGuard(t *testing.T) {
	now := time.Unix(1000, 0)
	g := NewLoginGuard(LoginLimits{AccountFree: 3, AddrFree: 5, Delay: time.Second, MaxDelay: 8 * time.Second,
		Forget: time.Hour}, func() time.Time { return now })
	fail := func(addr, acct string, n int) {
		for range n {
			g.Failed(addr, acct)
		}
	}
	type check struct {
		addr, acct string
		want       time.Duration
	}
	steps := []struct {
		name   string
		do     func()
		checks []check
	}{
		{"free failures cost nothing", func() { fail("10.0.0.1", "a@x", 2) },
			[]check{{"10.0.0.1", "a@x", 0}}},
		{"the 3rd failure of an account delays it 1s, from any address", func() { fail("10.0.0.1", "a@x", 1) },
			[]check{{"10.0.0.1", "a@x", time.Second}, {"10.9.9.9", "a@x", time.Second}, {"10.0.0.1", "b@x", 0}}},
		{"the delay doubles", func() { fail("10.0.0.2", "a@x", 2) },
			[]check{{"10.9.9.9", "a@x", 4 * time.Second}}},
		{"and stops at MaxDelay", func() { fail("10.0.0.3", "a@x", 5) },
			[]check{{"10.9.9.9", "a@x", 8 * time.Second}}},
		{"the wait runs down", func() { now = now.Add(3 * time.Second) },
			[]check{{"10.9.9.9", "a@x", 5 * time.Second}}},
		{"an address is limited across accounts", func() { fail("10.0.0.1", "c@x", 2) },
			[]check{{"10.0.0.1", "d@x", time.Second}, {"10.0.0.5", "d@x", 0}}},
		{"an empty account counts against the address only", func() { fail("10.0.0.6", "", 5) },
			[]check{{"10.0.0.6", "d@x", time.Second}, {"10.0.0.7", "", 0}}},
		{"IPv6 addresses count per /64", func() { fail("2001:db8::1", "e@x", 5) },
			[]check{{"2001:db8::ffff", "f@x", time.Second}, {"2001:db8:0:1::1", "f@x", 0}}},
		{"success forgets the account, not the address", func() { g.Succeeded("10.0.0.1", "a@x") },
			[]check{{"10.0.0.9", "a@x", 0}, {"10.0.0.1", "z@x", time.Second}}},
		{"an hour later everything is forgotten", func() { now = now.Add(time.Hour) },
			[]check{{"10.0.0.1", "c@x", 0}, {"2001:db8::1", "e@x", 0}}},
	}
	for _, s := range steps {
		s.do()
		for _, c := range s.checks {
			if got := g.Wait(c.addr, c.acct); got != c.want {
				t.Errorf("%s: Wait(%s, %s) = %v, want %v", s.name, c.addr, c.acct, got, c.want)
			}
		}
	}
	if n := len(g.state.(*memoryLogins).entries); n != 0 {
		t.Errorf("%d entries kept after Forget", n)
	}
}
