package webhooks_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"outpost/cloud/internal/sqlite"
	"outpost/cloud/internal/webhooks"
	"outpost/internal/poll"
)

func TestGuard(t *testing.T) {
	g := &webhooks.Guard{}
	allowLocal := &webhooks.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	tests := []struct {
		ip           string
		public, test bool // allowed by g, by allowLocal
	}{
		{"8.8.8.8", true, true},
		{"2001:4860:4860::8888", true, true},
		{"127.0.0.1", false, true},
		{"127.0.0.2", false, false},
		{"::1", false, false},
		{"::ffff:127.0.0.1", false, true},
		{"10.1.2.3", false, false},
		{"172.16.0.1", false, false},
		{"192.168.1.1", false, false},
		{"169.254.169.254", false, false}, // cloud metadata
		{"fe80::1", false, false},
		{"fd00::1", false, false},
		{"100.64.0.1", false, false},
		{"0.0.0.0", false, false},
		{"224.0.0.1", false, false},
		{"64:ff9b::a00:1", false, false},
	}
	for _, tt := range tests {
		ip := netip.MustParseAddr(tt.ip)
		if got := g.Allowed(ip); got != tt.public {
			t.Errorf("%s allowed = %v, want %v", tt.ip, got, tt.public)
		}
		if got := allowLocal.Allowed(ip); got != tt.test {
			t.Errorf("%s with 127.0.0.1 allow-listed = %v, want %v", tt.ip, got, tt.test)
		}
	}
}

