package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// device is "outpost-gateway device add|list": it talks to the running
// gateway's installer API; when no gateway runs it opens the database
// itself (Offline).
func (c Command) device(args []string) int {
	if len(args) == 0 || (args[0] != "add" && args[0] != "list") {
		fmt.Fprintln(c.Stderr, "usage: outpost-gateway device add -template T -name N [-config FILE] | device list [-config FILE]")
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("device "+sub, flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	configPath := fs.String("config", "", "config file (YAML)")
	template := fs.String("template", "", "template id, e.g. TMPL0001")
	name := fs.String("name", "", "device name")
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(c.Stderr, err)
		return 2
	}
	if sub == "add" && (*template == "" || *name == "") {
		fmt.Fprintln(c.Stderr, "device add: -template and -name are required")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	out, err := viaInstaller(ctx, cfg, sub, *template, *name)
	if errors.Is(err, errNoGateway) {
		out, err = offlineDevices(ctx, cfg, sub, *template, *name)
	}
	if err != nil {
		fmt.Fprintln(c.Stderr, "device "+sub+":", err)
		return 1
	}
	fmt.Fprint(c.Stdout, out)
	return 0
}

var errNoGateway = errors.New("no gateway is running")

// viaInstaller is the installer API's client: it adds or lists devices on
// the gateway running with cfg, or answers errNoGateway.
func viaInstaller(ctx context.Context, cfg Config, sub, template, name string) (string, error) {
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

// offlineDevices adds or lists devices in the database of a gateway that
// is not running.
func offlineDevices(ctx context.Context, cfg Config, sub, template, name string) (string, error) {
	devs, tok, err := Offline(ctx, cfg, sub == "add", template, name)
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
