// Package devicesim simulates Blynk devices speaking the binary protocol over
// TCP or TLS, for tests, the demo and load tools. A Device behaves like the
// C++ library (PROTOCOL.md §1.6–1.8): it logs in with id 1, sends the info
// message, answers server pings, pings when idle, numbers its messages 1…65535
// skipping 0, and drops the connection on frames the library would not
// accept. A Fleet runs many devices writing at a fixed rate.
package devicesim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"outpost/shared/blynk"
)

// Options configure a Device. The zero value of every field has a default.
type Options struct {
	Token string
	// TLS, if set, wraps the connection Dial opens.
	TLS *tls.Config
	// Heartbeat is the h-beat reported in the info message and the idle time
	// after which the device pings. Default 45s.
	Heartbeat time.Duration
	// Timeout plays BLYNK_TIMEOUT_MS: login must be answered within it, and
	// the device gives up on a server silent for Heartbeat + 3·Timeout.
	// Default 6s.
	Timeout time.Duration
	// BuffIn is reported as buff-in and is the largest body the device
	// accepts; a larger incoming frame ends the connection as in the C++
	// library. Default 1024.
	BuffIn int
	// Info replaces the whole info message (k1, v1, k2, v2…). When nil the
	// device sends the C++ Linux-port keys built from the fields below.
	Info []string
	// NoInfo suppresses the info message.
	NoInfo bool
	// Version, Dev, Template, Firmware, Build fill the default info message
	// (ver, dev, tmpl and fw-type, fw, build).
	Version, Dev, Template, Firmware, Build string
	// Handler, if set, receives every incoming message on the device's read
	// goroutine; it must not block. Otherwise messages queue for Next and
	// Expect (QueueSize of them; more are counted by Dropped and discarded).
	Handler   func(Incoming)
	QueueSize int
	Logger    *slog.Logger
	Now       func() time.Time
}

func (o *Options) defaults() {
	if o.Heartbeat <= 0 {
		o.Heartbeat = 45 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 6 * time.Second
	}
	if o.BuffIn <= 0 {
		o.BuffIn = 1024
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 1024
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.Version, "1.4.0")
	def(&o.Dev, "devicesim")
	def(&o.Template, "TMPLsim00001")
	def(&o.Firmware, "0.1.0")
	def(&o.Build, "Jan  1 2026 00:00:00")
}

// InfoPairs returns the info message the device sends, in the key order of
// the C++ Linux port (PROTOCOL.md §1.7).
func (o Options) InfoPairs() []string {
	if o.Info != nil {
		return o.Info
	}
	o.defaults()
	return []string{
		"ver", o.Version,
		"h-beat", strconv.Itoa(int((o.Heartbeat + time.Second - 1) / time.Second)),
		"buff-in", strconv.Itoa(o.BuffIn),
		"dev", o.Dev,
		"fw-type", o.Template,
		"fw", o.Firmware,
		"build", o.Build,
		"tmpl", o.Template,
	}
}

// Incoming is a message received from the server.
type Incoming struct {
	Msg blynk.Message // Body is the device's own copy
	At  time.Time     // when it was read
	// For HARDWARE and BRIDGE bodies that parse: the operation, pin and
	// values. Op is blynk.OpUnknown otherwise.
	Op     blynk.Op
	Pin    int
	Values []string
}

// Errors ending a device's connection (see Err).
var (
	ErrZeroID         = errors.New("devicesim: server sent message id 0")
	ErrUnexpectedCmd  = errors.New("devicesim: server sent a command the library does not accept")
	ErrServerSilent   = errors.New("devicesim: nothing received from the server for heartbeat + 3 timeouts")
	ErrClosed         = errors.New("devicesim: device closed")
	ErrHandlerPresent = errors.New("devicesim: messages go to Options.Handler, not the queue")
)

// Device is one simulated device connection. Its methods are safe for
// concurrent use.
type Device struct {
	opts Options
	conn net.Conn
	log  *slog.Logger

	wmu       sync.Mutex // serialises frames on the wire and guards the fields below
	w         *blynk.Writer
	ids       blynk.IDs
	body      []byte
	group     bool  // a begun group whose GROUP frame is not sent yet
	groupTS   int64 // its timestamp, 0 = server time
	lastSent  atomic.Int64
	lastRecv  atomic.Int64
	lastPing  atomic.Int64
	queue     chan Incoming
	dropped   atomic.Uint64
	pending   []Incoming // received during login, delivered first
	done      chan struct{}
	closeOnce sync.Once
	errMu     sync.Mutex
	err       error
	wg        sync.WaitGroup
}