func TestValidate(t *testing.T) {
	base := func() webhooks.Webhook {
		w := webhooks.Webhook{Name: "hook", Enabled: true, Method: "POST", URL: "https://example.com/in"}
		w.Trigger.Kind = webhooks.OnDatastream
		return w
	}
	tests := []struct {
		name string
		edit func(*webhooks.Webhook)
		ok   bool
	}{
		{"valid", func(*webhooks.Webhook) {}, true},
		{"ftp", func(w *webhooks.Webhook) { w.URL = "ftp://example.com/" }, false},
		{"file", func(w *webhooks.Webhook) { w.URL = "file:///etc/passwd" }, false},
		{"credentials in url", func(w *webhooks.Webhook) { w.URL = "https://u:p@example.com/" }, false},
		{"method", func(w *webhooks.Webhook) { w.Method = "PATCH" }, false},
		{"header injection", func(w *webhooks.Webhook) { w.Headers = map[string]string{"X-A": "b\r\nX-B: c"} }, false},
		{"authorization header", func(w *webhooks.Webhook) { w.Headers = map[string]string{"authorization": "x"} }, false},
		{"body too long", func(w *webhooks.Webhook) { w.Body = strings.Repeat("x", webhooks.MaxBody+1) }, false},
		{"trigger", func(w *webhooks.Webhook) { w.Trigger.Kind = "rain" }, false},
	}
	for _, tt := range tests {
		w := base()
		tt.edit(&w)
		if err := w.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

// clock is a settable time for the dispatcher.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }
func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func openStore(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

type rig struct {
	st    *sqlite.Store
	clk   *clock
	d     *webhooks.Dispatcher
	stop  func()
	mu    sync.Mutex
	disab []string
}

func newRig(t testing.TB, st *sqlite.Store, allow bool) *rig {
	t.Helper()
	clk := newClock()
	r := newRigWith(t, st, allow, clk.Now)
	r.clk = clk
	return r
}

// newRigClock is a rig on another clock, 127.0.0.1 allowed.
func newRigClock(t testing.TB, st *sqlite.Store, now func() time.Time) *rig {
	return newRigWith(t, st, true, now)
}

func newRigWith(t testing.TB, st *sqlite.Store, allow bool, now func() time.Time) *rig {
	t.Helper()
	r := &rig{st: st}
	g := &webhooks.Guard{}
	if allow {
		g.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}
	var err error
	r.d, err = webhooks.NewDispatcher(webhooks.Options{Store: st, Guard: g, Timeout: 2 * time.Second, Now: now,
		Disabled: func(_ context.Context, w webhooks.Webhook, reason string) {
			r.mu.Lock()
			r.disab = append(r.disab, w.Name+": "+reason)
			r.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.d.Run(ctx) }()
	r.stop = func() { cancel(); <-done }
	t.Cleanup(r.stop)
	return r
}

func hook(url string) *webhooks.Webhook {
	w := &webhooks.Webhook{OrgID: 1, Name: "hook", Enabled: true, Method: "POST", URL: url,
		Body:    `{"device":"{device_name}","pin":"{datastream_pin}","value":{datastream_value},"at":"{timestamp_iso}"}`,
		Headers: map[string]string{"X-Site": "{device_id}"}, Secret: "s3cret"}
	w.Trigger.Kind = webhooks.OnDatastream
	w.Auth.Kind, w.Auth.Token = "bearer", "tok"
	return w
}

var event = webhooks.Event{Kind: webhooks.OnDatastream, Device: "01JD5Z8Q3M4N5P6Q7R8S9T0VAA", DeviceName: "Pump",
	Pin: 3, Value: "21.5", At: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}

// One delivery: placeholders expanded, auth and signature headers set,
// logged as ok with its status code.
func TestDeliveryPlaceholdersSignature(t *testing.T) {
	type got struct {
		body                         string
		auth, sig, ts, site, deliver string
	}
	reqs := make(chan got, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		reqs <- got{string(b), r.Header.Get("Authorization"), r.Header.Get(webhooks.SignatureHeader),
			r.Header.Get(webhooks.TimestampHeader), r.Header.Get("X-Site"), r.Header.Get(webhooks.DeliveryHeader)}
		w.WriteHeader(204)
	}))
	defer srv.Close()
	st := openStore(t, filepath.Join(t.TempDir(), "cloud.db"))
	defer st.Close()
	r := newRig(t, st, true)
	w := hook(srv.URL + "/in")
	if err := st.SaveWebhook(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	if err := r.d.Enqueue(context.Background(), []webhooks.Webhook{*w}, event); err != nil {
		t.Fatal(err)
	}
	g := <-reqs
	wantBody := `{"device":"Pump","pin":"V3","value":21.5,"at":"2026-12-03T09:00:00Z"}`
	if g.body != wantBody || g.auth != "Bearer tok" || g.site != event.Device || g.deliver == "" {
		t.Fatalf("request %+v", g)
	}
	ts := r.clk.Now().Unix()
	if want := webhooks.Sign("s3cret", ts, []byte(wantBody)); g.ts != strconv.FormatInt(ts, 10) || g.sig != want {
		t.Fatalf("signature %q at %q, want %q at %d", g.sig, g.ts, want, ts)
	}
	poll.Until(t, "logged ok", func() bool {
		ds, _ := st.Deliveries(context.Background(), w.ID, 10)
		return len(ds) == 1 && ds[0].State == webhooks.OK && ds[0].Code == 204 && ds[0].Attempts == 1
	})
}

// 500s and a timeout are retried with backoff until the receiver answers;
// the receiver sees each attempt once.
func TestRetries(t *testing.T) {
	var n atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1, 2:
			w.WriteHeader(500)
		case 3:
			select { // no answer: the client times out
			case <-r.Context().Done():
			case <-release:
			}
		default:
			w.WriteHeader(200)
		}
	}))
	defer srv.Close()
	defer close(release)
	st := openStore(t, filepath.Join(t.TempDir(), "cloud.db"))
	defer st.Close()
	r := newRig(t, st, true)
	w := hook(srv.URL)
	if err := st.SaveWebhook(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	if err := r.d.Enqueue(context.Background(), []webhooks.Webhook{*w}, event); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for attempt := 1; attempt <= 3; attempt++ {
		var last []webhooks.Delivery
		poll.Until(t, "a failed attempt logged", func() bool {
			last, _ = st.Deliveries(context.Background(), w.ID, 1)
			ok := len(last) == 1 && last[0].Attempts == attempt && last[0].State == webhooks.Waiting
			if !ok && time.Since(start) > 8*time.Second {
				t.Logf("attempt %d: %+v, %d requests", attempt, last, n.Load())
			}
			return ok
		})
		ds, _ := st.Deliveries(context.Background(), w.ID, 1)
		if want := r.clk.Now().Add(webhooks.Backoff(attempt)); !ds[0].NextAt.Equal(want.Truncate(time.Millisecond)) {
			t.Fatalf("attempt %d: next at %v, want %v", attempt, ds[0].NextAt, want)
		}
		r.clk.Add(webhooks.Backoff(attempt))
		r.d.Kick()
	}
	poll.Until(t, "delivered", func() bool {
		ds, _ := st.Deliveries(context.Background(), w.ID, 1)
		return len(ds) == 1 && ds[0].State == webhooks.OK && ds[0].Attempts == 4
	})
	if got := n.Load(); got != 4 {
		t.Fatalf("receiver saw %d requests, want 4", got)
	}
	if _, failures, _ := st.GetWebhook(context.Background(), w.ID); failures != 0 {
		t.Fatalf("consecutive failures %d after a success", failures)
	}
}

// A webhook failing N times in a row is disabled, its owner told once,
// and its remaining deliveries fail without a request.
func TestDisabledAfterFailures(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1); w.WriteHeader(503) }))
	defer srv.Close()
	st := openStore(t, filepath.Join(t.TempDir(), "cloud.db"))
	defer st.Close()
	r := newRig(t, st, true)
	w := hook(srv.URL)
	w.DisableAfter = 3
	if err := st.SaveWebhook(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := r.d.Enqueue(context.Background(), []webhooks.Webhook{*w}, event); err != nil {
			t.Fatal(err)
		}
	}
	poll.Until(t, "disabled", func() bool { got, _, _ := st.GetWebhook(context.Background(), w.ID); return !got.Enabled })
	r.clk.Add(time.Hour)
	r.d.Kick()
	poll.Until(t, "every delivery failed", func() bool {
		ds, _ := st.Deliveries(context.Background(), w.ID, 10)
		for _, d := range ds {
			if d.State != webhooks.Failed {
				return false
			}
		}
		return len(ds) == 5
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.disab) != 1 || !strings.Contains(r.disab[0], "3 consecutive") {
		t.Fatalf("owner told %q", r.disab)
	}
	if got := n.Load(); got < 3 || got > 3+int32(r.d.Workers())-1 {
		t.Fatalf("%d requests, want 3 (a few more in flight when it was disabled at most)", got)
	}
}

