package cloudlink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"outpost/gateway/internal/hub"
	"outpost/internal/faultproxy"
	"outpost/internal/poll"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

const (
	uidA = "01JD5Z8Q3M4N5P6Q7R8S9T0VAA"
	uidB = "01JD5Z8Q3M4N5P6Q7R8S9T0VBB"
	uidC = "01JD5Z8Q3M4N5P6Q7R8S9T0VCC"
	hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
)

var tmpl = datastream.Template{ID: "TMPL1", Name: "t", Datastreams: []datastream.Datastream{{Pin: 1, Name: "v", Type: datastream.Integer}}}

type rig struct {
	store *memStore
	hub   *fakeHub
	cloud *fakeCloud
	link  *Link
	stop  func() error
}

// newRig starts a link from a gateway with devices A and B to a fake cloud.
func newRig(t *testing.T, url string, cloud *fakeCloud, tweak func(*Options)) *rig {
	t.Helper()
	st := newMemStore()
	h := newFakeHub(st)
	ctx := context.Background()
	_ = h.SaveTemplate(ctx, tmpl)
	for _, uid := range []string{uidA, uidB} {
		if _, err := h.UpsertDevice(ctx, hub.Device{UID: uid, Name: uid[22:], TemplateID: "TMPL1"}); err != nil {
			t.Fatal(err)
		}
	}
	if url == "" {
		url = cloud.url()
	}
	opts := Options{
		URL: url, Credential: "secret-cred", GatewayID: "gw-1", Software: "test",
		Hub: h, Store: st,
		MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		PollInterval: 5 * time.Millisecond, IdleTimeout: 2 * time.Second,
		BatchSize: 100, MaxInFlight: 4,
	}
	if tweak != nil {
		tweak(&opts)
	}
	l, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	r := &rig{store: st, hub: h, cloud: cloud, link: l}
	var once sync.Once
	var runErr error
	r.stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { r.stop() })
	return r
}

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"wss://cloud.example.com/api/v1/gateway/sync", true},
		{"wss://10.0.0.5:8443/sync", true},
		{"ws://127.0.0.1:8080/sync", true},
		{"ws://[::1]:8080/sync", true},
		{"ws://localhost:8080/sync", true},
		{"ws://cloud.example.com/sync", false},
		{"ws://10.0.0.5/sync", false},
		{"http://127.0.0.1/sync", false},
		{"wss:///sync", false},
		{"::", false},
	}
	for _, tt := range tests {
		_, err := checkURL(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("checkURL(%q) = %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
}

func TestBackoff(t *testing.T) {
	base, limit := 500*time.Millisecond, 30*time.Second
	tests := []struct {
		down time.Duration
		r    float64
		want time.Duration
	}{
		{0, 0, 0},
		{0, 0.5, 250 * time.Millisecond}, // ceiling base
		{time.Second, 0.999, 499500 * time.Microsecond}, // down/4 < base
		{16 * time.Second, 0.5, 2 * time.Second},        // ceiling 4s
		{16 * time.Second, 1 - 1e-9, 4*time.Second - 4},
		{2 * time.Minute, 0.5, 15 * time.Second},        // ceiling reaches the limit
		{24 * time.Hour, 0.25, 7500 * time.Millisecond}, // and stays there
		{1<<63 - 1, 1 - 1e-9, limit - 30},               // no overflow
	}
	for _, tt := range tests {
		if got := Backoff(tt.down, base, limit, tt.r); got != tt.want {
			t.Errorf("Backoff(%v, r=%v) = %v, want %v", tt.down, tt.r, got, tt.want)
		}
	}
}

// TestBackoffSpreadsGateways: 1,000 gateways losing the cloud at once come
// back spread over the window, not in the same second.
func TestBackoffSpreadsGateways(t *testing.T) {
	const n = 1000
	var buckets [10]int // per-second buckets of a retry 32s after the cut (ceiling 8s)
	seed := uint64(1)
	for range n {
		seed = seed*6364136223846793005 + 1442695040888963407 // LCG: deterministic spread
		r := float64(seed>>11) / (1 << 53)
		d := Backoff(32*time.Second, 500*time.Millisecond, 30*time.Second, r)
		buckets[int(d/time.Second)]++
	}
	for s, c := range buckets[:8] {
		if c > n/4 {
			t.Errorf("%d of %d gateways reconnect in second %d", c, n, s)
		}
	}
}

// TestReconnectAfterOutage runs the link against a cloud that refuses
// connections for an outage, on testing/synctest's clock, and measures how
// long after the cloud is back the link tries again: with the jitter at
// its worst (r just under 1) and with a seeded random source, the delay
// stays under a quarter of the outage (at least MinBackoff, at most
// MaxBackoff, the defaults). Doubling per attempt gave 15.5 s after 16 s.
func TestReconnectAfterOutage(t *testing.T) {
	tests := []struct {
		outage, worst time.Duration
	}{
		{0, 500 * time.Millisecond},
		{time.Second, 500 * time.Millisecond},
		{5 * time.Second, 1250 * time.Millisecond},
		{16 * time.Second, 4 * time.Second},
		{time.Minute, 15 * time.Second},
		{2 * time.Minute, 30 * time.Second},
		{time.Hour, 30 * time.Second},
	}
	rands := []struct {
		name string
		r    func() float64
	}{
		{"worst", func() float64 { return 1 - 1e-9 }},
		{"seeded", mathrand.New(mathrand.NewPCG(1, 2)).Float64},
	}
	for _, tt := range tests {
		for _, rr := range rands {
			t.Run(fmt.Sprintf("%v/%s", tt.outage, rr.name), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					back := time.Now().Add(tt.outage)
					var attempts int
					var again time.Time
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
						attempts++
						if time.Now().Before(back) {
							return nil, syscall.ECONNREFUSED
						}
						again = time.Now()
						cancel()
						return nil, ctx.Err()
					}
					st := newMemStore()
					l, err := New(Options{URL: "ws://127.0.0.1:1/sync", Credential: "c", GatewayID: "gw-1",
						Hub: newFakeHub(st), Store: st, Rand: rr.r, NetDial: dial})
					if err != nil {
						t.Fatal(err)
					}
					if err := l.Run(ctx); !errors.Is(err, context.Canceled) {
						t.Fatalf("Run: %v", err)
					}
					delay := again.Sub(back)
					if delay > tt.worst {
						t.Errorf("back %v after a %v outage (%d attempts), want ≤ %v", delay, tt.outage, attempts, tt.worst)
					}
					t.Logf("outage %v: tried again %v after the cloud was back, %d attempts", tt.outage, delay.Round(time.Millisecond), attempts)
				})
			})
		}
	}
}

