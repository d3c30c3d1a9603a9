package datastream

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func goodTemplate() Template {
	return Template{
		ID:   "TMPLtest0001",
		Name: "Thermostat",
		Datastreams: []Datastream{
			{Pin: 0, Name: "Temperature", Type: Double, Min: f64(-40), Max: f64(125), Default: "20.5", Sync: true},
			{Pin: 1, Name: "Set Temperature", Type: Integer, Min: f64(5), Max: f64(30), Default: "21"},
			{Pin: 2, Name: "Mode", Type: Enum, Enum: []EnumItem{{0, "off"}, {1, "heat"}}, EnumFallback: 0, Default: "1"},
			{Pin: 3, Name: "Label", Type: String, Default: "hi"},
			{Pin: 4, Name: "Where", Type: Location, Default: "24.75\x0059.4"},
			{Pin: 255, Name: "Power", Type: Boolean, Default: "0"},
		},
		Events: []Event{{Code: "overheat", Name: "Overheat", Type: "warning", Description: "Too hot", Timeline: new(true),
			Notify: &EventNotify{Enabled: true, Email: true, Console: true, Owner: true, Users: []string{"ops@example.com"}, LimitS: 60, EveryN: 2}}},
		MetaFields: []MetaField{{ID: 1, Name: "Serial Number"}, {ID: 2, Name: "Time Zone", Default: "UTC"}},
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Template)
		msg    string // "" = valid; else a fragment of the error
	}{
		{"valid", func(*Template) {}, ""},
		{"no datastreams", func(t *Template) { t.Datastreams = nil }, ""},
		{"empty id", func(t *Template) { t.ID = "" }, "id is empty"},
		{"id with space", func(t *Template) { t.ID = "TMPL 1" }, "spaces"},
		{"pin 256", func(t *Template) { t.Datastreams[0].Pin = 256 }, "pin out of range"},
		{"pin -1", func(t *Template) { t.Datastreams[0].Pin = -1 }, "pin out of range"},
		{"duplicate pin", func(t *Template) { t.Datastreams[1].Pin = 0 }, "used twice"},
		{"duplicate name", func(t *Template) { t.Datastreams[1].Name = "Temperature" }, "name used twice"},
		{"empty name", func(t *Template) { t.Datastreams[1].Name = "" }, "name is empty"},
		{"slash in name", func(t *Template) { t.Datastreams[1].Name = "a/b" }, "must not contain"},
		{"comma in name", func(t *Template) { t.Datastreams[1].Name = "a,b" }, "must not contain"},
		{"NUL in name", func(t *Template) { t.Datastreams[1].Name = "a\x00b" }, "control character"},
		{"long name", func(t *Template) { t.Datastreams[1].Name = strings.Repeat("n", 65) }, "longer than"},
		{"unknown type", func(t *Template) { t.Datastreams[1].Type = "float" }, "unknown type"},
		{"min > max", func(t *Template) { t.Datastreams[0].Min = f64(200) }, "min 200 > max 125"},
		{"no integer in range", func(t *Template) { t.Datastreams[1].Min, t.Datastreams[1].Max = f64(1.2), f64(1.8) }, "holds no integer"},
		{"min on string", func(t *Template) { t.Datastreams[3].Min = f64(1) }, "min/max apply"},
		{"enum without items", func(t *Template) { t.Datastreams[2].Enum = nil }, "at least one item"},
		{"enum duplicate value", func(t *Template) { t.Datastreams[2].Enum[1].Value = 0 }, "listed twice"},
		{"enum fallback unlisted", func(t *Template) { t.Datastreams[2].EnumFallback = 7 }, "fallback 7"},
		{"enum items on integer", func(t *Template) { t.Datastreams[1].Enum = []EnumItem{{1, "x"}} }, "enum items on a integer"},
		{"default wrong type", func(t *Template) { t.Datastreams[1].Default = "21.5" }, "default \"21.5\""},
		{"default out of range", func(t *Template) { t.Datastreams[1].Default = "99" }, "outside min/max"},
		{"default enum unlisted", func(t *Template) { t.Datastreams[2].Default = "3" }, "outside min/max or the enum"},
		{"default bool", func(t *Template) { t.Datastreams[5].Default = "yes" }, "not a boolean"},
		{"default location arity", func(t *Template) { t.Datastreams[4].Default = "1" }, "lon, lat"},
		{"duplicate event", func(t *Template) { t.Events = append(t.Events, Event{Code: "overheat"}) }, "code used twice"},
		{"empty event code", func(t *Template) { t.Events[0].Code = "" }, "code is empty"},
		{"event type", func(t *Template) { t.Events[0].Type = "alarm" }, "unknown type \"alarm\""},
		{"event type empty", func(t *Template) { t.Events[0].Type = "" }, ""},
		{"event name 51", func(t *Template) { t.Events[0].Name = strings.Repeat("n", 51) }, "name longer than 50"},
		{"event description 250", func(t *Template) { t.Events[0].Description = strings.Repeat("d", 250) }, ""},
		{"event description 251", func(t *Template) { t.Events[0].Description = strings.Repeat("d", 251) }, "description longer than 250"},
		{"101 events", func(t *Template) {
			for i := range 100 {
				t.Events = append(t.Events, Event{Code: fmt.Sprintf("e%d", i)})
			}
		}, "101 events"},
		{"notify off, no channel", func(t *Template) { t.Events[0].Notify = &EventNotify{} }, ""},
		{"notify without channel", func(t *Template) { t.Events[0].Notify.Email, t.Events[0].Notify.Console = false, false }, "without a channel"},
		{"notify without recipients", func(t *Template) { t.Events[0].Notify.Owner, t.Events[0].Notify.Users = false, nil }, "without recipients"},
		{"notify by webhook alone, no recipients", func(t *Template) {
			n := t.Events[0].Notify
			n.Email, n.Console, n.Webhook, n.Owner, n.Users = false, false, true, false, nil
		}, ""},
		{"notify by webhook and mail, no recipients", func(t *Template) {
			n := t.Events[0].Notify
			n.Webhook, n.Owner, n.Users = true, false, nil
		}, "without recipients"},
		{"notify role only", func(t *Template) {
			t.Events[0].Notify.Owner, t.Events[0].Notify.Users, t.Events[0].Notify.Role = false, nil, 2
		}, ""},
		{"negative role", func(t *Template) { t.Events[0].Notify.Role = -1 }, "not a role id"},
		{"limit negative", func(t *Template) { t.Events[0].Notify.LimitS = -1 }, "limit period -1"},
		{"limit over a week", func(t *Template) { t.Events[0].Notify.LimitS = 604801 }, "limit period 604801"},
		{"counter negative", func(t *Template) { t.Events[0].Notify.EveryN = -2 }, "event counter -2"},
		{"counter too big", func(t *Template) { t.Events[0].Notify.EveryN = 10001 }, "event counter 10001"},
		{"recipient not email", func(t *Template) { t.Events[0].Notify.Users = []string{"ops"} }, "not an email"},
		{"recipient twice", func(t *Template) { t.Events[0].Notify.Users = []string{"a@x.org", "A@x.org"} }, "listed twice"},
		{"system ok", func(t *Template) {
			t.System = &SystemEvents{OfflineIgnoreS: 60, Offline: &EventNotify{Enabled: true, Email: true, Owner: true}}
		}, ""},
		{"system ignore negative", func(t *Template) { t.System = &SystemEvents{OfflineIgnoreS: -1} }, "offline ignore period -1"},
		{"system ignore over a day", func(t *Template) { t.System = &SystemEvents{OfflineIgnoreS: 86401} }, "offline ignore period 86401"},
		{"system online no channel", func(t *Template) { t.System = &SystemEvents{Online: &EventNotify{Enabled: true, Owner: true}} }, "system event online: notifications enabled without a channel"},
		{"display ok", func(t *Template) {
			t.Datastreams[0].Alias, t.Datastreams[0].Step, t.Datastreams[0].Decimals = "Air °C", f64(0.5), intp(1)
			t.Datastreams[1].Step, t.Datastreams[2].Alias = f64(5), "Heating mode"
		}, ""},
		{"decimals 0", func(t *Template) { t.Datastreams[0].Decimals = intp(0) }, ""},
		{"decimals 6", func(t *Template) { t.Datastreams[0].Decimals = intp(6) }, "decimals must be 0..5"},
		{"decimals -1", func(t *Template) { t.Datastreams[0].Decimals = intp(-1) }, "decimals must be 0..5"},
		{"decimals on integer", func(t *Template) { t.Datastreams[1].Decimals = intp(1) }, "decimals apply to double only, not integer"},
		{"step on string", func(t *Template) { t.Datastreams[3].Step = f64(1) }, "step applies to integer and double only, not string"},
		{"step zero", func(t *Template) { t.Datastreams[0].Step = f64(0) }, "step must be a positive number"},
		{"step negative", func(t *Template) { t.Datastreams[0].Step = f64(-1) }, "step must be a positive number"},
		{"step fraction on integer", func(t *Template) { t.Datastreams[1].Step = f64(0.5) }, "whole number"},
		{"step over the range", func(t *Template) { t.Datastreams[1].Step = f64(26) }, "step 26 is larger than the range 5..30"},
		{"step = the range", func(t *Template) { t.Datastreams[1].Step = f64(25) }, ""},
		{"alias with comma and slash", func(t *Template) { t.Datastreams[0].Alias = "In/out, °C" }, ""},
		{"alias long", func(t *Template) { t.Datastreams[0].Alias = strings.Repeat("a", 65) }, "alias is longer than 64"},
		{"alias spaces", func(t *Template) { t.Datastreams[0].Alias = " a" }, "alias has leading"},
		{"alias newline", func(t *Template) { t.Datastreams[0].Alias = "a\nb" }, "alias contains a control character"},
		{"duplicate meta name", func(t *Template) { t.MetaFields[1].Name = "Serial Number" }, "name used twice"},
		{"duplicate meta id", func(t *Template) { t.MetaFields[1].ID = 1 }, "id 1 used twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tpl := goodTemplate()
			tc.change(&tpl)
			err := errors.Join(tpl.Check(), tpl.CheckEvents())
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("Check() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrBadTemplate) {
				t.Fatalf("Check() = %v, want ErrBadTemplate", err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Check() = %q, want it to mention %q", err, tc.msg)
			}
		})
	}
}

