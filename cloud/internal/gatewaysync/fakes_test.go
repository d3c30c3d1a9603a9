package gatewaysync

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"outpost/shared/syncproto"
)

// The tenancy store has no credential or telemetry tables yet: these
// in-memory versions stand in for them in tests only.

type memCreds struct {
	mu sync.Mutex
	m  map[string]string // credential → gateway id
}

func (c *memCreds) AuthenticateGateway(_ context.Context, cred string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gw, ok := c.m[cred]
	if !ok {
		return "", ErrUnauthorized
	}
	return gw, nil
}

func (c *memCreds) revoke(cred string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, cred)
}

type memTenancy struct {
	mu sync.Mutex
	m  map[string]syncproto.Tenancy
}

func (t *memTenancy) GatewayTenancy(_ context.Context, gw string) (syncproto.Tenancy, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ten, ok := t.m[gw]
	if !ok {
		return syncproto.Tenancy{}, fmt.Errorf("no tenancy for %s", gw)
	}
	return ten, nil
}

func (t *memTenancy) set(gw string, ten syncproto.Tenancy) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m[gw] = ten
}

// memTelemetry keeps, per gateway, the applied cursor and every item in the
// order applied.
type memTelemetry struct {
	mu      sync.Mutex
	applied map[epochKey]int64
	items   map[string][]syncproto.Item
	count   int
}

type epochKey struct {
	gw    string
	epoch int64
}

func newMemTelemetry() *memTelemetry {
	return &memTelemetry{applied: map[epochKey]int64{}, items: map[string][]syncproto.Item{}}
}

func (m *memTelemetry) Applied(_ context.Context, gw string, epoch int64) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.applied[epochKey{gw, epoch}], nil
}

func (m *memTelemetry) Apply(_ context.Context, gw string, epoch int64, items []syncproto.Item, upTo int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := epochKey{gw, epoch}
	if len(items) > 0 && items[0].Seq <= m.applied[k] {
		return fmt.Errorf("apply of seq %d at or below applied %d", items[0].Seq, m.applied[k])
	}
	m.items[gw] = append(m.items[gw], items...)
	m.applied[k] = upTo
	m.count += len(items)
	return nil
}

func (m *memTelemetry) values(gw string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, it := range m.items[gw] {
		out = append(out, it.Value)
	}
	return out
}

func (m *memTelemetry) total() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.count
}

const (
	uid1 = "01JD5Z8Q3M4N5P6Q7R8S9T0VAA"
	uid2 = "01JD5Z8Q3M4N5P6Q7R8S9T0VBB"
	hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
)

type env struct {
	t     *testing.T
	srv   *Server
	http  *httptest.Server
	creds *memCreds
	ten   *memTenancy
	tel   *memTelemetry
}

func newEnv(t testing.TB) *env {
	e := &env{
		creds: &memCreds{m: map[string]string{"cred-1": "gw-1", "cred-2": "gw-2"}},
		ten: &memTenancy{m: map[string]syncproto.Tenancy{
			"gw-1": {Version: 5, Devices: []syncproto.Device{{UID: uid1, Name: "one", TemplateID: "TMPL1", OrgID: 1, TokenHash: hash}}},
			"gw-2": {Version: 5},
		}},
		tel: newMemTelemetry(),
	}
	srv, err := New(Options{Credentials: e.creds, Tenancy: e.ten, Telemetry: e.tel, IdleTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.http = httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); e.http.Close() })
	return e
}

func (e *env) url() string { return "ws" + strings.TrimPrefix(e.http.URL, "http") }

// client is a minimal gateway speaking syncproto.
type client struct {
	t  testing.TB
	ws *websocket.Conn
}

func (e *env) dial(t testing.TB, cred string) (*client, *http.Response, error) {
	hdr := http.Header{}
	if cred != "" {
		hdr.Set("Authorization", "Bearer "+cred)
	}
	ws, resp, err := websocket.DefaultDialer.Dial(e.url(), hdr)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { ws.Close() })
	return &client{t: t, ws: ws}, resp, nil
}

// connect dials and exchanges hello/welcome.
func (e *env) connect(t testing.TB, cred, gw string, version int64) (*client, *syncproto.Welcome) {
	t.Helper()
	return e.connectEpoch(t, cred, gw, version, 0)
}

func (e *env) connectEpoch(t testing.TB, cred, gw string, version, epoch int64) (*client, *syncproto.Welcome) {
	t.Helper()
	c, _, err := e.dial(t, cred)
	if err != nil {
		t.Fatal(err)
	}
	c.send(&syncproto.Message{Type: syncproto.TypeHello, Hello: &syncproto.Hello{Gateway: gw, Epoch: epoch, Software: "test", TenancyVersion: version}})
	m := c.recv()
	if m.Type != syncproto.TypeWelcome {
		t.Fatalf("got %s, want welcome", m.Type)
	}
	return c, m.Welcome
}

func (c *client) send(m *syncproto.Message) {
	c.t.Helper()
	b, err := syncproto.Encode(m)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) recv() *syncproto.Message {
	c.t.Helper()
	m, err := c.tryRecv()
	if err != nil {
		c.t.Fatal(err)
	}
	return m
}

func (c *client) tryRecv() (*syncproto.Message, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	return syncproto.Decode(b)
}

func batch(from, n int, uid string) *syncproto.Message {
	items := make([]syncproto.Item, n)
	for i := range items {
		seq := int64(from + i)
		items[i] = syncproto.Item{Seq: seq, Kind: syncproto.KindWrite, Device: uid, Pin: 1, Value: fmt.Sprint(seq), TS: seq}
	}
	return &syncproto.Message{Type: syncproto.TypeTelemetry, Seq: items[n-1].Seq, Telemetry: &syncproto.Telemetry{Items: items}}
}

func seqStrings(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprint(i))
	}
	return out
}
