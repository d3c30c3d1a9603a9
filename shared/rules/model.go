// Package rules is the automation model of Outpost and its evaluator, the
// same code at the site (gateway/internal/rules) and in the cloud.
//
// An Automation has one Trigger, optional Conditions (AND / OR of
// datastream comparisons across devices and time windows) and a sequence
// of Actions. An Engine holds the compiled automations, indexed by
// (device, pin) so that a write no automation watches costs one map
// look-up. The engine does no I/O: its caller feeds it Inputs and the
// clock, reads Firings back and runs them with Execute through an
// Actuator it implements (the hub's command path at the site, the
// command path to gateways in the cloud).
//
// Devices are named by their ULID, which the cloud and every gateway
// share. Values are the canonical strings of shared/datastream.
package rules

import "time"

// Limits of the model. Validate refuses an automation beyond them.
const (
	MaxNameLen       = 80
	MaxActions       = 50
	MaxConditions    = 32 // leaves in the condition tree
	MaxConditionDeep = 4  // nesting of all / any
	MaxHold          = 24 * 60 * 60
	MaxWait          = 24 * 60 * 60
	MaxTextLen       = 1000 // notify body, event description, written value
	MaxPin           = 255
	// DefaultMinInterval is the loop protection applied when an automation
	// leaves MinIntervalMS at zero: it does not run again within a second.
	DefaultMinInterval = time.Second
	// MaxChain is how many automations may trigger each other in one
	// chain (A's action writes the pin B watches, …) before the chain is
	// cut.
	MaxChain = 8
)

// Automation is one rule: when Trigger fires and Conditions hold, run
// Actions in order.
type Automation struct {
	ID      string `json:"id"` // ULID
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
	// OrgID is the owning organization in the cloud (0 at the site when
	// the cloud did not say).
	OrgID      int64      `json:"orgId,omitempty"`
	Trigger    Trigger    `json:"trigger"`
	Conditions *Condition `json:"conditions,omitempty"`
	Actions    []Action   `json:"actions"`
	// MinIntervalMS is the loop protection: the automation does not run
	// again within this many milliseconds of its last run (0: one second).
	// A trigger inside the interval is cut and reported, once per
	// interval.
	MinIntervalMS int64 `json:"minIntervalMs,omitempty"`
}

// TriggerKind names what starts an automation.
type TriggerKind string

// Trigger kinds.
const (
	TriggerDatastream TriggerKind = "datastream" // a value written to Device's Pin matches Op
	TriggerSchedule   TriggerKind = "schedule"   // a time of day, sunrise or sunset
	TriggerOnline     TriggerKind = "online"     // Device connects
	TriggerOffline    TriggerKind = "offline"    // Device goes offline
	TriggerEvent      TriggerKind = "event"      // Device logs Event (any code when empty)
	// TriggerManual is the trigger of a run a person started ("run now"
	// in the console): a kind of run, not of the model (Validate refuses
	// it in an automation).
	TriggerManual TriggerKind = "manual"
)

// Op is a comparison of a datastream value.
type Op string

// Comparisons. Numeric ones compare as float64 and fail on a value that is
// not a number; Eq and Ne compare strings when either side is not a
// number.
const (
	OpGt      Op = "gt"
	OpGe      Op = "ge"
	OpLt      Op = "lt"
	OpLe      Op = "le"
	OpEq      Op = "eq"
	OpNe      Op = "ne"
	OpBetween Op = "between" // Value ≤ v ≤ Value2
	OpOn      Op = "on"      // a number other than 0
	OpOff     Op = "off"     // the number 0
	// Triggers only (they need the previous value or none):
	OpChanged Op = "changed" // differs from the previous value
	OpAny     Op = "any"     // every update
)

// Trigger starts an automation.
//
// A datastream trigger with a comparison fires on the edge: when a value
// matches after one that did not (or after none), not again while the
// values go on matching. With HoldS it fires only when the values went on
// matching for that many seconds. Changed fires on each new value that
// differs from the previous one; Any on every write.
type Trigger struct {
	Kind     TriggerKind `json:"kind"`
	Device   string      `json:"device,omitempty"`
	Pin      int         `json:"pin,omitempty"`
	Op       Op          `json:"op,omitempty"`
	Value    string      `json:"value,omitempty"`
	Value2   string      `json:"value2,omitempty"` // upper bound of between
	HoldS    int         `json:"holdS,omitempty"`
	Event    string      `json:"event,omitempty"` // event code for TriggerEvent; empty: any
	Schedule *Schedule   `json:"schedule,omitempty"`
}

// Sun events of a schedule.
const (
	Sunrise = "sunrise"
	Sunset  = "sunset"
)

