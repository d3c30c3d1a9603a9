package cloud

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"testing"
)

// A targeted tenancy announcement names every gateway, in as many
// messages as the bus's size limit needs, each with the org tree flag; a
// full send queue falls back to waking every gateway.
func TestTenancyAnnouncementSplits(t *testing.T) {
	c := &cluster{self: "me", log: slog.New(slog.DiscardHandler), ctl: make(chan clusterMsg, 256), tenancy: make(chan struct{}, 1)}
	var keys []string
	for i := range 5000 {
		keys = append(keys, fmt.Sprint(1_000_000_000+i))
	}
	c.tenancyChanged(keys, false, true)
	var got []string
	for n := 0; len(c.ctl) > 0; n++ {
		m := <-c.ctl
		m.From = c.self
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > maxBusPayload {
			t.Fatalf("message %d is %d bytes, over %d", n, len(b), maxBusPayload)
		}
		if m.Kind != "tenancy" || !m.Targeted || !m.Tree {
			t.Fatalf("message %d: kind %s targeted %v tree %v", n, m.Kind, m.Targeted, m.Tree)
		}
		got = append(got, m.Gateways...)
	}
	if !slices.Equal(got, keys) {
		t.Fatalf("%d gateways announced, want the %d given, in order", len(got), len(keys))
	}
	if len(c.tenancy) != 0 {
		t.Fatal("waking every gateway was announced too")
	}

	// No gateway: one message still tells the others (they reload what
	// automations and webhooks they run).
	c.tenancyChanged(nil, false, false)
	if m := <-c.ctl; !m.Targeted || len(m.Gateways) != 0 {
		t.Fatalf("empty announcement %+v", m)
	}

	// A full queue: every gateway is woken instead of some being missed.
	c.ctl = make(chan clusterMsg, 1)
	c.tenancyChanged(keys, false, false)
	if len(c.tenancy) != 1 {
		t.Fatal("a full queue lost the announcement")
	}
}
