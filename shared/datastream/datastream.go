// Package datastream holds the device template model shared by the gateway
// and the cloud: virtual pins V0..V255, their value types, ranges, enum
// labels, defaults and the "sync with latest server value" flag, and the one
// validation every transport uses (PROTOCOL.md §4, §7.6).
//
// Values are kept in a canonical text form: the items of a multi-value write
// joined by NUL, each item formatted by its type (integers in decimal,
// doubles in the shortest form that round-trips, booleans as 0/1). That is
// what the Blynk binary protocol carries, so a stored value goes back to a
// device without conversion.
package datastream

import (
	"errors"
	"math"
	"slices"
	"strconv"
)

// MaxPin is the highest virtual pin.
const MaxPin = 255

// Type is a datastream value type.
type Type string

// Value types (PROTOCOL.md §4).
const (
	Integer  Type = "integer"
	Double   Type = "double"
	String   Type = "string"
	Enum     Type = "enum"
	Location Type = "location" // two doubles, lon then lat
	Boolean  Type = "boolean"
)

// Errors. A write that fails with ErrWrongType or ErrArity is dropped and
// counted by the caller; it never reaches storage.
var (
	ErrBadPin       = errors.New("datastream: pin must be an integer 0..255")
	ErrWrongType    = errors.New("datastream: value doesn't match the datastream data type")
	ErrArity        = errors.New("datastream: wrong number of values for the datastream type")
	ErrNoDatastream = errors.New("datastream: no datastream for that pin or name")
	ErrTooLong      = errors.New("datastream: string value longer than 1024 bytes")
	ErrBadTemplate  = errors.New("datastream: invalid template")
)

// MaxString is the longest string value accepted (PROTOCOL.md §1.9).
const MaxString = 1024

// EnumItem maps an integer written by a device to a label shown to people.
type EnumItem struct {
	Value int    `json:"value" yaml:"value"`
	Label string `json:"label" yaml:"label"`
}

// Datastream is one virtual pin of a template.
type Datastream struct {
	Pin  int    `json:"pin" yaml:"pin"`
	Name string `json:"name" yaml:"name"` // MQTT addresses datastreams by name; spaces allowed
	Type Type   `json:"type" yaml:"type"`
	// Min and Max bound Integer, Double and Enum values (in-type values
	// outside are clamped). Nil means unbounded (int32 range for Integer).
	Min *float64 `json:"min,omitempty" yaml:"min,omitempty"`
	Max *float64 `json:"max,omitempty" yaml:"max,omitempty"`
	// Enum lists the allowed integers of an Enum datastream and their labels;
	// a value not listed is replaced by EnumFallback.
	Enum         []EnumItem `json:"enum,omitempty" yaml:"enum,omitempty"`
	EnumFallback int        `json:"enumFallback,omitempty" yaml:"enumFallback,omitempty"`
	// Default is returned by sync before any value was written ("" = none),
	// in canonical form.
	Default string `json:"default,omitempty" yaml:"default,omitempty"`
	// Sync is Blynk's "sync with latest server value": the datastream is part
	// of syncAll and get/ds/all.
	Sync  bool   `json:"sync,omitempty" yaml:"sync,omitempty"`
	Units string `json:"units,omitempty" yaml:"units,omitempty"`
	// Alias is Blynk's alias: the label people see instead of Name ("" =
	// Name). Name stays the datastream's address (MQTT, get/ds).
	Alias string `json:"alias,omitempty" yaml:"alias,omitempty"`
	// Step is the increment of an Integer or Double control (a slider's
	// step); nil picks one (1 for Integer, a hundredth of the range for a
	// bounded Double). An Integer's step is a whole number.
	Step *float64 `json:"step,omitempty" yaml:"step,omitempty"`
	// Decimals is how many digits after the point a Double is shown with
	// (Blynk's "#.##" = 2); nil shows the value as stored.
	Decimals *int `json:"decimals,omitempty" yaml:"decimals,omitempty"`
}

// MaxDecimals is the most digits after the point a Double is shown with
// (Blynk's longest format, "#.#####").
const MaxDecimals = 5

// Label is what people see for the datastream: its alias, else its name.
func (d *Datastream) Label() string {
	if d.Alias != "" {
		return d.Alias
	}
	return d.Name
}

// Format shows one numeric item of a Double with the datastream's decimals;
// anything else (another type, no decimals, not a number) is returned as is.
func (d *Datastream) Format(item string) string {
	if d.Type != Double || d.Decimals == nil {
		return item
	}
	f, err := strconv.ParseFloat(item, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return item
	}
	s := strconv.FormatFloat(f, 'f', *d.Decimals, 64)
	if r, _ := strconv.ParseFloat(s, 64); r == 0 && s[0] == '-' {
		s = s[1:] // -0.04 with one decimal is 0.0, not -0.0
	}
	return s
}

