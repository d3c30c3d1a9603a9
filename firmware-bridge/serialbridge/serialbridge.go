// Package serialbridge makes an MCU that runs the Blynk library over its
// serial port (the library's stream transport) a device of an Outpost
// gateway — what the Blynk blynk-ser.sh script did with socat, built in.
//
// The bridge reads Blynk frames from the line, resynchronising after boot
// noise (PROTOCOL.md §1.13), and forwards them over a device connection
// obtained from a bridge.Connector; frames the gateway sends come back out
// on the line. The MCU's own login is forwarded as is, so the gateway checks
// the MCU's token exactly as for a TCP device. A fresh login at any time ends
// the current session and starts a new one. When the port fails (unplugged)
// the session ends — the device goes offline — and the bridge reopens the
// port with capped exponential backoff.
//
// The bridge never opens hardware itself: it takes an Opener, which a main
// builds (see firmware-bridge/serialport for real ports).
package serialbridge

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"outpost/firmware-bridge/bridge"
	"outpost/shared/blynk"
)

// Kind is the bridge.Status kind and the transport name the gateway sees.
const Kind = "serial"

// Opener opens the serial port. It is called again after every failure.
// If the returned value has a Name() string method (as *os.File does), the
// name is reported as the bridge's port.
type Opener func(ctx context.Context) (io.ReadWriteCloser, error)

// Options configure a Bridge.
type Options struct {
	Name      string           // label for logs and status
	Port      string           // the port as configured (PortConfig.Describe), reported until it is open
	Open      Opener           // required
	Connector bridge.Connector // required: bridge.InProcess(server, Kind) or a bridge.Dialer
	Logger    *slog.Logger
	// MaxBody is the largest body accepted from the MCU (default 4096, the
	// gateway's own limit); a header announcing more is treated as noise.
	MaxBody int
	// FrameTimeout is how long a partial frame may wait for its remaining
	// bytes before it is dropped as cut off (default 250ms). Bytes of one
	// frame arrive back to back, so any real gap means the MCU reset.
	FrameTimeout time.Duration
	// WriteTimeout bounds a write to the gateway (default 5s); on expiry the
	// session is ended.
	WriteTimeout time.Duration
	// Backoff paces reopening the port and reconnecting to the gateway
	// (zero value: 100ms doubling to 1s, so a replugged board is back
	// within 2s).
	Backoff bridge.Backoff
}

// Stats are a bridge's counters.
type Stats struct {
	Opens        uint64 // successful port opens
	OpenFailures uint64
	Sessions     uint64 // device sessions started (logins forwarded, including resumed ones)
	FramesUp     uint64 // frames from the MCU accepted
	FramesDown   uint64 // frames from the gateway written to the line
	NoiseBytes   uint64 // bytes skipped while looking for a frame
	CutBytes     uint64 // bytes of partial frames dropped after FrameTimeout
	Dropped      uint64 // MCU frames that could not be delivered (no session could be opened)
}

// Bridge serves one serial port.
type Bridge struct {
	opts Options
	log  *slog.Logger
	st   *bridge.Tracker

	opens, openFailures, sessions       atomic.Uint64
	framesUp, framesDown                atomic.Uint64
	noiseBytes, cutBytes, droppedFrames atomic.Uint64

	// Owned by the Run goroutine.
	login     []byte // the MCU's last login frame, to resume a session the gateway ended
	resumable bool   // a frame without a fresh login may reopen a session with login
	sess      *session
	connBO    bridge.Backoff
	nextTry   time.Time // no new connection attempt before this (after a failed one)
}

// New returns a Bridge. Run starts it.
func New(opts Options) *Bridge {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBody <= 0 || opts.MaxBody > blynk.MaxBody {
		opts.MaxBody = 4096
	}
	if opts.FrameTimeout <= 0 {
		opts.FrameTimeout = 250 * time.Millisecond
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 5 * time.Second
	}
	if opts.Name == "" {
		opts.Name = opts.Port
	}
	b := &Bridge{
		opts:   opts,
		log:    opts.Logger.With("component", "serialbridge", "bridge", opts.Name),
		st:     bridge.NewTracker(bridge.Status{Kind: Kind, Name: opts.Name, Port: opts.Port}),
		connBO: opts.Backoff,
	}
	return b
}

// Status reports the bridge's state for the installer.
func (b *Bridge) Status() bridge.Status { return b.st.Get() }

// Stats returns the counters.
func (b *Bridge) Stats() Stats {
	return Stats{
		Opens: b.opens.Load(), OpenFailures: b.openFailures.Load(), Sessions: b.sessions.Load(),
		FramesUp: b.framesUp.Load(), FramesDown: b.framesDown.Load(),
		NoiseBytes: b.noiseBytes.Load(), CutBytes: b.cutBytes.Load(), Dropped: b.droppedFrames.Load(),
	}
}

