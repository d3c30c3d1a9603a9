package cloudlink

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"outpost/gateway/internal/hub"
	"outpost/internal/poll"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

// TestMergeUp: devices made on the gateway are announced after the welcome
// and before any of their telemetry; once the cloud sends them back they are
// known (durably) and not announced again; a later snapshot that lacks a
// known device deletes it here, while a device the cloud never saw is kept
// and announced.
func TestMergeUp(t *testing.T) {
	fc := newFakeCloud(t)
	var version atomic.Int64
	version.Store(3)
	fc.onHello = func(send func(*syncproto.Message) error, h *syncproto.Hello) {
		if h.TenancyVersion == 0 { // the cloud knows none of the gateway's devices yet
			_ = send(&syncproto.Message{Type: syncproto.TypeSnapshot, Snapshot: &syncproto.Tenancy{Version: version.Load()}})
		}
	}
	// The cloud adopts what is announced and sends it back down.
	fc.onDevices = func(send func(*syncproto.Message) error, l *syncproto.LocalDevices) {
		v := version.Add(1)
		d := &syncproto.Delta{From: v - 1, Version: v}
		for _, x := range l.Devices {
			d.Devices = append(d.Devices, syncproto.Device{UID: x.UID, Name: x.Name, TemplateID: x.TemplateID, OrgID: 1, TokenHash: x.TokenHash})
		}
		_ = send(&syncproto.Message{Type: syncproto.TypeDelta, Delta: d})
	}
	r := newRig(t, "", fc, nil)
	a, _ := r.hub.byUID(uidA)
	r.hub.write(a.ID, 1, "7", time.Now().UnixMilli(), "tcp")
	poll.Within(t, "the write", 5*time.Second, func() bool { return fc.total() == 1 })
	poll.Within(t, "the devices back down", 5*time.Second, func() bool { return r.link.Stats().TenancyVersion == 4 })

	fc.mu.Lock()
	events := slices.Clone(fc.events)
	fc.mu.Unlock()
	ia, ib, it := slices.Index(events, "devices:"+uidA), slices.Index(events, "devices:"+uidB), slices.Index(events, "telemetry:"+uidA)
	if ia < 0 || ib < 0 || it < ia {
		t.Fatalf("events %v: both devices must be announced, A before its telemetry", events)
	}
	for _, uid := range []string{uidA, uidB} {
		if v, _ := r.store.Cursor(context.Background(), cursorKnown+uid); v != 1 {
			t.Errorf("device %s not recorded as known to the cloud", uid)
		}
	}

	// Reconnect: nothing new to announce.
	fc.kick()
	poll.Within(t, "a second session", 5*time.Second, func() bool { return r.link.Stats().Connects >= 2 && r.link.Stats().Connected })
	r.hub.write(a.ID, 1, "8", time.Now().UnixMilli(), "tcp")
	poll.Within(t, "the second write", 5*time.Second, func() bool { return fc.total() == 2 })
	if n := r.link.Stats().Announced; n != 2 {
		t.Errorf("announced %d devices, want 2 (known devices are not announced again)", n)
	}

	// A device made locally while connected; then the cloud deletes A: a
	// snapshot without A and C deletes A (the cloud had it) and keeps C
	// (the cloud never saw it), which is announced and comes back.
	const uidC2 = "01JD5Z8Q3M4N5P6Q7R8S9T0VCC"
	c, err := r.hub.UpsertDevice(context.Background(), hub.Device{UID: uidC2, Name: "C", TemplateID: "TMPL1"})
	if err != nil {
		t.Fatal(err)
	}
	version.Store(10)
	fc.push(&syncproto.Message{Type: syncproto.TypeSnapshot, Snapshot: &syncproto.Tenancy{Version: 10,
		Templates: []datastream.Template{tmpl},
		Devices:   []syncproto.Device{{UID: uidB, Name: uidB[22:], TemplateID: "TMPL1", OrgID: 1, TokenHash: syncproto.TokenHashHex([32]byte{})}},
	}})
	poll.Within(t, "the snapshot", 5*time.Second, func() bool { return r.link.Stats().TenancyVersion >= 10 })
	if _, ok := r.hub.byUID(uidA); ok {
		t.Error("device A, deleted in the cloud, is still on the gateway")
	}
	if _, ok := r.hub.byUID(c.UID); !ok {
		t.Fatal("device C, never seen by the cloud, was deleted by the snapshot")
	}
	// C is announced with the next status report or its first telemetry.
	r.hub.write(c.ID, 1, "1", time.Now().UnixMilli(), "tcp")
	poll.Within(t, "C back down", 5*time.Second, func() bool {
		v, _ := r.store.Cursor(context.Background(), cursorKnown+c.UID)
		return v == 1
	})
	fc.mu.Lock()
	events = slices.Clone(fc.events)
	fc.mu.Unlock()
	if ic, it := slices.Index(events, "devices:"+c.UID), slices.Index(events, "telemetry:"+c.UID); ic < 0 || it < ic {
		t.Fatalf("events %v: C must be announced before its telemetry", events)
	}
}
