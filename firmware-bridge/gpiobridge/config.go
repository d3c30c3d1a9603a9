package gpiobridge

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"outpost/firmware-bridge/bridge"
	"outpost/shared/datastream"
)

// Pin modes.
const (
	ModeInput  = "input"  // digital input → datastream writes (0/1)
	ModeOutput = "output" // datastream writes (0/1) → digital output
	ModePWM    = "pwm"    // datastream writes (0..Max) → PWM duty
)

// Defaults of PinConfig and Config.
const (
	DefaultDebounce     = 20 * time.Millisecond
	DefaultPWMMax       = 100 // PWM values are percent unless max says otherwise
	DefaultPWMFrequency = 1000
	DefaultHeartbeat    = 30 * time.Second
)

// PinConfig maps one GPIO pin to a virtual pin.
type PinConfig struct {
	// Pin is the pin's name as the host knows it ("GPIO17"; periph's
	// gpioreg also accepts the number "17" or header positions "P1_11").
	Pin string `yaml:"pin" json:"pin"`
	// VPin is the virtual pin (datastream) 0..255.
	VPin int `yaml:"vpin" json:"vpin"`
	// Mode is input, output or pwm (default input).
	Mode string `yaml:"mode" json:"mode"`
	// Pull is the input's resistor: none, up or down (default none).
	Pull string `yaml:"pull" json:"pull,omitempty"`
	// Edge selects the input edges that produce writes (default both):
	// both — the debounced level, written whenever it changes;
	// rising / falling — 1 / 0 written for every debounced edge of that
	// kind (a button press counts even if the value is the same);
	// none — no edge detection (use Sample).
	Edge string `yaml:"edge" json:"edge,omitempty"`
	// Debounce is how long an input must stay at a level after an edge
	// before it is reported (default 20ms; 0s reports every edge at once —
	// write "0s" explicitly, an absent key means the default).
	Debounce *time.Duration `yaml:"debounce" json:"debounce,omitempty"`
	// Sample, if set, also writes the input's level at this interval, even
	// when it did not change (periodic telemetry).
	Sample time.Duration `yaml:"sample" json:"sample,omitempty"`
	// Invert makes the datastream value the inverse of the electrical level
	// (active-low buttons and relays). For pwm it inverts the duty.
	Invert bool `yaml:"invert" json:"invert,omitempty"`
	// Max is the pwm value meaning 100% duty (default 100, so values are
	// percent; use 255 for Arduino-style analogWrite sliders, 1 for a
	// fraction). Values are clamped to 0..Max.
	Max float64 `yaml:"max" json:"max,omitempty"`
	// Frequency is the PWM frequency in Hz (default 1000).
	Frequency int `yaml:"frequency" json:"frequency,omitempty"`
}

// Config is one GPIO device: a group of pins presented to the gateway as a
// device with its own token.
type Config struct {
	// Name labels the bridge in logs and in the installer (default "gpio").
	Name string `yaml:"name" json:"name"`
	// Token is the device's auth token, as for any Blynk device (required).
	Token string `yaml:"token" json:"-"`
	// Heartbeat is the ping interval announced to the gateway as h-beat
	// (default 30s).
	Heartbeat time.Duration `yaml:"heartbeat" json:"heartbeat,omitempty"`
	Pins      []PinConfig   `yaml:"pins" json:"pins"`
}

// ErrConfig marks an invalid Config.
var ErrConfig = errors.New("gpiobridge: invalid config")

