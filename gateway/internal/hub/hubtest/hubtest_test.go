package hubtest

import (
	"context"
	"testing"

	"outpost/gateway/internal/hub"
)

func TestCountStore(t *testing.T) {
	var s CountStore
	ctx := context.Background()
	for want := int64(1); want <= 3; want++ {
		d, err := s.CreateDevice(ctx, hub.Device{Name: "x"})
		if err != nil || d.ID != want {
			t.Fatalf("CreateDevice = %+v, %v; want id %d", d, err, want)
		}
	}
	s.Append(hub.Record{})
	s.Append(hub.Record{})
	if n := s.Appended(); n != 2 {
		t.Fatalf("Appended = %d, want 2", n)
	}
}