// Dial connects to addr (TLS if opts.TLS is set), logs in and sends the
// info message. A refused login returns an error matching the blynk.Status
// the server answered (errors.Is(err, blynk.StatusInvalidToken)).
func Dial(ctx context.Context, addr string, opts Options) (*Device, error) {
	var nd net.Dialer
	conn, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("devicesim: dial: %w", err)
	}
	if opts.TLS != nil {
		cfg := opts.TLS
		if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
			// tls.Client, unlike tls.Dial, does not take the name from addr.
			cfg = cfg.Clone()
			if host, _, err := net.SplitHostPort(addr); err == nil {
				cfg.ServerName = host
			}
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("devicesim: tls: %w", err)
		}
		conn = tc
	}
	return Login(ctx, conn, opts)
}

// Login runs a device on an established connection (a net.Pipe end, a
// serial-like stream, a dialled socket): it logs in, sends the info message
// and starts answering the server. On error conn is closed.
func Login(ctx context.Context, conn net.Conn, opts Options) (*Device, error) {
	opts.defaults()
	d := &Device{
		opts: opts,
		conn: conn,
		log:  opts.Logger.With("component", "devicesim"),
		w:    blynk.NewWriter(conn),
		done: make(chan struct{}),
	}
	if opts.Handler == nil {
		d.queue = make(chan Incoming, opts.QueueSize) // ~100 KB by default: not for fleets
	}
	r := blynk.NewReader(conn, opts.BuffIn)
	if err := d.login(ctx, r); err != nil {
		conn.Close()
		return nil, err
	}
	if !opts.NoInfo {
		if _, err := d.Internal(opts.InfoPairs()...); err != nil {
			conn.Close()
			return nil, err
		}
	}
	for _, in := range d.pending {
		d.deliver(in)
	}
	d.pending = nil
	d.wg.Add(2)
	go d.readLoop(r)
	go d.heartbeat()
	return d, nil
}

func (d *Device) login(ctx context.Context, r *blynk.Reader) error {
	deadline := d.opts.Now().Add(d.opts.Timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	d.conn.SetDeadline(deadline)
	defer d.conn.SetDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { d.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	id, err := d.SendCmd(blynk.CmdHWLogin, []byte(d.opts.Token))
	if err != nil {
		return fmt.Errorf("devicesim: login: %w", err)
	}
	for {
		m, err := r.Next()
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return fmt.Errorf("devicesim: login: %w", err)
		}
		d.lastRecv.Store(d.opts.Now().UnixNano())
		if m.Cmd == blynk.CmdResponse && m.ID == id {
			switch m.Status {
			case blynk.StatusSuccess, blynk.StatusAlreadyRegistered: // the library takes 4 as success
				return nil
			default:
				return fmt.Errorf("devicesim: login: %w", m.Status)
			}
		}
		d.pending = append(d.pending, d.incoming(m))
	}
}

// incoming copies m into an Incoming, parsing hardware bodies.
func (d *Device) incoming(m blynk.Message) Incoming {
	if m.Body != nil {
		m.Body = append([]byte(nil), m.Body...)
	}
	in := Incoming{Msg: m, At: d.opts.Now(), Op: blynk.OpUnknown, Pin: -1}
	if m.Cmd == blynk.CmdHardware || m.Cmd == blynk.CmdBridge {
		if h, err := blynk.ParseHardware(nil, m.Body); err == nil {
			in.Op, in.Pin = h.Op, h.Pin
			in.Values = make([]string, len(h.Values))
			for i, v := range h.Values {
				in.Values[i] = string(v)
			}
		}
	}
	return in
}

func (d *Device) deliver(in Incoming) {
	if d.opts.Handler != nil {
		d.opts.Handler(in)
		return
	}
	select {
	case d.queue <- in:
	default:
		d.dropped.Add(1)
	}
}

func (d *Device) readLoop(r *blynk.Reader) {
	defer d.wg.Done()
	gpio := map[int]string{} // dw/aw values written by the server, read back by dr/ar
	for {
		m, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				err = fmt.Errorf("devicesim: connection closed: %w", err)
			}
			d.fail(err)
			return
		}
		d.lastRecv.Store(d.opts.Now().UnixNano())
		if m.ID == 0 {
			d.fail(ErrZeroID) // the C++, Python and JS clients all drop here
			return
		}
		in := d.incoming(m)
		switch m.Cmd {
		case blynk.CmdPing:
			d.reply(blynk.Message{Cmd: blynk.CmdResponse, ID: m.ID, Status: blynk.StatusSuccess})
		case blynk.CmdHardware, blynk.CmdBridge:
			d.answerHardware(in, gpio)
		case blynk.CmdResponse, blynk.CmdInternal, blynk.CmdHWLogin, blynk.CmdRedirect, blynk.CmdDebugPrint:
		default:
			d.deliver(in)
			d.fail(fmt.Errorf("%w: %s", ErrUnexpectedCmd, m.Cmd))
			return
		}
		d.deliver(in)
	}
}

