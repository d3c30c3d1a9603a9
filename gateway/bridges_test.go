package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"outpost/firmware-bridge/gpiobridge"
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