func TestCheckReportsEveryProblem(t *testing.T) {
	tpl := goodTemplate()
	tpl.Datastreams[0].Pin = 300
	tpl.Events[0].Code = ""
	err := tpl.Check()
	for _, want := range []string{"pin out of range", "code is empty"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check() = %v, want it to mention %q", err, want)
		}
	}
}

func TestLookups(t *testing.T) {
	tpl := goodTemplate()
	if d, ok := tpl.Pin(255); !ok || d.Name != "Power" {
		t.Errorf("Pin(255) = %v, %v", d, ok)
	}
	if _, ok := tpl.Pin(9); ok {
		t.Error("Pin(9) found a datastream")
	}
	if d, ok := tpl.Named("Set Temperature"); !ok || d.Pin != 1 {
		t.Errorf("Named(Set Temperature) = %v, %v", d, ok)
	}
	if _, ok := tpl.Named("set temperature"); ok {
		t.Error("Named is case-insensitive")
	}
	if e, ok := tpl.Event("overheat"); !ok || e.Name != "Overheat" {
		t.Errorf("Event(overheat) = %v, %v", e, ok)
	}
	if _, ok := tpl.Event("nope"); ok {
		t.Error("Event(nope) found")
	}
	if m, ok := tpl.Meta("Time Zone"); !ok || m.Default != "UTC" {
		t.Errorf("Meta(Time Zone) = %v, %v", m, ok)
	}
	if _, ok := tpl.Meta("nope"); ok {
		t.Error("Meta(nope) found")
	}
	// The pointer refers into the template, so callers see one copy.
	d, _ := tpl.Pin(0)
	d.Units = "°C"
	if tpl.Datastreams[0].Units != "°C" {
		t.Error("Pin returned a copy")
	}
}

