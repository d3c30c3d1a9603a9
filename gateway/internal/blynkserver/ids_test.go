package blynkserver

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"outpost/internal/poll"
	"outpost/shared/blynk"
)

// Server-originated ids start at 1, never 0, and wrap 65535 → 1. The
// session's id counter is advanced to just before the wrap; everything else
// is the real path (hub ControlWrite → Deliver → writer).
func TestMessageIDsNeverZero(t *testing.T) {
	e := newEnv(t)
	srv := New(Options{Hub: e.hub})
	dev, gw := net.Pipe()
	defer dev.Close()
	s := newSession(srv, gw, "tcp")
	for range 65530 {
		s.ids.Next()
	}
	done := make(chan struct{})
	go func() { s.serve(context.Background(), nil, nil); close(done) }()
	c := newClient(t, dev)
	c.login(testToken)
	var got []uint16
	for i := range 10 {
		if _, err := e.hub.ControlWrite(e.dev.ID, 1, [][]byte{[]byte{byte('0' + i)}}, 0, "http"); err != nil {
			t.Fatal(err)
		}
		m := c.mustNext()
		got = append(got, m.ID)
	}
	want := []uint16{65531, 65532, 65533, 65534, 65535, 1, 2, 3, 4, 5}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ids %v, want %v", got, want)
		}
	}
	dev.Close()
	<-done
}

// FuzzSession feeds arbitrary bytes to a logged-in session: it must never
// panic and never send a frame with id 0.
func FuzzSession(f *testing.F) {
	seeds := [][]byte{
		frame(blynk.CmdHardware, 2, nul("vw", "0", "1.5")),
		frame(blynk.CmdHardware, 3, nul("vw", "256", "1")),
		frame(blynk.CmdHardware, 0, nul("vw", "1")),
		frame(blynk.CmdHardwareSync, 4, ""),
		frame(blynk.CmdHardwareSync, 5, nul("vr", "0", "1", "3")),
		frame(blynk.CmdInternal, 6, nul("ver", "1", "h-beat", "10", "buff-in", "12")),
		frame(blynk.CmdInternal, 7, nul("utc", "dst_next")),
		frame(blynk.CmdInternal, 8, nul("rtc", "sync")),
		frame(blynk.CmdInternal, 9, nul("meta", "get", "Serial Number")),
		frame(blynk.CmdProperty, 10, nul("0", "label", "x")),
		frame(blynk.CmdGroup, 11, nul("t", "1700000000000")),
		frame(blynk.CmdEventLog, 12, nul("overheat", "hot")),
		frame(blynk.CmdEventClear, 13, nul("overheat", "all")),
		frame(blynk.CmdPing, 14, ""),
		frame(blynk.CmdHWLogin, 15, testToken),
		{0x14, 0x00, 0x10, 0xff, 0xff},
		{0x00, 0x00, 0x01, 0x00, 0xc8},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		srv := New(Options{Hub: e.hub, MaxBody: 1024})
		dev, gw := net.Pipe()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan struct{})
		go func() { srv.ServeConn(ctx, gw, "tcp"); close(done) }()
		var out bytes.Buffer
		readDone := make(chan struct{})
		go func() {
			defer close(readDone)
			r := blynk.NewReader(dev, 0)
			for {
				m, err := r.Next()
				if err != nil {
					return
				}
				if m.ID == 0 {
					out.WriteString("id 0 in " + m.String() + "\n")
				}
			}
		}()
		// Errors are expected: the session may close on bad input.
		dev.Write(append(frame(blynk.CmdHWLogin, 1, testToken), data...))
		dev.Write(frame(blynk.CmdPing, 7, ""))
		dev.Close() // hang up, as a device would, and wait for the session to end
		<-done
		<-readDone
		if out.Len() > 0 {
			t.Fatal(out.String())
		}
	})
}

func frame(cmd blynk.Command, id uint16, body string) []byte {
	b, _ := blynk.AppendMessage(nil, blynk.Message{Cmd: cmd, ID: id, Body: []byte(body)})
	return b
}

// A quiet TCP session parks without its read buffer and wakes up for the
// next frame.
func TestQuietSessionParks(t *testing.T) {
	e := newEnv(t)
	srv := New(Options{Hub: e.hub})
	srv.quiet = 20 * time.Millisecond
	c := dial(t, serve(t, srv, nil))
	c.login(testToken)
	c.roundTrip()
	poll.Until(t, "the session to park", func() bool { return srv.c.parked.Load() >= 1 })
	c.send(blynk.CmdHardware, nul("vw", "0", "7.25"))
	c.roundTrip()
	if v, _ := e.hub.Value(e.dev.ID, 0); v.Value != "7.25" {
		t.Errorf("v0 = %q after waking up", v.Value)
	}
	poll.Until(t, "the session to park again", func() bool { return srv.c.parked.Load() >= 2 })
	c.conn.Close()
	poll.Until(t, "the parked session to see the close", func() bool { return srv.Stats().Open == 0 })
}

// A device that stops reading never blocks the hub: deliveries beyond the
// session's queue are dropped and counted, and after WriteTimeout the
// device is disconnected.
func TestSlowDeviceNeverBlocksHub(t *testing.T) {
	e := newEnv(t)
	srv := New(Options{Hub: e.hub, MaxQueue: 1024, WriteTimeout: 200 * time.Millisecond})
	dev, gw := net.Pipe() // unbuffered: nothing moves unless the device reads
	defer dev.Close()
	done := make(chan struct{})
	go func() { srv.ServeConn(context.Background(), gw, "tcp"); close(done) }()
	c := newClient(t, dev)
	c.login(testToken)
	value := [][]byte{[]byte(strings.Repeat("x", 100))}
	for range 1000 {
		if _, err := e.hub.ControlWrite(e.dev.ID, 2, value, 0, "http"); err != nil {
			t.Fatal(err)
		}
	}
	if srv.Stats().OutQueueFull == 0 {
		t.Error("no delivery was dropped for a device that does not read")
	}
	<-done // the writer gave up after WriteTimeout and the session ended
	if e.hub.Online(e.dev.ID) {
		t.Error("device still online")
	}
}
