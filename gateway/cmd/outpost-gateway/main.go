// Command outpost-gateway runs the Outpost edge gateway.
//
//	outpost-gateway [-config FILE]                 run the gateway
//	outpost-gateway -check-config [-config FILE]   validate the config and exit
//	outpost-gateway device add -template T -name N [-config FILE]
//	                                               create a device, print its token once
//	outpost-gateway device list [-config FILE]
//	outpost-gateway claim-code [-config FILE]      print the code that claims this site in the cloud
//
// The program is gateway.Command; this main opens the host's hardware.
package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"golang.org/x/term"

	"outpost/firmware-bridge/gpiohost"
	"outpost/firmware-bridge/serialport"
	"outpost/gateway"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main with its output injected; it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	f, ok := stdout.(*os.File)
	return gateway.Command{Stdout: stdout, Stderr: stderr, Terminal: ok && term.IsTerminal(int(f.Fd())),
		Hardware: openHardware}.Run(args)
}

// openHardware opens the host's serial ports and, when the host has them,
// its GPIO pins; configured pins that cannot be opened fail the start.
func openHardware(cfg gateway.Config, logger *slog.Logger) (gateway.Hardware, error) {
	hw := gateway.Hardware{OpenSerial: serialport.Opener, ListSerial: serialport.List}
	if err := gpiohost.Init(); err != nil {
		if len(cfg.GPIO) > 0 {
			return hw, fmt.Errorf("gpio is configured but the host's pins cannot be opened: %w", err)
		}
		logger.Debug("no GPIO on this host", "err", err)
		return hw, nil
	}
	hw.OpenGPIO, hw.ListGPIO = gpiohost.Open, gpiohost.List
	return hw, nil
}
