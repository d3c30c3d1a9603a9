package rules

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	_ "time/tzdata" // the tests name zones; a host without zoneinfo still runs them
)

const (
	devA = "01JD0000000000000000000AAA"
	devB = "01JD0000000000000000000BBB"
	devC = "01JD0000000000000000000CCC"
	idX  = "01JD00000000000000000000X1"
	idY  = "01JD00000000000000000000Y1"
)

// vals is a Values of a fixed map.
type vals map[pinKey]string

func (v vals) Value(dev string, pin int) (string, bool) {
	s, ok := v[pinKey{dev, pin}]
	return s, ok
}

func writeAuto(id string, t Trigger) Automation {
	return Automation{ID: id, Name: "auto " + id[len(id)-2:], Enabled: true, Trigger: t,
		Actions: []Action{{Kind: ActionWrite, Device: devB, Pin: 1, Value: "{trigger_value}"}}}
}

func TestDecodeTestdata(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			a, err := Decode(b)
			valid := strings.HasPrefix(filepath.Base(f), "valid_")
			if valid && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !valid {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("accepted or wrong error: %v (%+v)", err, a)
				}
				want, _ := os.ReadFile(strings.TrimSuffix(f, ".json") + ".err")
				if w := strings.TrimSpace(string(want)); w == "" || !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	base := func() Automation {
		return writeAuto(idX, Trigger{Kind: TriggerDatastream, Device: devA, Pin: 0, Op: OpGt, Value: "30"})
	}
	tests := []struct {
		name string
		edit func(a *Automation)
		want string // "" valid
	}{
		{"valid", func(a *Automation) {}, ""},
		{"bad id", func(a *Automation) { a.ID = "x" }, "id"},
		{"no name", func(a *Automation) { a.Name = "" }, "name"},
		{"long name", func(a *Automation) { a.Name = strings.Repeat("n", 81) }, "name"},
		{"gt without number", func(a *Automation) { a.Trigger.Value = "warm" }, "needs a number"},
		{"between reversed", func(a *Automation) { a.Trigger.Op, a.Trigger.Value, a.Trigger.Value2 = OpBetween, "5", "1" }, "between"},
		{"between ok", func(a *Automation) { a.Trigger.Op, a.Trigger.Value, a.Trigger.Value2 = OpBetween, "1", "5" }, ""},
		{"pin out of range", func(a *Automation) { a.Trigger.Pin = 256 }, "pin"},
		{"hold on changed", func(a *Automation) { a.Trigger.Op, a.Trigger.HoldS = OpChanged, 5 }, "holdS"},
		{"hold too long", func(a *Automation) { a.Trigger.HoldS = MaxHold + 1 }, "holdS"},
		{"unknown op", func(a *Automation) { a.Trigger.Op = "like" }, "unknown op"},
		{"unknown trigger", func(a *Automation) { a.Trigger.Kind = "rain" }, "unknown trigger"},
		{"no actions", func(a *Automation) { a.Actions = nil }, "actions"},
		{"too many actions", func(a *Automation) { a.Actions = make([]Action, MaxActions+1) }, "actions"},
		{"wait zero", func(a *Automation) { a.Actions = []Action{{Kind: ActionWait}} }, "waitS"},
		{"notify without text", func(a *Automation) { a.Actions = []Action{{Kind: ActionNotify}} }, "notify"},
		{"log event without code", func(a *Automation) { a.Actions = []Action{{Kind: ActionLogEvent, Device: devA}} }, "event code"},
		{"webhook", func(a *Automation) { a.Actions = []Action{{Kind: ActionWebhook, Webhook: "7"}} }, ""},
		{"schedule missing", func(a *Automation) { a.Trigger = Trigger{Kind: TriggerSchedule} }, "without a schedule"},
		{"schedule bad clock", func(a *Automation) {
			a.Trigger = Trigger{Kind: TriggerSchedule, Schedule: &Schedule{At: "25:00"}}
		}, "HH:MM"},
		{"schedule bad tz", func(a *Automation) {
			a.Trigger = Trigger{Kind: TriggerSchedule, Schedule: &Schedule{At: "07:00", TZ: "Mars/Olympus"}}
		}, "tz"},
		{"schedule sun far", func(a *Automation) {
			a.Trigger = Trigger{Kind: TriggerSchedule, Schedule: &Schedule{Sun: Sunset, Lat: 91}}
		}, "location"},
		{"schedule weekday", func(a *Automation) {
			a.Trigger = Trigger{Kind: TriggerSchedule, Schedule: &Schedule{At: "07:00", Weekdays: []time.Weekday{7}}}
		}, "weekday"},
		{"condition two kinds", func(a *Automation) {
			a.Conditions = &Condition{Window: &Window{From: "08:00", To: "09:00"}, Datastream: &Compare{Device: devA, Op: OpOn}}
		}, "exactly one"},
		{"condition changed", func(a *Automation) {
			a.Conditions = &Condition{Datastream: &Compare{Device: devA, Op: OpChanged}}
		}, "triggers only"},
		{"condition empty all", func(a *Automation) { a.Conditions = &Condition{All: []Condition{}} }, "empty"},
		{"condition too deep", func(a *Automation) {
			c := Condition{Datastream: &Compare{Device: devA, Op: OpOn}}
			for range MaxConditionDeep {
				c = Condition{All: []Condition{c}}
			}
			a.Conditions = &c
		}, "deeper"},
		{"window same ends", func(a *Automation) { a.Conditions = &Condition{Window: &Window{From: "08:00", To: "08:00"}} }, "window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := base()
			tt.edit(&a)
			err := a.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestDatastreamTriggers feeds a sequence of values to one automation and
// compares which of them fire.
func TestDatastreamTriggers(t *testing.T) {
	tests := []struct {
		name   string
		op     Op
		v, v2  string
		values []string
		fires  string // one char per value: x fires, . does not
	}{
		{"gt fires on the edge only", OpGt, "30", "", []string{"20", "31", "35", "29", "40"}, ".x..x"},
		{"gt first value", OpGt, "30", "", []string{"31"}, "x"},
		{"ge", OpGe, "30", "", []string{"29.9", "30", "29", "30.0"}, ".x.x"},
		{"lt", OpLt, "0", "", []string{"1", "-0.5", "-3", "0"}, ".x.."},
		{"le", OpLe, "0", "", []string{"1", "0", "5", "-1"}, ".x.x"},
		{"eq number", OpEq, "1", "", []string{"0", "1.0", "1", "2", "1"}, ".x..x"},
		{"eq string", OpEq, "open", "", []string{"closed", "open", "open", "Open", "open"}, ".x..x"},
		{"ne", OpNe, "0", "", []string{"0", "3", "4", "0", "1"}, ".x..x"},
		{"between", OpBetween, "10", "20", []string{"5", "10", "20", "21", "15"}, ".x..x"},
		{"on", OpOn, "", "", []string{"0", "1", "1", "0", "255"}, ".x..x"},
		{"off", OpOff, "", "", []string{"1", "0", "0", "1", "0"}, ".x..x"},
		{"text is neither on nor off", OpOn, "", "", []string{"x", "1"}, ".x"},
		{"changed", OpChanged, "", "", []string{"1", "1", "2", "2", "1"}, "..x.x"},
		{"any", OpAny, "", "", []string{"1", "1", "2"}, "xxx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := writeAuto(idX, Trigger{Kind: TriggerDatastream, Device: devA, Pin: 3, Op: tt.op, Value: tt.v, Value2: tt.v2})
			if err := a.Validate(); err != nil {
				t.Fatal(err)
			}
			e := NewEngine()
			t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
			e.Replace([]Automation{a}, t0)
			var got strings.Builder
			for i, v := range tt.values {
				// Far enough apart that loop protection never interferes.
				fs := e.Observe(Input{Kind: InputWrite, Device: devA, Pin: 3, Value: v, At: t0.Add(time.Duration(i) * time.Minute)}, nil)
				switch {
				case len(fs) == 0:
					got.WriteByte('.')
				case len(fs) == 1 && fs[0].Cut == "" && fs[0].Value == v:
					got.WriteByte('x')
				default:
					t.Fatalf("value %d: %+v", i, fs)
				}
			}
			if got.String() != tt.fires {
				t.Fatalf("fired %q, want %q", got.String(), tt.fires)
			}
		})
	}
}

func TestIndexIsByDeviceAndPin(t *testing.T) {
	e := NewEngine()
	t0 := time.Unix(1764000000, 0)
	e.Replace([]Automation{
		writeAuto(idX, Trigger{Kind: TriggerDatastream, Device: devA, Pin: 3, Op: OpAny}),
		writeAuto(idY, Trigger{Kind: TriggerOnline, Device: devA}),
		{ID: devC, Name: "off", Enabled: false, Trigger: Trigger{Kind: TriggerDatastream, Device: devA, Pin: 3, Op: OpAny},
			Actions: []Action{{Kind: ActionNotify, Text: "x"}}},
	}, t0)
	if e.Len() != 2 {
		t.Fatalf("Len = %d, want 2 (the disabled one skipped)", e.Len())
	}
	for _, in := range []Input{
		{Kind: InputWrite, Device: devA, Pin: 4, Value: "1"},
		{Kind: InputWrite, Device: devB, Pin: 3, Value: "1"},
		{Kind: InputOffline, Device: devA},
		{Kind: InputOnline, Device: devB},
		{Kind: InputEvent, Device: devA, Event: "x"},
	} {
		in.At = t0
		if fs := e.Observe(in, nil); len(fs) != 0 {
			t.Errorf("%+v fired %+v", in, fs)
		}
	}
	if fs := e.Observe(Input{Kind: InputWrite, Device: devA, Pin: 3, Value: "1", At: t0}, nil); len(fs) != 1 || fs[0].Automation.ID != idX {
		t.Errorf("write fired %+v", fs)
	}
	if fs := e.Observe(Input{Kind: InputOnline, Device: devA, At: t0}, nil); len(fs) != 1 || fs[0].Automation.ID != idY {
		t.Errorf("online fired %+v", fs)
	}
}

func TestEventTrigger(t *testing.T) {
	e := NewEngine()
	t0 := time.Unix(1764000000, 0)
	e.Replace([]Automation{
		writeAuto(idX, Trigger{Kind: TriggerEvent, Device: devA, Event: "overheat"}),
		writeAuto(idY, Trigger{Kind: TriggerEvent, Device: devA}),
	}, t0)
	got := e.Observe(Input{Kind: InputEvent, Device: devA, Event: "overheat", At: t0}, nil)
	if len(got) != 2 {
		t.Fatalf("overheat fired %d, want both", len(got))
	}
	got = e.Observe(Input{Kind: InputEvent, Device: devA, Event: "door", At: t0.Add(time.Hour)}, nil)
	if len(got) != 1 || got[0].Automation.ID != idY {
		t.Fatalf("door fired %+v, want only the any-code automation", got)
	}
}

func TestConditions(t *testing.T) {
	// 10:30 UTC on Thursday 2026-12-03 is 11:30 in Berlin.
	at := time.Date(2026, 12, 3, 10, 30, 0, 0, time.UTC)
	v := vals{{devB, 0}: "21.5", {devC, 1}: "1", {devC, 2}: "text"}
	ds := func(dev string, pin int, op Op, x, y string) Condition {
		return Condition{Datastream: &Compare{Device: dev, Pin: pin, Op: op, Value: x, Value2: y}}
	}
	win := func(from, to string, days ...time.Weekday) Condition {
		return Condition{Window: &Window{From: from, To: to, Weekdays: days, TZ: "Europe/Berlin"}}
	}
	tests := []struct {
		name string
		c    Condition
		want bool
	}{
		{"gt holds", ds(devB, 0, OpGt, "20", ""), true},
		{"gt fails", ds(devB, 0, OpGt, "22", ""), false},
		{"no value fails", ds(devB, 9, OpLt, "100", ""), false},
		{"text fails a number", ds(devC, 2, OpGt, "0", ""), false},
		{"text eq", ds(devC, 2, OpEq, "text", ""), true},
		{"and across devices", Condition{All: []Condition{ds(devB, 0, OpBetween, "20", "25"), ds(devC, 1, OpOn, "", "")}}, true},
		{"and one fails", Condition{All: []Condition{ds(devB, 0, OpGt, "20", ""), ds(devC, 1, OpOff, "", "")}}, false},
		{"or one holds", Condition{Any: []Condition{ds(devB, 0, OpLt, "0", ""), ds(devC, 1, OpOn, "", "")}}, true},
		{"or none", Condition{Any: []Condition{ds(devB, 0, OpLt, "0", ""), ds(devC, 1, OpOff, "", "")}}, false},
		{"nested", Condition{All: []Condition{win("11:00", "12:00"), {Any: []Condition{ds(devC, 1, OpOff, "", ""), ds(devB, 0, OpNe, "0", "")}}}}, true},
		{"window in Berlin", win("11:00", "12:00"), true},
		{"window before", win("11:31", "12:00"), false},
		{"window end excluded", win("10:00", "11:30"), false},
		{"window weekday", win("11:00", "12:00", time.Monday, time.Thursday), true},
		{"window other weekday", win("11:00", "12:00", time.Friday), false},
		{"window over midnight, morning part belongs to yesterday", win("22:00", "12:00", time.Wednesday), true},
		{"window over midnight, not yesterday", win("22:00", "12:00", time.Thursday), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := writeAuto(idX, Trigger{Kind: TriggerDatastream, Device: devA, Pin: 0, Op: OpAny})
			a.Conditions = &tt.c
			if err := a.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := tt.c.holds(at, v); got != tt.want {
				t.Fatalf("holds = %v, want %v", got, tt.want)
			}
			e := NewEngine()
			e.Replace([]Automation{a}, at)
			fs := e.Observe(Input{Kind: InputWrite, Device: devA, Pin: 0, Value: "1", At: at}, v)
			if (len(fs) == 1) != tt.want {
				t.Fatalf("engine fired %d, want %v", len(fs), tt.want)
			}
		})
	}
}

func TestLoopProtection(t *testing.T) {
	a := writeAuto(idX, Trigger{Kind: TriggerDatastream, Device: devA, Pin: 0, Op: OpAny})
	a.MinIntervalMS = 10000
	e := NewEngine()
	t0 := time.Unix(1764000000, 0)
	e.Replace([]Automation{a}, t0)
	step := func(d time.Duration) []Firing {
		return e.Observe(Input{Kind: InputWrite, Device: devA, Pin: 0, Value: "1", At: t0.Add(d)}, nil)
	}
	if fs := step(0); len(fs) != 1 || fs[0].Cut != "" {
		t.Fatalf("first: %+v", fs)
	}
	fs := step(time.Second)
	if len(fs) != 1 || !strings.Contains(fs[0].Cut, "loop protection") {
		t.Fatalf("second within the interval: %+v, want a cut", fs)
	}
	if r := Execute(context.Background(), fs[0], &recorder{}); r.Cut == "" || len(r.Results) != 0 || r.OK() {
		t.Fatalf("a cut run executed: %+v", r)
	}
	if fs := step(2 * time.Second); len(fs) != 0 {
		t.Fatalf("third within the interval reported again: %+v", fs)
	}
	if fs := step(10 * time.Second); len(fs) != 1 || fs[0].Cut != "" {
		t.Fatalf("after the interval: %+v", fs)
	}
	// Reloading the same automation keeps counting from its last run.
	e.Replace([]Automation{a}, t0.Add(11*time.Second))
	if fs := step(12 * time.Second); len(fs) != 1 || fs[0].Cut == "" {
		t.Fatalf("after reload within the interval: %+v, want a cut", fs)
	}
}

// TestChainCut runs two automations that write each other's trigger pin:
// the chain stops at MaxChain with a cut.
func TestChainCut(t *testing.T) {
	ab := Automation{ID: idX, Name: "a to b", Enabled: true, Trigger: Trigger{Kind: TriggerDatastream, Device: devA, Pin: 0, Op: OpAny},
		Actions: []Action{{Kind: ActionWrite, Device: devB, Pin: 0, Value: "{trigger_value}"}}}
	ba := Automation{ID: idY, Name: "b to a", Enabled: true, Trigger: Trigger{Kind: TriggerDatastream, Device: devB, Pin: 0, Op: OpAny},
		Actions: []Action{{Kind: ActionWrite, Device: devA, Pin: 0, Value: "{trigger_value}"}}}
	e := NewEngine()
	t0 := time.Unix(1764000000, 0)
	e.Replace([]Automation{ab, ba}, t0)
	act := &recorder{}
	pending := e.Observe(Input{Kind: InputWrite, Device: devA, Pin: 0, Value: "7", At: t0}, nil)
	runs := 0
	var cut Run
	for i := 0; len(pending) > 0; i++ {
		if i > 100 {
			t.Fatal("the chain was never cut")
		}
		f := pending[0]
		pending = pending[1:]
		r := Execute(context.Background(), f, act)
		if r.Cut != "" {
			cut = r
			continue
		}
		runs++
		// Far apart in time so that only the chain limit applies.
		for _, w := range act.take() {
			pending = append(pending, e.Observe(Input{Kind: InputWrite, Device: w.dev, Pin: w.pin, Value: w.value,
				At: t0.Add(time.Duration(i+1) * time.Hour), Chain: w.chain}, nil)...)
		}
	}
	if runs != MaxChain || !strings.Contains(cut.Cut, "chain") || cut.Chain != MaxChain+1 {
		t.Fatalf("runs = %d, cut = %+v; want %d runs then a chain cut", runs, cut, MaxChain)
	}
}

type write struct {
	dev   string
	pin   int
	value string
	chain int
}

// recorder is an Actuator that records what it was asked to do.
type recorder struct {
	mu     sync.Mutex
	writes []write
	log    []string
	fail   map[ActionKind]error
}

func (r *recorder) take() []write {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.writes
	r.writes = nil
	return w
}

func (r *recorder) note(k ActionKind, s string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, fmt.Sprintf("%s %s", k, s))
	return r.fail[k]
}