func TestDrainsOutboxAndDeletesAcked(t *testing.T) {
	fc := newFakeCloud(t)
	r := newRig(t, "", fc, nil)
	const n = 1050
	for i := range n {
		r.hub.DeviceWrite(1+int64(i%2), 1, strconv.Itoa(i), int64(i+1))
	}
	poll.Within(t, "the cloud to hold every write", 10*time.Second, func() bool {
		v := fc.snapshotValues()
		return len(v[uidA])+len(v[uidB]) == n
	})
	poll.Within(t, "the outbox to be emptied by acks", 5*time.Second, func() bool { return r.store.pending() == 0 })
	v := fc.snapshotValues()
	for i, val := range v[uidA] {
		if want := strconv.Itoa(2 * i); val != want {
			t.Fatalf("device A value %d = %s, want %s (order)", i, val, want)
		}
	}
	st := r.link.Stats()
	if st.ItemsAcked != n {
		t.Errorf("ItemsAcked = %d, want %d", st.ItemsAcked, n)
	}
	// The installer page's "connected since" and "last sync".
	if !st.Connected || st.Since.IsZero() || st.LastAck.IsZero() || st.LastAck.Before(st.Since) {
		t.Errorf("connected %v since %v, last ack %v", st.Connected, st.Since, st.LastAck)
	}
}

// TestWelcomeSkipsWhatCloudHas: a gateway that crashed before recording an
// ack does not resend what the cloud already applied.
func TestWelcomeSkipsWhatCloudHas(t *testing.T) {
	fc := newFakeCloud(t)
	fc.applied = 3 // the cloud applied seq 1..3 before the crash
	st := newMemStore()
	for i := range 5 {
		st.append(hub.Record{Kind: hub.KindWrite, DeviceID: 1, Pin: 1, Value: strconv.Itoa(i), TS: 1})
	}
	r := newRig(t, "", fc, func(o *Options) { o.Store = st; o.Hub.(*fakeHub).store = st })
	poll.Within(t, "the outbox to drain", 5*time.Second, func() bool { return st.pending() == 0 })
	if got, want := fc.snapshotValues()[uidA], []string{"3", "4"}; !cmp.Equal(got, want) {
		t.Errorf("cloud received %v, want only %v", got, want)
	}
	if r.link.Stats().ItemsSent != 2 {
		t.Errorf("ItemsSent = %d, want 2", r.link.Stats().ItemsSent)
	}
}

