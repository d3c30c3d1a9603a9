package livefeed

import (
	"fmt"
	"sync"
	"testing"

	"outpost/shared/syncproto"
)

func w(dev string, pin int, v string, ts int64) Update {
	return Update{Device: dev, Kind: syncproto.KindWrite, Pin: pin, Value: v, TS: ts}
}

func ev(dev, code string, ts int64) Update {
	return Update{Device: dev, Kind: syncproto.KindEvent, Name: code, TS: ts}
}

func TestCoalescing(t *testing.T) {
	for _, c := range []struct {
		name    string
		publish []Update
		want    []Update
	}{
		{"newest value per pin", []Update{w("a", 1, "1", 10), w("a", 2, "x", 11), w("a", 1, "2", 12)},
			[]Update{w("a", 1, "2", 12), w("a", 2, "x", 11)}},
		{"a late older value is not news", []Update{w("a", 1, "new", 20), w("a", 1, "old", 10)},
			[]Update{w("a", 1, "new", 20)}},
		{"an erase replaces the pending value", []Update{w("a", 1, "1", 10), {Device: "a", Kind: syncproto.KindErase, Pin: 1, TS: 11}},
			[]Update{{Device: "a", Kind: syncproto.KindErase, Pin: 1, TS: 11}}},
		{"newest connection state", []Update{{Device: "a", Kind: syncproto.KindOnline, Name: "tcp", TS: 1}, {Device: "a", Kind: syncproto.KindOffline, TS: 2}},
			[]Update{{Device: "a", Kind: syncproto.KindOffline, TS: 2}}},
		{"properties per pin and name", []Update{
			{Device: "a", Kind: syncproto.KindProperty, Pin: 1, Name: "color", Value: "red", TS: 1},
			{Device: "a", Kind: syncproto.KindProperty, Pin: 1, Name: "label", Value: "T", TS: 1},
			{Device: "a", Kind: syncproto.KindProperty, Pin: 1, Name: "color", Value: "blue", TS: 2},
			{Device: "a", Kind: syncproto.KindMeta, Name: "Serial", Value: "1", TS: 1},
		}, []Update{
			{Device: "a", Kind: syncproto.KindProperty, Pin: 1, Name: "color", Value: "blue", TS: 2},
			{Device: "a", Kind: syncproto.KindProperty, Pin: 1, Name: "label", Value: "T", TS: 1},
			{Device: "a", Kind: syncproto.KindMeta, Name: "Serial", Value: "1", TS: 1},
		}},
		{"events keep their order", []Update{ev("a", "x", 1), w("a", 1, "1", 1), ev("a", "x", 2), ev("a", "y", 1)},
			[]Update{ev("a", "x", 1), w("a", 1, "1", 1), ev("a", "x", 2), ev("a", "y", 1)}},
		{"other devices are not delivered", []Update{w("b", 1, "1", 1), w("a", 1, "1", 1)},
			[]Update{w("a", 1, "1", 1)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := New(Options{})
			s := h.Subscribe("a", "a")
			defer s.Close()
			h.Publish(c.publish)
			select {
			case <-s.Ready():
			default:
				t.Fatal("not ready after a publish")
			}
			got, dropped := s.Take(nil)
			if fmt.Sprint(got) != fmt.Sprint(c.want) || dropped != 0 {
				t.Fatalf("got %v (%d dropped), want %v", got, dropped, c.want)
			}
			if again, _ := s.Take(nil); len(again) != 0 {
				t.Fatalf("taken twice: %v", again)
			}
		})
	}
}

func TestEventsBeyondTheBoundAreDroppedOldestFirst(t *testing.T) {
	h := New(Options{MaxEvents: 3})
	s := h.Subscribe("a")
	defer s.Close()
	h.Publish([]Update{ev("a", "1", 1), w("a", 1, "v", 1), ev("a", "2", 2), ev("a", "3", 3), ev("a", "4", 4), ev("a", "5", 5), w("a", 1, "v2", 2)})
	got, dropped := s.Take(nil)
	want := []Update{w("a", 1, "v2", 2), ev("a", "3", 3), ev("a", "4", 4), ev("a", "5", 5)}
	if fmt.Sprint(got) != fmt.Sprint(want) || dropped != 2 {
		t.Fatalf("got %v, %d dropped; want %v, 2 dropped", got, dropped, want)
	}
	h.Publish([]Update{ev("a", "6", 6)})
	if got, dropped = s.Take(got[:0]); len(got) != 1 || dropped != 0 {
		t.Fatalf("after a take: %v, %d dropped", got, dropped)
	}
}

func TestCloseUnsubscribes(t *testing.T) {
	h := New(Options{})
	s1, s2 := h.Subscribe("a", "b"), h.Subscribe("b")
	if h.Subscribers() != 2 {
		t.Fatalf("%d subscribers", h.Subscribers())
	}
	s1.Close()
	s1.Close() // twice is harmless
	h.Publish([]Update{w("a", 1, "1", 1), w("b", 1, "1", 1)})
	if got, _ := s1.Take(nil); len(got) != 0 {
		t.Fatalf("closed subscription got %v", got)
	}
	if got, _ := s2.Take(nil); len(got) != 1 {
		t.Fatalf("open subscription got %v", got)
	}
	s2.Close()
	if h.Subscribers() != 0 || len(h.subs) != 0 {
		t.Fatalf("%d subscribers, %d devices indexed after closing all", h.Subscribers(), len(h.subs))
	}
}

// TestSlowSubscriberDoesNotBlock: a subscriber that never takes costs the
// publisher nothing but its bounded pending set; under -race, publishers
// and takers run concurrently.
func TestSlowSubscriberDoesNotBlock(t *testing.T) {
	h := New(Options{MaxEvents: 10})
	stuck := h.Subscribe("a")
	defer stuck.Close()
	live := h.Subscribe("a")
	defer live.Close()
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		var buf []Update
		for {
			select {
			case <-live.Ready():
				buf, _ = live.Take(buf[:0])
			case <-done:
				return
			}
		}
	})
	for i := range 10_000 {
		h.Publish([]Update{w("a", i%4, fmt.Sprint(i), int64(i)), ev("a", "e", int64(i))})
	}
	close(done)
	wg.Wait()
	us, dropped := stuck.Take(nil)
	if len(us) != 4+10 || dropped != 10_000-10 {
		t.Fatalf("stuck subscriber holds %d updates, %d dropped; want 4 values + 10 events, %d dropped", len(us), dropped, 10_000-10)
	}
}