func (r *recorder) Write(_ context.Context, f *Firing, dev string, pin int, value string) error {
	r.mu.Lock()
	r.writes = append(r.writes, write{dev, pin, value, f.Chain})
	r.mu.Unlock()
	return r.note(ActionWrite, fmt.Sprintf("%s V%d=%s", dev[len(dev)-3:], pin, value))
}

func (r *recorder) LogEvent(_ context.Context, _ *Firing, dev, code, desc string) error {
	return r.note(ActionLogEvent, code+": "+desc)
}

func (r *recorder) Notify(_ context.Context, _ *Firing, subject, text string) error {
	return r.note(ActionNotify, subject+": "+text)
}

func (r *recorder) Webhook(_ context.Context, _ *Firing, id string) error {
	return r.note(ActionWebhook, id)
}

func TestExecute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := Automation{ID: idX, Name: "Greenhouse", Enabled: true,
			Trigger: Trigger{Kind: TriggerDatastream, Device: devA, Pin: 2, Op: OpGt, Value: "30"},
			Actions: []Action{
				{Kind: ActionWrite, Device: devB, Pin: 1, Value: "{TRIGGER_VALUE}"},
				{Kind: ActionWait, WaitS: 90},
				{Kind: ActionLogEvent, Device: devA, Event: "hot", Text: "{pin} at {trigger_value} by {automation_name} {unknown}"},
				{Kind: ActionNotify, Subject: "{automation_name}", Text: "at {timestamp_iso}"},
				{Kind: ActionWebhook, Webhook: "12"},
				{Kind: ActionWrite, Device: devB, Pin: 1, Value: "0"},
			}}
		if err := a.Validate(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		f := Firing{Automation: &a, At: start, Trigger: TriggerDatastream, Device: devA, Pin: 2, Value: "31.5", Chain: 1}
		act := &recorder{fail: map[ActionKind]error{ActionWebhook: errors.New("refused")}}
		r := Execute(context.Background(), f, act)
		want := []string{
			"write BBB V1=31.5",
			"log_event hot: V2 at 31.5 by Greenhouse {unknown}",
			"notify Greenhouse: at " + start.UTC().Format(time.RFC3339Nano),
			"webhook 12",
			"write BBB V1=0",
		}
		if strings.Join(act.log, "\n") != strings.Join(want, "\n") {
			t.Fatalf("actions:\n%s\nwant:\n%s", strings.Join(act.log, "\n"), strings.Join(want, "\n"))
		}
		if len(r.Results) != 6 || r.Results[4].Error != "refused" || r.OK() {
			t.Fatalf("results %+v", r.Results)
		}
		if got := time.UnixMilli(r.Results[2].At).Sub(start); got != 90*time.Second {
			t.Fatalf("the wait took %v, want 90s", got)
		}
		// A wait cut short by the context ends the run.
		ctx, cancel := context.WithCancel(context.Background())
		act2 := &recorder{}
		go func() { time.Sleep(10 * time.Second); cancel() }()
		r = Execute(ctx, f, act2)
		if len(act2.log) != 1 || r.Results[1].Error == "" || r.Results[5].Error == "" {
			t.Fatalf("cancelled run: %+v, log %v", r, act2.log)
		}
	})
}

func TestHoldUnderSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := writeAuto(idX, Trigger{Kind: TriggerDatastream, Device: devA, Pin: 0, Op: OpGt, Value: "30", HoldS: 60})
		e := NewEngine()
		e.Replace([]Automation{a}, time.Now())
		fired := make(chan Firing, 10)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- e.Run(ctx, nil, func(f Firing) { fired <- f }) }()
		obs := func(v string) {
			if fs := e.Observe(Input{Kind: InputWrite, Device: devA, Pin: 0, Value: v, At: time.Now()}, nil); len(fs) != 0 {
				t.Fatalf("a held trigger fired at once: %+v", fs)
			}
		}
		obs("35")
		time.Sleep(30 * time.Second)
		obs("29") // not held long enough
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if len(fired) != 0 {
			t.Fatalf("fired after an interrupted hold: %+v", <-fired)
		}
		start := time.Now()
		obs("31")
		time.Sleep(20 * time.Second)
		obs("40") // still above: the hold goes on
		synctest.Wait()
		f := <-fired
		if got := time.Since(start); got != 60*time.Second || !f.At.Equal(start.Add(60*time.Second)) || f.Value != "40" {
			t.Fatalf("fired after %v at %v value %q; want 60s and the latest value", got, f.At, f.Value)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if len(fired) != 0 {
			t.Fatal("fired twice for one hold")
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	})
}

func TestScheduleUnderSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The bubble starts at 2000-01-01 00:00 UTC, a Saturday.
		berlin, _ := time.LoadLocation("Europe/Berlin")
		a := Automation{ID: idX, Name: "lights", Enabled: true,
			Trigger: Trigger{Kind: TriggerSchedule, Schedule: &Schedule{At: "07:30", TZ: "Europe/Berlin",
				Weekdays: []time.Weekday{time.Monday, time.Wednesday}}},
			Actions: []Action{{Kind: ActionWrite, Device: devB, Pin: 1, Value: "1"}}}
		if err := a.Validate(); err != nil {
			t.Fatal(err)
		}
		e := NewEngine()
		e.Replace([]Automation{a}, time.Now())
		var got []time.Time
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- e.Run(ctx, nil, func(f Firing) { got = append(got, time.Now().In(berlin)) }) }()
		time.Sleep(7 * 24 * time.Hour)
		synctest.Wait()
		cancel()
		<-done
		want := []string{"Mon 2000-01-03 07:30", "Wed 2000-01-05 07:30"}
		if len(got) != len(want) {
			t.Fatalf("fired at %v, want %v", got, want)
		}
		for i := range got {
			if s := got[i].Format("Mon 2006-01-02 15:04"); s != want[i] {
				t.Fatalf("firing %d at %s, want %s", i, s, want[i])
			}
		}
	})
}

