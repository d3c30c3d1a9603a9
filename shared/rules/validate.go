package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"outpost/shared/ulid"
)

// ErrInvalid is wrapped by every error of Validate and Decode.
var ErrInvalid = errors.New("rules: invalid automation")

// MaxDocument is the largest JSON document Decode accepts.
const MaxDocument = 256 << 10

// Decode parses one automation (unknown fields and trailing data are
// refused) and validates it.
func Decode(b []byte) (Automation, error) {
	var a Automation
	if len(b) > MaxDocument {
		return a, fmt.Errorf("%w: document of %d bytes", ErrInvalid, len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return Automation{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Automation{}, fmt.Errorf("%w: trailing data", ErrInvalid)
	}
	if err := a.Validate(); err != nil {
		return Automation{}, err
	}
	return a, nil
}

// Validate checks the automation against the model and its limits.
func (a *Automation) Validate() error {
	var errs []string
	bad := func(f string, args ...any) { errs = append(errs, fmt.Sprintf(f, args...)) }
	if !ulid.Valid(a.ID) {
		bad("id %q is not a ULID", a.ID)
	}
	if n := utf8.RuneCountInString(a.Name); n == 0 || n > MaxNameLen || !utf8.ValidString(a.Name) {
		bad("name must have 1..%d characters", MaxNameLen)
	}
	if a.MinIntervalMS < 0 || a.MinIntervalMS > MaxHold*1000 {
		bad("minIntervalMs %d out of 0..%d", a.MinIntervalMS, MaxHold*1000)
	}
	a.Trigger.check(bad)
	if a.Conditions != nil {
		leaves := 0
		a.Conditions.check(bad, 1, &leaves)
		if leaves > MaxConditions {
			bad("%d conditions, at most %d", leaves, MaxConditions)
		}
	}
	if len(a.Actions) == 0 || len(a.Actions) > MaxActions {
		bad("%d actions, 1..%d allowed", len(a.Actions), MaxActions)
	}
	for i := range a.Actions {
		a.Actions[i].check(i, bad)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	return nil
}

func (t *Trigger) check(bad func(string, ...any)) {
	switch t.Kind {
	case TriggerDatastream:
		checkDevice("trigger", t.Device, bad)
		checkPin("trigger", t.Pin, bad)
		checkOp("trigger", t.Op, t.Value, t.Value2, true, bad)
		if t.HoldS < 0 || t.HoldS > MaxHold {
			bad("trigger holdS %d out of 0..%d", t.HoldS, MaxHold)
		}
		if t.HoldS > 0 && (t.Op == OpChanged || t.Op == OpAny) {
			bad("trigger holdS needs a comparison, not %q", t.Op)
		}
	case TriggerOnline, TriggerOffline:
		checkDevice("trigger", t.Device, bad)
	case TriggerEvent:
		checkDevice("trigger", t.Device, bad)
		if len(t.Event) > 50 {
			bad("trigger event code longer than 50")
		}
	case TriggerSchedule:
		if t.Schedule == nil {
			bad("schedule trigger without a schedule")
			return
		}
		t.Schedule.check(bad)
	default:
		bad("unknown trigger kind %q", t.Kind)
	}
	if t.Kind != TriggerSchedule && t.Schedule != nil {
		bad("schedule on a %q trigger", t.Kind)
	}
}

func (s *Schedule) check(bad func(string, ...any)) {
	switch {
	case s.At != "" && s.Sun != "":
		bad("schedule has both at and sun")
	case s.At != "":
		if _, ok := parseClock(s.At); !ok {
			bad("schedule at %q is not HH:MM", s.At)
		}
	case s.Sun == Sunrise || s.Sun == Sunset:
		if !(s.Lat >= -90 && s.Lat <= 90) || !(s.Lon >= -180 && s.Lon <= 180) {
			bad("schedule location %v,%v out of range", s.Lat, s.Lon)
		}
		if s.OffsetMin < -720 || s.OffsetMin > 720 {
			bad("schedule offsetMin %d out of -720..720", s.OffsetMin)
		}
	default:
		bad("schedule needs at (HH:MM) or sun (sunrise, sunset)")
	}
	checkWeekdays("schedule", s.Weekdays, bad)
	if _, err := loadTZ(s.TZ); err != nil {
		bad("schedule tz: %v", err)
	}
}

func (c *Condition) check(bad func(string, ...any), depth int, leaves *int) {
	set := 0
	if c.All != nil {
		set++
	}
	if c.Any != nil {
		set++
	}
	if c.Datastream != nil {
		set++
	}
	if c.Window != nil {
		set++
	}
	if set != 1 {
		bad("a condition needs exactly one of all, any, datastream, window")
		return
	}
	if depth > MaxConditionDeep {
		bad("conditions nested deeper than %d", MaxConditionDeep)
		return
	}
	for _, list := range [][]Condition{c.All, c.Any} {
		if list != nil && len(list) == 0 {
			bad("empty all / any")
		}
		for i := range list {
			list[i].check(bad, depth+1, leaves)
		}
	}
	if d := c.Datastream; d != nil {
		*leaves++
		checkDevice("condition", d.Device, bad)
		checkPin("condition", d.Pin, bad)
		checkOp("condition", d.Op, d.Value, d.Value2, false, bad)
	}
	if w := c.Window; w != nil {
		*leaves++
		_, ok1 := parseClock(w.From)
		_, ok2 := parseClock(w.To)
		if !ok1 || !ok2 || w.From == w.To {
			bad("window %q..%q needs two different HH:MM", w.From, w.To)
		}
		checkWeekdays("window", w.Weekdays, bad)
		if _, err := loadTZ(w.TZ); err != nil {
			bad("window tz: %v", err)
		}
	}
}

func (ac *Action) check(i int, bad func(string, ...any)) {
	where := fmt.Sprintf("action %d", i+1)
	text := func(name, s string) {
		if len(s) > MaxTextLen || !utf8.ValidString(s) {
			bad("%s %s longer than %d bytes or not UTF-8", where, name, MaxTextLen)
		}
	}
	text("value", ac.Value)
	text("text", ac.Text)
	text("subject", ac.Subject)
	switch ac.Kind {
	case ActionWrite:
		checkDevice(where, ac.Device, bad)
		checkPin(where, ac.Pin, bad)
	case ActionLogEvent:
		checkDevice(where, ac.Device, bad)
		if ac.Event == "" || len(ac.Event) > 50 {
			bad("%s event code must have 1..50 characters", where)
		}
	case ActionNotify:
		if ac.Text == "" {
			bad("%s notify without text", where)
		}
	case ActionWebhook:
		if ac.Webhook == "" || len(ac.Webhook) > 64 {
			bad("%s webhook id must have 1..64 characters", where)
		}
	case ActionWait:
		if ac.WaitS < 1 || ac.WaitS > MaxWait {
			bad("%s waitS %d out of 1..%d", where, ac.WaitS, MaxWait)
		}
	default:
		bad("%s: unknown kind %q", where, ac.Kind)
	}
}

func checkDevice(where, d string, bad func(string, ...any)) {
	if !ulid.Valid(d) {
		bad("%s device %q is not a ULID", where, d)
	}
}

func checkPin(where string, p int, bad func(string, ...any)) {
	if p < 0 || p > MaxPin {
		bad("%s pin %d out of 0..%d", where, p, MaxPin)
	}
}

func checkOp(where string, op Op, v, v2 string, trigger bool, bad func(string, ...any)) {
	num := func(s string) bool { _, ok := number(s); return ok }
	switch op {
	case OpGt, OpGe, OpLt, OpLe:
		if !num(v) {
			bad("%s %s needs a number, not %q", where, op, v)
		}
	case OpEq, OpNe:
		if len(v) > MaxTextLen {
			bad("%s value longer than %d", where, MaxTextLen)
		}
	case OpBetween:
		a, ok1 := number(v)
		b, ok2 := number(v2)
		if !ok1 || !ok2 || a > b {
			bad("%s between needs two numbers, the lower first", where)
		}
	case OpOn, OpOff:
	case OpChanged, OpAny:
		if !trigger {
			bad("%s %s is for triggers only", where, op)
		}
	default:
		bad("%s: unknown op %q", where, op)
	}
}

func checkWeekdays(where string, ds []time.Weekday, bad func(string, ...any)) {
	for _, d := range ds {
		if d < time.Sunday || d > time.Saturday {
			bad("%s weekday %d out of 0..6", where, d)
		}
	}
}

// parseClock reads "HH:MM" as minutes after midnight.
func parseClock(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 || s[0] == '+' || s[3] == '+' || s[0] == '-' || s[3] == '-' {
		return 0, false
	}
	return h*60 + m, true
}

// number parses a finite decimal number.
func number(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

func loadTZ(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if len(name) > 64 || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
		return nil, fmt.Errorf("unknown timezone %q", name)
	}
	return time.LoadLocation(name)
}
