package blynkserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"outpost/gateway/internal/certs"
	"outpost/gateway/internal/hub"
	"outpost/internal/poll"
	"outpost/shared/blynk"
)

func TestLogin(t *testing.T) {
	e := newEnv(t)
	addr := serve(t, New(Options{Hub: e.hub}), nil)
	tests := []struct {
		name  string
		cmd   blynk.Command
		body  string
		want  blynk.Status // 0: no answer
		stays bool
	}{
		{"hw login", blynk.CmdHWLogin, testToken, blynk.StatusSuccess, true},
		{"legacy login", blynk.CmdLogin, testToken, blynk.StatusSuccess, true},
		{"unknown token", blynk.CmdHWLogin, strings.Repeat("x", 32), blynk.StatusInvalidToken, false},
		{"short token", blynk.CmdHWLogin, "abc", blynk.StatusInvalidToken, false},
		{"token with NUL", blynk.CmdHWLogin, testToken[:31] + "\x00", blynk.StatusInvalidToken, false},
		{"command before login", blynk.CmdHardware, nul("vw", "1", "2"), 0, false},
		{"ping before login", blynk.CmdPing, "", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr)
			id := c.send(tc.cmd, tc.body)
			if tc.want != 0 {
				c.expectResponse(id, tc.want)
			}
			if tc.stays {
				c.roundTrip()
			} else {
				c.expectClosed()
			}
		})
	}
	t.Run("second login", func(t *testing.T) {
		c := dial(t, addr)
		c.login(testToken)
		c.expectResponse(c.send(blynk.CmdHWLogin, testToken), blynk.StatusAlreadyRegistered)
		c.roundTrip()
	})
	t.Run("oversized login", func(t *testing.T) {
		c := dial(t, addr)
		c.send(blynk.CmdHWLogin, strings.Repeat("a", 1000))
		c.expectClosed()
	})
}

func TestLoginTimeout(t *testing.T) {
	e := newEnv(t)
	srv := New(Options{Hub: e.hub, LoginTimeout: 50 * time.Millisecond})
	c := dial(t, serve(t, srv, nil))
	c.expectClosed()
	if srv.Stats().LoginFailures != 1 {
		t.Errorf("LoginFailures = %d, want 1", srv.Stats().LoginFailures)
	}
}

func TestHardware(t *testing.T) {
	e := newEnv(t)
	srv := New(Options{Hub: e.hub})
	c := dial(t, serve(t, srv, nil))
	c.login(testToken)

	c.send(blynk.CmdHardware, nul("vw", "0", "21.5000000")) // accepted: no reply
	c.send(blynk.CmdHardware, nul("vw", "1", "500"))        // clamped to 100
	c.send(blynk.CmdHardware, nul("vw", "1", "12.5"))       // wrong type: dropped, no reply
	c.send(blynk.CmdHardware, nul("vw", "9", "1"))          // no datastream: dropped
	c.send(blynk.CmdHardware, nul("dw", "7", "1"))          // GPIO answer: ignored
	c.roundTrip()
	for _, bad := range []string{nul("vw", "256", "1"), nul("vw", "-1", "1"), nul("vw", "1"), "vw", nul("xx", "1", "2"), ""} {
		c.expectResponse(c.send(blynk.CmdHardware, bad), blynk.StatusIllegalCommand)
	}
	c.roundTrip()
	if v, _ := e.hub.Value(e.dev.ID, 0); v.Value != "21.5" {
		t.Errorf("v0 = %q, want 21.5", v.Value)
	}
	if v, _ := e.hub.Value(e.dev.ID, 1); v.Value != "100" {
		t.Errorf("v1 = %q, want 100 (clamped, the wrong-type write dropped)", v.Value)
	}
	st := srv.Stats()
	if st.Writes != 2 || st.DroppedValues != 2 || st.Ignored != 1 || st.Malformed != 6 {
		t.Errorf("stats %+v: want 2 writes, 2 dropped values, 1 ignored, 6 malformed", st)
	}
	e.flush()
	h, err := e.store.History(context.Background(), e.dev.ID, 1, 0, 1<<62, 10)
	if err != nil || len(h) != 1 || h[0].Value != "100" {
		t.Errorf("stored history of v1 = %v, %v; want one value 100", h, err)
	}
}

