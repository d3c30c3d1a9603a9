package gateway

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"outpost/gateway/internal/cloudid"
	"outpost/gateway/internal/gcgoal"
	"outpost/shared/secret"
)

// Usage is the outpost-gateway command line.
const Usage = `usage:
  outpost-gateway [-config FILE]                 run the gateway
  outpost-gateway -check-config [-config FILE]   validate the config and exit
  outpost-gateway device add -template T -name N [-config FILE]
                                                 create a device, print its token once
  outpost-gateway device list [-config FILE]
  outpost-gateway claim-code [-config FILE]      print the code that claims this site in the cloud
`

// Command is the outpost-gateway program with its surroundings injected:
// the main only opens the host's hardware and says whether stdout is a
// terminal.
type Command struct {
	Stdout, Stderr io.Writer
	// Terminal reports whether Stdout is an interactive terminal, the one
	// place a secret (a created device's token) may be printed.
	Terminal bool
	// Hardware loads the host's drivers when the gateway is to run (nil:
	// no serial ports or pins).
	Hardware func() Hardware
}

// Run runs the command line args (without the program name) and returns
// the exit code: 0 done, 1 failure, 2 bad usage or configuration.
func (c Command) Run(args []string) int {
	if len(args) > 0 && args[0] == "device" {
		return c.device(args[1:])
	}
	if len(args) > 0 && args[0] == "claim-code" {
		return c.claimCode(args[1:])
	}
	fs := flag.NewFlagSet("outpost-gateway", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	configPath := fs.String("config", "", "config file (YAML); defaults apply when absent")
	check := fs.Bool("check-config", false, "validate the config and exit")
	fs.Usage = func() {
		fmt.Fprint(c.Stderr, Usage+"flags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(c.Stderr, err)
		return 2
	}
	if *check {
		fmt.Fprintln(c.Stdout, "config ok")
		return 0
	}
	logger := cfg.Log.Logger(c.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go gcgoal.Run(ctx, gcgoal.Base(), 10*time.Second, logger)
	return c.serve(ctx, cfg, logger)
}

// serve starts the gateway, prints where devices connect and runs it
// until ctx ends.
func (c Command) serve(ctx context.Context, cfg Config, logger *slog.Logger) int {
	var hw Hardware
	if c.Hardware != nil {
		hw = c.Hardware()
	}
	if hw.NoGPIO != nil {
		logger.Debug("no GPIO on this host", "err", hw.NoGPIO)
	}
	g, created, err := New(ctx, cfg, logger, WithHardware(hw))
	if err != nil {
		logger.Error("start failed", "err", err)
		return 1
	}
	for _, d := range created {
		// Off a terminal (systemd) stdout goes to the journal: no secrets.
		if c.Terminal {
			fmt.Fprintf(c.Stdout, "created device %q (template %s) token %s — shown once, keep it\n", d.Name, d.Template, d.Token)
		} else {
			fmt.Fprintf(c.Stdout, "created device %q (template %s) token %s (not shown off a terminal; set its token in the config to choose one)\n",
				d.Name, d.Template, secret.Prefix(d.Token))
		}
	}
	a := g.Addrs()
	fmt.Fprintf(c.Stdout, "outpost-gateway listening blynk=%s blynk_tls=%s mqtt=%s mqtt_tls=%s mqtt_ws=%s http=%s installer=%s\n",
		a.Blynk, a.BlynkTLS, a.MQTT, a.MQTTTLS, a.MQTTWS, a.HTTP, a.Installer)
	if hosts := ReachableHosts(cmp.Or(a.Blynk, a.BlynkTLS, a.MQTT, a.MQTTTLS, a.HTTP)); len(hosts) > 0 {
		fmt.Fprintf(c.Stdout, "devices connect to %s", strings.Join(hosts, ", "))
		if ca := g.TLSCA(); ca != "" {
			fmt.Fprintf(c.Stdout, " (TLS: pin the CA %s)", ca)
		}
		fmt.Fprintln(c.Stdout)
	}
	if err := g.Run(ctx); err != nil {
		logger.Error("gateway failed", "err", err)
		return 1
	}
	return 0
}

// parseFlags parses args; when it fails, the exit code is 0 for -h (usage
// asked for) and 2 for a bad flag.
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, flag.ErrHelp):
		return 0, false
	}
	return 2, false
}

// claimCode prints the claim code from data_dir/cloud.json (written at
// the gateway's first start with cloud.url set).
func (c Command) claimCode(args []string) int {
	flags := flag.NewFlagSet("claim-code", flag.ContinueOnError)
	flags.SetOutput(c.Stderr)
	configPath := flags.String("config", "", "config file (YAML)")
	if code, ok := parseFlags(flags, args); !ok {
		return code
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(c.Stderr, err)
		return 2
	}
	if cfg.Cloud.URL == "" {
		fmt.Fprintln(c.Stderr, "claim-code: no cloud is configured (set cloud.url)")
		return 1
	}
	id, err := cloudid.Read(cfg.DataDir)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintln(c.Stderr, "claim-code: not registered with the cloud yet; start the gateway (it registers at start)")
		return 1
	}
	if err != nil {
		fmt.Fprintln(c.Stderr, "claim-code:", err)
		return 1
	}
	if id.Claimed {
		fmt.Fprintf(c.Stderr, "gateway %s is already claimed\n", id.GatewayID)
		return 1
	}
	if id.ClaimCodeExpiresAt != 0 && time.Now().UnixMilli() >= id.ClaimCodeExpiresAt {
		fmt.Fprintln(c.Stderr, "claim-code: this code has expired; the running gateway fetches a new one (run this again in a minute)")
	}
	fmt.Fprintln(c.Stdout, id.ClaimCode)
	fmt.Fprintf(c.Stderr, "gateway %s at %s: claim it with POST /api/v1/organization/gateway/claim {\"claimCode\": %q, \"orgId\": N}\n",
		id.GatewayID, id.CloudURL, id.ClaimCode)
	return 0
}

// loadConfig loads the config file, or the defaults without one.
func loadConfig(path string) (Config, error) {
	if path == "" {
		return ParseConfig(strings.NewReader(""))
	}
	return LoadConfig(path)
}