// answerHardware does what the HEAD C++ library does with a server HARDWARE
// message: dw/aw set a pin, dr/ar are answered with dw/aw and the same id,
// vr and anything unknown get RESPONSE 2 with the same id.
func (d *Device) answerHardware(in Incoming, gpio map[int]string) {
	switch in.Op {
	case blynk.OpDigitalWrite, blynk.OpAnalogWrite:
		gpio[in.Pin] = in.Values[0]
	case blynk.OpDigitalRead, blynk.OpAnalogRead:
		v, ok := gpio[in.Pin]
		if !ok {
			v = "0"
		}
		op := blynk.OpDigitalWrite
		if in.Op == blynk.OpAnalogRead {
			op = blynk.OpAnalogWrite
		}
		d.reply(blynk.Message{Cmd: blynk.CmdHardware, ID: in.Msg.ID, Body: blynk.AppendHardware(nil, op, in.Pin, []byte(v))})
	case blynk.OpVirtualWrite, blynk.OpPinMode:
	default:
		d.reply(blynk.Message{Cmd: blynk.CmdResponse, ID: in.Msg.ID, Status: blynk.StatusIllegalCommand})
	}
}

func (d *Device) reply(m blynk.Message) {
	if err := d.Send(m); err != nil {
		d.fail(err)
	}
}

func (d *Device) heartbeat() {
	defer d.wg.Done()
	hb := d.opts.Heartbeat
	t := time.NewTicker(max(hb/8, 5*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-d.done:
			return
		case <-t.C:
		}
		now := d.opts.Now().UnixNano()
		recv, sent := d.lastRecv.Load(), d.lastSent.Load()
		if time.Duration(now-recv) > hb+3*d.opts.Timeout {
			d.fail(ErrServerSilent)
			return
		}
		idle := time.Duration(now-recv) >= hb || time.Duration(now-sent) >= hb
		if idle && time.Duration(now-d.lastPing.Load()) >= min(hb, d.opts.Timeout) {
			d.lastPing.Store(now)
			if _, err := d.SendCmd(blynk.CmdPing, nil); err != nil {
				d.fail(err)
				return
			}
		}
	}
}

// fail records the first error and closes the connection.
func (d *Device) fail(err error) {
	d.errMu.Lock()
	if d.err == nil {
		d.err = err
	}
	d.errMu.Unlock()
	d.closeOnce.Do(func() {
		close(d.done)
		d.conn.Close()
	})
}

// Close ends the connection and waits for the device's goroutines.
func (d *Device) Close() error {
	d.fail(ErrClosed)
	d.wg.Wait()
	return nil
}

// Done is closed when the connection has ended.
func (d *Device) Done() <-chan struct{} { return d.done }

// Err returns why the connection ended (ErrClosed after Close), or nil
// while it is up.
func (d *Device) Err() error {
	d.errMu.Lock()
	defer d.errMu.Unlock()
	return d.err
}

// Dropped counts incoming messages discarded because the queue was full.
func (d *Device) Dropped() uint64 { return d.dropped.Load() }

// Token is the token the device logged in with.
func (d *Device) Token() string { return d.opts.Token }

// LocalAddr is the device end of the connection.
func (d *Device) LocalAddr() net.Addr { return d.conn.LocalAddr() }

// Send writes m exactly as given (any command, id — even 0 — and body).
func (d *Device) Send(m blynk.Message) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.writeLocked(m)
}

func (d *Device) writeLocked(m blynk.Message) error {
	if err := d.w.Write(m); err != nil {
		return fmt.Errorf("devicesim: send %s: %w", m.Cmd, err)
	}
	d.lastSent.Store(d.opts.Now().UnixNano())
	return nil
}

// SendCmd sends a frame with the next message id and returns that id. A
// pending group begin (BeginGroup) goes out first, as in the library.
func (d *Device) SendCmd(cmd blynk.Command, body []byte) (uint16, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.sendLocked(cmd, body)
}

func (d *Device) sendLocked(cmd blynk.Command, body []byte) (uint16, error) {
	if d.group && cmd != blynk.CmdGroup && cmd != blynk.CmdPing && cmd != blynk.CmdResponse {
		d.group = false
		if err := d.writeLocked(blynk.Message{Cmd: blynk.CmdGroup, ID: d.ids.Next(), Body: blynk.AppendGroupBegin(nil, d.groupTS)}); err != nil {
			return 0, err
		}
	}
	id := d.ids.Next()
	return id, d.writeLocked(blynk.Message{Cmd: cmd, ID: id, Body: body})
}

// sendBody builds a body in the device's buffer and sends it.
func (d *Device) sendBody(cmd blynk.Command, build func([]byte) []byte) (uint16, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	d.body = build(d.body[:0])
	return d.sendLocked(cmd, d.body)
}