// Without an allow-list, a loopback receiver is refused before any byte is
// sent, and the refusal is in the delivery log.
func TestLoopbackRefused(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	defer srv.Close()
	st := openStore(t, filepath.Join(t.TempDir(), "cloud.db"))
	defer st.Close()
	r := newRig(t, st, false)
	w := hook(strings.Replace(srv.URL, "127.0.0.1", "localhost", 1))
	if err := st.SaveWebhook(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	if err := r.d.Enqueue(context.Background(), []webhooks.Webhook{*w}, event); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "refusal logged", func() bool {
		ds, _ := st.Deliveries(context.Background(), w.ID, 1)
		return len(ds) == 1 && ds[0].Attempts == 1 && strings.Contains(ds[0].Error, "refused")
	})
	if n.Load() != 0 {
		t.Fatal("the loopback receiver got a request")
	}
}

// Deliveries queued before a stop are sent after the store is opened
// again, each once.
func TestQueueSurvivesRestart(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get(webhooks.DeliveryHeader)]++
		mu.Unlock()
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "cloud.db")
	st := openStore(t, path)
	w := hook(srv.URL)
	w.PerMinute = 600
	if err := st.SaveWebhook(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := st.EnqueueDelivery(context.Background(), w.ID, event, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	st = openStore(t, path)
	defer st.Close()
	newRigClock(t, st, time.Now) // a real clock: the rate limit refills
	// 20 at 10 a second, paced by the rate limit: generous on a loaded machine.
	poll.Within(t, "all delivered", time.Minute, func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == 20 })
	mu.Lock()
	defer mu.Unlock()
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("delivery %s sent %d times", id, c)
		}
	}
}

// A test send: one request now with sample values, signed like a
// delivery, not queued; it spends the webhook's rate, so the next one
// within the minute is not sent; a refused destination is the result.
func TestTestSend(t *testing.T) {
	var calls atomic.Int32
	bodies := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get(webhooks.TimestampHeader), 10, 64)
		if r.Header.Get(webhooks.SignatureHeader) != webhooks.Sign("s3cret", ts, b) ||
			!strings.HasPrefix(r.Header.Get(webhooks.DeliveryHeader), webhooks.TestDeliveryPrefix) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		bodies <- string(b)
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	st := openStore(t, filepath.Join(t.TempDir(), "cloud.db"))
	r := newRig(t, st, true)
	w := hook(srv.URL)
	w.PerMinute = 1
	pin := 7
	w.Trigger.Pin = &pin
	ctx := context.Background()
	if err := st.SaveWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	res := r.d.TestSend(ctx, *w)
	if res.Code != http.StatusCreated || res.Error != "" {
		t.Fatalf("test send: %+v", res)
	}
	if b := <-bodies; !strings.Contains(b, `"device":"Test device"`) || !strings.Contains(b, `"pin":"V7"`) || !strings.Contains(b, `"value":42`) {
		t.Errorf("body %s", b)
	}
	if res := r.d.TestSend(ctx, *w); res.Code != 0 || !strings.Contains(res.Error, "rate") {
		t.Errorf("second test send within the minute: %+v, want not sent (rate)", res)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("receiver called %d times, want 1", n)
	}
	if ds, _ := st.Deliveries(ctx, w.ID, 10); len(ds) != 0 {
		t.Errorf("test sends in the delivery log: %+v", ds)
	}
	lo := hook("http://127.0.0.1:9/in")
	if err := st.SaveWebhook(ctx, lo); err != nil {
		t.Fatal(err)
	}
	if res := newRig(t, st, false).d.TestSend(ctx, *lo); res.Code != 0 || !strings.Contains(res.Error, "refused") {
		t.Errorf("test send to loopback without the allow-list: %+v", res)
	}
}