func TestScheduleNext(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	tests := []struct {
		name string
		s    Schedule
		from time.Time
		want string // in the schedule's zone, "" none
	}{
		{"later today", Schedule{At: "18:00"}, time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), "2026-12-03 18:00 UTC"},
		{"passed today", Schedule{At: "08:00"}, time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), "2026-12-04 08:00 UTC"},
		{"exactly now is next day", Schedule{At: "10:00"}, time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), "2026-12-04 10:00 UTC"},
		{"zone ahead of utc date", Schedule{At: "01:00", TZ: "America/New_York"}, time.Date(2026, 12, 3, 3, 0, 0, 0, time.UTC), "2026-12-03 01:00 EST"},
		{"weekday", Schedule{At: "09:00", Weekdays: []time.Weekday{time.Sunday}}, time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), "2026-12-06 09:00 UTC"},
		{"spring forward gap", Schedule{At: "02:30", TZ: "America/New_York"}, time.Date(2026, 3, 8, 0, 0, 0, 0, ny), "2026-03-08 03:30 EDT"},
		{"sunset offset", Schedule{Sun: Sunset, OffsetMin: -30, Lat: 51.5074, Lon: -0.1278, TZ: "Europe/London"},
			time.Date(2024, 6, 21, 12, 0, 0, 0, time.UTC), "2024-06-21 20:51 BST"},
		{"polar night has no sunrise for weeks", Schedule{Sun: Sunrise, Lat: 78.22, Lon: 15.65, TZ: "UTC"},
			time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC), "2025-02-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.s.Next(tt.from)
			s := ""
			if !got.IsZero() {
				s = got.Format("2006-01-02 15:04 MST")
			}
			if !strings.HasPrefix(s, tt.want) || (tt.want == "" && s != "") {
				t.Fatalf("Next = %q, want %q", s, tt.want)
			}
			if !got.After(tt.from) {
				t.Fatalf("Next %v not after %v", got, tt.from)
			}
		})
	}
}