// Run opens the port and bridges it until ctx is done, reopening it after
// failures. It returns ctx.Err(), or an error at once if Options lack an
// Opener or a Connector.
func (b *Bridge) Run(ctx context.Context) error {
	if b.opts.Open == nil || b.opts.Connector == nil {
		return errors.New("serialbridge: Options.Open and Options.Connector are required")
	}
	defer b.st.SetState(bridge.StateStopped, nil)
	bo := b.opts.Backoff
	failing := false
	for {
		port, err := b.opts.Open(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			b.openFailures.Add(1)
			b.st.SetState(bridge.StateRetrying, err)
			if !failing {
				// One line per outage, not one per attempt.
				b.log.Warn("cannot open port; retrying", "port", b.opts.Port, "err", err)
				failing = true
			} else {
				b.log.Debug("cannot open port", "port", b.opts.Port, "err", err)
			}
			if err := bo.Wait(ctx); err != nil {
				return err
			}
			continue
		}
		failing = false
		bo.Reset()
		b.opens.Add(1)
		name := b.opts.Port
		if n, ok := port.(interface{ Name() string }); ok && n.Name() != "" {
			name = n.Name()
		}
		b.st.Update(func(s *bridge.Status) { s.Port = name })
		b.st.SetState(bridge.StateWaiting, nil)
		b.log.Info("port open", "port", name)

		err = b.servePort(ctx, port)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.st.SetState(bridge.StateRetrying, err)
		b.st.Update(func(s *bridge.Status) { s.Port = b.opts.Port })
		b.log.Warn("port lost; device offline", "port", name, "err", err)
		if err := bo.Wait(ctx); err != nil {
			return err
		}
	}
}

// portIO serialises writes to the line: frames from the gateway must never
// interleave.
type portIO struct {
	mu  sync.Mutex
	rwc io.ReadWriteCloser
}

func (p *portIO) write(frame []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := p.rwc.Write(frame)
	return err
}

// sessionEnd is reported by a session's pump when the gateway side ends or
// a write to the line fails.
type sessionEnd struct {
	sess    *session
	err     error
	portErr error // non-nil: the line failed, not the gateway
}

// servePort bridges one open port until it fails or ctx is done.
func (b *Bridge) servePort(ctx context.Context, port io.ReadWriteCloser) error {
	pctx, cancel := context.WithCancel(ctx)
	p := &portIO{rwc: port}
	reads := make(chan []byte)
	ack := make(chan struct{})
	readErr := make(chan error, 1)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		buf := make([]byte, 4096)
		for {
			n, err := port.Read(buf)
			if n > 0 {
				select {
				case reads <- buf[:n]:
				case <-pctx.Done():
					return
				}
				select {
				case <-ack:
				case <-pctx.Done():
					return
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF // a serial line never ends cleanly
				}
				readErr <- err
				return
			}
		}
	}()
	events := make(chan sessionEnd, 1)
	fr := newFramer(b.opts.MaxBody)
	// A board on a freshly opened port starts with boot noise and a login;
	// until that login nothing else is accepted.
	b.resumable = false
	expiry := time.NewTimer(time.Hour)
	expiry.Stop()
	defer func() {
		expiry.Stop()
		b.endSession()
		cancel()
		port.Close()
		<-readerDone
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			return fmt.Errorf("serialbridge: read: %w", err)
		case chunk := <-reads:
			fr.push(chunk)
			ack <- struct{}{}
			if err := b.drain(pctx, fr, p, events); err != nil {
				return err
			}
			if fr.pending() > 0 {
				expiry.Reset(b.opts.FrameTimeout)
			} else {
				expiry.Stop()
			}
		case <-expiry.C:
			if n := fr.expire(); n > 0 {
				b.cutBytes.Add(uint64(n))
				b.log.Warn("partial frame timed out; dropped", "bytes", n)
			}
			if err := b.drain(pctx, fr, p, events); err != nil {
				return err
			}
			if fr.pending() > 0 {
				expiry.Reset(b.opts.FrameTimeout)
			}
		case ev := <-events:
			if ev.sess != b.sess {
				continue // a session already replaced
			}
			if ev.portErr != nil {
				return fmt.Errorf("serialbridge: write: %w", ev.portErr)
			}
			b.sessionEnded(ev)
		}
	}
}

// drain handles every complete frame in the framer.
func (b *Bridge) drain(ctx context.Context, fr *framer, p *portIO, events chan sessionEnd) error {
	for {
		m := loginOnly
		if b.sess != nil || b.resumable {
			m = anyFrame
		}
		frame := fr.next(m)
		if n := fr.takeNoise(); n > 0 {
			b.noiseBytes.Add(uint64(n))
			if b.sess != nil {
				b.log.Warn("skipped bytes that are not a Blynk frame", "bytes", n)
			} else {
				b.log.Debug("skipped bytes before login", "bytes", n)
			}
		}
		if frame == nil {
			return nil
		}
		b.framesUp.Add(1)
		b.handle(ctx, frame, p, events)
	}
}

