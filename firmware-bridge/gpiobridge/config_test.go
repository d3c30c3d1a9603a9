package gpiobridge

import (
	"testing"

	"outpost/firmware-bridge/bridge"
	"outpost/shared/datastream"
)

func TestTemplate(t *testing.T) {
	c, err := Config{Token: "t", Pins: []PinConfig{
		{Pin: "GPIO17", VPin: 1},
		{Pin: "GPIO27", VPin: 2, Mode: ModeOutput},
		{Pin: "GPIO18", VPin: 3, Mode: ModePWM, Max: 255},
		{Pin: "GPIO19", VPin: 4, Mode: ModePWM, Max: 1.5},
	}}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	tm := c.Template("TMPLgpio", "Pins")
	if len(tm.Datastreams) != 4 {
		t.Fatalf("datastreams %+v", tm.Datastreams)
	}
	in, out, pwm, frac := tm.Datastreams[0], tm.Datastreams[1], tm.Datastreams[2], tm.Datastreams[3]
	if in.Type != datastream.Integer || *in.Max != 1 || in.Sync {
		t.Errorf("input %+v", in)
	}
	if !out.Sync || *out.Max != 1 {
		t.Errorf("output %+v", out)
	}
	if *pwm.Max != 255 || pwm.Type != datastream.Integer || !pwm.Sync {
		t.Errorf("pwm %+v", pwm)
	}
	if frac.Type != datastream.Double {
		t.Errorf("fractional pwm %+v", frac)
	}
}

func TestBindings(t *testing.T) {
	pins := []PinInfo{{Name: "GPIO17", Number: 17}, {Name: "GPIO4", Number: 4}, {Name: "GPIO22", Number: 22}}
	sts := []bridge.Status{
		{Kind: "serial", Name: "uno", Pins: []string{"GPIO4"}},
		{Kind: Kind, Name: "pump", Pins: []string{"gpio17", "22"}},
	}
	got := Bindings(pins, sts)
	want := []string{"pump", "", "pump"}
	for i, b := range got {
		name := ""
		if b.Bridge != nil {
			name = b.Bridge.Name
		}
		if name != want[i] {
			t.Errorf("%s bound to %q, want %q", b.Name, name, want[i])
		}
	}
}
