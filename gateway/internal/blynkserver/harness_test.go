package blynkserver

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"outpost/gateway/internal/hub"
	"outpost/gateway/internal/sqlite"
	"outpost/shared/blynk"
	"outpost/shared/datastream"
)

const testToken = "0123456789abcdef0123456789abcdef"

func fp(f float64) *float64 { return &f }

func testTemplate() datastream.Template {
	return datastream.Template{
		ID:   "TMPLtest0001",
		Name: "Test",
		Datastreams: []datastream.Datastream{
			{Pin: 0, Name: "Temperature", Type: datastream.Double, Min: fp(-40), Max: fp(125), Sync: true},
			{Pin: 1, Name: "Level", Type: datastream.Integer, Min: fp(0), Max: fp(100), Default: "5", Sync: true},
			{Pin: 2, Name: "Label", Type: datastream.String},
			{Pin: 3, Name: "Unsynced", Type: datastream.Integer, Default: "7"},
			{Pin: 200, Name: "Far", Type: datastream.String, Sync: true},
		},
		Events:     []datastream.Event{{Code: "overheat"}},
		MetaFields: []datastream.MetaField{{ID: 1, Name: "Serial Number", Default: "none"}},
	}
}

// env is a hub on a real SQLite store in t.TempDir().
type env struct {
	t     testing.TB
	path  string
	store *sqlite.Store
	hub   *hub.Hub
	dev   hub.Device
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, path: filepath.Join(t.TempDir(), "gw.db")}
	e.open()
	ctx := context.Background()
	if err := e.hub.SaveTemplate(ctx, testTemplate()); err != nil {
		t.Fatal(err)
	}
	d, err := e.hub.AddDeviceWithToken(ctx, "TMPLtest0001", "dev1", testToken)
	if err != nil {
		t.Fatal(err)
	}
	e.dev = d
	t.Cleanup(e.close)
	return e
}

func (e *env) open() {
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: e.path})
	if err != nil {
		e.t.Fatal(err)
	}
	e.store = st
	e.hub = hub.New(hub.Options{Store: st})
	if err := e.hub.Load(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) close() {
	if e.store != nil {
		if err := e.store.Close(); err != nil {
			e.t.Error(err)
		}
		e.store = nil
	}
}

func (e *env) flush() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.store.Flush(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// serve runs a Server on 127.0.0.1:0 until the test ends.
func serve(t testing.TB, srv *Server, wrap func(net.Listener) net.Listener) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		ln = wrap(ln)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, "tcp") }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// client is a raw Blynk client for tests.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *blynk.Reader
	w    *blynk.Writer
	mu   sync.Mutex
	id   uint16
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return newClient(t, c)
}

func newClient(t testing.TB, c net.Conn) *client {
	return &client{t: t, conn: c, r: blynk.NewReader(c, 0), w: blynk.NewWriter(c)}
}

// send sends a frame with the next id (items joined by NUL) and returns the id.
func (c *client) send(cmd blynk.Command, body string) uint16 {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.id++
	if c.id == 0 {
		c.id = 1
	}
	if err := c.w.Write(blynk.Message{Cmd: cmd, ID: c.id, Body: []byte(body)}); err != nil {
		c.t.Fatalf("send %s: %v", cmd, err)
	}
	return c.id
}

// next reads one frame within a deadline.
func (c *client) next() (blynk.Message, error) {
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	m, err := c.r.Next()
	if err == nil {
		m.Body = append([]byte(nil), m.Body...)
	}
	return m, err
}

func (c *client) mustNext() blynk.Message {
	c.t.Helper()
	m, err := c.next()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

// expectResponse reads the next frame and checks it is RESPONSE id/st.
func (c *client) expectResponse(id uint16, st blynk.Status) {
	c.t.Helper()
	m := c.mustNext()
	if m.Cmd != blynk.CmdResponse || m.ID != id || m.Status != st {
		c.t.Fatalf("got %v, want RESPONSE id=%d %v", m, id, st)
	}
}

// expectClosed checks the server closes the connection (after any frames
// listed by want).
func (c *client) expectClosed() {
	c.t.Helper()
	m, err := c.next()
	if err == nil {
		c.t.Fatalf("got %v, want the connection closed", m)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !isReset(err) {
		c.t.Fatalf("read error %v, want EOF", err)
	}
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "reset by peer") || errors.Is(err, net.ErrClosed))
}

func (c *client) login(token string) {
	c.t.Helper()
	id := c.send(blynk.CmdHWLogin, token)
	c.expectResponse(id, blynk.StatusSuccess)
}

// roundTrip sends a PING and checks the next frame is its answer, which
// proves nothing else was sent before it.
func (c *client) roundTrip() {
	c.t.Helper()
	id := c.send(blynk.CmdPing, "")
	c.expectResponse(id, blynk.StatusSuccess)
}

func nul(items ...string) string { return strings.Join(items, "\x00") }

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
