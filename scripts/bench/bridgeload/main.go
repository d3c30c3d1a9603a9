// Command bridgeload measures what the serial bridge adds on the way to a
// running gateway. It creates a pseudo-terminal pair, runs a serialbridge
// on one end against the gateway's Blynk listener (as outpost-bridge does),
// and plays an MCU on the other end:
//
//   - ping round trips through the bridge, compared with ping round trips
//     on a direct TCP connection with the same token (the difference is
//     what the bridge adds, twice: up and down);
//   - a stream of vw frames, closed by a ping, for frames per second.
//
// A pty moves bytes at memory speed whatever the baud rate, so the wire
// time of a real UART (10 bits per byte, 8N1) is printed for comparison.
//
//	bridgeload -gateway 127.0.0.1:8080 -token <32-char device token> [-n 2000]
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	addr := flag.String("gateway", "127.0.0.1:8080", "gateway Blynk TCP listener")
	token := flag.String("token", "", "device token (required)")
	n := flag.Int("n", 2000, "pings and frames per measurement")
	flag.Parse()
	if *token == "" {
		fmt.Fprintln(os.Stderr, "bridgeload: -token is required")
		os.Exit(2)
	}
	if err := run(*addr, *token, *n); err != nil {
		fmt.Fprintln(os.Stderr, "bridgeload:", err)
		os.Exit(1)
	}
}
