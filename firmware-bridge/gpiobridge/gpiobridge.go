// Package gpiobridge presents a group of the appliance's own GPIO pins to
// the gateway as a Blynk device: inputs (with pull resistors, edge detection
// and debounce, optionally sampled) become datastream writes, and
// datastream writes drive outputs and PWM duty. It speaks the Blynk binary
// protocol over a bridge.Connector like any device — login with the
// device's token, vw for input changes, vw from the gateway for outputs —
// so the gateway needs nothing GPIO-specific.
//
// Pins are periph.io/x/conn/v3 gpio.PinIO values opened by a main (with
// periph.io/x/host/v3); tests use periph's gpiotest fakes.
package gpiobridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"

	"outpost/firmware-bridge/bridge"
	"outpost/shared/blynk"
)

// Kind is the bridge.Status kind and the transport name the gateway sees.
const Kind = "gpio"

var pulls = map[string]gpio.Pull{"none": gpio.Float, "up": gpio.PullUp, "down": gpio.PullDown}

var edges = map[string]gpio.Edge{"both": gpio.BothEdges, "rising": gpio.RisingEdge, "falling": gpio.FallingEdge, "none": gpio.NoEdge}

// edgePoll bounds a WaitForEdge call so an input goroutine notices
// cancellation (real drivers cannot interrupt the wait).
const edgePoll = 100 * time.Millisecond

// Options configure a Bridge.
type Options struct {
	Config Config
	// Pins holds the opened pins by PinConfig.Pin name.
	Pins      map[string]gpio.PinIO
	Connector bridge.Connector // bridge.InProcess(server, Kind) or a bridge.Dialer
	Logger    *slog.Logger
	Backoff   bridge.Backoff // reconnect pacing (default 100ms → 1s)
	// Timeout bounds the login answer and every write to the gateway
	// (default 10s).
	Timeout time.Duration
}

// Stats are a bridge's counters.
type Stats struct {
	Sessions  uint64 // logins accepted
	Writes    uint64 // input values written to the gateway
	Unsent    uint64 // input values produced while disconnected (re-sent as current levels on login)
	Applied   uint64 // output writes applied to pins
	Rejected  uint64 // output writes that were malformed or for no output pin
	PinErrors uint64
}

// Bridge runs one GPIO device.
type Bridge struct {
	cfg     Config
	opts    Options
	log     *slog.Logger
	st      *bridge.Tracker
	inputs  []*input
	outputs map[int]*output // by virtual pin
	reports chan report

	sessions, writes, unsent, applied, rejected, pinErrors atomic.Uint64
}

type input struct {
	cfg PinConfig
	pin gpio.PinIO
}

type output struct {
	cfg PinConfig
	pin gpio.PinIO
}

// report is an input value to write.
type report struct {
	vpin  int
	value string
	at    time.Time // when the level was read (the benchmark measures from the edge)
}

