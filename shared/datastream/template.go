package datastream

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxNameLen bounds template ids, datastream names, event codes and
// metadata field names (they travel in MQTT topics and Blynk bodies).
const MaxNameLen = 64

// Pin returns the datastream of a virtual pin. Lookups scan the slice: a
// caller on a hot path (the hub) should index the template once.
func (t *Template) Pin(pin int) (*Datastream, bool) {
	for i := range t.Datastreams {
		if t.Datastreams[i].Pin == pin {
			return &t.Datastreams[i], true
		}
	}
	return nil, false
}

// Named returns the datastream with this name (MQTT `ds/<name>`); names
// are case-sensitive.
func (t *Template) Named(name string) (*Datastream, bool) {
	for i := range t.Datastreams {
		if t.Datastreams[i].Name == name {
			return &t.Datastreams[i], true
		}
	}
	return nil, false
}

// Event returns the event with this code.
func (t *Template) Event(code string) (*Event, bool) {
	for i := range t.Events {
		if t.Events[i].Code == code {
			return &t.Events[i], true
		}
	}
	return nil, false
}

// Meta returns the metadata field with this name.
func (t *Template) Meta(name string) (*MetaField, bool) {
	for i := range t.MetaFields {
		if t.MetaFields[i].Name == name {
			return &t.MetaFields[i], true
		}
	}
	return nil, false
}

// Known reports whether t is one of the value types.
func (t Type) Known() bool {
	switch t {
	case Integer, Double, String, Enum, Location, Boolean:
		return true
	}
	return false
}

// Check validates a template before it is stored or used: an id, datastream
// pins in 0..MaxPin and unique, names usable in MQTT topics and unique,
// known types, finite Min ≤ Max on numeric types only, enum items unique
// with a listed fallback, defaults valid (and not clamped) for their type,
// unique event codes and metadata names. The error wraps ErrBadTemplate and
// lists every problem found.
func (t *Template) Check() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: template %q: %s", ErrBadTemplate, t.ID, fmt.Sprintf(format, args...)))
	}
	if msg := checkName(t.ID); msg != "" {
		bad("id %s", msg)
	} else if strings.ContainsAny(t.ID, " ,") {
		bad("id must not contain spaces or commas")
	}
	pins := make(map[int]bool, len(t.Datastreams))
	names := make(map[string]bool, len(t.Datastreams))
	for i := range t.Datastreams {
		d := &t.Datastreams[i]
		where := fmt.Sprintf("datastream V%d %q", d.Pin, d.Name)
		if d.Pin < 0 || d.Pin > MaxPin {
			bad("%s: pin out of range 0..%d", where, MaxPin)
		} else if pins[d.Pin] {
			bad("%s: pin V%d used twice", where, d.Pin)
		}
		pins[d.Pin] = true
		if msg := checkName(d.Name); msg != "" {
			bad("%s: name %s", where, msg)
		} else if names[d.Name] {
			bad("%s: name used twice", where)
		}
		names[d.Name] = true
		for _, p := range d.check() {
			bad("%s: %s", where, p)
		}
	}
	codes := make(map[string]bool, len(t.Events))
	for _, e := range t.Events {
		if msg := checkName(e.Code); msg != "" {
			bad("event %q: code %s", e.Code, msg)
		} else if codes[e.Code] {
			bad("event %q: code used twice", e.Code)
		}
		codes[e.Code] = true
	}
	metaNames := make(map[string]bool, len(t.MetaFields))
	metaIDs := make(map[int]bool, len(t.MetaFields))
	for _, m := range t.MetaFields {
		if msg := checkName(m.Name); msg != "" {
			bad("metadata field %q: name %s", m.Name, msg)
		} else if metaNames[m.Name] {
			bad("metadata field %q: name used twice", m.Name)
		}
		metaNames[m.Name] = true
		if metaIDs[m.ID] {
			bad("metadata field %q: id %d used twice", m.Name, m.ID)
		}
		metaIDs[m.ID] = true
		if len(m.Default) > MaxString {
			bad("metadata field %q: default longer than %d bytes", m.Name, MaxString)
		}
	}
	return errors.Join(errs...)
}

// Limits of events (Blynk's, ../shared/BLYNK-PLATFORM.md §2).
const (
	MaxEvents            = 100    // events per template (Blynk Pro)
	MaxEventName         = 50     // bytes of an event's name
	MaxEventDescription  = 250    // bytes of a template event's description
	MaxDeviceDescription = 300    // bytes of a description a device sends; longer ones are discarded
	MaxEventRecipients   = 50     // named users of one event
	MaxEventLimitS       = 604800 // limit period: one week at most
	MaxEventEveryN       = 10000  // event counter
	MaxOfflineIgnoreS    = 86400  // offline ignore period: one day at most
	maxEventRecipientLen = 254    // an email address
)

