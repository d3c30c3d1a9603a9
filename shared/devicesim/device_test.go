package devicesim

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/big"
	"net"
	"slices"
	"testing"
	"time"

	"outpost/shared/blynk"
	"outpost/shared/devicesim/fakeserver"
)

const tok = "0123456789abcdef0123456789abcdef"

func startServer(t *testing.T, tokens ...string) (*fakeserver.Server, string) {
	t.Helper()
	srv, addr, err := fakeserver.Start(tokens...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, addr.String()
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, addr string, opts Options) *Device {
	t.Helper()
	if opts.Token == "" {
		opts.Token = tok
	}
	d, err := Dial(testCtx(t), addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestLoginSendsTokenThenInfo(t *testing.T) {
	srv, addr := startServer(t, tok)
	dial(t, addr, Options{Heartbeat: 10 * time.Second, BuffIn: 4096, Template: "TMPLtest0001"})
	ctx := testCtx(t)
	info, err := srv.WaitFrame(ctx, tok, func(m blynk.Message) bool { return m.Cmd == blynk.CmdInternal })
	if err != nil {
		t.Fatal(err)
	}
	got := srv.Received()
	if got[0].Msg.Cmd != blynk.CmdHWLogin || got[0].Msg.ID != 1 || string(got[0].Msg.Body) != tok {
		t.Errorf("first frame = %v, want HW_LOGIN id 1 with the token", got[0].Msg)
	}
	if info.Msg.ID != 2 {
		t.Errorf("info id = %d, want 2", info.Msg.ID)
	}
	want := []string{"ver", "1.4.0", "h-beat", "10", "buff-in", "4096", "dev", "devicesim",
		"fw-type", "TMPLtest0001", "fw", "0.1.0", "build", "Jan  1 2026 00:00:00", "tmpl", "TMPLtest0001"}
	if pairs := blynk.InfoPairs(info.Msg.Body); !slices.Equal(pairs, want) {
		t.Errorf("info = %q\nwant %q", pairs, want)
	}
}

func TestLoginRefusedReturnsStatus(t *testing.T) {
	_, addr := startServer(t, tok)
	_, err := Dial(testCtx(t), addr, Options{Token: "ffffffffffffffffffffffffffffffff"})
	if !errors.Is(err, blynk.StatusInvalidToken) {
		t.Fatalf("err = %v, want INVALID_TOKEN", err)
	}
	var st blynk.Status
	if !errors.As(err, &st) || st != blynk.StatusInvalidToken {
		t.Fatalf("errors.As status = %v", st)
	}
}

func TestLoginOverTLS(t *testing.T) {
	srv := fakeserver.New(tok)
	t.Cleanup(func() { srv.Close() })
	cert, pool := selfSigned(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	d := dial(t, ln.Addr().String(), Options{TLS: &tls.Config{RootCAs: pool}})
	id, err := d.VirtualWrite(1, 42)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.WaitFrame(testCtx(t), tok, func(m blynk.Message) bool { return m.ID == id && string(m.Body) == "vw\x001\x0042" }); err != nil {
		t.Fatal(err)
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestFramesMatchTheLibrary checks each API call against the bytes the C++
// library was observed to send (PROTOCOL.md §6).
func TestFramesMatchTheLibrary(t *testing.T) {
	group := time.UnixMilli(1700000000000)
	cases := []struct {
		name string
		call func(d *Device) error
		want []blynk.Message // ids relative: 0 = first id after the info message
	}{
		{"virtualWrite int", func(d *Device) error { _, err := d.VirtualWrite(0, 10); return err },
			[]blynk.Message{{Cmd: blynk.CmdHardware, Body: []byte("vw\x000\x0010")}}},
		{"virtualWrite multi double", func(d *Device) error { _, err := d.VirtualWrite(3, 1, 2.5, "x"); return err },
			[]blynk.Message{{Cmd: blynk.CmdHardware, Body: []byte("vw\x003\x001\x002.5000000\x00x")}}},
		{"virtualWrite binary", func(d *Device) error { _, err := d.VirtualWrite(5, []byte{0xff, 0, 0xfe}); return err },
			[]blynk.Message{{Cmd: blynk.CmdHardware, Body: []byte("vw\x005\x00\xff\x00\xfe")}}},
		{"syncAll", func(d *Device) error { _, err := d.SyncAll(); return err },
			[]blynk.Message{{Cmd: blynk.CmdHardwareSync, Body: nil}}},
		{"syncVirtual", func(d *Device) error { _, err := d.SyncVirtual(1, 2); return err },
			[]blynk.Message{{Cmd: blynk.CmdHardwareSync, Body: []byte("vr\x001\x002")}}},
		{"setProperty", func(d *Device) error { _, err := d.SetProperty(4, "labels", "a", "b", "c"); return err },
			[]blynk.Message{{Cmd: blynk.CmdProperty, Body: []byte("4\x00labels\x00a\x00b\x00c")}}},
		{"logEvent", func(d *Device) error { _, err := d.LogEvent("overheat", ""); return err },
			[]blynk.Message{{Cmd: blynk.CmdEventLog, Body: []byte("overheat")}}},
		{"logEvent description", func(d *Device) error { _, err := d.LogEvent("overheat", "too hot"); return err },
			[]blynk.Message{{Cmd: blynk.CmdEventLog, Body: []byte("overheat\x00too hot")}}},
		{"resolveEvent all", func(d *Device) error { _, err := d.ClearEvent("overheat", true); return err },
			[]blynk.Message{{Cmd: blynk.CmdEventClear, Body: []byte("overheat\x00all")}}},
		{"utc time", func(d *Device) error { _, err := d.Internal("utc", "time"); return err },
			[]blynk.Message{{Cmd: blynk.CmdInternal, Body: []byte("utc\x00time")}}},
		{"group", func(d *Device) error {
			d.BeginGroup(group)
			if _, err := d.VirtualWrite(5, 10); err != nil {
				return err
			}
			if _, err := d.VirtualWrite(6, 20); err != nil {
				return err
			}
			_, err := d.EndGroup()
			return err
		}, []blynk.Message{
			{Cmd: blynk.CmdGroup, Body: []byte("t\x001700000000000")},
			{Cmd: blynk.CmdHardware, Body: []byte("vw\x005\x0010")},
			{Cmd: blynk.CmdHardware, Body: []byte("vw\x006\x0020")},
			{Cmd: blynk.CmdGroup, Body: []byte("e")},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, addr := startServer(t, tok)
			d := dial(t, addr, Options{})
			if err := c.call(d); err != nil {
				t.Fatal(err)
			}
			ctx := testCtx(t)
			var frames []blynk.Message
			err := srv.Wait(ctx, func() bool {
				frames = frames[:0]
				for _, r := range srv.Received() {
					if r.Msg.ID > 2 && r.Msg.Cmd != blynk.CmdPing {
						frames = append(frames, r.Msg)
					}
				}
				return len(frames) >= len(c.want)
			})
			if err != nil {
				t.Fatalf("got %v before %v", frames, err)
			}
			for i, w := range c.want {
				g := frames[i]
				if g.Cmd != w.Cmd || g.ID != uint16(3+i) || string(g.Body) != string(w.Body) {
					t.Errorf("frame %d = %v, want %s id=%d %q", i, g, w.Cmd, 3+i, w.Body)
				}
			}
		})
	}
}

func TestAnswersServerPingWithItsID(t *testing.T) {
	srv, addr := startServer(t, tok)
	d := dial(t, addr, Options{})
	ctx := testCtx(t)
	if err := srv.SendRaw(tok, blynk.Message{Cmd: blynk.CmdPing, ID: 102}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.WaitFrame(ctx, tok, func(m blynk.Message) bool {
		return m.Cmd == blynk.CmdResponse && m.ID == 102 && m.Status == blynk.StatusSuccess
	}); err != nil {
		t.Fatal(err)
	}
	in, err := d.Expect(ctx, func(in Incoming) bool { return in.Msg.Cmd == blynk.CmdPing })
	if err != nil || in.Msg.ID != 102 {
		t.Fatalf("ping delivered as %v, %v", in.Msg, err)
	}
}

func TestReceivesServerWrites(t *testing.T) {
	srv, addr := startServer(t, tok)
	d := dial(t, addr, Options{})
	ctx := testCtx(t)
	before := time.Now()
	id, err := srv.VirtualWrite(tok, 1, "hello", "world")
	if err != nil {
		t.Fatal(err)
	}
	in, err := d.Expect(ctx, func(in Incoming) bool { return in.Op == blynk.OpVirtualWrite })
	if err != nil {
		t.Fatal(err)
	}
	if in.Msg.ID != id || in.Pin != 1 || !slices.Equal(in.Values, []string{"hello", "world"}) || in.At.Before(before) {
		t.Fatalf("got %+v", in)
	}
}

func TestHandlerReceivesMessages(t *testing.T) {
	srv, addr := startServer(t, tok)
	got := make(chan Incoming, 4)
	d := dial(t, addr, Options{Handler: func(in Incoming) { got <- in }})
	if _, err := srv.VirtualWrite(tok, 9, "1"); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	for {
		select {
		case in := <-got:
			if in.Op == blynk.OpVirtualWrite && in.Pin == 9 {
				if _, err := d.Next(ctx); !errors.Is(err, ErrHandlerPresent) {
					t.Fatalf("Next with a handler: %v", err)
				}
				return
			}
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
}

// TestAnswersHardwareLikeTheLibrary: dr/ar read back what dw/aw set, with the
// request's id; vr and unknown ops get RESPONSE 2 with the request's id.
func TestAnswersHardwareLikeTheLibrary(t *testing.T) {
	srv, addr := startServer(t, tok)
	dial(t, addr, Options{})
	ctx := testCtx(t)
	steps := []struct {
		body string
		id   uint16
		want blynk.Message
	}{
		{"dw\x007\x001", 500, blynk.Message{}},
		{"dr\x007", 501, blynk.Message{Cmd: blynk.CmdHardware, ID: 501, Body: []byte("dw\x007\x001")}},
		{"ar\x003", 502, blynk.Message{Cmd: blynk.CmdHardware, ID: 502, Body: []byte("aw\x003\x000")}},
		{"vr\x001", 503, blynk.Message{Cmd: blynk.CmdResponse, ID: 503, Status: blynk.StatusIllegalCommand}},
		{"xx\x001", 504, blynk.Message{Cmd: blynk.CmdResponse, ID: 504, Status: blynk.StatusIllegalCommand}},
	}
	for _, s := range steps {
		if err := srv.SendRaw(tok, blynk.Message{Cmd: blynk.CmdHardware, ID: s.id, Body: []byte(s.body)}); err != nil {
			t.Fatal(err)
		}
		if s.want.Cmd == 0 && s.want.ID == 0 {
			continue
		}
		got, err := srv.WaitFrame(ctx, tok, func(m blynk.Message) bool { return m.ID == s.id })
		if err != nil {
			t.Fatalf("%q: %v", s.body, err)
		}
		if got.Msg.Cmd != s.want.Cmd || got.Msg.Status != s.want.Status || string(got.Msg.Body) != string(s.want.Body) {
			t.Errorf("%q: device answered %v, want %v", s.body, got.Msg, s.want)
		}
	}
}

func TestSyncRepliesArrive(t *testing.T) {
	srv, addr := startServer(t, tok)
	d := dial(t, addr, Options{})
	ctx := testCtx(t)
	if _, err := d.VirtualWrite(1, "on"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Wait(ctx, func() bool { _, ok := srv.Value(tok, 1); return ok }); err != nil {
		t.Fatal(err)
	}
	id, err := d.SyncVirtual(1)
	if err != nil {
		t.Fatal(err)
	}
	in, err := d.Expect(ctx, func(in Incoming) bool { return in.Op == blynk.OpVirtualWrite })
	if err != nil || in.Msg.ID != id || in.Pin != 1 || !slices.Equal(in.Values, []string{"on"}) {
		t.Fatalf("sync reply %+v, %v", in, err)
	}
}

func TestResponseStatus(t *testing.T) {
	_, addr := startServer(t, tok)
	d := dial(t, addr, Options{})
	ctx := testCtx(t)
	id, err := d.SetProperty(1, "label")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := d.Response(ctx, id); err != nil || st != blynk.StatusIllegalCommandBody {
		t.Fatalf("property without value: %v, %v", st, err)
	}
	id, err = d.SetProperty(1, "label", "Temp")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := d.Response(ctx, id); err != nil || st != blynk.StatusSuccess {
		t.Fatalf("property: %v, %v", st, err)
	}
}

func TestPingsWhenIdle(t *testing.T) {
	srv, addr := startServer(t, tok)
	dial(t, addr, Options{Heartbeat: 30 * time.Millisecond})
	if _, err := srv.WaitFrame(testCtx(t), tok, func(m blynk.Message) bool { return m.Cmd == blynk.CmdPing }); err != nil {
		t.Fatal(err)
	}
}

func TestDropsConnectionLikeTheLibrary(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		msg  blynk.Message
		want error
	}{
		{"id 0", Options{}, blynk.Message{Cmd: blynk.CmdHardware, ID: 0, Body: []byte("vw\x001\x001")}, ErrZeroID},
		{"body over buff-in", Options{BuffIn: 16}, blynk.Message{Cmd: blynk.CmdHardware, ID: 5, Body: make([]byte, 17)}, blynk.ErrBodyTooLarge},
		{"unknown command", Options{}, blynk.Message{Cmd: blynk.Command(99), ID: 5, Body: []byte("x")}, ErrUnexpectedCmd},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, addr := startServer(t, tok)
			d := dial(t, addr, c.opts)
			if err := srv.SendRaw(tok, c.msg); err != nil {
				t.Fatal(err)
			}
			select {
			case <-d.Done():
			case <-testCtx(t).Done():
				t.Fatal("device still connected")
			}
			if !errors.Is(d.Err(), c.want) {
				t.Fatalf("Err = %v, want %v", d.Err(), c.want)
			}
		})
	}
}

func TestCloseReportsClosed(t *testing.T) {
	_, addr := startServer(t, tok)
	d := dial(t, addr, Options{})
	d.Close()
	if !errors.Is(d.Err(), ErrClosed) {
		t.Fatalf("Err = %v", d.Err())
	}
	if _, err := d.VirtualWrite(1, 1); err == nil {
		t.Fatal("write after Close succeeded")
	}
}

func TestMessageIDsWrapToOne(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 65535 frames")
	}
	srv := fakeserver.New(tok)
	srv.DiscardWrites = true // writes are only counted
	t.Cleanup(func() { srv.Close() })
	addr, err := srv.Start()
	if err != nil {
		t.Fatal(err)
	}
	d := dial(t, addr.String(), Options{})
	// Ids so far: login 1, info 2. Writes take 3…65535, then 1 comes back.
	for range 65533 {
		if _, err := d.VirtualWrite(0, 1); err != nil {
			t.Fatal(err)
		}
	}
	id, err := d.LogEvent("wrapped", "")
	if err != nil || id != 1 {
		t.Fatalf("id after 65535 = %d, %v", id, err)
	}
	if _, err := srv.WaitFrame(testCtx(t), tok, func(m blynk.Message) bool { return m.Cmd == blynk.CmdEventLog && m.ID == 1 }); err != nil {
		t.Fatal(err)
	}
}