func TestSyncAndDeliveries(t *testing.T) {
	e := newEnv(t)
	srv := New(Options{Hub: e.hub})
	c := dial(t, serve(t, srv, nil))
	c.login(testToken)
	c.send(blynk.CmdHardware, nul("vw", "0", "3.25"))
	c.send(blynk.CmdHardware, nul("vw", "2", "text"))
	c.roundTrip()

	// syncAll: flagged pins with a value or a default, all with the request id.
	id := c.send(blynk.CmdHardwareSync, "")
	want := []blynk.Message{
		{Cmd: blynk.CmdHardware, ID: id, Body: []byte(nul("vw", "0", "3.25"))},
		{Cmd: blynk.CmdHardware, ID: id, Body: []byte(nul("vw", "1", "5"))},
	}
	got := []blynk.Message{c.mustNext(), c.mustNext()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("syncAll (-want +got):\n%s", diff)
	}
	c.roundTrip()
	// syncVirtual: the named pins regardless of the flag, none for no value.
	id = c.send(blynk.CmdHardwareSync, nul("vr", "3", "2", "200"))
	want = []blynk.Message{
		{Cmd: blynk.CmdHardware, ID: id, Body: []byte(nul("vw", "3", "7"))},
		{Cmd: blynk.CmdHardware, ID: id, Body: []byte(nul("vw", "2", "text"))},
	}
	got = []blynk.Message{c.mustNext(), c.mustNext()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("syncVirtual (-want +got):\n%s", diff)
	}
	c.roundTrip()
	c.expectResponse(c.send(blynk.CmdHardwareSync, nul("vr", "x")), blynk.StatusIllegalCommand)

	// A control write reaches the device as HARDWARE vw with a server id.
	if _, err := e.hub.ControlWrite(e.dev.ID, 2, [][]byte{[]byte("on")}, 0, "http"); err != nil {
		t.Fatal(err)
	}
	m := c.mustNext()
	if m.Cmd != blynk.CmdHardware || m.ID == 0 || string(m.Body) != nul("vw", "2", "on") {
		t.Errorf("delivery = %v, want HARDWARE vw 2 on with a non-zero id", m)
	}
	// Metadata set elsewhere is delivered as INTERNAL meta.
	if err := e.hub.SetMeta(e.dev.ID, "Serial Number", "SN7", "http"); err != nil {
		t.Fatal(err)
	}
	m = c.mustNext()
	if m.Cmd != blynk.CmdInternal || string(m.Body) != nul("meta", "Serial Number", "SN7") {
		t.Errorf("meta delivery = %v", m)
	}
}

func TestBuffInRespected(t *testing.T) {
	e := newEnv(t)
	srv := New(Options{Hub: e.hub})
	c := dial(t, serve(t, srv, nil))
	c.login(testToken)
	// Unknown buff-in: 250, so bodies up to 245 bytes.
	write := func(v string) {
		if _, err := e.hub.ControlWrite(e.dev.ID, 2, [][]byte{[]byte(v)}, 0, "http"); err != nil {
			t.Fatal(err)
		}
	}
	fits := strings.Repeat("a", 245-len("vw\x002\x00"))
	write(fits + "b") // 246: dropped
	write(fits)       // 245: sent
	if m := c.mustNext(); len(m.Body) != 245 {
		t.Fatalf("got a %d-byte body, want the 245-byte one only", len(m.Body))
	}
	c.expectResponse(c.send(blynk.CmdInternal, nul("ver", "0.5.4", "buff-in", "20", "dev", "js")), blynk.StatusSuccess)
	write("0123456789abc") // "vw\0 2\0" + 13 = 18 > 15: dropped
	write("0123456789")    // 15: sent
	if m := c.mustNext(); string(m.Body) != nul("vw", "2", "0123456789") {
		t.Fatalf("got %v, want the 15-byte body", m)
	}
	if got := srv.Stats().OutOversize; got != 2 {
		t.Errorf("OutOversize = %d, want 2", got)
	}
}

func TestOversizeBodyClosesCleanly(t *testing.T) {
	e := newEnv(t)
	srv := New(Options{Hub: e.hub, MaxBody: 100})
	c := dial(t, serve(t, srv, nil))
	c.login(testToken)
	c.send(blynk.CmdHardware, nul("vw", "2", strings.Repeat("x", 98))) // 103 > 100
	c.expectClosed()
	poll.Until(t, "device offline", func() bool { return !e.hub.Online(e.dev.ID) })
	if srv.Stats().TooLarge != 1 {
		t.Errorf("TooLarge = %d", srv.Stats().TooLarge)
	}
	// A large body under the limit still works (the buffer grows).
	srv2 := New(Options{Hub: e.hub})
	c2 := dial(t, serve(t, srv2, nil))
	c2.login(testToken)
	big := strings.Repeat("y", 1000)
	c2.send(blynk.CmdHardware, nul("vw", "2", big))
	c2.roundTrip()
	if v, _ := e.hub.Value(e.dev.ID, 2); v.Value != big {
		t.Errorf("large write not stored (%d bytes)", len(v.Value))
	}
}

