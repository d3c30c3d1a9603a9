package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"outpost/gateway/internal/hub"
	"outpost/internal/poll"
)

// TestOutboxCap checks the stated policy: past the cap, raw history is
// thinned oldest-first, and the latest value of every pin and every event
// and online/offline record stay.
func TestOutboxCap(t *testing.T) {
	ctx := context.Background()
	const limit = 100
	s := openWithTemplate(t, filepath.Join(t.TempDir(), "gw.db"), Options{OutboxMax: limit})
	a, b := testDevice(s, t, "a"), testDevice(s, t, "b")
	type key struct {
		dev int64
		pin int
	}
	written := map[key][]string{}
	events := 0
	for i := range 300 {
		d := a
		if i%3 == 0 {
			d = b
		}
		pin := i % 2
		v := strconv.Itoa(i)
		s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: d.ID, Pin: pin, Value: v, TS: int64(1000 + i)})
		written[key{d.ID, pin}] = append(written[key{d.ID, pin}], v)
		if i%10 == 0 {
			s.Append(hub.Record{Kind: hub.KindEvent, DeviceID: d.ID, Name: "overheat", TS: int64(1000 + i)})
			events++
		}
		if err := s.Flush(ctx); err != nil { // one commit each: the cap is checked per commit
			t.Fatal(err)
		}
	}
	s.Append(hub.Record{Kind: hub.KindOffline, DeviceID: a.ID, Name: "tcp"})
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, fmt.Sprintf("the outbox within its cap of %d", limit), func() bool { return s.Stats().Outbox <= limit })

	entries, err := s.Outbox(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(entries)) != s.Stats().Outbox {
		t.Errorf("outbox holds %d entries, counter says %d", len(entries), s.Stats().Outbox)
	}
	total := 300 + events + 1
	if got := s.Stats().Thinned; int(got) != total-len(entries) {
		t.Errorf("Thinned = %d, want %d", got, total-len(entries))
	}
	kept := map[key][]string{}
	gotEvents, offline := 0, 0
	for _, e := range entries {
		switch e.Record.Kind {
		case hub.KindWrite:
			k := key{e.Record.DeviceID, e.Record.Pin}
			kept[k] = append(kept[k], e.Record.Value)
		case hub.KindEvent:
			gotEvents++
		case hub.KindOffline:
			offline++
		}
	}
	if gotEvents != events || offline != 1 {
		t.Errorf("after thinning: %d events, %d offline; want %d, 1 (never dropped)", gotEvents, offline, events)
	}
	for k, all := range written {
		got := kept[k]
		if len(got) == 0 {
			t.Errorf("%v: every write dropped; the latest (%s) must stay", k, all[len(all)-1])
			continue
		}
		// Oldest first: what is left of a pin's writes is their newest part,
		// in order.
		if want := all[len(all)-len(got):]; !slicesEqual(got, want) {
			t.Errorf("%v: kept %v, want the newest %d of %v", k, got, len(got), all)
		}
	}
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestOutboxNamesDeletedDevices: entries of a device deleted since still
// carry its UID, so that they reach the cloud.
func TestOutboxNamesDeletedDevices(t *testing.T) {
	ctx := context.Background()
	s := openWithTemplate(t, filepath.Join(t.TempDir(), "gw.db"), Options{})
	d := testDevice(s, t, "gone")
	s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: d.ID, Pin: 1, Value: "7", TS: 1})
	if err := s.DeleteDevice(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	entries, err := s.Outbox(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].UID != d.UID {
		t.Fatalf("outbox = %+v, want one entry naming %s", entries, d.UID)
	}
}