func TestSkipsEntriesOfDeletedDevices(t *testing.T) {
	fc := newFakeCloud(t)
	r := newRig(t, "", fc, nil)
	r.store.append(hub.Record{Kind: hub.KindWrite, DeviceID: 99, Pin: 1, Value: "ghost", TS: 1})
	r.hub.DeviceWrite(1, 1, "real", 2)
	r.store.append(hub.Record{Kind: hub.KindWrite, DeviceID: 99, Pin: 1, Value: "ghost2", TS: 3})
	poll.Within(t, "the outbox to drain", 5*time.Second, func() bool { return r.store.pending() == 0 })
	if got := fc.snapshotValues(); !cmp.Equal(got, map[string][]string{uidA: {"real"}}) {
		t.Errorf("cloud holds %v", got)
	}
	if r.link.Stats().Skipped != 2 {
		t.Errorf("Skipped = %d, want 2", r.link.Stats().Skipped)
	}
}

func TestTenancySnapshotThenDeltas(t *testing.T) {
	fc := newFakeCloud(t)
	tmpl2 := datastream.Template{ID: "TMPL2", Name: "pump", Datastreams: []datastream.Datastream{{Pin: 0, Name: "on", Type: datastream.Boolean}}}
	snap := &syncproto.Message{Type: syncproto.TypeSnapshot, Snapshot: &syncproto.Tenancy{
		Version:   7,
		Templates: []datastream.Template{tmpl, tmpl2},
		Devices: []syncproto.Device{
			{UID: uidA, Name: "renamed A", TemplateID: "TMPL1", OrgID: 1, TokenHash: hash},
			{UID: uidC, Name: "C", TemplateID: "TMPL2", OrgID: 1, TokenHash: hash},
		},
	}}
	fc.onHello = func(send func(*syncproto.Message) error, h *syncproto.Hello) {
		if h.TenancyVersion == 0 {
			_ = send(snap)
		}
	}
	r := newRig(t, "", fc, func(o *Options) { o.PruneDevices = true })
	uids := func() []string {
		var out []string
		for _, d := range r.hub.Devices() {
			out = append(out, d.UID+":"+d.Name)
		}
		return out
	}
	poll.Within(t, "the snapshot", 5*time.Second, func() bool { return r.link.Stats().TenancyVersion == 7 })
	if got, want := uids(), []string{uidA + ":renamed A", uidC + ":C"}; !cmp.Equal(got, want) {
		t.Errorf("devices after snapshot %v, want %v (B is not in the snapshot)", got, want)
	}
	if d, ok := r.hub.byUID(uidC); !ok || syncproto.TokenHashHex(d.TokenHash) != hash {
		t.Errorf("device C = %+v, want token hash %s", d, hash)
	}
	if v, _ := r.store.Cursor(context.Background(), CursorTenancy); v != 7 {
		t.Errorf("tenancy cursor %d, want 7", v)
	}

	fc.push(&syncproto.Message{Type: syncproto.TypeDelta, Delta: &syncproto.Delta{From: 7, Version: 8,
		Devices:        []syncproto.Device{{UID: uidB, Name: "B again", TemplateID: "TMPL1", OrgID: 1, TokenHash: hash}},
		DeletedDevices: []string{uidC}}})
	poll.Within(t, "delta 8", 5*time.Second, func() bool { return r.link.Stats().TenancyVersion == 8 })
	if got, want := uids(), []string{uidA + ":renamed A", uidB + ":B again"}; !cmp.Equal(got, want) {
		t.Errorf("devices after delta %v, want %v", got, want)
	}

	// A delta that skips a version ends the session; the reconnect's hello
	// carries version 8, from which the cloud can catch up.
	fc.push(&syncproto.Message{Type: syncproto.TypeDelta, Delta: &syncproto.Delta{From: 9, Version: 10, DeletedDevices: []string{uidA}}})
	poll.Within(t, "a reconnect with version 8", 5*time.Second, func() bool {
		fc.mu.Lock()
		defer fc.mu.Unlock()
		last := fc.hellos[len(fc.hellos)-1]
		return len(fc.hellos) >= 2 && last.TenancyVersion == 8
	})
	if _, ok := r.hub.byUID(uidA); !ok {
		t.Error("a delta that does not follow the local version was applied")
	}
}

