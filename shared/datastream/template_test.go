package datastream

import (
	"errors"
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
		Events:     []Event{{Code: "overheat", Name: "Overheat", Type: "warning"}},
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
		{"duplicate meta name", func(t *Template) { t.MetaFields[1].Name = "Serial Number" }, "name used twice"},
		{"duplicate meta id", func(t *Template) { t.MetaFields[1].ID = 1 }, "id 1 used twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tpl := goodTemplate()
			tc.change(&tpl)
			err := tpl.Check()
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
