package broker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"outpost/gateway/internal/hub"
	"outpost/shared/datastream"
)

// memStore is an in-memory hub.Store for the broker's own tests; the
// cross-transport tests use the real SQLite store.
type memStore struct {
	mu      sync.Mutex
	records []hub.Record
	nextID  int64
}

func (s *memStore) Load(context.Context) (hub.Snapshot, error) { return hub.Snapshot{}, nil }
func (s *memStore) Append(r hub.Record) {
	s.mu.Lock()
	s.records = append(s.records, r)
	s.mu.Unlock()
}
func (s *memStore) SaveTemplate(context.Context, datastream.Template) error { return nil }
func (s *memStore) CreateDevice(_ context.Context, d hub.Device) (hub.Device, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	d.ID = s.nextID
	return d, nil
}
func (s *memStore) DeleteDevice(context.Context, int64) error      { return nil }
func (s *memStore) UpdateDevice(context.Context, hub.Device) error { return nil }
func (s *memStore) Flush(context.Context) error                    { return nil }

func (s *memStore) find(kind hub.Kind) []hub.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []hub.Record
	for _, r := range s.records {
		if r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

func f64(v float64) *float64 { return &v }

// testTemplate has one datastream of every type, names with spaces, an
// event and metadata fields.
func testTemplate() datastream.Template {
	return datastream.Template{
		ID:   "TMPLbroker01",
		Name: "Thermostat",
		Datastreams: []datastream.Datastream{
			{Pin: 0, Name: "Temperature", Type: datastream.Double, Min: f64(-40), Max: f64(85)},
			{Pin: 1, Name: "Set Temperature", Type: datastream.Integer, Min: f64(5), Max: f64(30), Sync: true, Default: "20"},
			{Pin: 2, Name: "Location", Type: datastream.Location},
			{Pin: 3, Name: "Status", Type: datastream.String},
			{Pin: 4, Name: "Power", Type: datastream.Boolean, Sync: true},
			{Pin: 5, Name: "Mode", Type: datastream.Enum, Enum: []datastream.EnumItem{{Value: 0, Label: "off"}, {Value: 1, Label: "heat"}}, EnumFallback: 0},
		},
		Events:     []datastream.Event{{Code: "overheat", Name: "Overheat"}},
		MetaFields: []datastream.MetaField{{ID: 1, Name: "Serial Number"}, {ID: 2, Name: "Time Zone"}},
	}
}

const (
	tokenA = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	tokenB = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
)

type env struct {
	hub    *hub.Hub
	store  *memStore
	broker *Broker
	opts   Options
	devA   hub.Device
	devB   hub.Device
	tcp    string // host:port
	ws     string // ws://host:port/mqtt
	// stop ends the broker's Serve (graceful shutdown) and waits for it;
	// later calls do nothing.
	stop func()
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("OUTPOST_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newEnv(t testing.TB, mod func(*Options)) *env {
	t.Helper()
	ctx := context.Background()
	st := &memStore{}
	h := hub.New(hub.Options{Store: st, Logger: testLogger(t)})
	if err := h.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.SaveTemplate(ctx, testTemplate()); err != nil {
		t.Fatal(err)
	}
	devA, err := h.AddDeviceWithToken(ctx, "TMPLbroker01", "Living room", tokenA)
	if err != nil {
		t.Fatal(err)
	}
	devB, err := h.AddDeviceWithToken(ctx, "TMPLbroker01", "Kitchen", tokenB)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Hub: h, Logger: testLogger(t)}
	if mod != nil {
		mod(&opts)
	}
	tcp := listen(t)
	ws := listen(t)
	e := &env{hub: h, store: st, opts: opts, devA: devA, devB: devB,
		tcp: tcp.Addr().String(), ws: "ws://" + ws.Addr().String() + "/mqtt"}
	e.broker, e.stop = serveBroker(t, opts, Listeners{TCP: tcp, WS: ws})
	return e
}

// serveBroker runs a new broker on ls until the returned stop is called or
// the test ends. stop fails the test if Serve errs or does not return.
func serveBroker(t testing.TB, opts Options, ls Listeners) (*Broker, func()) {
	t.Helper()
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Serve(ctx, ls) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Serve did not return within 30s after cancel:\n%s", goroutines())
			}
		})
	}
	t.Cleanup(stop)
	return b, stop
}

// restart stops the broker gracefully and serves a new one, over the same
// hub, on the same TCP address (the websocket listener is not restarted).
func (e *env) restart(t testing.TB) {
	t.Helper()
	e.stop()
	ln, err := net.Listen("tcp", e.tcp)
	if err != nil {
		t.Fatal(err)
	}
	e.broker, e.stop = serveBroker(t, e.opts, Listeners{TCP: ln})
}

// goroutines is a dump of every goroutine, for a test that found a hang.
func goroutines() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func value(h *hub.Hub, dev int64, pin int) string {
	v, _ := h.Value(dev, pin)
	return v.Value
}

var errTimeout = errors.New("timeout")

// logBuffer collects log lines written concurrently (text format, info
// and above), for tests of what the broker logs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the lines containing substr.
func (b *logBuffer) lines(substr string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.Split(b.buf.String(), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// testClock is a settable clock for Options.Now.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Unix(1_767_225_600, 0)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
