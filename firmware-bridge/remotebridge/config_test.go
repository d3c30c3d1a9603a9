package remotebridge

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"outpost/firmware-bridge/gpiobridge"
)

// example is the documented config file, shipped beside the main.
const example = "../cmd/outpost-bridge/bridge.example.yaml"

func TestExampleConfig(t *testing.T) {
	f, err := os.Open(example)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := loadConfig(f)
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	if len(c.Serial) != 1 || c.Serial[0].VIDPID != "2341:0043" || c.Serial[0].Baud != 115200 {
		t.Errorf("serial %+v", c.Serial)
	}
	g := c.GPIO[0]
	if len(g.Pins) != 3 || *g.Pins[0].Debounce != 20*time.Millisecond || g.Pins[2].Max != 100 || g.Heartbeat != 30*time.Second {
		t.Errorf("gpio %+v", g)
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := loadConfig(strings.NewReader("serial: [{path: /dev/ttyUSB0}]\ngpio: [{token: t, pins: [{pin: GPIO4}]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != 1 || c.Gateway.Addr != "127.0.0.1:8080" || c.Gateway.TLS || c.Log.Level != "info" {
		t.Errorf("defaults %+v", c)
	}
	if p := c.Serial[0]; p.Baud != 115200 || p.Name != "/dev/ttyUSB0" {
		t.Errorf("serial defaults %+v", p)
	}
	p := c.GPIO[0].Pins[0]
	if p.Mode != gpiobridge.ModeInput || p.Pull != "none" || p.Edge != "both" || *p.Debounce != gpiobridge.DefaultDebounce {
		t.Errorf("pin defaults %+v", p)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown key", "version: 1\ngateway: {adr: x}\n", "field adr not found"},
		{"version", "version: 2\nserial: [{path: /dev/x}]\n", "version: 2"},
		{"empty", "", "nothing to bridge"},
		{"port without path", "serial: [{baud: 9600}]\n", "path or vid_pid"},
		{"bad vid_pid", "serial: [{vid_pid: arduino}]\n", "vid_pid"},
		{"duplicate names", "serial: [{path: /dev/a, name: x}, {path: /dev/b, name: x}]\n", "used twice"},
		{"gpio without token", "gpio: [{pins: [{pin: GPIO4}]}]\n", "token is required"},
		{"bad mode", "gpio: [{token: t, pins: [{pin: GPIO4, mode: analog}]}]\n", "mode"},
		{"vpin range", "gpio: [{token: t, pins: [{pin: GPIO4, vpin: 256}]}]\n", "vpin 256"},
		{"edge none without sample", "gpio: [{token: t, pins: [{pin: GPIO4, edge: none}]}]\n", "sample"},
		{"same vpin twice", "gpio: [{token: t, pins: [{pin: GPIO4, vpin: 1}, {pin: GPIO5, vpin: 1}]}]\n", "used twice"},
		{"bad level", "log: {level: loud}\nserial: [{path: /dev/x}]\n", "log.level"},
		{"bad duration", "gpio: [{token: t, pins: [{pin: GPIO4, debounce: soon}]}]\n", "time.Duration"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(strings.NewReader(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestCheckConfigFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if code := (Command{Stdout: &out, Stderr: &errb}).Run([]string{"-config", example, "-check-config"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "ok") {
		t.Errorf("output %q", out.String())
	}
	bad := t.TempDir() + "/bad.yaml"
	os.WriteFile(bad, []byte("version: 1\nserial: [{path: /dev/x, speed: 9600}]\n"), 0o600)
	if code := (Command{Stdout: &out, Stderr: &errb}).Run([]string{"-config", bad, "-check-config"}); code != 2 {
		t.Errorf("bad config exit %d, want 2", code)
	}
}
