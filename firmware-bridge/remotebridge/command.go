// Package remotebridge is the outpost-bridge program: it runs the serial
// and GPIO bridges on a machine other than the gateway and connects them
// to the gateway's Blynk listener over TCP or TLS, each MCU on a serial
// port and each configured pin group a device there. The main opens the
// host's hardware and hands it in (hardware.Host); everything else is here.
package remotebridge

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"outpost/firmware-bridge/bridge"
	"outpost/firmware-bridge/gpiobridge"
	"outpost/firmware-bridge/hardware"
	"outpost/firmware-bridge/serialbridge"
)

// Command is outpost-bridge with its surroundings injected.
type Command struct {
	Stdout, Stderr io.Writer
	// Hardware loads the host's drivers when they are needed (nil: no
	// serial ports or pins).
	Hardware func() hardware.Host
}

// Run runs the command line args (without the program name) and returns
// the exit code: 0 stopped by a signal, 1 runtime failure, 2 bad flags or
// config.
func (c Command) Run(args []string) int {
	fs := flag.NewFlagSet("outpost-bridge", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
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
		return c.listHardware()
	}
	f, err := os.Open(*path)
	if err != nil {
		fmt.Fprintln(c.Stderr, "outpost-bridge:", err)
		return 2
	}
	cfg, err := loadConfig(f)
	f.Close()
	if err != nil {
		fmt.Fprintf(c.Stderr, "outpost-bridge: %s: %v\n", *path, err)
		return 2
	}
	if *check {
		fmt.Fprintf(c.Stdout, "%s: ok (%d serial ports, %d gpio devices)\n", *path, len(cfg.Serial), len(cfg.GPIO))
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return c.run(ctx, cfg)
}

// run bridges what cfg names until ctx ends.
func (c Command) run(ctx context.Context, cfg config) int {
	log := cfg.Log.Logger(c.Stderr)

	tc, err := cfg.Gateway.tlsConfig()
	if err != nil {
		fmt.Fprintln(c.Stderr, "outpost-bridge:", err)
		return 2
	}
	hw := c.host()
	dialer := bridge.Dialer{Addr: cfg.Gateway.Addr, TLS: tc}
	mgr := bridge.NewManager(bridge.ManagerOptions{Logger: log})
	if len(cfg.Serial) > 0 && hw.OpenSerial == nil {
		log.Error("serial ports are configured but this build has no serial driver")
		return 1
	}
	for _, pc := range cfg.Serial {
		mgr.Add(serialbridge.New(serialbridge.Options{
			Name: pc.Name, Port: pc.Describe(), Open: hw.OpenSerial(pc), Connector: dialer, Logger: log,
		}))
	}
	if len(cfg.GPIO) > 0 {
		if hw.NoGPIO != nil || hw.OpenGPIO == nil {
			log.Error("gpio unavailable", "err", cmp.Or(hw.NoGPIO, errors.New("this build has no GPIO driver")))
			return 1
		}
		pins, err := hw.OpenGPIO(cfg.GPIO...)
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
	log.Info("outpost-bridge running", "gateway", cfg.Gateway.Addr, "tls", cfg.Gateway.TLS,
		"serial", len(cfg.Serial), "gpio", len(cfg.GPIO))
	if err := mgr.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("outpost-bridge stopped", "err", err)
		return 1
	}
	return 0
}

func (c Command) host() hardware.Host {
	if c.Hardware == nil {
		return hardware.Host{}
	}
	return c.Hardware()
}

// listHardware prints what an installer needs to write the config.
func (c Command) listHardware() int {
	out := struct {
		Serial []serialbridge.PortInfo `json:"serial"`
		GPIO   []gpiobridge.PinInfo    `json:"gpio"`
		Errors []string                `json:"errors,omitempty"`
	}{}
	hw := c.host()
	if hw.ListSerial != nil {
		var err error
		if out.Serial, err = hw.ListSerial(); err != nil {
			out.Errors = append(out.Errors, err.Error())
		}
	}
	if hw.NoGPIO != nil {
		out.Errors = append(out.Errors, hw.NoGPIO.Error())
	}
	if hw.ListGPIO != nil {
		out.GPIO = hw.ListGPIO()
	}
	enc := json.NewEncoder(c.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(c.Stderr, "outpost-bridge:", err)
		return 1
	}
	return 0
}
