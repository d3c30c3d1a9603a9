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
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"outpost/firmware-bridge/bridge"
	"outpost/firmware-bridge/gpiobridge"
	"outpost/firmware-bridge/gpiohost"
	"outpost/firmware-bridge/serialbridge"
	"outpost/firmware-bridge/serialport"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("outpost-bridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "bridge.yaml", "config file")
	check := fs.Bool("check-config", false, "validate the config file and exit")
	list := fs.Bool("list", false, "list detected serial ports and GPIO pins as JSON and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0 // -h asked for the usage
		}
		return 2
	}
	if *list {
		return listHardware(stdout, stderr)
	}
	f, err := os.Open(*path)
	if err != nil {
		fmt.Fprintln(stderr, "outpost-bridge:", err)
		return 2
	}
	cfg, err := loadConfig(f)
	f.Close()
	if err != nil {
		fmt.Fprintf(stderr, "outpost-bridge: %s: %v\n", *path, err)
		return 2
	}
	if *check {
		fmt.Fprintf(stdout, "%s: ok (%d serial ports, %d gpio devices)\n", *path, len(cfg.Serial), len(cfg.GPIO))
		return 0
	}
	level, _ := parseLevel(cfg.Log.Level)
	var h slog.Handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	if cfg.Log.Format == "json" {
		h = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	}
	log := slog.New(h)

	tc, err := cfg.Gateway.tlsConfig()
	if err != nil {
		fmt.Fprintln(stderr, "outpost-bridge:", err)
		return 2
	}
	dialer := bridge.Dialer{Addr: cfg.Gateway.Addr, TLS: tc}
	mgr := bridge.NewManager(bridge.ManagerOptions{Logger: log})
	for _, pc := range cfg.Serial {
		mgr.Add(serialbridge.New(serialbridge.Options{
			Name: pc.Name, Port: pc.Describe(), Open: serialport.Opener(pc), Connector: dialer, Logger: log,
		}))
	}
	if len(cfg.GPIO) > 0 {
		if err := gpiohost.Init(); err != nil {
			log.Error("gpio unavailable", "err", err)
			return 1
		}
		pins, err := gpiohost.Open(cfg.GPIO...)
		if err != nil {
			log.Error("gpio", "err", err)
			return 2
		}
		for _, gc := range cfg.GPIO {
			b, err := gpiobridge.New(gpiobridge.Options{Config: gc, Pins: pins, Connector: dialer, Logger: log})
			if err != nil {
				log.Error("gpio", "err", err)
				return 2
			}
			mgr.Add(b)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("outpost-bridge running", "gateway", cfg.Gateway.Addr, "tls", cfg.Gateway.TLS,
		"serial", len(cfg.Serial), "gpio", len(cfg.GPIO))
	if err := mgr.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("outpost-bridge stopped", "err", err)
		return 1
	}
	return 0
}

// listHardware prints what an installer needs to write the config.
func listHardware(stdout, stderr io.Writer) int {
	out := struct {
		Serial []serialbridge.PortInfo `json:"serial"`
		GPIO   []gpiobridge.PinInfo    `json:"gpio"`
		Errors []string                `json:"errors,omitempty"`
	}{}
	var err error
	if out.Serial, err = serialport.List(); err != nil {
		out.Errors = append(out.Errors, err.Error())
	}
	if err := gpiohost.Init(); err != nil {
		out.Errors = append(out.Errors, err.Error())
	} else {
		out.GPIO = gpiohost.List()
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(stderr, "outpost-bridge:", err)
		return 1
	}
	return 0
}