func TestForDevices(t *testing.T) {
	tpl := goodTemplate()
	tpl.System = &SystemEvents{OfflineIgnoreS: 5}
	got := tpl.ForDevices()
	want := Event{Code: "overheat", Name: "Overheat", Type: "warning"}
	if len(got.Events) != 1 || got.Events[0].Code != want.Code || got.Events[0].Name != want.Name ||
		got.Events[0].Type != want.Type || got.Events[0].Notify != nil || got.Events[0].Description != "" || got.Events[0].Timeline != nil {
		t.Errorf("ForDevices events = %+v, want %+v", got.Events, want)
	}
	if got.System != nil {
		t.Errorf("ForDevices kept the system events")
	}
	if tpl.Events[0].Notify == nil || tpl.System == nil {
		t.Error("ForDevices changed its receiver's events")
	}
}

// Check leaves the cloud's event settings to CheckEvents: a gateway, sent
// templates without them, never refuses a template an older cloud stored.
func TestCheckIgnoresEventSettings(t *testing.T) {
	tpl := goodTemplate()
	tpl.Events[0].Type, tpl.Events[0].Description = "alarm", strings.Repeat("d", 300)
	tpl.System = &SystemEvents{OfflineIgnoreS: -1}
	if err := tpl.Check(); err != nil {
		t.Errorf("Check() = %v, want nil", err)
	}
	if err := tpl.CheckEvents(); err == nil || !strings.Contains(err.Error(), "alarm") || !strings.Contains(err.Error(), "offline ignore") {
		t.Errorf("CheckEvents() = %v", err)
	}
}

