package remotebridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"outpost/firmware-bridge/gpiobridge"
	"outpost/firmware-bridge/hardware"
	"outpost/firmware-bridge/serialbridge"
)

// -list prints what the hardware offers, and why GPIO is missing.
func TestListHardware(t *testing.T) {
	for _, c := range []struct {
		name       string
		hw         hardware.Host
		serial     int
		gpio       int
		errorsSeen int
	}{
		{"serial, no gpio", hardware.Host{ListSerial: func() ([]serialbridge.PortInfo, error) {
			return []serialbridge.PortInfo{{Path: "/dev/ttyUSB0"}}, nil
		}, NoGPIO: errors.New("no pins here")}, 1, 0, 1},
		{"gpio only", hardware.Host{ListGPIO: func() []gpiobridge.PinInfo { return []gpiobridge.PinInfo{{Name: "GPIO4"}, {Name: "GPIO5"}} }}, 0, 2, 0},
		{"nothing", hardware.Host{}, 0, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			hw := c.hw
			if code := (Command{Stdout: &out, Stderr: &errOut, Hardware: func() hardware.Host { return hw }}).Run([]string{"-list"}); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			var got struct {
				Serial []json.RawMessage
				GPIO   []json.RawMessage
				Errors []string
			}
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("%v in %s", err, out.String())
			}
			if len(got.Serial) != c.serial || len(got.GPIO) != c.gpio || len(got.Errors) != c.errorsSeen {
				t.Errorf("listed %s", out.String())
			}
		})
	}
}

// A config naming pins on a host without GPIO fails at once (exit 1),
// saying why.
func TestGPIOUnavailable(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "bridge.yaml")
	os.WriteFile(cfg, []byte("gpio: [{token: t, pins: [{pin: GPIO4}]}]\n"), 0o600)
	var out, errOut bytes.Buffer
	hw := hardware.Host{NoGPIO: errors.New("no pins on this host")}
	code := (Command{Stdout: &out, Stderr: &errOut, Hardware: func() hardware.Host { return hw }}).Run([]string{"-config", cfg})
	if code != 1 || !strings.Contains(errOut.String(), "no pins on this host") {
		t.Errorf("exit %d, stderr %q; want 1 and the reason", code, errOut.String())
	}
}
