// Command outpost-bridge runs the serial and GPIO bridges on a machine other
// than the gateway and connects them to the gateway's Blynk listener over
// TCP or TLS: each MCU on a serial port and each configured pin group
// becomes a device there, exactly as if it were on the gateway itself.
//
//	outpost-bridge -config bridge.yaml          run
//	outpost-bridge -config bridge.yaml -check-config
//	outpost-bridge -list                        show serial ports and GPIO pins
//
// Exit codes: 0 stopped by a signal, 1 runtime failure, 2 bad flags or config.
// The program is remotebridge.Command; this main links the host's drivers.
package main

import (
	"io"
	"os"

	"outpost/firmware-bridge/hostdrivers"
	"outpost/firmware-bridge/remotebridge"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main with its output injected; it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	return remotebridge.Command{Stdout: stdout, Stderr: stderr, Hardware: hostdrivers.Host}.Run(args)
}