func intp(v int) *int { return &v }

func TestDisplay(t *testing.T) {
	ds := Datastream{Pin: 0, Name: "Temperature", Type: Double, Decimals: intp(1)}
	if got := ds.Label(); got != "Temperature" {
		t.Errorf("Label() without alias = %q", got)
	}
	ds.Alias = "Air"
	if got := ds.Label(); got != "Air" {
		t.Errorf("Label() = %q, want the alias", got)
	}
	for _, tc := range []struct {
		ds   Datastream
		in   string
		want string
	}{
		{ds, "21.46", "21.5"},
		{ds, "21", "21.0"},
		{ds, "-0.04", "0.0"},
		{ds, "-0.06", "-0.1"},
		{ds, "x", "x"},
		{Datastream{Type: Double, Decimals: intp(0)}, "21.5", "22"},
		{Datastream{Type: Double}, "21.4567", "21.4567"},
		{Datastream{Type: Integer, Decimals: intp(2)}, "21", "21"},
	} {
		if got := tc.ds.Format(tc.in); got != tc.want {
			t.Errorf("Format(%q) with %v decimals = %q, want %q", tc.in, tc.ds.Decimals, got, tc.want)
		}
	}
}

func TestWithoutDisplay(t *testing.T) {
	tpl := goodTemplate()
	tpl.Datastreams[0].Alias, tpl.Datastreams[0].Step, tpl.Datastreams[0].Decimals = "Air", f64(0.5), intp(1)
	got := tpl.WithoutDisplay()
	if d := got.Datastreams[0]; d.Alias != "" || d.Step != nil || d.Decimals != nil {
		t.Errorf("WithoutDisplay kept %+v", d)
	}
	if d := tpl.Datastreams[0]; d.Alias != "Air" || d.Step == nil || d.Decimals == nil {
		t.Errorf("WithoutDisplay changed the original: %+v", d)
	}
	plain := goodTemplate()
	if got := plain.WithoutDisplay(); &got.Datastreams[0] != &plain.Datastreams[0] {
		t.Error("WithoutDisplay copied a template without display settings")
	}
}
