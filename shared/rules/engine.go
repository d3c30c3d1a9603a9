package rules

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// InputKind tells what an Input reports.
type InputKind uint8

// Input kinds.
const (
	InputWrite   InputKind = iota + 1 // a value written to a pin
	InputOnline                       // a device connected
	InputOffline                      // a device went offline
	InputEvent                        // a device logged an event
)

// Input is something that happened to a device.
type Input struct {
	Kind   InputKind
	Device string // ULID
	Pin    int    // InputWrite
	Value  string // InputWrite: canonical value; InputEvent: description
	Event  string // InputEvent: event code
	At     time.Time
	// Chain counts the automations that led to this input: 0 for the
	// outside world, Firing.Chain for a write made by an automation's
	// action.
	Chain int
}

// Values gives the latest value of a pin; conditions read it. It is
// declared here and implemented by the hub at the site and by the cloud's
// latest values.
type Values interface {
	Value(device string, pin int) (string, bool)
}

// Firing is an automation whose trigger fired and whose conditions held.
// A firing that Cut is non-empty must not run: it is reported so that its
// caller records why (loop protection, a chain too long).
type Firing struct {
	Automation *Automation // shared, read-only
	At         time.Time
	Trigger    TriggerKind
	Device     string // the trigger's device, if any
	Pin        int
	Value      string // the trigger value ({trigger_value})
	Chain      int    // Input.Chain + 1; the writes of its actions carry it
	Cut        string
}

type pinKey struct {
	dev string
	pin int
}

type devKey struct {
	dev  string
	kind InputKind
}

type compiled struct {
	watched  map[string]*Watch
	byPin    map[pinKey][]*entry
	byDevice map[devKey][]*entry
	timed    []*entry // schedules
	byID     map[string]*entry
}

type entry struct {
	a   *Automation
	cmp compare // the trigger's comparison
	st  state   // guarded by Engine.mu
}

type state struct {
	seen      bool   // a value was observed
	matched   bool   // the last value matched the comparison
	prev      string // the last value (changed)
	holdUntil time.Time
	holdValue string
	holdChain int
	next      time.Time // schedule
	lastRun   time.Time
	cutLogged bool // a loop-protection cut was reported since lastRun
}

// Engine evaluates a set of automations. Observe and Tick are safe for
// concurrent use; a write no automation watches takes no lock.
type Engine struct {
	set   atomic.Pointer[compiled]
	mu    sync.Mutex
	holds map[*entry]struct{} // triggers waiting out their hold; guarded by mu
	wake  chan struct{}
}

// NewEngine returns an engine with no automations.
func NewEngine() *Engine {
	e := &Engine{wake: make(chan struct{}, 1), holds: map[*entry]struct{}{}}
	e.set.Store(&compiled{})
	return e
}

