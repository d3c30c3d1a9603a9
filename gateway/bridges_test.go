package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"outpost/firmware-bridge/gpiobridge"
	"outpost/firmware-bridge/serialbridge"
	"outpost/gateway"
	"outpost/internal/poll"
)

// A GPIO group declared in the config becomes a device: an input edge is
// readable over HTTP, an HTTP write drives the output, and the installer
// lists the pins with the device bound to them.
func TestGPIOFromConfig(t *testing.T) {
	cfg := testConfig(t.TempDir())
	gc, err := gateway.ParseConfig(stringsReader(`version: 1
gpio:
  - name: pump room
    token: "gggggggggggggggggggggggggggggggg"
    pins:
      - {pin: GPIO17, vpin: 1, mode: input, edge: both, debounce: 0s}
      - {pin: GPIO27, vpin: 2, mode: output}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.GPIO = gc.GPIO
	in := &gpiotest.Pin{N: "GPIO17", EdgesChan: make(chan gpio.Level, 4)}
	out := &gpiotest.Pin{N: "GPIO27"}
	hw := gateway.Hardware{
		OpenGPIO: func(...gpiobridge.Config) (map[string]gpio.PinIO, error) {
			return map[string]gpio.PinIO{"GPIO17": in, "GPIO27": out}, nil
		},
		ListGPIO: func() []gpiobridge.PinInfo {
			return []gpiobridge.PinInfo{{Name: "GPIO17"}, {Name: "GPIO27"}, {Name: "GPIO22"}}
		},
	}
	g, _ := startWith(t, cfg, gateway.WithHardware(hw))
	api := "http://" + g.Addrs().HTTP + "/external/api/"
	tok := "gggggggggggggggggggggggggggggggg"
	poll.NoError(t, "gpio device online", func() error {
		if _, body := httpGet(t, api+"isHardwareConnected?token="+tok); body != "true" {
			return fmt.Errorf("isHardwareConnected = %q", body)
		}
		return nil
	})
	in.EdgesChan <- gpio.High
	poll.NoError(t, "input edge stored", func() error {
		if code, body := httpGet(t, api+"get?token="+tok+"&v1"); code != 200 || body != "1" {
			return fmt.Errorf("get v1 = %d %q", code, body)
		}
		return nil
	})
	if code, body := httpGet(t, api+"update?token="+tok+"&v2=1"); code != 200 {
		t.Fatalf("update v2: %d %s", code, body)
	}
	poll.NoError(t, "output driven", func() error {
		if out.Read() != gpio.High {
			return fmt.Errorf("GPIO27 is low")
		}
		return nil
	})
	resp, err := http.Get("http://" + g.Addrs().Installer + "/installer/api/hardware")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var hwList struct {
		GPIO []struct {
			Name   string
			Bridge *struct {
				DeviceName string `json:"deviceName"`
			} `json:"bridge"`
		} `json:"gpio"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&hwList); err != nil {
		t.Fatal(err)
	}
	bound := map[string]bool{}
	for _, p := range hwList.GPIO {
		bound[p.Name] = p.Bridge != nil
	}
	if len(hwList.GPIO) != 3 || !bound["GPIO17"] || !bound["GPIO27"] || bound["GPIO22"] {
		t.Errorf("installer hardware list = %+v, want 3 pins with GPIO17 and GPIO27 bound", hwList.GPIO)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// topLevelKeys returns the keys of one JSON log line in order, repeats
// included (encoding/json into a map would hide them).
func topLevelKeys(line string) ([]string, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object: %q", line)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, k.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// The bridges the gateway runs name themselves in their log lines: each
// attribute (component, bridge, port) appears once per line, not once from
// the gateway's wiring and again from the bridge.
func TestBridgeLogAttributesOnce(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Serial = []serialbridge.PortConfig{{Name: "uno", Path: "/dev/ttyNOWHERE"}}
	gc, err := gateway.ParseConfig(stringsReader(`version: 1
gpio:
  - name: pump room
    token: "gggggggggggggggggggggggggggggggg"
    pins:
      - {pin: GPIO27, vpin: 2, mode: output}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.GPIO = gc.GPIO
	hw := gateway.Hardware{
		OpenSerial: func(serialbridge.PortConfig) serialbridge.Opener {
			return func(context.Context) (io.ReadWriteCloser, error) {
				return nil, errors.New("no such port")
			}
		},
		OpenGPIO: func(...gpiobridge.Config) (map[string]gpio.PinIO, error) {
			return map[string]gpio.PinIO{"GPIO27": &gpiotest.Pin{N: "GPIO27"}}, nil
		},
	}
	var out syncBuffer
	logger := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	g, _, err := gateway.New(ctx, cfg, logger, gateway.WithHardware(hw))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	seen := func(component, msg string) bool {
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.Contains(line, `"component":"`+component+`"`) && strings.Contains(line, msg) {
				return true
			}
		}
		return false
	}
	poll.Until(t, "a line from each bridge", func() bool {
		return seen("serialbridge", "cannot open port") && seen("gpiobridge", `"bridge":"pump room"`)
	})
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		keys, err := topLevelKeys(line)
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, k := range keys {
			if count[k]++; count[k] == 2 {
				t.Errorf("attribute %q twice in %s", k, line)
			}
		}
	}
}