// Normalize validates c and fills the defaults.
func (c Config) Normalize() (Config, error) {
	if c.Name == "" {
		c.Name = "gpio"
	}
	if c.Token == "" {
		return c, fmt.Errorf("%w: %s: token is required", ErrConfig, c.Name)
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.Heartbeat < time.Second {
		return c, fmt.Errorf("%w: %s: heartbeat %v is below 1s", ErrConfig, c.Name, c.Heartbeat)
	}
	if len(c.Pins) == 0 {
		return c, fmt.Errorf("%w: %s: no pins", ErrConfig, c.Name)
	}
	pins := make([]PinConfig, len(c.Pins))
	seenPin, seenV := map[string]bool{}, map[int]bool{}
	for i, p := range c.Pins {
		var err error
		if pins[i], err = p.normalize(); err != nil {
			return c, fmt.Errorf("%w: %s: pins[%d]: %w", ErrConfig, c.Name, i, err)
		}
		if seenPin[p.Pin] || seenV[p.VPin] {
			return c, fmt.Errorf("%w: %s: pins[%d]: pin %s or V%d used twice", ErrConfig, c.Name, i, p.Pin, p.VPin)
		}
		seenPin[p.Pin], seenV[p.VPin] = true, true
	}
	c.Pins = pins
	return c, nil
}

func (p PinConfig) normalize() (PinConfig, error) {
	if p.Pin == "" {
		return p, errors.New("pin is required")
	}
	if p.VPin < 0 || p.VPin > datastream.MaxPin {
		return p, fmt.Errorf("vpin %d outside 0..%d", p.VPin, datastream.MaxPin)
	}
	if p.Mode == "" {
		p.Mode = ModeInput
	}
	switch p.Mode {
	case ModeInput:
		if p.Pull == "" {
			p.Pull = "none"
		}
		if _, ok := pulls[p.Pull]; !ok {
			return p, fmt.Errorf("pull %q: want none, up or down", p.Pull)
		}
		if p.Edge == "" {
			p.Edge = "both"
		}
		if _, ok := edges[p.Edge]; !ok {
			return p, fmt.Errorf("edge %q: want both, rising, falling or none", p.Edge)
		}
		if p.Debounce == nil {
			d := DefaultDebounce
			p.Debounce = &d
		}
		if *p.Debounce < 0 || p.Sample < 0 {
			return p, errors.New("debounce and sample must not be negative")
		}
		if p.Edge == "none" && p.Sample == 0 {
			return p, errors.New("edge none needs a sample interval, or the input is never read")
		}
	case ModeOutput:
	case ModePWM:
		if p.Max == 0 {
			p.Max = DefaultPWMMax
		}
		if p.Frequency == 0 {
			p.Frequency = DefaultPWMFrequency
		}
		if p.Max < 0 || p.Frequency < 0 {
			return p, errors.New("max and frequency must be positive")
		}
	default:
		return p, fmt.Errorf("mode %q: want input, output or pwm", p.Mode)
	}
	return p, nil
}

// Template returns a device template whose datastreams match the pins:
// Integer 0..1 for digital inputs and outputs, Integer 0..Max for pwm (a
// Double when Max is not a whole number); outputs and pwm pins are synced
// so they get their last value back after a restart. c must be normalized.
func (c Config) Template(id, name string) datastream.Template {
	t := datastream.Template{ID: id, Name: name}
	for _, p := range c.Pins {
		lo, hi := 0.0, 1.0
		ds := datastream.Datastream{Pin: p.VPin, Name: p.Pin, Type: datastream.Integer, Min: &lo, Max: &hi}
		switch p.Mode {
		case ModeOutput:
			ds.Sync = true
		case ModePWM:
			m := p.Max
			ds.Max, ds.Sync = &m, true
			if m != float64(int64(m)) {
				ds.Type = datastream.Double
			}
		}
		t.Datastreams = append(t.Datastreams, ds)
	}
	return t
}

// PinInfo is a GPIO pin the host offers (for the installer).
type PinInfo struct {
	Name     string `json:"name"`
	Number   int    `json:"number"`
	Function string `json:"function,omitempty"` // what the pin does now, e.g. "In/High"
}

// PinBinding is a host pin and the GPIO bridge that uses it, if any.
type PinBinding struct {
	PinInfo
	Bridge *bridge.Status `json:"bridge,omitempty"`
}

// Bindings joins host pins with the GPIO bridges' statuses. A pin is
// bound when a bridge lists it by name or by number.
func Bindings(pins []PinInfo, statuses []bridge.Status) []PinBinding {
	out := make([]PinBinding, 0, len(pins))
	for _, p := range pins {
		b := PinBinding{PinInfo: p}
	find:
		for i := range statuses {
			if statuses[i].Kind != Kind {
				continue
			}
			for _, n := range statuses[i].Pins {
				if strings.EqualFold(n, p.Name) || n == strconv.Itoa(p.Number) {
					s := statuses[i]
					b.Bridge = &s
					break find
				}
			}
		}
		out = append(out, b)
	}
	return out
}
