// Command outpost-gateway runs the Outpost edge gateway.
//
//	outpost-gateway [-config FILE]                 run the gateway
//	outpost-gateway -check-config [-config FILE]   validate the config and exit
//	outpost-gateway device add -template T -name N [-config FILE]
//	                                               create a device, print its token once
//	outpost-gateway device list [-config FILE]
//	outpost-gateway claim-code [-config FILE]      print the code that claims this site in the cloud
package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"outpost/firmware-bridge/gpiohost"
	"outpost/firmware-bridge/serialport"
	"outpost/gateway"
	"outpost/gateway/internal/gcgoal"
	"outpost/shared/secret"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "device" {
		return deviceCmd(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "claim-code" {
		return claimCodeCmd(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("outpost-gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "config file (YAML); defaults apply when absent")
	check := fs.Bool("check-config", false, "validate the config and exit")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage:
  outpost-gateway [-config FILE]                 run the gateway
  outpost-gateway -check-config [-config FILE]   validate the config and exit
  outpost-gateway device add -template T -name N [-config FILE]
                                                 create a device, print its token once
  outpost-gateway device list [-config FILE]
  outpost-gateway claim-code [-config FILE]      print the code that claims this site in the cloud
flags:
`)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if *check {
		fmt.Fprintln(stdout, "config ok")
		return 0
	}
	logger := newLogger(cfg.Log, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go gcgoal.Run(ctx, gcgoal.Base(), 10*time.Second, logger)

	hw := gateway.Hardware{OpenSerial: serialport.Opener, ListSerial: serialport.List}
	if err := gpiohost.Init(); err != nil {
		if len(cfg.GPIO) > 0 {
			logger.Error("gpio is configured but the host's pins cannot be opened", "err", err)
			return 1
		}
		logger.Debug("no GPIO on this host", "err", err)
	} else {
		hw.OpenGPIO, hw.ListGPIO = gpiohost.Open, gpiohost.List
	}
	g, created, err := gateway.New(ctx, cfg, logger, gateway.WithHardware(hw))
	if err != nil {
		logger.Error("start failed", "err", err)
		return 1
	}
	for _, d := range created {
		// Off a terminal (systemd) stdout goes to the journal: no secrets.
		if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			fmt.Fprintf(stdout, "created device %q (template %s) token %s — shown once, keep it\n", d.Name, d.Template, d.Token)
		} else {
			fmt.Fprintf(stdout, "created device %q (template %s) token %s (not shown off a terminal; set its token in the config to choose one)\n",
				d.Name, d.Template, secret.Prefix(d.Token))
		}
	}
	a := g.Addrs()
	fmt.Fprintf(stdout, "outpost-gateway listening blynk=%s blynk_tls=%s mqtt=%s mqtt_tls=%s mqtt_ws=%s http=%s installer=%s\n",
		a.Blynk, a.BlynkTLS, a.MQTT, a.MQTTTLS, a.MQTTWS, a.HTTP, a.Installer)
	if hosts := gateway.ReachableHosts(cmp.Or(a.Blynk, a.BlynkTLS, a.MQTT, a.MQTTTLS, a.HTTP)); len(hosts) > 0 {
		fmt.Fprintf(stdout, "devices connect to %s", strings.Join(hosts, ", "))
		if ca := g.TLSCA(); ca != "" {
			fmt.Fprintf(stdout, " (TLS: pin the CA %s)", ca)
		}
		fmt.Fprintln(stdout)
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

// claimCodeCmd prints the claim code from data_dir/cloud.json (written at
// the gateway's first start with cloud.url set).
func claimCodeCmd(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("claim-code", flag.ContinueOnError)
	flags.SetOutput(stderr)
	configPath := flags.String("config", "", "config file (YAML)")
	if code, ok := parseFlags(flags, args); !ok {
		return code
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if cfg.Cloud.URL == "" {
		fmt.Fprintln(stderr, "claim-code: no cloud is configured (set cloud.url)")
		return 1
	}
	id, err := gateway.ReadCloudIdentity(cfg.DataDir)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintln(stderr, "claim-code: not registered with the cloud yet; start the gateway (it registers at start)")
		return 1
	}
	if err != nil {
		fmt.Fprintln(stderr, "claim-code:", err)
		return 1
	}
	if id.Claimed {
		fmt.Fprintf(stderr, "gateway %s is already claimed\n", id.GatewayID)
		return 1
	}
	if id.ClaimCodeExpiresAt != 0 && time.Now().UnixMilli() >= id.ClaimCodeExpiresAt {
		fmt.Fprintln(stderr, "claim-code: this code has expired; the running gateway fetches a new one (run this again in a minute)")
	}
	fmt.Fprintln(stdout, id.ClaimCode)
	fmt.Fprintf(stderr, "gateway %s at %s: claim it with POST /api/v1/organization/gateway/claim {\"claimCode\": %q, \"orgId\": N}\n",
		id.GatewayID, id.CloudURL, id.ClaimCode)
	return 0
}

func loadConfig(path string) (gateway.Config, error) {
	if path == "" {
		return gateway.ParseConfig(strings.NewReader(""))
	}
	return gateway.LoadConfig(path)
}

func newLogger(c gateway.LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// deviceCmd talks to the running gateway's installer API; when no gateway
// runs it opens the database itself.
func deviceCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "add" && args[0] != "list") {
		fmt.Fprintln(stderr, "usage: outpost-gateway device add -template T -name N [-config FILE] | device list [-config FILE]")
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("device "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "config file (YAML)")
	template := fs.String("template", "", "template id, e.g. TMPL0001")
	name := fs.String("name", "", "device name")
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if sub == "add" && (*template == "" || *name == "") {
		fmt.Fprintln(stderr, "device add: -template and -name are required")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	out, err := viaInstaller(ctx, cfg, sub, *template, *name)
	if errors.Is(err, errNoGateway) {
		out, err = offline(ctx, cfg, sub, *template, *name)
	}
	if err != nil {
		fmt.Fprintln(stderr, "device "+sub+":", err)
		return 1
	}
	fmt.Fprint(stdout, out)
	return 0
}

var errNoGateway = errors.New("no gateway is running")

func viaInstaller(ctx context.Context, cfg gateway.Config, sub, template, name string) (string, error) {
	addr := cfg.Installer.Listen
	if addr == "" {
		return "", errNoGateway
	}
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err != nil {
		return "", errNoGateway
	} else {
		c.Close()
	}
	url := "http://" + addr + "/installer/api/devices"
	var req *http.Request
	var err error
	if sub == "add" {
		body, _ := json.Marshal(map[string]string{"template": template, "name": name})
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	}
	if err != nil {
		return "", err
	}
	if cfg.Installer.Token != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.Installer.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		return "", fmt.Errorf("installer API: %s: %s", resp.Status, bytes.TrimSpace(data))
	}
	if sub == "add" {
		var d struct {
			ID       int64  `json:"id"`
			Name     string `json:"name"`
			Template string `json:"template"`
			Token    string `json:"token"`
		}
		if err := json.Unmarshal(data, &d); err != nil {
			return "", fmt.Errorf("installer API answer: %w", err)
		}
		return fmt.Sprintf("device %d %q (template %s)\ntoken: %s\nThe token is shown only now; put it in the sketch as BLYNK_AUTH_TOKEN.\n", d.ID, d.Name, d.Template, d.Token), nil
	}
	var list []struct {
		ID       int64  `json:"id"`
		Name     string `json:"name"`
		Template string `json:"template"`
		Online   bool   `json:"online"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		return "", fmt.Errorf("installer API answer: %w", err)
	}
	var b strings.Builder
	for _, d := range list {
		fmt.Fprintf(&b, "%d\t%s\t%s\tonline=%v\n", d.ID, d.Template, d.Name, d.Online)
	}
	return b.String(), nil
}

func offline(ctx context.Context, cfg gateway.Config, sub, template, name string) (string, error) {
	devs, tok, err := gateway.Offline(ctx, cfg, sub == "add", template, name)
	if err != nil {
		return "", err
	}
	if sub == "add" {
		return fmt.Sprintf("token: %s\nThe token is shown only now; put it in the sketch as BLYNK_AUTH_TOKEN.\n", tok), nil
	}
	var b strings.Builder
	for _, d := range devs {
		fmt.Fprintf(&b, "%d\t%s\t%s\n", d.ID, d.Template, d.Name)
	}
	return b.String(), nil
}