func TestCommands(t *testing.T) {
	fc := newFakeCloud(t)
	r := newRig(t, "", fc, nil)
	poll.Within(t, "connection", 5*time.Second, func() bool { return r.link.Stats().Connected })
	r.hub.DeviceWrite(2, 1, "55", 5000) // device B wrote at t=5000

	cmd := func(id, uid string, pin int, v string, ts int64) {
		fc.push(&syncproto.Message{Type: syncproto.TypeCommand, ID: id,
			Command: &syncproto.Command{Kind: syncproto.CommandWrite, Device: uid, Pin: pin, Value: v, TS: ts, Actor: "ann"}})
	}
	cmd("c1", uidA, 1, "42", 6000)
	cmd("c1", uidA, 1, "42", 6000) // replay: same answer, applied once
	cmd("c2", uidB, 1, "7", 4000)  // older than the device's own value
	cmd("c3", uidC, 1, "1", 6000)  // not served here
	cmd("c4", uidA, 20, "1", 6000) // no datastream
	want := map[string]syncproto.Result{
		"c1": {Code: syncproto.ResultOK, Value: "42"},
		"c2": {Code: syncproto.ResultStale, Value: "55", Message: "the device has a newer value"},
		"c3": {Code: syncproto.ResultNoDevice},
		"c4": {Code: syncproto.ResultInvalid, Message: datastream.ErrNoDatastream.Error()},
	}
	poll.Within(t, "four results", 5*time.Second, func() bool {
		fc.mu.Lock()
		defer fc.mu.Unlock()
		return len(fc.results) == 4
	})
	fc.mu.Lock()
	got := fc.results
	fc.mu.Unlock()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if got, want := r.hub.controlLog(), []string{uidA + "/1=42"}; !cmp.Equal(got, want) {
		t.Errorf("control writes %v, want %v", got, want)
	}
	if r.link.Stats().Commands != 4 {
		t.Errorf("Commands = %d, want 4 (the replay is not counted)", r.link.Stats().Commands)
	}
}

// TestOfflineFirst: with no cloud at all the gateway keeps accepting writes
// into the outbox; Run retries quietly and stops with the context.
func TestOfflineFirst(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	r := newRig(t, "ws://"+addr+"/sync", nil, nil)
	for i := range 100 {
		r.hub.DeviceWrite(1, 1, strconv.Itoa(i), int64(i+1))
	}
	poll.Within(t, "a few failed attempts", 5*time.Second, func() bool { return r.link.Stats().Failures >= 3 })
	if r.store.pending() != 100 {
		t.Errorf("outbox holds %d, want 100", r.store.pending())
	}
	if err := r.stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
}

func TestUnauthorized(t *testing.T) {
	fc := newFakeCloud(t)
	fc.cred = "another"
	r := newRig(t, "", fc, nil)
	poll.Within(t, "refusals", 5*time.Second, func() bool { return r.link.Stats().Failures >= 2 })
	if r.link.Stats().Connects != 0 {
		t.Error("connected with a refused credential")
	}
}

// TestRevokedAfter: a credential the cloud no longer knows (401) makes Run
// give up after RevokedAfter refusals in a row, so the gateway can register
// again; a site not claimed yet (403) keeps dialing.
func TestRevokedAfter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		giveUp bool
	}{
		{"released", http.StatusUnauthorized, true},
		{"not claimed yet", http.StatusForbidden, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dials atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				dials.Add(1)
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			var logs lockedBuffer
			r := newRig(t, "ws"+strings.TrimPrefix(srv.URL, "http")+"/sync", nil, func(o *Options) {
				o.RevokedAfter = 3
				o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
			})
			if !tc.giveUp {
				poll.Within(t, "6 dials", 5*time.Second, func() bool { return dials.Load() >= 6 })
				if err := r.stop(); !errors.Is(err, context.Canceled) {
					t.Errorf("Run = %v, want it still running until cancelled", err)
				}
				// Waiting for the claim is the normal state of a new site:
				// one Info line, no warning per retry.
				out := logs.String()
				if n := strings.Count(out, "waiting to be claimed"); n != 1 || strings.Contains(out, "level=WARN") {
					t.Errorf("log while unclaimed (want one Info line, no WARN):\n%s", out)
				}
				return
			}
			poll.Within(t, "Run to give up", 5*time.Second, func() bool { return r.link.Stats().Failures >= 3 && dials.Load() >= 3 })
			err := r.stop()
			if !errors.Is(err, ErrRevoked) {
				t.Fatalf("Run = %v, want ErrRevoked", err)
			}
			if n := dials.Load(); n != 3 {
				t.Errorf("%d dials, want exactly 3 before giving up", n)
			}
		})
	}
}

