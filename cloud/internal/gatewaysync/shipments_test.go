package gatewaysync

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"outpost/internal/poll"
	"outpost/shared/syncproto"
)

type memShipments struct {
	mu sync.Mutex
	l  syncproto.Shipments
}

func (m *memShipments) GatewayShipments(context.Context, string) (syncproto.Shipments, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.l, nil
}

func (m *memShipments) set(l syncproto.Shipments) {
	m.mu.Lock()
	m.l = l
	m.mu.Unlock()
}

func shipment(id string, paused bool) syncproto.Shipment {
	return syncproto.Shipment{ID: id, Name: "s" + id, TemplateID: "TMPL1", Window: "any", Rule: "lower_version", Attempts: 3, Paused: paused,
		Firmware: syncproto.Firmware{SHA256: hash, MD5: "0123456789abcdef0123456789abcdef", Size: 10, Version: "2", Type: "TMPL1", Build: "b"}}
}

// Shipments follow the tenancy on connection, again when they change, and
// not when a refresh finds them unchanged.
func TestShipmentsSentOnConnectAndChange(t *testing.T) {
	e := newEnv(t)
	sh := &memShipments{l: syncproto.Shipments{Items: []syncproto.Shipment{shipment("1", false)}}}
	e.srv.Close()
	e.http.Close()
	srv, err := New(Options{Credentials: e.creds, Tenancy: e.ten, Telemetry: e.tel, Shipments: sh, IdleTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.http = newHTTP(t, srv)

	c, _ := e.connect(t, "cred-1", "gw-1", 5) // the gateway's tenancy is current: no snapshot
	m := c.recv()
	if m.Type != syncproto.TypeShipments || len(m.Shipments.Items) != 1 || m.Shipments.Items[0].ID != "1" {
		t.Fatalf("first message after welcome: %+v, want the shipments", m)
	}
	c.send(&syncproto.Message{Type: syncproto.TypeStatus, Status: &syncproto.Status{Software: "settled"}})
	poll.Until(t, "initial push", func() bool { st, _ := e.srv.Site("gw-1"); return st.Software == "settled" })

	// Unchanged: a refresh sends nothing (the next message is the ack).
	e.srv.TenancyChanged("gw-1")
	sh.set(syncproto.Shipments{Items: []syncproto.Shipment{shipment("1", true)}})
	e.srv.TenancyChanged("gw-1")
	m = c.recv()
	if m.Type != syncproto.TypeShipments || !m.Shipments.Items[0].Paused {
		t.Fatalf("after pausing: %+v, want the paused shipment", m)
	}
	c.send(batch(1, 1, uid1))
	if m := c.recv(); m.Type != syncproto.TypeAck {
		t.Errorf("got %s, want ack (no repeated shipments)", m.Type)
	}
}

func newHTTP(t *testing.T, srv *Server) *httptest.Server {
	h := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); h.Close() })
	return h
}
