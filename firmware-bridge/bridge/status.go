package bridge

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// State is where a bridge is in its life.
type State string

// States a bridge reports.
const (
	StateStarting   State = "starting"   // not yet tried
	StateRetrying   State = "retrying"   // the port or the gateway failed; waiting to try again
	StateWaiting    State = "waiting"    // the port is open; no device session (waiting for the MCU's login)
	StateConnecting State = "connecting" // login sent to the gateway, no answer yet
	StateConnected  State = "connected"  // the gateway accepted the login: the device is online
	StateStopped    State = "stopped"    // Run has returned
)

// Status is a bridge's state as the installer sees it.
type Status struct {
	Kind string   `json:"kind"`           // "serial" or "gpio"
	Name string   `json:"name"`           // configured name
	Port string   `json:"port,omitempty"` // serial: the device path opened (or the configured path / VID:PID)
	Pins []string `json:"pins,omitempty"` // gpio: the pin names the bridge drives
	// TokenHash is the SHA-256 of the token the device logged in with (the
	// MCU's own token for serial, the configured one for gpio); zero when
	// unknown. The token itself never leaves the bridge. Manager.Status
	// resolves it to DeviceID/DeviceName.
	TokenHash  [32]byte  `json:"-"`
	DeviceID   int64     `json:"deviceId,omitempty"`
	DeviceName string    `json:"deviceName,omitempty"`
	State      State     `json:"state"`
	LastError  string    `json:"lastError,omitempty"`
	Since      time.Time `json:"since"` // when State last changed
}

// HashToken is the token hash Status carries (the hub's Device.TokenHash).
func HashToken(token []byte) [32]byte { return sha256.Sum256(token) }

// Tracker holds a bridge's Status for concurrent readers. The zero value is
// not usable; use NewTracker.
type Tracker struct {
	mu  sync.Mutex
	st  Status
	now func() time.Time
}

// NewTracker starts in StateStarting.
func NewTracker(initial Status) *Tracker {
	t := &Tracker{st: initial, now: time.Now}
	t.st.State = StateStarting
	t.st.Since = t.now()
	return t
}

// SetState changes the state (and Since when it differs). A non-nil err
// becomes LastError; a nil err leaves LastError as it is, so the installer
// still sees why the last attempt failed.
func (t *Tracker) SetState(s State, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.st.State != s {
		t.st.State = s
		t.st.Since = t.now()
	}
	if err != nil {
		t.st.LastError = err.Error()
	}
}

// Update applies fn to the status under the lock.
func (t *Tracker) Update(fn func(*Status)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fn(&t.st)
}

// Get returns a copy of the status.
func (t *Tracker) Get() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.st
	s.Pins = slices.Clone(s.Pins)
	return s
}

// Runner is a bridge the Manager runs.
type Runner interface {
	// Run serves until ctx is done (returning ctx.Err()) or a fatal
	// configuration error. Transient failures are retried inside.
	Run(ctx context.Context) error
	Status() Status
}

// ManagerOptions configure a Manager.
type ManagerOptions struct {
	Logger *slog.Logger
	// Device resolves a token hash to the gateway's device (hub.Devices()
	// carry TokenHash); nil leaves DeviceID and DeviceName empty, as on a
	// standalone outpost-bridge.
	Device func(tokenHash [32]byte) (id int64, name string, ok bool)
}

// Manager runs a set of bridges and reports their status. Bridges may be
// added and removed while it runs (the installer page binds a serial port
// without a restart).
type Manager struct {
	opts    ManagerOptions
	mu      sync.Mutex
	runners []Runner
	running map[Runner]running // started and not yet returned
	ctx     context.Context    // Run's, nil before and after
	wg      sync.WaitGroup
	errs    []error
}

// NewManager returns an empty Manager.
func NewManager(opts ManagerOptions) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{opts: opts, running: map[Runner]running{}}
}

// Add registers a bridge; once Run has started, the bridge starts at once.
func (m *Manager) Add(r Runner) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runners = append(m.runners, r)
	if m.ctx != nil {
		m.start(r)
	}
}

// Remove stops a bridge and forgets it; it returns once the bridge's Run
// has returned (its port closed). It reports whether r was registered.
func (m *Manager) Remove(r Runner) bool {
	m.mu.Lock()
	i := slices.Index(m.runners, r)
	if i < 0 {
		m.mu.Unlock()
		return false
	}
	m.runners = slices.Delete(m.runners, i, i+1)
	run, running := m.running[r]
	m.mu.Unlock()
	if running {
		run.cancel()
		<-run.done
	}
	return true
}

// running is a started bridge: how to stop it, and when it has stopped.
type running struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// start runs r under Run's context; m.mu is held.
func (m *Manager) start(r Runner) {
	ctx, cancel := context.WithCancel(m.ctx)
	run := running{cancel: cancel, done: make(chan struct{})}
	m.running[r] = run
	log := m.opts.Logger.With("component", "bridges")
	m.wg.Go(func() {
		defer close(run.done)
		defer cancel()
		err := r.Run(ctx)
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.running, r)
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			st := r.Status()
			log.Error("bridge stopped", "kind", st.Kind, "name", st.Name, "err", err)
			m.errs = append(m.errs, err)
		}
	})
}

// Run runs every bridge until ctx is done and returns nil then. If a bridge
// fails for good (a configuration error), the others keep running and the
// error is logged and returned at the end.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	m.ctx = ctx
	for _, r := range m.runners {
		m.start(r)
	}
	m.mu.Unlock()
	<-ctx.Done()
	m.mu.Lock()
	m.ctx = nil
	m.mu.Unlock()
	m.wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	return errors.Join(m.errs...)
}

// Status reports every bridge, in the order they were added, with the
// device each one is bound to.
func (m *Manager) Status() []Status {
	m.mu.Lock()
	rs := slices.Clone(m.runners)
	m.mu.Unlock()
	out := make([]Status, 0, len(rs))
	for _, r := range rs {
		st := r.Status()
		if m.opts.Device != nil && st.TokenHash != ([32]byte{}) {
			if id, name, ok := m.opts.Device(st.TokenHash); ok {
				st.DeviceID, st.DeviceName = id, name
			}
		}
		out = append(out, st)
	}
	return out
}
