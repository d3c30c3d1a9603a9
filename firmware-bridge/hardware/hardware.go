// Package hardware is the host's serial ports and GPIO pins as values: the
// functions a main takes from the driver adapters (serialport, gpiohost)
// and hands to the program that runs bridges (the gateway, outpost-bridge).
// Only mains link drivers (docs/architecture.md rule 5); tests hand in
// fakes.
package hardware

import (
	"periph.io/x/conn/v3/gpio"

	"outpost/firmware-bridge/gpiobridge"
	"outpost/firmware-bridge/serialbridge"
)

// Host is what the main opened. Any function may be nil: the host (or the
// build) has none of that kind.
type Host struct {
	// OpenSerial returns the opener for a configured port.
	OpenSerial func(serialbridge.PortConfig) serialbridge.Opener
	// ListSerial lists detected serial ports (with USB VID:PID).
	ListSerial func() ([]serialbridge.PortInfo, error)
	// OpenGPIO opens the pins the GPIO configs name.
	OpenGPIO func(cfgs ...gpiobridge.Config) (map[string]gpio.PinIO, error)
	// ListGPIO lists the host's pins.
	ListGPIO func() []gpiobridge.PinInfo
	// NoGPIO says why OpenGPIO and ListGPIO are nil when the drivers were
	// asked and found no pins (nil otherwise).
	NoGPIO error
}