// TestPartitionByClose: the cloud drops the websocket again and again while
// two devices write and the outbox drains; afterwards it holds exactly what
// they wrote, in order. Each cut closes a live session that has delivered
// part of what was written, and the link comes back after every one.
func TestPartitionByClose(t *testing.T) {
	fc := newFakeCloud(t)
	r := newRig(t, "", fc, nil)
	const perDevice, cuts = 2000, 6
	chunk := perDevice / (cuts + 1)
	next := 0
	write := func(n int) {
		for ; n > 0 && next < perDevice; n-- {
			r.hub.DeviceWrite(1, 1, strconv.Itoa(next), int64(next+1))
			r.hub.DeviceWrite(2, 1, strconv.Itoa(next), int64(next+1))
			next++
		}
	}
	poll.Until(t, "the first session", func() bool { return r.link.Stats().Connects == 1 })
	for c := range cuts {
		sessions := r.link.Stats().Connects
		before := fc.total()
		write(chunk)
		poll.Until(t, fmt.Sprintf("session %d to deliver", c+1), func() bool { return fc.total() > before })
		// The session just cut may still be listed (its handler has not
		// returned yet): at least the live one must be there.
		if n := fc.kick(); n == 0 {
			t.Fatalf("cut %d found no session to close", c+1)
		}
		poll.Until(t, fmt.Sprintf("the link back after cut %d", c+1), func() bool { return r.link.Stats().Connects > sessions })
	}
	write(perDevice)
	checkExactly(t, fc, r.store, perDevice)
	if got := r.link.Stats().Connects; got < cuts+1 {
		t.Errorf("%d sessions for %d cuts, want at least %d", got, cuts, cuts+1)
	}
	t.Logf("sessions: %d, items sent: %d (a resend after a cut counts again)", r.link.Stats().Connects, r.link.Stats().ItemsSent)
}

// TestPartitionSilentDrop: a proxy that stops forwarding without closing
// anything; the link notices by its idle timeout and reconnects when the
// path heals.
func TestPartitionSilentDrop(t *testing.T) {
	fc := newFakeCloud(t)
	p := faultproxy.Start(t, fc.srv.Listener.Addr().String())
	r := newRig(t, "ws://"+p.Addr()+"/sync", fc, func(o *Options) { o.IdleTimeout = 300 * time.Millisecond })
	const perDevice = 600
	for round := range 3 {
		for i := range perDevice / 3 {
			v := round*perDevice/3 + i
			r.hub.DeviceWrite(1, 1, strconv.Itoa(v), int64(v+1))
			r.hub.DeviceWrite(2, 1, strconv.Itoa(v), int64(v+1))
		}
		p.Blackhole(true)
		for i := range 10 {
			r.hub.DeviceWrite(1, 1, fmt.Sprintf("x%d-%d", round, i), 1)
		}
		sessions := r.link.Stats().Connects
		poll.Within(t, "the link to notice the dead path", 5*time.Second, func() bool { return !r.link.Stats().Connected })
		p.Blackhole(false)
		poll.Within(t, "a new session", 5*time.Second, func() bool { return r.link.Stats().Connects > sessions })
	}
	poll.Within(t, "the outbox to drain", 10*time.Second, func() bool { return r.store.pending() == 0 })
	got := fc.snapshotValues()
	var wantA, wantB []string
	for round := range 3 {
		for i := range perDevice / 3 {
			v := strconv.Itoa(round*perDevice/3 + i)
			wantA = append(wantA, v)
			wantB = append(wantB, v)
		}
		for i := range 10 {
			wantA = append(wantA, fmt.Sprintf("x%d-%d", round, i))
		}
	}
	if diff := cmp.Diff(wantA, got[uidA]); diff != "" {
		t.Errorf("device A in the cloud (-wrote +cloud):\n%s", diff)
	}
	if diff := cmp.Diff(wantB, got[uidB]); diff != "" {
		t.Errorf("device B in the cloud (-wrote +cloud):\n%s", diff)
	}
}

