package blynkserver

import (
	"context"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"outpost/shared/blynk"
)

// A device that goes silent is pinged after h-beat seconds and is offline
// after ceil(h-beat × 1.5) seconds; before its info message arrives the
// default heartbeat applies. Time is synctest's fake clock.
func TestSilentDeviceGoesOffline(t *testing.T) {
	tests := []struct {
		name     string
		info     string // "" → no info message
		pingAt   time.Duration
		offAfter time.Duration
	}{
		{"h-beat 10", nul("ver", "1.4.0", "h-beat", "10", "buff-in", "1024"), 10 * time.Second, 15 * time.Second},
		{"h-beat 7", nul("h-beat", "7"), 7 * time.Second, 11 * time.Second}, // ceil(10.5)
		{"default 45", "", 45 * time.Second, 68 * time.Second},              // ceil(67.5)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t)
				defer e.close() // inside the bubble: the store's goroutines end here
				srv := New(Options{Hub: e.hub})
				dev, gw := net.Pipe()
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				done := make(chan struct{})
				go func() { srv.ServeConn(ctx, gw, "tcp"); close(done) }()

				c := newClient(t, dev)
				id := c.send(blynk.CmdHWLogin, testToken)
				if m, _ := c.r.Next(); m.ID != id || m.Status != blynk.StatusSuccess {
					t.Fatalf("login answer %v", m)
				}
				if tc.info != "" {
					id = c.send(blynk.CmdInternal, tc.info)
					if m, _ := c.r.Next(); m.ID != id || m.Status != blynk.StatusSuccess {
						t.Fatalf("info answer %v", m)
					}
				}
				start := time.Now()
				var mu sync.Mutex
				var pings []time.Duration
				go func() { // read (and never answer) what the server sends
					for {
						m, err := c.r.Next()
						if err != nil {
							return
						}
						if m.Cmd == blynk.CmdPing {
							mu.Lock()
							pings = append(pings, time.Since(start))
							mu.Unlock()
						}
					}
				}()
				time.Sleep(tc.offAfter - time.Millisecond)
				synctest.Wait()
				if !e.hub.Online(e.dev.ID) {
					t.Fatalf("offline before %v", tc.offAfter)
				}
				time.Sleep(2 * time.Millisecond)
				<-done
				if e.hub.Online(e.dev.ID) {
					t.Fatalf("still online after %v", tc.offAfter)
				}
				mu.Lock()
				defer mu.Unlock()
				if len(pings) != 1 || pings[0] != tc.pingAt {
					t.Errorf("server pings at %v, want one at %v", pings, tc.pingAt)
				}
				if srv.Stats().TimedOut != 1 {
					t.Errorf("TimedOut = %d", srv.Stats().TimedOut)
				}
				dev.Close()
			})
		})
	}
}

// Bytes from the device, such as its PING, keep it online.
func TestTrafficKeepsDeviceOnline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		defer e.close()
		srv := New(Options{Hub: e.hub})
		dev, gw := net.Pipe()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { srv.ServeConn(ctx, gw, "tcp"); close(done) }()
		c := newClient(t, dev)
		c.send(blynk.CmdHWLogin, testToken)
		c.r.Next()
		c.send(blynk.CmdInternal, nul("h-beat", "10"))
		c.r.Next()
		for range 10 { // 90 s of pings every 9 s: never silent for 10
			time.Sleep(9 * time.Second)
			id := c.send(blynk.CmdPing, "")
			if m, err := c.r.Next(); err != nil || m.ID != id || m.Status != blynk.StatusSuccess {
				t.Fatalf("ping answer %v, %v", m, err)
			}
		}
		if !e.hub.Online(e.dev.ID) || srv.Stats().TimedOut != 0 {
			t.Fatal("device went offline despite its pings")
		}
		cancel()
		<-done
		dev.Close()
	})
}