// appendValue formats v as the C++ library does (PROTOCOL.md §1.5):
// doubles "%.7f", floats "%.3f", integers in decimal, bytes raw.
func appendValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return append(dst, x...)
	case []byte:
		return append(dst, x...)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case uint64:
		return strconv.AppendUint(dst, x, 10)
	case float64:
		return strconv.AppendFloat(dst, x, 'f', 7, 64)
	case float32:
		return strconv.AppendFloat(dst, float64(x), 'f', 3, 32)
	case bool:
		if x {
			return append(dst, '1')
		}
		return append(dst, '0')
	default:
		return fmt.Append(dst, x)
	}
}

// VirtualWrite sends HARDWARE "vw pin v1 v2…" (virtualWrite). Values are
// formatted like the library's: see appendValue.
func (d *Device) VirtualWrite(pin int, values ...any) (uint16, error) {
	return d.sendBody(blynk.CmdHardware, func(b []byte) []byte {
		b = blynk.AppendVirtualWrite(b, pin)
		for _, v := range values {
			b = appendValue(append(b, 0), v)
		}
		return b
	})
}

// SyncAll sends HARDWARE_SYNC with an empty body.
func (d *Device) SyncAll() (uint16, error) { return d.SendCmd(blynk.CmdHardwareSync, nil) }

// SyncVirtual sends HARDWARE_SYNC "vr p1 p2…".
func (d *Device) SyncVirtual(pins ...int) (uint16, error) {
	return d.sendBody(blynk.CmdHardwareSync, func(b []byte) []byte { return blynk.AppendSyncVirtual(b, pins...) })
}

// LogEvent sends EVENT_LOG "code[ description]".
func (d *Device) LogEvent(code, description string) (uint16, error) {
	return d.sendBody(blynk.CmdEventLog, func(b []byte) []byte {
		if description == "" {
			return append(b, code...)
		}
		return blynk.AppendStrings(b, code, description)
	})
}

// ClearEvent sends EVENT_CLEAR "code" (the latest) or "code all".
func (d *Device) ClearEvent(code string, all bool) (uint16, error) {
	return d.sendBody(blynk.CmdEventClear, func(b []byte) []byte {
		if all {
			return blynk.AppendStrings(b, code, "all")
		}
		return append(b, code...)
	})
}

// SetProperty sends PROPERTY "pin name v1 v2…".
func (d *Device) SetProperty(pin int, name string, values ...any) (uint16, error) {
	return d.sendBody(blynk.CmdProperty, func(b []byte) []byte {
		b = strconv.AppendInt(b, int64(pin), 10)
		b = append(append(b, 0), name...)
		for _, v := range values {
			b = appendValue(append(b, 0), v)
		}
		return b
	})
}

// BeginGroup starts a timestamped group (ts zero: the server's time). Like
// the library, the GROUP frame is sent lazily, just before the next command.
func (d *Device) BeginGroup(ts time.Time) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	d.group = true
	d.groupTS = 0
	if !ts.IsZero() {
		d.groupTS = ts.UnixMilli()
	}
}

// EndGroup sends GROUP "e" if the group's begin was sent; a group with no
// command in it sends nothing (id 0 is returned).
func (d *Device) EndGroup() (uint16, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if d.group {
		d.group = false
		return 0, nil
	}
	return d.sendLocked(blynk.CmdGroup, blynk.AppendGroupEnd(nil))
}

// Internal sends INTERNAL with items joined by NUL (utc/rtc/meta requests,
// or an info message).
func (d *Device) Internal(items ...string) (uint16, error) {
	return d.sendBody(blynk.CmdInternal, func(b []byte) []byte { return blynk.AppendStrings(b, items...) })
}

// Next returns the next queued incoming message.
func (d *Device) Next(ctx context.Context) (Incoming, error) {
	if d.opts.Handler != nil {
		return Incoming{}, ErrHandlerPresent
	}
	select {
	case in := <-d.queue:
		return in, nil
	case <-ctx.Done():
		return Incoming{}, ctx.Err()
	case <-d.done:
		// Messages that arrived before the end are still delivered.
		select {
		case in := <-d.queue:
			return in, nil
		default:
			return Incoming{}, d.Err()
		}
	}
}

// Expect returns the first queued message for which match is true,
// discarding the ones before it.
func (d *Device) Expect(ctx context.Context, match func(Incoming) bool) (Incoming, error) {
	for {
		in, err := d.Next(ctx)
		if err != nil {
			return in, err
		}
		if match(in) {
			return in, nil
		}
	}
}

// Response waits for the RESPONSE to message id and returns its status.
func (d *Device) Response(ctx context.Context, id uint16) (blynk.Status, error) {
	in, err := d.Expect(ctx, func(in Incoming) bool { return in.Msg.Cmd == blynk.CmdResponse && in.Msg.ID == id })
	return in.Msg.Status, err
}
