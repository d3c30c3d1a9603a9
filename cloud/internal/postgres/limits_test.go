package postgres

import (
	"context"
	"sync"
	"testing"
	"time"

	"outpost/cloud/internal/ratelimit"
)

// twoInstances opens two stores (two pools, as two cloud instances have)
// on one database.
func twoInstances(t testing.TB) (*Store, *Store) {
	t.Helper()
	dsn := migratedDSN(t)
	var out [2]*Store
	for i := range out {
		s, err := Open(context.Background(), dsn, Options{MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out[i] = s
	}
	return out[0], out[1]
}

// A quota kept in the store is one quota however many instances take
// from it, refills at its rate and is per key.
func TestSharedQuotaAcrossInstances(t *testing.T) {
	a, b := twoInstances(t)
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	la, lb := ratelimit.NewShared("api", 6, a, clock, nil), ratelimit.NewShared("api", 6, b, clock, nil)
	allowed := 0
	for i := range 10 {
		l := la
		if i%2 == 1 {
			l = lb
		}
		if l.Allow("org:1") {
			allowed++
		}
	}
	if allowed != 6 {
		t.Fatalf("two instances allowed %d of 10 in a minute, want the quota 6", allowed)
	}
	if !lb.Allow("org:2") {
		t.Fatal("another key is limited by org 1's use")
	}
	if other := ratelimit.NewShared("register", 6, b, clock, nil); !other.Allow("org:1") {
		t.Fatal("a limiter of another name shares org 1's bucket")
	}
	now = now.Add(10 * time.Second) // 6/min: one token back
	if !la.Allow("org:1") || lb.Allow("org:1") {
		t.Fatal("10 s did not give back exactly one token")
	}
	now = now.Add(time.Hour) // the sweep runs; a forgotten bucket starts full
	allowed = 0
	for range 8 {
		if lb.Allow("org:1") {
			allowed++
		}
	}
	if allowed != 6 {
		t.Fatalf("after an idle hour %d allowed, want 6", allowed)
	}
	var rows int
	if err := a.pool.QueryRow(context.Background(), `SELECT count(*) FROM rate_buckets`).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("%d buckets kept after the sweep (%v), want org 1's only", rows, err)
	}
}

// Concurrent takers on both instances never get more than the quota.
func TestSharedQuotaConcurrent(t *testing.T) {
	a, b := twoInstances(t)
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for i := range 8 {
		l := ratelimit.NewShared("api", 50, a, clock, nil)
		if i%2 == 1 {
			l = ratelimit.NewShared("api", 50, b, clock, nil)
		}
		wg.Go(func() {
			for range 20 {
				if l.Allow("k") {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if allowed != 50 {
		t.Fatalf("160 concurrent requests on two instances: %d allowed, want 50", allowed)
	}
}

// Failed logins split across two instances throttle as on one.
func TestSharedLoginGuardAcrossInstances(t *testing.T) {
	a, b := twoInstances(t)
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	lim := ratelimit.LoginLimits{AccountFree: 3, AddrFree: 5, Delay: time.Second, MaxDelay: 8 * time.Second, Forget: time.Hour}
	one := ratelimit.NewLoginGuard(lim, clock)
	ga, gb := ratelimit.NewSharedLoginGuard(lim, a, clock, nil), ratelimit.NewSharedLoginGuard(lim, b, clock, nil)
	for i := range 6 {
		g := ga
		if i%2 == 1 {
			g = gb
		}
		addr := []string{"10.0.0.1", "10.0.0.2"}[i%2]
		g.Failed(addr, "a@x")
		one.Failed(addr, "a@x")
		for _, c := range []struct{ addr, acct string }{{"10.0.0.9", "a@x"}, {"10.0.0.1", "b@x"}, {"10.0.0.2", ""}} {
			want := one.Wait(c.addr, c.acct)
			if got := ga.Wait(c.addr, c.acct); got != want {
				t.Errorf("after %d failures, instance A: Wait(%s, %s) = %v, one instance says %v", i+1, c.addr, c.acct, got, want)
			}
			if got := gb.Wait(c.addr, c.acct); got != want {
				t.Errorf("after %d failures, instance B: Wait(%s, %s) = %v, one instance says %v", i+1, c.addr, c.acct, got, want)
			}
		}
	}
	if ga.Wait("10.0.0.9", "a@x") != 8*time.Second {
		t.Fatalf("6 failures of a@x (3 free): wait %v, want 8s", ga.Wait("10.0.0.9", "a@x"))
	}
	gb.Succeeded("10.0.0.1", "a@x")
	if d := ga.Wait("10.0.0.9", "a@x"); d != 0 {
		t.Fatalf("a success on B did not forget the account on A: %v", d)
	}
	now = now.Add(time.Hour)
	ga.Failed("10.0.0.1", "a@x") // an hour later: starts again at one
	if fs, err := a.LoginFailures(context.Background(), []string{"u:a@x"}); err != nil || fs[0].N != 1 {
		t.Fatalf("after Forget: %+v %v, want one failure", fs, err)
	}
}

// BenchmarkTakeToken is the hot-path cost of a shared quota: one upsert
// per request.
func BenchmarkTakeToken(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	now := time.Now()
	for b.Loop() {
		if _, err := s.TakeToken(ctx, "api:org:1", 1_000_000, now); err != nil {
			b.Fatal(err)
		}
	}
}
