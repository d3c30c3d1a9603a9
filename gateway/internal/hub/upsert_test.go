package hub

import (
	"context"
	"errors"
	"testing"
)

func TestUpsertDevice(t *testing.T) {
	h, st, _, _ := newTestHub(t)
	ctx := context.Background()
	const uid = "01JD5Z8Q3M4N5P6Q7R8S9T0VAA"
	tokA, tokB := "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

	created, err := h.UpsertDevice(ctx, Device{UID: uid, Name: "pump", TemplateID: "TMPLtest0001", TokenHash: HashToken(tokA)})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := h.Authenticate(tokA); err != nil || got.ID != created.ID {
		t.Fatalf("Authenticate(new device's token) = %v, %v", got, err)
	}
	if got, ok := h.DeviceByUID(uid); !ok || got != created {
		t.Fatalf("DeviceByUID = %v, %v; want %v", got, ok, created)
	}
	if _, err := h.DeviceWrite(created.ID, 1, items("42"), 0, "tcp"); err != nil {
		t.Fatal(err)
	}
	c := &fakeConn{}
	h.Attach(created.ID, c)

	// The same definition again changes nothing (snapshots repeat devices).
	again, err := h.UpsertDevice(ctx, Device{UID: uid, Name: "pump", TemplateID: "TMPLtest0001", TokenHash: HashToken(tokA)})
	if err != nil || again != created || len(st.updated) != 0 || c.closed {
		t.Fatalf("repeated upsert = %v, %v (updates %d, closed %v); want no change", again, err, len(st.updated), c.closed)
	}

	// Re-tokened and renamed in the cloud: same local id and data, the old
	// token stops working at once, the old connection is closed.
	up, err := h.UpsertDevice(ctx, Device{UID: uid, Name: "main pump", TemplateID: "TMPLtest0001", TokenHash: HashToken(tokB)})
	if err != nil {
		t.Fatal(err)
	}
	if up.ID != created.ID || up.Name != "main pump" || up.CreatedAt != created.CreatedAt {
		t.Fatalf("updated device = %+v, want id %d kept, new name", up, created.ID)
	}
	if len(st.updated) != 1 || st.updated[0] != up {
		t.Fatalf("store updates = %v, want [%v]", st.updated, up)
	}
	if _, err := h.Authenticate(tokA); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("old token still authenticates: %v", err)
	}
	if got, err := h.Authenticate(tokB); err != nil || got.ID != created.ID || got.Name != "main pump" {
		t.Errorf("Authenticate(new token) = %v, %v", got, err)
	}
	if !c.closed {
		t.Error("connection of the old token left open")
	}
	if v, ok := h.Value(created.ID, 1); !ok || v.Value != "42" {
		t.Errorf("value after upsert = %v, %v; want 42 kept", v, ok)
	}

	if _, err := h.UpsertDevice(ctx, Device{UID: "01JD5Z8Q3M4N5P6Q7R8S9T0VBB", Name: "x", TemplateID: "TMPLnope"}); !errors.Is(err, ErrNoTemplate) {
		t.Errorf("unknown template: err = %v", err)
	}
	if err := h.DeleteDevice(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.DeviceByUID(uid); ok {
		t.Error("deleted device still found by UID")
	}
}

func TestCommandWriteNewerDeviceValueWins(t *testing.T) {
	h, _, d, _ := newTestHub(t)
	c := &fakeConn{}
	h.Attach(d.ID, c)
	const t0 = 1_700_000_000_000
	tests := []struct {
		name    string
		ts      int64
		in      string
		want    string
		wantErr error
		deliver bool
	}{
		{"first command", t0, "10", "10", nil, true},
		{"replay of it", t0, "10", "10", nil, false},
		{"newer command", t0 + 5, "20", "20", nil, true},
		{"older command", t0 + 1, "30", "20", ErrStale, false},
	}
	for _, tt := range tests {
		c.mu.Lock()
		c.got = nil
		c.mu.Unlock()
		got, err := h.CommandWrite(d.ID, 1, items(tt.in), tt.ts, "cloud")
		if got != tt.want || !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: CommandWrite = %q, %v; want %q, %v", tt.name, got, err, tt.want, tt.wantErr)
		}
		c.mu.Lock()
		delivered := len(c.got) > 0
		c.mu.Unlock()
		if delivered != tt.deliver {
			t.Errorf("%s: delivered %v, want %v", tt.name, delivered, tt.deliver)
		}
	}
	// A device value newer than a late command keeps its place.
	if _, err := h.DeviceWrite(d.ID, 1, items("50"), t0+100, "tcp"); err != nil {
		t.Fatal(err)
	}
	if got, err := h.CommandWrite(d.ID, 1, items("60"), t0+50, "cloud"); !errors.Is(err, ErrStale) || got != "50" {
		t.Errorf("late command = %q, %v; want the device's 50, ErrStale", got, err)
	}
	if v, _ := h.Value(d.ID, 1); v.Value != "50" {
		t.Errorf("value = %q, want 50", v.Value)
	}
}