// Replace loads a new set of automations (disabled ones are skipped; each
// must have passed Validate). The state of an automation whose ID and
// trigger did not change is kept: an edge already seen does not fire
// again and loop protection goes on counting from its last run.
func (e *Engine) Replace(autos []Automation, now time.Time) {
	c := &compiled{
		watched:  map[string]*Watch{},
		byPin:    map[pinKey][]*entry{},
		byDevice: map[devKey][]*entry{},
		byID:     map[string]*entry{},
	}
	watch := func(dev string) *Watch {
		w := c.watched[dev]
		if w == nil {
			w = &Watch{}
			c.watched[dev] = w
		}
		return w
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.set.Load()
	clear(e.holds)
	for i := range autos {
		a := &autos[i]
		if !a.Enabled {
			continue
		}
		a = clone(a)
		en := &entry{a: a, cmp: compileCompare(a.Trigger.Op, a.Trigger.Value, a.Trigger.Value2)}
		if prev := old.byID[a.ID]; prev != nil {
			if triggerEqual(&prev.a.Trigger, &a.Trigger) {
				en.st = prev.st
			} else {
				en.st.lastRun = prev.st.lastRun
			}
		}
		c.byID[a.ID] = en
		if !en.st.holdUntil.IsZero() {
			e.holds[en] = struct{}{}
		}
		t := &a.Trigger
		switch t.Kind {
		case TriggerDatastream:
			k := pinKey{t.Device, t.Pin}
			c.byPin[k] = append(c.byPin[k], en)
			if t.Pin >= 0 && t.Pin <= MaxPin {
				watch(t.Device).Pins[t.Pin>>6] |= 1 << (t.Pin & 63)
			}
		case TriggerOnline, TriggerOffline, TriggerEvent:
			watch(t.Device).Other = true
		}
		switch t.Kind {
		case TriggerOnline:
			k := devKey{t.Device, InputOnline}
			c.byDevice[k] = append(c.byDevice[k], en)
		case TriggerOffline:
			k := devKey{t.Device, InputOffline}
			c.byDevice[k] = append(c.byDevice[k], en)
		case TriggerEvent:
			k := devKey{t.Device, InputEvent}
			c.byDevice[k] = append(c.byDevice[k], en)
		case TriggerSchedule:
			if en.st.next.IsZero() || !en.st.next.After(now) {
				en.st.next = t.Schedule.Next(now)
			}
			c.timed = append(c.timed, en)
		}
	}
	e.set.Store(c)
	e.poke()
}

// Watch is what the loaded automations watch of one device: the pins
// whose writes can trigger one (a bit per pin), and whether its going
// online or offline or its events can. A caller that filters inputs
// before queueing them (the site runner does, under the hub's device lock)
// asks it once per device and set of automations.
type Watch struct {
	Pins  [4]uint64
	Other bool // online, offline or event triggers
}

// Pin reports whether writes to pin can trigger an automation.
func (w *Watch) Pin(pin int) bool {
	return pin >= 0 && pin <= MaxPin && w.Pins[pin>>6]&(1<<(pin&63)) != 0
}

// Watched returns what the loaded automations watch of a device (a zero
// Watch when nothing).
func (e *Engine) Watched(device string) Watch {
	if w := e.set.Load().watched[device]; w != nil {
		return *w
	}
	return Watch{}
}

// Len is the number of enabled automations loaded.
func (e *Engine) Len() int { return len(e.set.Load().byID) }

func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Observe evaluates the automations that in can trigger and returns those
// that fire now. Triggers held for some seconds fire later, from Tick.
func (e *Engine) Observe(in Input, vals Values) []Firing {
	c := e.set.Load()
	var list []*entry
	switch in.Kind {
	case InputWrite:
		list = c.byPin[pinKey{in.Device, in.Pin}]
	case InputOnline, InputOffline, InputEvent:
		list = c.byDevice[devKey{in.Device, in.Kind}]
	}
	if len(list) == 0 {
		return nil
	}
	var out []Firing
	e.mu.Lock()
	defer e.mu.Unlock()
	held := false
	for _, en := range list {
		a := en.a
		t := &a.Trigger
		fire := false
		switch in.Kind {
		case InputWrite:
			var h bool
			fire, h = en.observeValue(in)
			if h {
				e.holds[en] = struct{}{}
				held = true
			}
		case InputEvent:
			fire = t.Event == "" || t.Event == in.Event
		default:
			fire = true
		}
		if !fire {
			continue
		}
		if f, ok := e.firing(en, in.At, in.Device, in.Pin, in.Value, in.Chain, vals); ok {
			out = append(out, f)
		}
	}
	if held {
		e.poke()
	}
	return out
}

// observeValue moves a datastream trigger's state on a new value and
// reports whether it fires now; held becomes true when a hold started.
func (en *entry) observeValue(in Input) (fire, held bool) {
	t := &en.a.Trigger
	st := &en.st
	switch t.Op {
	case OpAny:
		fire = true
	case OpChanged:
		fire = st.seen && st.prev != in.Value
	default:
		m := en.cmp.match(in.Value)
		edge := m && !st.matched
		st.matched = m
		switch {
		case !m:
			st.holdUntil = time.Time{} // Tick drops it from e.holds
		case edge && t.HoldS > 0:
			st.holdUntil = in.At.Add(time.Duration(t.HoldS) * time.Second)
			st.holdValue = in.Value
			st.holdChain = in.Chain
			held = true
		case m && t.HoldS > 0 && !st.holdUntil.IsZero():
			st.holdValue = in.Value
		case edge:
			fire = true
		}
	}
	st.seen = true
	st.prev = in.Value
	return fire, held
}

// firing checks conditions and loop protection; the caller holds e.mu.
func (e *Engine) firing(en *entry, at time.Time, dev string, pin int, value string, chain int, vals Values) (Firing, bool) {
	a := en.a
	if a.Conditions != nil && !a.Conditions.holds(at, vals) {
		return Firing{}, false
	}
	f := Firing{Automation: a, At: at, Trigger: a.Trigger.Kind, Device: dev, Pin: pin, Value: value, Chain: chain + 1}
	switch {
	case chain >= MaxChain:
		f.Cut = fmt.Sprintf("chain of %d automations cut", chain+1)
	case !en.st.lastRun.IsZero() && at.Sub(en.st.lastRun) < a.MinInterval():
		if en.st.cutLogged {
			return Firing{}, false // reported once per interval
		}
		en.st.cutLogged = true
		f.Cut = fmt.Sprintf("loop protection: ran %s ago, at most once per %s", at.Sub(en.st.lastRun).Round(time.Millisecond), a.MinInterval())
	default:
		en.st.lastRun = at
		en.st.cutLogged = false
	}
	return f, true
}

// Tick fires what is due at now: triggers held long enough and schedules.
func (e *Engine) Tick(now time.Time, vals Values) []Firing {
	c := e.set.Load()
	var out []Firing
	e.mu.Lock()
	defer e.mu.Unlock()
	for en := range e.holds {
		st := &en.st
		if st.holdUntil.IsZero() {
			delete(e.holds, en)
			continue
		}
		if st.holdUntil.After(now) {
			continue
		}
		delete(e.holds, en)
		at := st.holdUntil
		st.holdUntil = time.Time{}
		t := &en.a.Trigger
		if f, ok := e.firing(en, at, t.Device, t.Pin, st.holdValue, st.holdChain, vals); ok {
			out = append(out, f)
		}
	}
	for _, en := range c.timed {
		st := &en.st
		if st.next.IsZero() || st.next.After(now) {
			continue
		}
		at := st.next
		st.next = en.a.Trigger.Schedule.Next(now)
		if f, ok := e.firing(en, at, "", 0, "", 0, vals); ok {
			out = append(out, f)
		}
	}
	slices.SortStableFunc(out, func(a, b Firing) int { return a.At.Compare(b.At) })
	return out
}

// Next is the earliest time Tick has something to do (zero: nothing).
func (e *Engine) Next() time.Time {
	c := e.set.Load()
	var next time.Time
	min := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for en := range e.holds {
		min(en.st.holdUntil)
	}
	for _, en := range c.timed {
		min(en.st.next)
	}
	return next
}

// Run calls Tick at every deadline (held triggers, schedules) with the
// time.Now of that moment and hands each firing to fire, until ctx ends.
// Replace and Observe wake it when a deadline moves.
func (e *Engine) Run(ctx context.Context, vals Values, fire func(Firing)) error {
	for {
		var timer *time.Timer
		var due <-chan time.Time
		if next := e.Next(); !next.IsZero() {
			timer = time.NewTimer(time.Until(next))
			due = timer.C
		}
		select {
		case <-ctx.Done():
		case <-e.wake:
		case <-due:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for _, f := range e.Tick(time.Now(), vals) {
			fire(f)
		}
	}
}

func triggerEqual(a, b *Trigger) bool {
	if a.Kind != b.Kind || a.Device != b.Device || a.Pin != b.Pin || a.Op != b.Op ||
		a.Value != b.Value || a.Value2 != b.Value2 || a.HoldS != b.HoldS || a.Event != b.Event {
		return false
	}
	if (a.Schedule == nil) != (b.Schedule == nil) {
		return false
	}
	if a.Schedule == nil {
		return true
	}
	x, y := a.Schedule, b.Schedule
	return x.At == y.At && x.Sun == y.Sun && x.OffsetMin == y.OffsetMin && x.Lat == y.Lat &&
		x.Lon == y.Lon && x.TZ == y.TZ && slices.Equal(x.Weekdays, y.Weekdays)
}

// clone copies an automation deeply enough that the caller's later edits
// of its slices do not reach the engine.
func clone(a *Automation) *Automation {
	c := *a
	c.Actions = slices.Clone(a.Actions)
	if a.Trigger.Schedule != nil {
		s := *a.Trigger.Schedule
		s.Weekdays = slices.Clone(s.Weekdays)
		c.Trigger.Schedule = &s
	}
	if a.Conditions != nil {
		cond := cloneCond(*a.Conditions)
		c.Conditions = &cond
	}
	return &c
}

func cloneCond(c Condition) Condition {
	out := c
	if c.All != nil {
		out.All = make([]Condition, len(c.All))
		for i := range c.All {
			out.All[i] = cloneCond(c.All[i])
		}
	}
	if c.Any != nil {
		out.Any = make([]Condition, len(c.Any))
		for i := range c.Any {
			out.Any[i] = cloneCond(c.Any[i])
		}
	}
	if c.Datastream != nil {
		d := *c.Datastream
		out.Datastream = &d
	}
	if c.Window != nil {
		w := *c.Window
		w.Weekdays = slices.Clone(w.Weekdays)
		out.Window = &w
	}
	return out
}