// checkExactly waits for the outbox to drain and checks that the cloud holds
// 0..n-1 for both devices, once each, in order.
func checkExactly(t *testing.T, fc *fakeCloud, st *memStore, n int) {
	t.Helper()
	poll.Within(t, "the outbox to drain", 20*time.Second, func() bool { return st.pending() == 0 })
	want := make([]string, n)
	for i := range want {
		want[i] = strconv.Itoa(i)
	}
	got := fc.snapshotValues()
	for _, uid := range []string{uidA, uidB} {
		if diff := cmp.Diff(want, got[uid]); diff != "" {
			t.Errorf("device %s in the cloud (-wrote +cloud):\n%s", uid, diff)
		}
	}
}

// TestSnapshotKeepsLocalDevices: without PruneDevices a snapshot adds and
// updates but never deletes devices the cloud does not know yet.
func TestSnapshotKeepsLocalDevices(t *testing.T) {
	fc := newFakeCloud(t)
	fc.onHello = func(send func(*syncproto.Message) error, h *syncproto.Hello) {
		_ = send(&syncproto.Message{Type: syncproto.TypeSnapshot, Snapshot: &syncproto.Tenancy{Version: 3,
			Devices: []syncproto.Device{{UID: uidC, Name: "C", TemplateID: "TMPL1", OrgID: 1, TokenHash: hash}}}})
	}
	r := newRig(t, "", fc, nil)
	poll.Within(t, "the snapshot", 5*time.Second, func() bool { return r.link.Stats().TenancyVersion == 3 })
	var got []string
	for _, d := range r.hub.Devices() {
		got = append(got, d.UID)
	}
	if want := []string{uidA, uidB, uidC}; !cmp.Equal(got, want) {
		t.Errorf("devices %v, want %v", got, want)
	}
}

// TestEpochKeptPerDatabase: the outbox epoch is drawn once and sent in
// every hello; a new database draws another. Every hello announces the
// display feature.
func TestEpochKeptPerDatabase(t *testing.T) {
	fc := newFakeCloud(t)
	r := newRig(t, "", fc, nil)
	poll.Within(t, "a session", 5*time.Second, func() bool { return r.link.Stats().Connected })
	fc.kick()
	poll.Within(t, "a second session", 5*time.Second, func() bool { return r.link.Stats().Connects >= 2 })
	r.stop()
	r2 := newRig(t, "", fc, nil) // a new memStore: another database
	poll.Within(t, "its session", 5*time.Second, func() bool { return r2.link.Stats().Connected })
	fc.mu.Lock()
	hellos := slices.Clone(fc.hellos)
	fc.mu.Unlock()
	if len(hellos) < 3 {
		t.Fatalf("%d hellos", len(hellos))
	}
	first, second, last := hellos[0].Epoch, hellos[1].Epoch, hellos[len(hellos)-1].Epoch
	if first == 0 || first != second {
		t.Errorf("epochs of one database: %d then %d", first, second)
	}
	if last == 0 || last == first {
		t.Errorf("epoch of a new database %d, first was %d", last, first)
	}
	if v, _ := r.store.Cursor(context.Background(), CursorEpoch); v != first {
		t.Errorf("stored epoch %d, sent %d", v, first)
	}
	for _, h := range hellos { // the cloud may send templates' display settings
		if !h.Has(syncproto.FeatureDisplay) {
			t.Errorf("hello without %q: %+v", syncproto.FeatureDisplay, h)
		}
	}
}

// TestLargeValuesSplitBatches: a full batch of values near the item limit
// would exceed the message limit; it goes up in smaller messages instead of
// wedging the drain, in order and complete.
func TestLargeValuesSplitBatches(t *testing.T) {
	fc := newFakeCloud(t)
	st := newMemStore()
	const n = 1000 // one default batch: ≈ 16 MB of values, twice the message limit
	big := strings.Repeat("x", syncproto.MaxValueLen-10)
	for i := range n {
		st.append(hub.Record{Kind: hub.KindWrite, DeviceID: 1, Pin: 1, Value: fmt.Sprintf("%04d", i) + big, TS: int64(i + 1)})
	}
	newRig(t, "", fc, func(o *Options) { o.Store = st; o.Hub.(*fakeHub).store = st; o.BatchSize = n })
	poll.Within(t, "the outbox to drain", 30*time.Second, func() bool { return st.pending() == 0 })
	got := fc.snapshotValues()[uidA]
	if len(got) != n {
		t.Fatalf("cloud holds %d values, want %d", len(got), n)
	}
	for i, v := range got {
		if want := fmt.Sprintf("%04d", i); !strings.HasPrefix(v, want) {
			t.Fatalf("value %d starts %q, want %q (order)", i, v[:4], want)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
