package extrastest

import (
	"context"
	"reflect"
	"sync"
	"testing"

	"outpost/cloud/internal/notify"
)

// The event notifier's counts start at zero, are stored only when the
// count says so, are per device and code (the day per device), and
// concurrent counts of one code lose no increment.
func testEventCounters(t *testing.T, s Store) {
	ctx := context.Background()
	read := func(dev, code string) notify.EventCount {
		t.Helper()
		var got notify.EventCount
		must(t, s.CountEvent(ctx, dev, code, func(c *notify.EventCount) bool { got = *c; return false }))
		return got
	}
	if got := read("d1", "overheat"); got != (notify.EventCount{}) {
		t.Fatalf("fresh counts %+v, want zero", got)
	}
	must(t, s.CountEvent(ctx, "d1", "overheat", func(c *notify.EventCount) bool {
		*c = notify.EventCount{Seen: 3, Last: 1000, Notified: 900, Day: 20000, DayN: 7}
		return true
	}))
	must(t, s.CountEvent(ctx, "d1", "overheat", func(c *notify.EventCount) bool { c.Seen = 99; return false }))
	if got, want := read("d1", "overheat"), (notify.EventCount{Seen: 3, Last: 1000, Notified: 900, Day: 20000, DayN: 7}); got != want {
		t.Fatalf("counts %+v, want %+v (a count that returns false stores nothing)", got, want)
	}
	if got, want := read("d1", "online"), (notify.EventCount{Day: 20000, DayN: 7}); got != want {
		t.Fatalf("another code of the device: %+v, want its own zero counts and the device's day %+v", got, want)
	}
	if got := read("d2", "overheat"); got != (notify.EventCount{}) {
		t.Fatalf("another device: %+v, want zero", got)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				if err := s.CountEvent(ctx, "d3", "overheat", func(c *notify.EventCount) bool { c.Seen++; c.DayN++; return true }); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if got := read("d3", "overheat"); got.Seen != 40 || got.DayN != 40 {
		t.Fatalf("40 concurrent counts: %+v", got)
	}
}

// Pending offlines: one per device (a later one replaces it), taken once
// by device or when due, the earliest due known.
func testPendingOfflines(t *testing.T, s Store) {
	ctx := context.Background()
	if _, ok, err := s.NextOfflineDue(ctx); err != nil || ok {
		t.Fatalf("next due with none pending: %v %v", ok, err)
	}
	must(t, s.PutPendingOffline(ctx, notify.PendingOffline{Device: "d1", At: 100, Due: 30_100}))
	must(t, s.PutPendingOffline(ctx, notify.PendingOffline{Device: "d1", At: 200, Due: 30_200}))
	must(t, s.PutPendingOffline(ctx, notify.PendingOffline{Device: "d2", At: 300, Due: 60_300}))
	must(t, s.PutPendingOffline(ctx, notify.PendingOffline{Device: "d3", At: 400, Due: 90_400}))
	if due, ok, err := s.NextOfflineDue(ctx); err != nil || !ok || due != 30_200 {
		t.Fatalf("next due %d %v %v, want 30200", due, ok, err)
	}
	p, ok, err := s.TakePendingOffline(ctx, "d3")
	if err != nil || !ok || p != (notify.PendingOffline{Device: "d3", At: 400, Due: 90_400}) {
		t.Fatalf("take d3: %+v %v %v", p, ok, err)
	}
	if _, ok, err := s.TakePendingOffline(ctx, "d3"); err != nil || ok {
		t.Fatalf("d3 taken twice: %v %v", ok, err)
	}
	due, err := s.TakeDueOfflines(ctx, 60_299)
	if err != nil || !reflect.DeepEqual(due, []notify.PendingOffline{{Device: "d1", At: 200, Due: 30_200}}) {
		t.Fatalf("due by 60299: %+v %v", due, err)
	}
	if due, err := s.TakeDueOfflines(ctx, 60_299); err != nil || len(due) != 0 {
		t.Fatalf("taken twice: %+v %v", due, err)
	}
	if due, err := s.TakeDueOfflines(ctx, 1<<50); err != nil || len(due) != 1 || due[0].Device != "d2" {
		t.Fatalf("the rest: %+v %v", due, err)
	}
	if _, ok, err := s.NextOfflineDue(ctx); err != nil || ok {
		t.Fatalf("next due after all taken: %v %v", ok, err)
	}
}