// EventTypes are the known event types ("" is info).
var EventTypes = []string{"info", "warning", "critical", "content"}

// ForDevices returns t without the cloud's event settings (descriptions,
// timeline and notification settings, system events): what gateways are
// sent. The sync protocol refuses unknown fields, so these never travel.
func (t Template) ForDevices() Template {
	t.System = nil
	if len(t.Events) > 0 {
		es := make([]Event, len(t.Events))
		for i, e := range t.Events {
			es[i] = Event{Code: e.Code, Name: e.Name, Type: e.Type}
		}
		t.Events = es
	}
	return t
}

// CheckEvents validates what the cloud adds to events (Blynk's limits):
// at most MaxEvents, known types, name and description lengths, and the
// notification settings of events and system events. Check does not: a
// gateway, which is sent templates without these settings, never refuses a
// template for them. The error wraps ErrBadTemplate and lists every
// problem found.
func (t *Template) CheckEvents() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: template %q: %s", ErrBadTemplate, t.ID, fmt.Sprintf(format, args...)))
	}
	if len(t.Events) > MaxEvents {
		bad("%d events (at most %d)", len(t.Events), MaxEvents)
	}
	for _, e := range t.Events {
		for _, p := range e.check() {
			bad("event %q: %s", e.Code, p)
		}
	}
	if s := t.System; s != nil {
		if s.OfflineIgnoreS < 0 || s.OfflineIgnoreS > MaxOfflineIgnoreS {
			bad("system events: offline ignore period %d s outside 0..%d", s.OfflineIgnoreS, MaxOfflineIgnoreS)
		}
		for _, n := range []struct {
			name string
			n    *EventNotify
		}{{"online", s.Online}, {"offline", s.Offline}, {"first connection", s.First}} {
			for _, p := range n.n.check() {
				bad("system event %s: %s", n.name, p)
			}
		}
	}
	return errors.Join(errs...)
}

// check returns the problems of an event's settings other than its code.
func (e *Event) check() []string {
	var p []string
	if len(e.Name) > MaxEventName {
		p = append(p, fmt.Sprintf("name longer than %d bytes", MaxEventName))
	}
	if e.Type != "" && !slices.Contains(EventTypes, e.Type) {
		p = append(p, fmt.Sprintf("unknown type %q (want %s)", e.Type, strings.Join(EventTypes, ", ")))
	}
	if len(e.Description) > MaxEventDescription {
		p = append(p, fmt.Sprintf("description longer than %d bytes", MaxEventDescription))
	} else if !utf8.ValidString(e.Description) {
		p = append(p, "description is not valid UTF-8")
	}
	return append(p, e.Notify.check()...)
}

// check returns the problems of notification settings (none when n is nil).
func (n *EventNotify) check() []string {
	if n == nil {
		return nil
	}
	var p []string
	if n.LimitS < 0 || n.LimitS > MaxEventLimitS {
		p = append(p, fmt.Sprintf("limit period %d s outside 0..%d", n.LimitS, MaxEventLimitS))
	}
	if n.EveryN < 0 || n.EveryN > MaxEventEveryN {
		p = append(p, fmt.Sprintf("event counter %d outside 0..%d", n.EveryN, MaxEventEveryN))
	}
	if n.Role < 0 {
		p = append(p, fmt.Sprintf("role %d is not a role id", n.Role))
	}
	if len(n.Users) > MaxEventRecipients {
		p = append(p, fmt.Sprintf("%d named users (at most %d)", len(n.Users), MaxEventRecipients))
	}
	seen := map[string]bool{}
	for _, u := range n.Users {
		switch {
		case len(u) > maxEventRecipientLen || !strings.Contains(u, "@") || strings.TrimSpace(u) != u || strings.ContainsAny(u, " ,;<>"):
			p = append(p, fmt.Sprintf("recipient %q is not an email address", u))
		case seen[strings.ToLower(u)]:
			p = append(p, fmt.Sprintf("recipient %q listed twice", u))
		}
		seen[strings.ToLower(u)] = true
	}
	if n.Enabled {
		if !n.Email && !n.Console && !n.Webhook {
			p = append(p, "notifications enabled without a channel (email, console or webhook)")
		}
		if (n.Email || n.Console) && !n.Owner && n.Role == 0 && len(n.Users) == 0 {
			p = append(p, "notifications enabled without recipients")
		}
	}
	return p
}