func TestFloodLimit(t *testing.T) {
	e := newEnv(t)
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	srv := New(Options{Hub: e.hub, Rate: 100, Burst: 200, Now: clk.Now})
	addr := serve(t, srv, nil)
	c := dial(t, addr)
	c.login(testToken)
	flood := func(n int) (quota int) {
		t.Helper()
		for i := 0; i < n; i++ {
			c.send(blynk.CmdHardware, nul("vw", "1", strconv.Itoa(i%100)))
		}
		id := c.send(blynk.CmdPing, "")
		for {
			m := c.mustNext()
			switch {
			case m.Cmd == blynk.CmdResponse && m.Status == blynk.StatusQuotaLimit:
				quota++
			case m.Cmd == blynk.CmdResponse && m.ID == id:
				return quota
			default:
				t.Fatalf("unexpected %v", m)
			}
		}
	}
	if q := flood(300); q != 1 {
		t.Errorf("first flood: %d QUOTA_LIMIT answers, want 1", q)
	}
	if q := flood(50); q != 0 {
		t.Errorf("within the minute: %d QUOTA_LIMIT answers, want 0", q)
	}
	// A second connection of the same device shares the empty bucket (and
	// the once-a-minute answer).
	c2 := dial(t, addr)
	c2.login(testToken)
	c2.send(blynk.CmdHardware, nul("vw", "1", "1"))
	c2.roundTrip()
	st := srv.Stats()
	if st.Writes != 200 || st.DroppedFlood != 151 {
		t.Errorf("writes %d, flood drops %d; want 200 and 151", st.Writes, st.DroppedFlood)
	}
	clk.Add(61 * time.Second) // the bucket refills; a minute has passed
	if q := flood(300); q != 1 {
		t.Errorf("after a minute: %d QUOTA_LIMIT answers, want 1", q)
	}
	c.roundTrip() // the connection stays
}

func TestInternalPropertyGroupEvents(t *testing.T) {
	e := newEnv(t)
	srv := New(Options{Hub: e.hub, Location: time.UTC})
	c := dial(t, serve(t, srv, nil))
	c.login(testToken)

	info := nul("ver", "1.4.0", "h-beat", "10", "buff-in", "4096", "dev", "Linux", "tmpl", "TMPLtest0001") + "\x00"
	c.expectResponse(c.send(blynk.CmdInternal, info), blynk.StatusSuccess)
	if got := e.hub.Info(e.dev.ID); len(got) != 10 || got[3] != "10" {
		t.Errorf("info = %q", got)
	}

	before := time.Now().Unix()
	id := c.send(blynk.CmdInternal, nul("rtc", "sync"))
	m := c.mustNext()
	f := strings.Split(string(m.Body), "\x00")
	if m.Cmd != blynk.CmdInternal || m.ID != id || len(f) != 2 || f[0] != "rtc" || len(f[1]) != 10 {
		t.Fatalf("rtc answer %v", m)
	}
	if secs, _ := strconv.ParseInt(f[1], 10, 64); secs < before || secs > time.Now().Unix() {
		t.Errorf("rtc %d not now", secs)
	}
	id = c.send(blynk.CmdInternal, nul("utc", "tz_name"))
	if m := c.mustNext(); m.ID != id || string(m.Body) != nul("utc", "tz_name", "UTC") {
		t.Errorf("utc tz_name answer %v", m)
	}
	id = c.send(blynk.CmdInternal, nul("meta", "set", "Serial Number", "SN1"))
	m = c.mustNext() // the hub delivers meta changes to every connection of the device
	if string(m.Body) != nul("meta", "Serial Number", "SN1") {
		t.Errorf("meta echo %v", m)
	}
	c.expectResponse(id, blynk.StatusSuccess)
	id = c.send(blynk.CmdInternal, nul("meta", "get", "Serial Number"))
	if m := c.mustNext(); m.ID != id || string(m.Body) != nul("meta", "Serial Number", "SN1") {
		t.Errorf("meta get answer %v", m)
	}
	c.expectResponse(c.send(blynk.CmdInternal, nul("meta", "get", "Nope")), blynk.StatusIllegalCommandBody)
	c.expectResponse(c.send(blynk.CmdInternal, "rtc"), blynk.StatusIllegalCommand)

	c.expectResponse(c.send(blynk.CmdProperty, nul("0", "label", "Temp")), blynk.StatusSuccess)
	c.expectResponse(c.send(blynk.CmdProperty, nul("0", "label")), blynk.StatusIllegalCommandBody)
	c.expectResponse(c.send(blynk.CmdProperty, nul("0", "bogus", "x")), blynk.StatusIllegalCommandBody)
	if v, _ := e.hub.Property(e.dev.ID, 0, "label"); v != "Temp" {
		t.Errorf("property = %q", v)
	}

	const groupTS int64 = 1_700_000_000_000
	c.expectResponse(c.send(blynk.CmdGroup, nul("t", strconv.FormatInt(groupTS, 10))), blynk.StatusSuccess)
	c.send(blynk.CmdHardware, nul("vw", "0", "1"))
	c.send(blynk.CmdHardware, nul("vw", "1", "2"))
	c.expectResponse(c.send(blynk.CmdGroup, "e"), blynk.StatusSuccess)
	c.send(blynk.CmdHardware, nul("vw", "0", "3"))
	c.expectResponse(c.send(blynk.CmdGroup, "x"), blynk.StatusIllegalCommand)

	c.expectResponse(c.send(blynk.CmdEventLog, nul("overheat", "too hot")), blynk.StatusSuccess)
	c.expectResponse(c.send(blynk.CmdEventClear, nul("overheat", "all")), blynk.StatusSuccess)
	c.expectResponse(c.send(blynk.CmdEventLog, "nope"), blynk.StatusIllegalCommandBody)
	c.expectResponse(c.send(blynk.CmdNotify, "legacy"), blynk.StatusIllegalCommand)

	e.flush()
	ctx := context.Background()
	h0, _ := e.store.History(ctx, e.dev.ID, 0, 0, 1<<62, 10)
	h1, _ := e.store.History(ctx, e.dev.ID, 1, 0, 1<<62, 10)
	if len(h0) != 2 || h0[0].TS != groupTS || h0[1].TS == groupTS || len(h1) != 1 || h1[0].TS != groupTS {
		t.Errorf("history v0 %v v1 %v: want the grouped writes at %d, the later one not", h0, h1, groupTS)
	}
	evs, err := e.store.Events(ctx, e.dev.ID, 10)
	if err != nil || len(evs) != 1 || evs[0].Code != "overheat" || evs[0].Description != "too hot" || evs[0].ResolvedAt == 0 {
		t.Errorf("events %+v, %v: want overheat, resolved", evs, err)
	}
	if info, _ := e.store.DeviceInfo(ctx, e.dev.ID); len(info) != 10 {
		t.Errorf("stored info %q", info)
	}
}

