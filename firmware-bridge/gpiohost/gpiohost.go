// Package gpiohost opens the appliance's real GPIO pins with
// periph.io/x/host/v3 for the GPIO bridge, and lists them for the
// installer. It is the only package that imports periph's host drivers;
// mains call it (docs/architecture.md rule 5).
package gpiohost

import (
	"fmt"
	"slices"
	"strings"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"

	"outpost/firmware-bridge/gpiobridge"
)

// Init loads the host's GPIO drivers. Call it once before Open or List.
func Init() error {
	if _, err := host.Init(); err != nil {
		return fmt.Errorf("gpiohost: init: %w", err)
	}
	return nil
}

// Open looks up every pin the configurations name.
func Open(cfgs ...gpiobridge.Config) (map[string]gpio.PinIO, error) {
	pins := map[string]gpio.PinIO{}
	for _, c := range cfgs {
		for _, pc := range c.Pins {
			p := gpioreg.ByName(pc.Pin)
			if p == nil {
				return nil, fmt.Errorf("gpiohost: %s: no pin named %q on this host", c.Name, pc.Pin)
			}
			pins[pc.Pin] = p
		}
	}
	return pins, nil
}

// List returns the host's GPIO pins by number.
func List() []gpiobridge.PinInfo {
	all := gpioreg.All()
	out := make([]gpiobridge.PinInfo, 0, len(all))
	for _, p := range all {
		out = append(out, gpiobridge.PinInfo{Name: p.Name(), Number: p.Number(), Function: p.Function()})
	}
	slices.SortFunc(out, func(a, b gpiobridge.PinInfo) int {
		if a.Number != b.Number {
			return a.Number - b.Number
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}