// Schedule is a time of day, or sunrise / sunset at a location, on chosen
// weekdays in a timezone.
type Schedule struct {
	// At is "HH:MM" (24 h, local to TZ); empty when Sun is set.
	At string `json:"at,omitempty"`
	// Sun is "sunrise" or "sunset" at Lat/Lon, moved by OffsetMin
	// minutes (negative: before).
	Sun       string  `json:"sun,omitempty"`
	OffsetMin int     `json:"offsetMin,omitempty"`
	Lat       float64 `json:"lat,omitempty"`
	Lon       float64 `json:"lon,omitempty"`
	// Weekdays lists days by time.Weekday (0 = Sunday); empty: every day.
	Weekdays []time.Weekday `json:"weekdays,omitempty"`
	// TZ is an IANA zone name; empty: UTC.
	TZ string `json:"tz,omitempty"`
}

// Condition is a node of the condition tree: exactly one of All, Any,
// Datastream and Window is set.
type Condition struct {
	All        []Condition `json:"all,omitempty"`
	Any        []Condition `json:"any,omitempty"`
	Datastream *Compare    `json:"datastream,omitempty"`
	Window     *Window     `json:"window,omitempty"`
}

// Compare is a datastream condition: the latest value of Device's Pin
// compared with Op. A pin without a value fails every comparison.
type Compare struct {
	Device string `json:"device"`
	Pin    int    `json:"pin"`
	Op     Op     `json:"op"`
	Value  string `json:"value,omitempty"`
	Value2 string `json:"value2,omitempty"`
}

// Window holds between From and To ("HH:MM", From included, To excluded)
// on Weekdays (empty: every day) in TZ. From after To spans midnight; the
// weekday is the one the window started on.
type Window struct {
	From     string         `json:"from"`
	To       string         `json:"to"`
	Weekdays []time.Weekday `json:"weekdays,omitempty"`
	TZ       string         `json:"tz,omitempty"`
}

// ActionKind names what an action does.
type ActionKind string

// Action kinds.
const (
	ActionWrite    ActionKind = "write"     // write Value to Device's Pin (a command, like a person's write)
	ActionLogEvent ActionKind = "log_event" // log Event with Text on Device
	ActionNotify   ActionKind = "notify"    // notify the org's people (Text; Subject)
	ActionWebhook  ActionKind = "webhook"   // call the org's webhook Webhook (cloud only)
	ActionWait     ActionKind = "wait"      // wait WaitS seconds
)

// Action is one step of an automation. Value and Text may hold the
// placeholders of Expand.
type Action struct {
	Kind    ActionKind `json:"kind"`
	Device  string     `json:"device,omitempty"`
	Pin     int        `json:"pin,omitempty"`
	Value   string     `json:"value,omitempty"`
	Event   string     `json:"event,omitempty"`
	Subject string     `json:"subject,omitempty"`
	Text    string     `json:"text,omitempty"`
	Webhook string     `json:"webhook,omitempty"`
	WaitS   int        `json:"waitS,omitempty"`
}

// MinInterval is the automation's loop protection interval.
func (a *Automation) MinInterval() time.Duration {
	if a.MinIntervalMS <= 0 {
		return DefaultMinInterval
	}
	return time.Duration(a.MinIntervalMS) * time.Millisecond
}

// Devices lists, once each and in order of appearance, every device the
// automation reads or writes.
func (a *Automation) Devices() []string {
	var out []string
	seen := map[string]bool{}
	add := func(d string) {
		if d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	add(a.Trigger.Device)
	var walk func(c *Condition)
	walk = func(c *Condition) {
		if c == nil {
			return
		}
		for i := range c.All {
			walk(&c.All[i])
		}
		for i := range c.Any {
			walk(&c.Any[i])
		}
		if c.Datastream != nil {
			add(c.Datastream.Device)
		}
	}
	walk(a.Conditions)
	for _, ac := range a.Actions {
		add(ac.Device)
	}
	return out
}

// CloudOnly reports whether the automation has an action only the cloud
// can run (a webhook).
func (a *Automation) CloudOnly() bool {
	for _, ac := range a.Actions {
		if ac.Kind == ActionWebhook {
			return true
		}
	}
	return false
}

// Place decides where an automation runs: at the site that serves all of
// its devices, or in the cloud ("" and false). siteOf names the site of a
// device ("" when no gateway serves it). An automation without devices (a
// schedule that only notifies) and one that calls a webhook run in the
// cloud.
func Place(a *Automation, siteOf func(device string) string) (site string, atSite bool) {
	if a.CloudOnly() {
		return "", false
	}
	for _, d := range a.Devices() {
		s := siteOf(d)
		if s == "" || (site != "" && s != site) {
			return "", false
		}
		site = s
	}
	return site, site != ""
}