func TestRestartKeepsValues(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	srv := New(Options{Hub: e.hub})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, "tcp") }()
	c := dial(t, ln.Addr().String())
	c.login(testToken)
	c.send(blynk.CmdHardware, nul("vw", "0", "42.5"))
	c.roundTrip()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.expectClosed()
	e.close()
	e.open()
	addr := serve(t, New(Options{Hub: e.hub}), nil)
	c = dial(t, addr)
	c.login(testToken)
	id := c.send(blynk.CmdHardwareSync, nul("vr", "0"))
	if m := c.mustNext(); m.ID != id || string(m.Body) != nul("vw", "0", "42.5") {
		t.Errorf("after restart sync gives %v, want vw 0 42.5", m)
	}
}

func TestTLS(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	ca, err := certs.OpenLocal(certs.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, New(Options{Hub: e.hub}), func(ln net.Listener) net.Listener {
		return tls.NewListener(ln, &tls.Config{GetCertificate: ca.GetCertificate})
	})
	pem, err := os.ReadFile(ca.CAPath())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := newClient(t, conn)
	c.login(testToken)
	c.send(blynk.CmdHardware, nul("vw", "0", "1"))
	c.roundTrip()
	if v, _ := e.hub.Value(e.dev.ID, 0); v.Value != "1" {
		t.Errorf("v0 = %q over TLS", v.Value)
	}
}

func TestHTTPSniffing(t *testing.T) {
	e := newEnv(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "http says "+r.URL.Path)
	})
	srv := New(Options{Hub: e.hub, HTTP: h})
	addr := serve(t, srv, nil)
	resp, err := http.Get("http://" + addr + "/external/api/isHardwareConnected")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "http says /external/api/isHardwareConnected" {
		t.Errorf("HTTP body %q", b)
	}
	c := dial(t, addr)
	c.login(testToken)
	c.roundTrip()
	if srv.Stats().HTTP != 1 {
		t.Errorf("HTTP conns = %d", srv.Stats().HTTP)
	}
}

func TestDeleteDeviceClosesSession(t *testing.T) {
	e := newEnv(t)
	c := dial(t, serve(t, New(Options{Hub: e.hub}), nil))
	c.login(testToken)
	poll.Until(t, "online", func() bool { return e.hub.Online(e.dev.ID) })
	if err := e.hub.DeleteDevice(context.Background(), e.dev.ID); err != nil {
		t.Fatal(err)
	}
	c.expectClosed()
}

var _ hub.Conn = (*session)(nil)
