package bridge

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		name string
		b    Backoff
		want []time.Duration
	}{
		{"defaults reach 1s", Backoff{}, []time.Duration{100e6, 200e6, 400e6, 800e6, 1e9, 1e9}},
		{"custom", Backoff{Min: time.Millisecond, Max: 3 * time.Millisecond}, []time.Duration{1e6, 2e6, 3e6, 3e6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []time.Duration
			for range tc.want {
				got = append(got, tc.b.Next())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			tc.b.Reset()
			if d := tc.b.Next(); d != tc.want[0] {
				t.Errorf("after Reset: %v", d)
			}
		})
	}
}

// echoGateway echoes every byte and records the transport.
type echoGateway struct {
	mu         sync.Mutex
	transports []string
	running    int
}

func (g *echoGateway) ServeConn(ctx context.Context, c net.Conn, transport string) {
	g.mu.Lock()
	g.transports = append(g.transports, transport)
	g.running++
	g.mu.Unlock()
	io.Copy(c, c)
	g.mu.Lock()
	g.running--
	g.mu.Unlock()
}

func TestInProcessCloseWaitsForTheSession(t *testing.T) {
	gw := &echoGateway{}
	c, err := InProcess(gw, "serial").Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hi" {
		t.Fatalf("echo %q %v", buf, err)
	}
	c.Close()
	gw.mu.Lock()
	defer gw.mu.Unlock()
	if gw.running != 0 || gw.transports[0] != "serial" {
		t.Errorf("after Close: running=%d transports=%v", gw.running, gw.transports)
	}
}

func TestDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	c, err := Dialer{Addr: ln.Addr().String()}.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("x"))
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil || b[0] != 'x' {
		t.Fatalf("echo %q %v", b, err)
	}
	ln.Close()
	if _, err := (Dialer{Addr: ln.Addr().String(), Timeout: time.Second}).Connect(context.Background()); err == nil {
		t.Error("dial to a closed listener succeeded")
	}
}

type fakeRunner struct {
	st  Status
	err error
}

func (f *fakeRunner) Run(ctx context.Context) error {
	if f.err != nil {
		return f.err
	}
	<-ctx.Done()
	return ctx.Err()
}
func (f *fakeRunner) Status() Status { return f.st }

func TestManager(t *testing.T) {
	known := HashToken([]byte("tok"))
	m := NewManager(ManagerOptions{Device: func(h [32]byte) (int64, string, bool) {
		return 7, "uno", h == known
	}})
	m.Add(&fakeRunner{st: Status{Kind: "serial", Name: "a", TokenHash: known, State: StateConnected}})
	m.Add(&fakeRunner{st: Status{Kind: "serial", Name: "b", TokenHash: HashToken([]byte("other"))}})
	bad := errors.New("pin GPIO99 does not exist")
	m.Add(&fakeRunner{st: Status{Kind: "gpio", Name: "c"}, err: bad})
	st := m.Status()
	if st[0].DeviceID != 7 || st[0].DeviceName != "uno" || st[1].DeviceID != 0 {
		t.Errorf("status %+v", st)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	cancel()
	if err := <-done; !errors.Is(err, bad) {
		t.Errorf("Run = %v, want the failed bridge's error", err)
	}
}