// handle forwards one frame from the MCU.
func (b *Bridge) handle(ctx context.Context, frame []byte, p *portIO, events chan sessionEnd) {
	if isLogin(frame[0]) {
		b.login = append(b.login[:0], frame...)
		hash := bridge.HashToken(frame[blynk.HeaderSize:])
		b.st.Update(func(s *bridge.Status) { s.TokenHash = hash })
		if b.sess != nil {
			b.log.Info("fresh login from the MCU; restarting its session")
			b.endSession()
		}
		b.nextTry = time.Time{} // the MCU asked: try now
		b.startSession(ctx, b.login, false, p, events)
		return
	}
	for attempt := 0; attempt < 2; attempt++ {
		if b.sess == nil {
			if len(b.login) == 0 || time.Now().Before(b.nextTry) || !b.startSession(ctx, b.login, true, p, events) {
				break
			}
		}
		if err := b.sess.write(frame, b.opts.WriteTimeout); err != nil {
			// The gateway side is gone (restarted, timed the device out):
			// resume with the MCU's login once, then give up on this frame.
			b.log.Info("device session lost while forwarding", "err", err)
			b.endSession()
			b.resumable = true
			continue
		}
		return
	}
	b.droppedFrames.Add(1)
	b.log.Warn("frame from the MCU dropped: no device session", "cmd", blynk.Command(frame[0]).String())
}

// startSession connects to the gateway and sends login. synthetic marks a
// login the bridge replays on the MCU's behalf; the gateway's answer to it
// is not passed to the MCU, which believes it is still connected.
func (b *Bridge) startSession(ctx context.Context, login []byte, synthetic bool, p *portIO, events chan sessionEnd) bool {
	conn, err := b.opts.Connector.Connect(ctx)
	if err != nil {
		b.nextTry = time.Now().Add(b.connBO.Next())
		b.resumable = true
		b.st.SetState(bridge.StateRetrying, err)
		b.log.Warn("cannot connect to the gateway", "err", err)
		return false
	}
	s := &session{
		conn:    conn,
		loginID: binary.BigEndian.Uint16(login[1:3]),
		replay:  synthetic,
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	if err := s.write(login, b.opts.WriteTimeout); err != nil {
		conn.Close()
		b.nextTry = time.Now().Add(b.connBO.Next())
		b.resumable = true
		b.st.SetState(bridge.StateRetrying, err)
		b.log.Warn("cannot send login to the gateway", "err", err)
		return false
	}
	b.sess = s
	b.sessions.Add(1)
	b.st.SetState(bridge.StateConnecting, nil)
	go b.pump(s, p, events)
	return true
}

// endSession closes the current session (if any) and waits for its pump.
func (b *Bridge) endSession() {
	s := b.sess
	if s == nil {
		return
	}
	b.sess = nil
	close(s.closing)
	s.conn.Close()
	<-s.done
	b.st.SetState(bridge.StateWaiting, nil)
}

// sessionEnded handles a session the gateway closed.
func (b *Bridge) sessionEnded(ev sessionEnd) {
	s := ev.sess
	b.sess = nil
	s.conn.Close()
	<-s.done
	if s.rejected.Load() {
		// The token is not accepted: wait for the MCU to log in again
		// rather than replaying a bad token.
		b.resumable = false
		b.login = b.login[:0]
	} else {
		b.resumable = len(b.login) > 0
	}
	err := ev.err
	if s.rejected.Load() {
		err = nil // keep "login refused" as the last error
	}
	b.st.SetState(bridge.StateWaiting, err)
	b.log.Info("device session ended by the gateway; device offline", "err", ev.err)
}

// session is one device connection to the gateway.
type session struct {
	conn     net.Conn
	loginID  uint16
	replay   bool        // the login was replayed by the bridge
	rejected atomic.Bool // the gateway refused the login
	closing  chan struct{}
	done     chan struct{}
}

func (s *session) write(frame []byte, timeout time.Duration) error {
	if err := s.conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	_, err := s.conn.Write(frame)
	return err
}

// pump copies frames from the gateway to the line, whole frames at a time.
func (b *Bridge) pump(s *session, p *portIO, events chan<- sessionEnd) {
	defer close(s.done)
	rd := blynk.NewReader(s.conn, 0)
	var out []byte
	answered := false
	end := sessionEnd{sess: s}
	for {
		m, err := rd.Next()
		if err != nil {
			end.err = err
			break
		}
		if m.Cmd == blynk.CmdResponse && m.ID == s.loginID && !answered {
			answered = true
			b.loginAnswered(s, m.Status)
			if s.replay {
				continue
			}
		}
		out, _ = blynk.AppendMessage(out[:0], m) // cannot fail: the body came from a 16-bit length
		if err := p.write(out); err != nil {
			end.err, end.portErr = err, err
			break
		}
		b.framesDown.Add(1)
	}
	select {
	case events <- end:
	case <-s.closing:
	}
}

func (b *Bridge) loginAnswered(s *session, st blynk.Status) {
	switch st {
	case blynk.StatusSuccess, blynk.StatusAlreadyRegistered:
		b.connBO.Reset()
		b.st.SetState(bridge.StateConnected, nil)
		b.log.Info("device online", "replayed_login", s.replay)
	default:
		if st == blynk.StatusInvalidToken || st == blynk.StatusNotAuthenticated {
			s.rejected.Store(true)
		}
		b.st.SetState(bridge.StateConnecting, fmt.Errorf("login refused: %w", st))
		b.log.Warn("gateway refused the MCU's login", "status", st.String())
	}
}