// check returns the problems of one datastream's type settings.
func (d *Datastream) check() []string {
	var p []string
	if !d.Type.Known() {
		return append(p, fmt.Sprintf("unknown type %q (want integer, double, string, enum, location or boolean)", d.Type))
	}
	numeric := d.Type == Integer || d.Type == Double || d.Type == Enum
	if (d.Min != nil || d.Max != nil) && !numeric {
		p = append(p, fmt.Sprintf("min/max apply to integer, double and enum only, not %s", d.Type))
	}
	for _, b := range []*float64{d.Min, d.Max} {
		if b != nil && (math.IsNaN(*b) || math.IsInf(*b, 0)) {
			p = append(p, "min/max must be finite")
		}
	}
	if d.Min != nil && d.Max != nil && *d.Min > *d.Max {
		p = append(p, fmt.Sprintf("min %g > max %g", *d.Min, *d.Max))
	}
	if d.Type == Integer || d.Type == Enum {
		lo, hi := d.intBounds()
		if lo > hi {
			p = append(p, fmt.Sprintf("min %g..max %g holds no integer", *d.Min, *d.Max))
		}
	}
	switch {
	case d.Type == Enum && len(d.Enum) == 0:
		p = append(p, "enum needs at least one item")
	case d.Type != Enum && len(d.Enum) > 0:
		p = append(p, fmt.Sprintf("enum items on a %s datastream", d.Type))
	}
	if d.Type == Enum {
		seen := make(map[int]bool, len(d.Enum))
		lo, hi := d.intBounds()
		for _, e := range d.Enum {
			if seen[e.Value] {
				p = append(p, fmt.Sprintf("enum value %d listed twice", e.Value))
			}
			seen[e.Value] = true
			if int64(e.Value) < lo || int64(e.Value) > hi {
				p = append(p, fmt.Sprintf("enum value %d outside min/max (and int32)", e.Value))
			}
		}
		if len(d.Enum) > 0 && !seen[d.EnumFallback] {
			p = append(p, fmt.Sprintf("enum fallback %d is not a listed value", d.EnumFallback))
		}
	}
	p = append(p, d.checkDisplay()...)
	if d.Default != "" {
		v, changed, err := d.normalize(SplitValue(d.Default))
		switch {
		case err != nil:
			p = append(p, fmt.Sprintf("default %q: %v", d.Default, err))
		case changed:
			p = append(p, fmt.Sprintf("default %q is outside min/max or the enum (would be %q)", d.Default, v))
		}
	}
	return p
}

// checkName returns why s is not a usable id, name or code ("" if it is):
// it appears in MQTT topics (`ds/<name>`, `event/<code>`, `meta/<name>`), in
// comma-separated `get/ds` lists and in NUL-separated Blynk bodies.
func checkName(s string) string {
	switch {
	case s == "":
		return "is empty"
	case checkLabel(s) != "":
		return checkLabel(s)
	case strings.ContainsAny(s, "/+#,"):
		return "must not contain '/', '+', '#' or ','"
	}
	return ""
}

// CheckDisplay returns the problems of a datastream's display settings,
// each starting with the setting's name ("alias", "step", "decimals"), so
// a form can show it next to its field; Check reports them too.
func (d *Datastream) CheckDisplay() []string { return d.checkDisplay() }

// checkDisplay returns the problems of a datastream's display settings:
// an alias is a label (≤ MaxNameLen bytes of UTF-8 without control
// characters or surrounding spaces); a step is positive, finite, on
// Integer or Double only, whole on Integer and not larger than the range;
// decimals are 0..MaxDecimals on Double only.
func (d *Datastream) checkDisplay() []string {
	var p []string
	if d.Alias != "" {
		if msg := checkLabel(d.Alias); msg != "" {
			p = append(p, "alias "+msg)
		}
	}
	if s := d.Step; s != nil {
		switch {
		case d.Type != Integer && d.Type != Double:
			p = append(p, fmt.Sprintf("step applies to integer and double only, not %s", d.Type))
		case math.IsNaN(*s) || math.IsInf(*s, 0) || *s <= 0:
			p = append(p, "step must be a positive number")
		case d.Type == Integer && *s != math.Trunc(*s):
			p = append(p, fmt.Sprintf("step %g of an integer must be a whole number", *s))
		case d.Min != nil && d.Max != nil && *d.Max > *d.Min && *s > *d.Max-*d.Min:
			p = append(p, fmt.Sprintf("step %g is larger than the range %g..%g", *s, *d.Min, *d.Max))
		}
	}
	if n := d.Decimals; n != nil {
		switch {
		case d.Type != Double:
			p = append(p, fmt.Sprintf("decimals apply to double only, not %s", d.Type))
		case *n < 0 || *n > MaxDecimals:
			p = append(p, fmt.Sprintf("decimals must be 0..%d", MaxDecimals))
		}
	}
	return p
}

// checkLabel returns why s is not a usable label ("" if it is): unlike a
// name it may hold any printable character.
func checkLabel(s string) string {
	switch {
	case len(s) > MaxNameLen:
		return fmt.Sprintf("is longer than %d bytes", MaxNameLen)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.TrimSpace(s) != s:
		return "has leading or trailing spaces"
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return "contains a control character"
		}
	}
	return ""
}