// New validates the configuration against the pins.
func New(opts Options) (*Bridge, error) {
	cfg, err := opts.Config.Normalize()
	if err != nil {
		return nil, err
	}
	if opts.Connector == nil {
		return nil, errors.New("gpiobridge: Options.Connector is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	b := &Bridge{
		cfg:     cfg,
		opts:    opts,
		log:     opts.Logger.With("component", "gpiobridge", "bridge", cfg.Name),
		outputs: map[int]*output{},
		reports: make(chan report, 256),
	}
	var names []string
	for _, pc := range cfg.Pins {
		p := opts.Pins[pc.Pin]
		if p == nil {
			return nil, fmt.Errorf("%w: %s: pin %s was not opened", ErrConfig, cfg.Name, pc.Pin)
		}
		names = append(names, pc.Pin)
		if pc.Mode == ModeInput {
			b.inputs = append(b.inputs, &input{cfg: pc, pin: p})
		} else {
			b.outputs[pc.VPin] = &output{cfg: pc, pin: p}
		}
	}
	b.st = bridge.NewTracker(bridge.Status{Kind: Kind, Name: cfg.Name, Pins: names, TokenHash: bridge.HashToken([]byte(cfg.Token))})
	return b, nil
}

// Status reports the bridge's state for the installer.
func (b *Bridge) Status() bridge.Status { return b.st.Get() }

// Stats returns the counters.
func (b *Bridge) Stats() Stats {
	return Stats{
		Sessions: b.sessions.Load(), Writes: b.writes.Load(), Unsent: b.unsent.Load(),
		Applied: b.applied.Load(), Rejected: b.rejected.Load(), PinErrors: b.pinErrors.Load(),
	}
}

// Run configures the pins and serves the device until ctx is done,
// reconnecting to the gateway after failures. It returns ctx.Err(), or an
// error if a pin cannot be configured.
func (b *Bridge) Run(ctx context.Context) error {
	defer b.st.SetState(bridge.StateStopped, nil)
	if err := b.setup(); err != nil {
		b.st.SetState(bridge.StateStopped, err)
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, in := range b.inputs {
		wg.Go(func() { b.watch(ctx, in) })
	}
	bo := b.opts.Backoff
	for {
		err := b.session(ctx, &bo)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.st.SetState(bridge.StateRetrying, err)
		b.log.Warn("gateway session ended; reconnecting", "err", err)
		if err := bo.Wait(ctx); err != nil {
			return err
		}
	}
}

// setup puts every pin in its mode; outputs start low (or inverted low).
func (b *Bridge) setup() error {
	for _, in := range b.inputs {
		if err := in.pin.In(pulls[in.cfg.Pull], edges[in.cfg.Edge]); err != nil {
			return fmt.Errorf("gpiobridge: %s as input: %w", in.cfg.Pin, err)
		}
	}
	for _, out := range b.outputs {
		if err := out.set(0); err != nil {
			return fmt.Errorf("gpiobridge: %s as %s: %w", out.cfg.Pin, out.cfg.Mode, err)
		}
	}
	return nil
}

// value is the datastream value of a level.
func (in *input) value(l gpio.Level) string {
	if bool(l) != in.cfg.Invert {
		return "1"
	}
	return "0"
}

// watch turns one input's edges into debounced reports, and samples it.
func (b *Bridge) watch(ctx context.Context, in *input) {
	cfg := in.cfg
	debounce := *cfg.Debounce
	useEdges := cfg.Edge != "none"
	var (
		pending  bool      // an edge was seen; waiting for the level to settle
		settleAt time.Time // when it counts as settled
		last     string    // last value reported on a "both" input
		sampleAt time.Time
	)
	now := time.Now()
	if cfg.Sample > 0 {
		sampleAt = now.Add(cfg.Sample)
	}
	last = in.value(in.pin.Read())
	for ctx.Err() == nil {
		wait := edgePoll
		now = time.Now()
		if pending {
			wait = min(wait, settleAt.Sub(now))
		}
		if cfg.Sample > 0 {
			wait = min(wait, sampleAt.Sub(now))
		}
		wait = max(wait, 0)
		if useEdges {
			if in.pin.WaitForEdge(wait) {
				pending = true
				settleAt = time.Now().Add(debounce)
				if debounce > 0 {
					continue
				}
			}
		} else {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		now = time.Now()
		if pending && !now.Before(settleAt) {
			pending = false
			l := in.pin.Read()
			v := in.value(l)
			emit := false
			switch cfg.Edge {
			case "both":
				emit = v != last
			case "rising":
				emit = l == gpio.High
			case "falling":
				emit = l == gpio.Low
			}
			if emit {
				last = v
				b.report(ctx, report{vpin: cfg.VPin, value: v, at: now})
			}
		}
		if cfg.Sample > 0 && !now.Before(sampleAt) {
			v := in.value(in.pin.Read())
			last = v
			b.report(ctx, report{vpin: cfg.VPin, value: v, at: now})
			for !sampleAt.After(now) {
				sampleAt = sampleAt.Add(cfg.Sample)
			}
		}
	}
}

func (b *Bridge) report(ctx context.Context, r report) {
	select {
	case b.reports <- r:
	case <-ctx.Done():
	}
}

// set drives an output from a datastream value.
func (o *output) set(v float64) error {
	if o.cfg.Mode == ModeOutput {
		return o.pin.Out(gpio.Level((v != 0) != o.cfg.Invert))
	}
	frac := min(max(v/o.cfg.Max, 0), 1)
	if o.cfg.Invert {
		frac = 1 - frac
	}
	duty := gpio.Duty(math.Round(frac * float64(gpio.DutyMax)))
	return o.pin.PWM(duty, physic.Frequency(o.cfg.Frequency)*physic.Hertz)
}

// conn is one device session's connection; writes come from the session
// loop and the reader (pongs), so they are serialised.
type conn struct {
	mu      sync.Mutex
	c       net.Conn
	w       *blynk.Writer
	ids     blynk.IDs
	timeout time.Duration
	buf     []byte
}

func (c *conn) send(cmd blynk.Command, id uint16, status blynk.Status, body []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id == 0 {
		id = c.ids.Next()
	}
	if err := c.c.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return err
	}
	return c.w.Write(blynk.Message{Cmd: cmd, ID: id, Status: status, Body: body})
}

// session runs one device connection until it fails or ctx is done.
func (b *Bridge) session(ctx context.Context, bo *bridge.Backoff) error {
	nc, err := b.opts.Connector.Connect(ctx)
	if err != nil {
		return err
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	c := &conn{c: nc, w: blynk.NewWriter(nc), timeout: b.opts.Timeout}
	b.st.SetState(bridge.StateConnecting, nil)
	if err := c.send(blynk.CmdHWLogin, 0, 0, []byte(b.cfg.Token)); err != nil {
		return fmt.Errorf("gpiobridge: send login: %w", err)
	}
	rd := blynk.NewReader(nc, 0)
	if err := nc.SetReadDeadline(time.Now().Add(b.opts.Timeout)); err != nil {
		return err
	}
	m, err := rd.Next()
	if err != nil {
		return fmt.Errorf("gpiobridge: login answer: %w", err)
	}
	if m.Cmd != blynk.CmdResponse || (m.Status != blynk.StatusSuccess && m.Status != blynk.StatusAlreadyRegistered) {
		if m.Cmd == blynk.CmdResponse {
			return fmt.Errorf("gpiobridge: login refused: %w", m.Status)
		}
		return fmt.Errorf("gpiobridge: login answered with %v", m)
	}
	_ = nc.SetReadDeadline(time.Time{})
	bo.Reset()
	b.sessions.Add(1)
	b.st.SetState(bridge.StateConnected, nil)
	b.log.Info("device online", "pins", len(b.cfg.Pins))

	// From here the gateway may send at any time (answers, writes, pings);
	// read concurrently, or both sides could block writing to each other.
	readErr := make(chan error, 1)
	go func() { readErr <- b.read(rd, c) }()
	fail := func(err error) error {
		nc.Close()
		<-readErr
		return err
	}

	// Info, as a library would send it (PROTOCOL.md §1.7): the heartbeat
	// tells the gateway how long silence may last.
	hb := int(b.cfg.Heartbeat / time.Second)
	info := blynk.AppendStrings(nil, "ver", "outpost-gpiobridge", "h-beat", strconv.Itoa(hb), "buff-in", "1024", "dev", "gpio")
	if err := c.send(blynk.CmdInternal, 0, 0, info); err != nil {
		return fail(err)
	}
	// Outputs take their last value from the gateway.
	if len(b.outputs) > 0 {
		body := []byte("vr")
		for _, pc := range b.cfg.Pins {
			if pc.Mode != ModeInput {
				body = append(append(body, 0), strconv.Itoa(pc.VPin)...)
			}
		}
		if err := c.send(blynk.CmdHardwareSync, 0, 0, body); err != nil {
			return fail(err)
		}
	}
	// Inputs report their current level: whatever changed while offline.
	b.drainStale()
	for _, in := range b.inputs {
		if err := b.sendValue(c, in.cfg.VPin, in.value(in.pin.Read())); err != nil {
			return fail(err)
		}
	}

	ping := time.NewTicker(b.cfg.Heartbeat)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case err := <-readErr:
			return err
		case r := <-b.reports:
			if err := b.sendValue(c, r.vpin, r.value); err != nil {
				return fail(err)
			}
		case <-ping.C:
			if err := c.send(blynk.CmdPing, 0, 0, nil); err != nil {
				return fail(err)
			}
		}
	}
}

// drainStale drops reports queued while disconnected; the current levels
// sent at login supersede them.
func (b *Bridge) drainStale() {
	for {
		select {
		case <-b.reports:
			b.unsent.Add(1)
		default:
			return
		}
	}
}

func (b *Bridge) sendValue(c *conn, vpin int, v string) error {
	c.buf = blynk.AppendStrings(c.buf[:0], "vw", strconv.Itoa(vpin), v)
	if err := c.send(blynk.CmdHardware, 0, 0, c.buf); err != nil {
		return fmt.Errorf("gpiobridge: write V%d: %w", vpin, err)
	}
	b.writes.Add(1)
	return nil
}

// read handles what the gateway sends: writes to outputs and pings.
func (b *Bridge) read(rd *blynk.Reader, c *conn) error {
	var fields [][]byte
	for {
		m, err := rd.Next()
		if err != nil {
			return fmt.Errorf("gpiobridge: read: %w", err)
		}
		switch m.Cmd {
		case blynk.CmdPing:
			if err := c.send(blynk.CmdResponse, m.ID, blynk.StatusSuccess, nil); err != nil {
				return err
			}
		case blynk.CmdHardware, blynk.CmdBridge:
			fields = blynk.Fields(fields, m.Body)
			if err := b.apply(fields); err != nil {
				b.rejected.Add(1)
				b.log.Warn("write not applied", "body", string(m.Body), "err", err)
				if err := c.send(blynk.CmdResponse, m.ID, blynk.StatusIllegalCommand, nil); err != nil {
					return err
				}
			}
		case blynk.CmdResponse:
			if m.Status != blynk.StatusSuccess {
				b.log.Debug("gateway answered", "id", m.ID, "status", m.Status.String())
			}
		}
	}
}

var errNotOutput = errors.New("no output on that virtual pin")

// apply drives an output from a "vw <pin> <value>" body.
func (b *Bridge) apply(fields [][]byte) error {
	if len(fields) < 3 || string(fields[0]) != "vw" {
		return errors.New("not a vw with a value")
	}
	vpin, err := strconv.Atoi(string(fields[1]))
	if err != nil {
		return fmt.Errorf("pin %q: %w", fields[1], err)
	}
	o := b.outputs[vpin]
	if o == nil {
		return fmt.Errorf("V%d: %w", vpin, errNotOutput)
	}
	v, err := strconv.ParseFloat(string(fields[2]), 64)
	if err != nil || math.IsNaN(v) {
		return fmt.Errorf("V%d value %q is not a number", vpin, fields[2])
	}
	if err := o.set(v); err != nil {
		b.pinErrors.Add(1)
		return fmt.Errorf("V%d %s: %w", vpin, o.cfg.Pin, err)
	}
	b.applied.Add(1)
	return nil
}