func TestSunTimes(t *testing.T) {
	tests := []struct {
		name     string
		date     time.Time
		lat, lon float64
		rise     string // UTC HH:MM, "" none
		set      string
	}{
		{"London midsummer", time.Date(2024, 6, 21, 0, 0, 0, 0, time.UTC), 51.5074, -0.1278, "03:43", "20:21"},
		{"New York midwinter", time.Date(2024, 12, 21, 0, 0, 0, 0, time.UTC), 40.7128, -74.0060, "12:16", "21:32"},
		{"Sydney", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), -33.8688, 151.2093, "18:47", "09:09"},
		{"Tromsø midnight sun", time.Date(2024, 6, 21, 0, 0, 0, 0, time.UTC), 69.65, 18.96, "", ""},
		{"Tromsø polar night", time.Date(2024, 12, 21, 0, 0, 0, 0, time.UTC), 69.65, 18.96, "", ""},
	}
	near := func(got time.Time, want string) bool {
		w, err := time.Parse("15:04", want)
		if err != nil {
			return false
		}
		d := time.Duration(got.Hour()*60+got.Minute())*time.Minute - time.Duration(w.Hour()*60+w.Minute())*time.Minute
		return d.Abs() <= 3*time.Minute
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rise, set, ok := SunTimes(tt.date.Year(), tt.date.Month(), tt.date.Day(), tt.lat, tt.lon)
			if tt.rise == "" {
				if ok {
					t.Fatalf("sun rises at %v and sets at %v, want neither", rise, set)
				}
				return
			}
			if !ok || !near(rise, tt.rise) || !near(set, tt.set) {
				t.Fatalf("rise %v set %v ok %v; want %s / %s UTC ±3 min", rise, set, ok, tt.rise, tt.set)
			}
		})
	}
}

