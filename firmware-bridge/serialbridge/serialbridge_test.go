package serialbridge

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"outpost/firmware-bridge/bridge"
	"outpost/internal/poll"
	"outpost/shared/blynk"
	"outpost/shared/devicesim/fakeserver"
)

const tokenB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

// socket is a USB socket a board may be plugged into: a pty pair whose
// slave the bridge opens by path (like /dev/ttyACM0) and whose master is
// the simulated MCU's UART.
type socket struct {
	mu    sync.Mutex
	path  string // "" while unplugged
	slave *os.File
	opens int
}

// plug creates a new pty pair (a new board) and returns its MCU side.
func (s *socket) plug(t testing.TB) *mcu {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	makeRaw(t, slave)
	// creack/pty leaves the master blocking, outside Go's poller, where a
	// Close cannot interrupt the simulated MCU's Read — and the fd, so the
	// "unplug", would only close after it. Move it into the poller.
	fd, err := unix.Dup(int(master.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	master.Close()
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	master = os.NewFile(uintptr(fd), "ptmx")
	s.mu.Lock()
	s.path, s.slave = slave.Name(), slave
	s.mu.Unlock()
	m := newMCU(master)
	t.Cleanup(m.unplug)
	return m
}

// unplug removes the board: its pty disappears.
func (s *socket) unplug(m *mcu) {
	s.mu.Lock()
	s.path = ""
	if s.slave != nil {
		s.slave.Close()
		s.slave = nil
	}
	s.mu.Unlock()
	m.unplug()
}

func (s *socket) open(ctx context.Context) (io.ReadWriteCloser, error) {
	s.mu.Lock()
	path := s.path
	s.opens++
	s.mu.Unlock()
	if path == "" {
		return nil, errors.New("open /dev/ttyACM0: no such file or directory")
	}
	return os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
}

// makeRaw is cfmakeraw: a serial port carries binary frames, not lines.
func makeRaw(t testing.TB, f *os.File) {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
}

// mcu is a simulated board running the Blynk library's stream transport.
type mcu struct {
	f    *os.File
	ids  blynk.IDs
	in   chan blynk.Message
	once sync.Once
}

func newMCU(f *os.File) *mcu {
	m := &mcu{f: f, in: make(chan blynk.Message, 64)}
	go func() {
		defer close(m.in)
		rd := blynk.NewReader(f, 0)
		for {
			msg, err := rd.Next()
			if err != nil {
				return
			}
			msg.Body = bytes.Clone(msg.Body)
			m.in <- msg
		}
	}()
	return m
}

func (m *mcu) unplug() { m.once.Do(func() { m.f.Close() }) }

func (m *mcu) raw(t testing.TB, b []byte) {
	t.Helper()
	if _, err := m.f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func (m *mcu) send(t testing.TB, cmd blynk.Command, body string) uint16 {
	t.Helper()
	id := m.ids.Next()
	m.raw(t, frame(cmd, id, body))
	return id
}

// login starts the library's session: ids restart at 1.
func (m *mcu) login(t testing.TB, tok string) blynk.Status {
	t.Helper()
	m.ids = blynk.IDs{}
	id := m.send(t, blynk.CmdHWLogin, tok)
	r := m.expect(t, "login response", func(r blynk.Message) bool { return r.Cmd == blynk.CmdResponse && r.ID == id })
	return r.Status
}

func (m *mcu) expect(t testing.TB, what string, match func(blynk.Message) bool) blynk.Message {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case msg, ok := <-m.in:
			if !ok {
				t.Fatalf("line closed while waiting for %s", what)
			}
			if match(msg) {
				return msg
			}
		case <-timeout.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

type rig struct {
	gw     *fakeserver.Server
	sock   *socket
	bridge *Bridge
	cancel context.CancelFunc
	done   chan error
}

func newRig(t testing.TB, mod func(*Options)) *rig {
	t.Helper()
	r := &rig{
		gw:   fakeserver.New(token, tokenB),
		sock: &socket{},
		done: make(chan error, 1),
	}
	opts := Options{
		Name:         "test",
		Port:         "/dev/ttyACM0",
		Open:         r.sock.open,
		Connector:    bridge.InProcess(r.gw, Kind),
		Logger:       slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		FrameTimeout: 20 * time.Millisecond,
		Backoff:      bridge.Backoff{Min: time.Millisecond, Max: 10 * time.Millisecond},
	}
	if mod != nil {
		mod(&opts)
	}
	r.bridge = New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.bridge.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-r.done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
	return r
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

func (r *rig) waitState(t *testing.T, s bridge.State) {
	t.Helper()
	poll.Until(t, "state "+string(s), func() bool { return r.bridge.Status().State == s })
}

func (r *rig) waitWrite(t *testing.T, tok string, pin int, value string) {
	t.Helper()
	poll.Until(t, "write "+value, func() bool {
		return slices.ContainsFunc(r.gw.Writes(), func(w fakeserver.Write) bool {
			return w.Token == tok && w.Pin == pin && w.Value == value
		})
	})
}

func TestLoginAndWritesBothWays(t *testing.T) {
	tests := []struct {
		name  string
		noise []byte
	}{
		{"clean", nil},
		{"esp32 boot banner", espBoot},
		{"noise that looks like a HARDWARE header", cat(fakeHW, []byte("abc"))},
		{"a login header with a bad length", cat([]byte{0x1d, 0x00, 0x01, 0x02, 0x00}, espBoot)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			m := r.sock.plug(t)
			r.waitState(t, bridge.StateWaiting)
			if len(tc.noise) > 0 {
				m.raw(t, tc.noise)
			}
			if st := m.login(t, token); st != blynk.StatusSuccess {
				t.Fatalf("login answered %v", st)
			}
			r.waitState(t, bridge.StateConnected)
			if got := r.bridge.Status().TokenHash; got != bridge.HashToken([]byte(token)) {
				t.Errorf("status token hash = %x", got)
			}
			// MCU → gateway.
			m.send(t, blynk.CmdHardware, "vw\x001\x0042")
			r.waitWrite(t, token, 1, "42")
			// Gateway → MCU.
			if _, err := r.gw.VirtualWrite(token, 5, "1"); err != nil {
				t.Fatal(err)
			}
			m.expect(t, "vw 5 1", func(msg blynk.Message) bool {
				return msg.Cmd == blynk.CmdHardware && string(msg.Body) == "vw\x005\x001"
			})
			// Ping is answered.
			id := m.send(t, blynk.CmdPing, "")
			m.expect(t, "pong", func(msg blynk.Message) bool {
				return msg.Cmd == blynk.CmdResponse && msg.ID == id && msg.Status == blynk.StatusSuccess
			})
			if tc.noise != nil && r.bridge.Stats().NoiseBytes == 0 {
				t.Error("noise not counted")
			}
		})
	}
}

func TestFreshLoginMidStream(t *testing.T) {
	tests := []struct {
		name    string
		token   string
		devTok  string
		noise   []byte
		partial bool // the board reset in the middle of sending a frame
	}{
		{"same token", token, token, nil, false},
		{"same token after a reset with noise", token, token, espBoot, false},
		{"another board's token", tokenB, tokenB, nil, false},
		// A board that resets while sending a frame leaves a partial frame;
		// when its login follows at once inside the announced length, the
		// frame timeout still finds it.
		{"reset mid-frame, login right behind", token, token, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			m := r.sock.plug(t)
			r.waitState(t, bridge.StateWaiting)
			m.login(t, token)
			m.send(t, blynk.CmdHardware, "vw\x001\x001")
			r.waitWrite(t, token, 1, "1")
			if tc.partial {
				m.raw(t, cat(fakeHW, []byte("vw\x009")))
			}
			m.raw(t, tc.noise)
			if st := m.login(t, tc.token); st != blynk.StatusSuccess {
				t.Fatalf("fresh login answered %v", st)
			}
			m.send(t, blynk.CmdHardware, "vw\x002\x00after")
			r.waitWrite(t, tc.devTok, 2, "after")
			if tc.devTok != token && r.gw.Connected(token) {
				t.Error("the previous device is still online")
			}
			if tc.devTok == token && r.gw.Logins(token) != 2 {
				t.Errorf("gateway saw %d logins, want 2", r.gw.Logins(token))
			}
		})
	}
}

func TestPartialFrameThenLogin(t *testing.T) {
	r := newRig(t, nil)
	m := r.sock.plug(t)
	r.waitState(t, bridge.StateWaiting)
	m.login(t, token)
	m.raw(t, vw[:7]) // header and part of the body, then the board stalls
	poll.Until(t, "partial frame dropped", func() bool { return r.bridge.Stats().CutBytes == 7 })
	// The library drops a session on a read timeout and logs in again.
	m.login(t, token)
	m.send(t, blynk.CmdHardware, "vw\x003\x00ok")
	r.waitWrite(t, token, 3, "ok")
	for _, w := range r.gw.Writes() {
		if w.Pin != 3 {
			t.Errorf("unexpected write %+v from the cut frame", w)
		}
	}
}

func TestUnplugReplug(t *testing.T) {
	r := newRig(t, nil)
	m := r.sock.plug(t)
	r.waitState(t, bridge.StateWaiting)
	m.login(t, token)
	r.waitState(t, bridge.StateConnected)

	r.sock.unplug(m)
	poll.Until(t, "device offline", func() bool { return !r.gw.Connected(token) })
	r.waitState(t, bridge.StateRetrying)
	if st := r.bridge.Status(); st.LastError == "" {
		t.Error("no last error after unplug")
	}
	opens := r.bridge.Stats().OpenFailures
	poll.Until(t, "reopen attempts", func() bool { return r.bridge.Stats().OpenFailures > opens+2 })

	plugged := time.Now()
	m2 := r.sock.plug(t)
	r.waitState(t, bridge.StateWaiting)
	m2.raw(t, espBoot)
	m2.login(t, token)
	r.waitState(t, bridge.StateConnected)
	t.Logf("replug → online in %v", time.Since(plugged))
	m2.send(t, blynk.CmdHardware, "vw\x004\x00back")
	r.waitWrite(t, token, 4, "back")
}

func TestGatewayEndsSessionResumes(t *testing.T) {
	r := newRig(t, nil)
	m := r.sock.plug(t)
	r.waitState(t, bridge.StateWaiting)
	m.login(t, token)
	r.waitState(t, bridge.StateConnected)
	r.gw.Kick(token)
	r.waitState(t, bridge.StateWaiting)
	// The MCU does not know; its next frame resumes the session with its
	// own login, and the gateway's answer to that login is not passed on.
	m.send(t, blynk.CmdHardware, "vw\x001\x00resumed")
	r.waitWrite(t, token, 1, "resumed")
	if n := r.gw.Logins(token); n != 2 {
		t.Errorf("logins = %d, want 2", n)
	}
	id := m.send(t, blynk.CmdPing, "")
	got := m.expect(t, "pong", func(msg blynk.Message) bool { return msg.Cmd == blynk.CmdResponse })
	if got.ID != id {
		t.Errorf("MCU received %v before its pong: the replayed login's answer leaked", got)
	}
}

func TestInvalidToken(t *testing.T) {
	r := newRig(t, nil)
	m := r.sock.plug(t)
	r.waitState(t, bridge.StateWaiting)
	if st := m.login(t, "nope-nope-nope-nope-nope-nope-no"); st != blynk.StatusInvalidToken {
		t.Fatalf("login answered %v, want INVALID_TOKEN", st)
	}
	r.waitState(t, bridge.StateWaiting)
	if st := r.bridge.Status(); !bytes.Contains([]byte(st.LastError), []byte("INVALID_TOKEN")) {
		t.Errorf("last error %q does not say INVALID_TOKEN", st.LastError)
	}
	// Frames after a refused login are not replayed with the bad token.
	m.send(t, blynk.CmdHardware, "vw\x001\x00x")
	m.login(t, token)
	r.waitState(t, bridge.StateConnected)
	if w := r.gw.Writes(); len(w) != 0 {
		t.Errorf("writes after a refused login reached the gateway: %+v", w)
	}
}

func TestOpenerFailsThenSucceeds(t *testing.T) {
	r := newRig(t, nil)
	poll.Until(t, "failed opens", func() bool { return r.bridge.Stats().OpenFailures >= 3 })
	st := r.bridge.Status()
	if st.State != bridge.StateRetrying || st.LastError == "" {
		t.Errorf("status %+v, want retrying with an error", st)
	}
	m := r.sock.plug(t)
	r.waitState(t, bridge.StateWaiting)
	m.login(t, token)
	r.waitState(t, bridge.StateConnected)
	if st := r.bridge.Status(); st.Port == "/dev/ttyACM0" || st.Port == "" {
		t.Errorf("status port %q, want the opened device's name", st.Port)
	}
}

func TestCancelStopsCleanly(t *testing.T) {
	r := newRig(t, nil)
	m := r.sock.plug(t)
	r.waitState(t, bridge.StateWaiting)
	m.login(t, token)
	r.waitState(t, bridge.StateConnected)
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup's check
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if r.gw.Connected(token) {
		t.Error("device still online after the bridge stopped")
	}
	if st := r.bridge.Status(); st.State != bridge.StateStopped {
		t.Errorf("state %s, want stopped", st.State)
	}
}