// WithoutDisplay returns t without its datastreams' display settings
// (alias, step, decimals): what a gateway that does not announce
// syncproto.FeatureDisplay is sent, since its decoder refuses unknown
// fields. The datastreams are copied; t is not changed.
func (t Template) WithoutDisplay() Template {
	if !slices.ContainsFunc(t.Datastreams, func(d Datastream) bool { return d.Alias != "" || d.Step != nil || d.Decimals != nil }) {
		return t
	}
	ds := slices.Clone(t.Datastreams)
	for i := range ds {
		ds[i].Alias, ds[i].Step, ds[i].Decimals = "", nil, nil
	}
	t.Datastreams = ds
	return t
}

// Event is an event a device may log (logEvent / EVENT_LOG / event/<code>).
// Description, Timeline and Notify are the cloud's settings: gateways do
// not need them and are sent the template without them (ForDevices).
type Event struct {
	Code string `json:"code" yaml:"code"`
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	Type string `json:"type,omitempty" yaml:"type,omitempty"` // info, warning, critical, content
	// Description is the default description (≤ MaxEventDescription bytes).
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Timeline is Blynk's "show event on the timeline"; nil (absent, as in
	// every template stored before it was honoured) shows it: see
	// ShownOnTimeline.
	Timeline *bool `json:"timeline,omitempty" yaml:"timeline,omitempty"`
	// Notify says who is told when a device logs the event (nil: nobody).
	Notify *EventNotify `json:"notify,omitempty" yaml:"notify,omitempty"`
}

// ShownOnTimeline tells whether the device timeline shows the event: yes
// unless Timeline is set to false (the event is still stored, notifies and
// is in the API).
func (e Event) ShownOnTimeline() bool { return e.Timeline == nil || *e.Timeline }

// EventNotify is an event's notification settings (Blynk's Notifications
// tab). Recipients are the union of the device's owner, the members of the
// device's organization with Role, and Users (by email); each person once.
type EventNotify struct {
	Enabled bool `json:"enabled" yaml:"enabled"`
	Email   bool `json:"email,omitempty" yaml:"email,omitempty"`     // mail each recipient
	Console bool `json:"console,omitempty" yaml:"console,omitempty"` // in-console notification
	// Webhook calls the webhooks of the device's organization and those
	// above it whose trigger is "notification" (no recipients needed).
	Webhook bool `json:"webhook,omitempty" yaml:"webhook,omitempty"`
	Owner   bool `json:"owner,omitempty" yaml:"owner,omitempty"` // the device's owner
	// Role, when not 0, adds the members of the device's organization
	// holding this role id.
	Role  int      `json:"role,omitempty" yaml:"role,omitempty"`
	Users []string `json:"users,omitempty" yaml:"users,omitempty"` // emails of registered users
	// LimitS: at most one notification per LimitS seconds per device and
	// event code (0: no limit).
	LimitS int `json:"limitS,omitempty" yaml:"limitS,omitempty"`
	// EveryN: notify on every N-th occurrence per device and code (0 or 1:
	// each one). Combined with LimitS, an N-th occurrence inside the period
	// is not notified.
	EveryN int `json:"everyN,omitempty" yaml:"everyN,omitempty"`
}

// MetaField is a device metadata field (meta/<name>, device/meta).
type MetaField struct {
	ID      int    `json:"id" yaml:"id"`
	Name    string `json:"name" yaml:"name"`
	Default string `json:"default,omitempty" yaml:"default,omitempty"`
}

// Template is a device template ("product"): its datastreams, events and
// metadata fields. ID looks like Blynk's "TMPL…" ids.
type Template struct {
	ID          string       `json:"id" yaml:"id"`
	Name        string       `json:"name" yaml:"name"`
	Datastreams []Datastream `json:"datastreams" yaml:"datastreams"`
	Events      []Event      `json:"events,omitempty" yaml:"events,omitempty"`
	MetaFields  []MetaField  `json:"metaFields,omitempty" yaml:"metaFields,omitempty"`
	// System is the cloud's settings of the events it logs itself (online,
	// offline, first connection); nil: none notify. Not sent to gateways.
	System *SystemEvents `json:"system,omitempty" yaml:"system,omitempty"`
}

// SystemEvents are the notification settings of the events the cloud
// generates from a device's connection: Online, Offline (only once the
// device stayed offline OfflineIgnoreS seconds: Blynk's offline ignore
// period) and First (the device's first report, its activation).
type SystemEvents struct {
	OfflineIgnoreS int          `json:"offlineIgnoreS,omitempty" yaml:"offlineIgnoreS,omitempty"`
	Online         *EventNotify `json:"online,omitempty" yaml:"online,omitempty"`
	Offline        *EventNotify `json:"offline,omitempty" yaml:"offline,omitempty"`
	First          *EventNotify `json:"first,omitempty" yaml:"first,omitempty"`
}