func TestPlace(t *testing.T) {
	sites := map[string]string{devA: "site1", devB: "site1", devC: "site2"}
	siteOf := func(d string) string { return sites[d] }
	one := writeAuto(idX, Trigger{Kind: TriggerDatastream, Device: devA, Op: OpAny})
	cross := writeAuto(idX, Trigger{Kind: TriggerDatastream, Device: devC, Op: OpAny})
	cond := writeAuto(idX, Trigger{Kind: TriggerDatastream, Device: devA, Op: OpAny})
	cond.Conditions = &Condition{Any: []Condition{{Datastream: &Compare{Device: devC, Op: OpOn}}}}
	hook := writeAuto(idX, Trigger{Kind: TriggerDatastream, Device: devA, Op: OpAny})
	hook.Actions = append(hook.Actions, Action{Kind: ActionWebhook, Webhook: "1"})
	sched := Automation{Trigger: Trigger{Kind: TriggerSchedule, Schedule: &Schedule{At: "07:00"}}, Actions: []Action{{Kind: ActionNotify, Text: "x"}}}
	unknown := writeAuto(idX, Trigger{Kind: TriggerOnline, Device: "01JD0000000000000000000ZZZ"})
	tests := []struct {
		name string
		a    Automation
		site string
	}{
		{"one site", one, "site1"},
		{"action on another site", cross, ""},
		{"condition on another site", cond, ""},
		{"webhook", hook, ""},
		{"no device", sched, ""},
		{"device no gateway serves", unknown, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			site, local := Place(&tt.a, siteOf)
			if site != tt.site || local != (tt.site != "") {
				t.Fatalf("Place = %q %v, want %q", site, local, tt.site)
			}
		})
	}
}

func TestReplaceKeepsEdgeState(t *testing.T) {
	a := writeAuto(idX, Trigger{Kind: TriggerDatastream, Device: devA, Pin: 0, Op: OpGt, Value: "30"})
	e := NewEngine()
	t0 := time.Unix(1764000000, 0)
	e.Replace([]Automation{a}, t0)
	obs := func(v string, d time.Duration) int {
		return len(e.Observe(Input{Kind: InputWrite, Device: devA, Pin: 0, Value: v, At: t0.Add(d)}, nil))
	}
	if obs("31", 0) != 1 {
		t.Fatal("no first firing")
	}
	a.Name = "renamed"
	e.Replace([]Automation{a}, t0.Add(time.Minute))
	if obs("32", 2*time.Minute) != 0 {
		t.Fatal("an unchanged trigger fired again after a reload")
	}
	a.Trigger.Value = "35"
	e.Replace([]Automation{a}, t0.Add(3*time.Minute))
	if obs("36", 4*time.Minute) != 1 {
		t.Fatal("a changed trigger did not start afresh")
	}
}
