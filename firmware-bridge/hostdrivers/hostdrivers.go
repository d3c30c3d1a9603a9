// Package hostdrivers opens the real host: serial ports through
// serialport and, when periph's drivers find any, GPIO pins through
// gpiohost. Only mains import it (docs/architecture.md rule 5).
package hostdrivers

import (
	"outpost/firmware-bridge/gpiohost"
	"outpost/firmware-bridge/hardware"
	"outpost/firmware-bridge/serialport"
)

// Host loads the drivers and returns the host's ports and pins; a host
// without GPIO has OpenGPIO and ListGPIO nil and NoGPIO saying why.
func Host() hardware.Host {
	hw := hardware.Host{OpenSerial: serialport.Opener, ListSerial: serialport.List}
	if hw.NoGPIO = gpiohost.Init(); hw.NoGPIO == nil {
		hw.OpenGPIO, hw.ListGPIO = gpiohost.Open, gpiohost.List
	}
	return hw
}
