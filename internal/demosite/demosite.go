// Package demosite runs a whole Outpost site in one process: the cloud (Platform
// API and gateway sync), the gateway with its embedded SQLite store, a demo
// template, demo devices ready for a real ESP32 or Arduino to connect, and
// simulated devices (-sim) that write a slowly changing temperature on V0.
// The gateway registers with the cloud and is claimed into a demo client
// org. It prints where to connect, with which token, the cloud admin's
// login and how to read a device's values through the Platform API. State
// lives in -data (default ./outpost-site) and survives restarts.
// scripts/site is its command: go run ./scripts/site
package demosite

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"outpost/cloud"
	"outpost/gateway"
	"outpost/internal/platformclient"
	"outpost/shared/datastream"
	"outpost/shared/devicesim"
)

// DemoClientOrg is the client org the site's gateway is claimed into.
const DemoClientOrg = "Demo Client"

// DemoTemplate is the template every demo device uses.
const DemoTemplate = "TMPLOUTPOST1"

func demoTemplate() datastream.Template {
	f := func(v float64) *float64 { return &v }
	return datastream.Template{
		ID:   DemoTemplate,
		Name: "Outpost Demo",
		Datastreams: []datastream.Datastream{
			{Pin: 0, Name: "Temperature", Type: datastream.Double, Min: f(-40), Max: f(125), Units: "°C"},
			{Pin: 1, Name: "Set Temperature", Type: datastream.Double, Min: f(5), Max: f(35), Default: "21", Sync: true},
			{Pin: 2, Name: "Power", Type: datastream.Boolean, Default: "0", Sync: true},
			{Pin: 3, Name: "Mode", Type: datastream.Enum, Sync: true, Default: "0", Enum: []datastream.EnumItem{
				{Value: 0, Label: "Off"}, {Value: 1, Label: "Heat"}, {Value: 2, Label: "Cool"}}},
			{Pin: 4, Name: "Message", Type: datastream.String},
			{Pin: 5, Name: "Counter", Type: datastream.Integer, Min: f(0), Max: f(1000000)},
			{Pin: 6, Name: "Location", Type: datastream.Location},
		},
		Events:     []datastream.Event{{Code: "overheat", Name: "Overheat", Type: "critical"}, {Code: "hello", Name: "Hello", Type: "info"}},
		MetaFields: []datastream.MetaField{{ID: 1, Name: "Serial Number"}, {ID: 2, Name: "Time Zone", Default: "UTC"}},
	}
}

// siteState is kept in the data dir so tokens stay the same across runs
// (the gateway itself stores only token hashes).
type siteState struct {
	Devices []gateway.DeviceConfig `json:"devices"`
	// The cloud's first Admin: a demo convenience, kept so every run can
	// print how to log in (the cloud itself stores only a hash).
	AdminEmail    string `json:"adminEmail"`
	AdminPassword string `json:"adminPassword"`
	// DemoOrgID is the client org the gateway was claimed into (0: not yet).
	DemoOrgID int64 `json:"demoOrgId,omitempty"`
}

// Run runs the site the command line args ask for until ctx ends and
// returns the exit code: 0 clean stop, 1 failure, 2 bad flags.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("site", flag.ContinueOnError)
	flags.SetOutput(stderr)
	dataDir := flags.String("data", "outpost-site", "directory for the site's databases and state")
	devices := flags.Int("devices", 3, "demo devices to create on first start")
	sim := flags.Int("sim", 2, "simulated devices (the last demo devices) writing a temperature on V0")
	simEvery := flags.Duration("sim-every", 3*time.Second, "how often each simulated device writes")
	listen := flags.String("listen", "", "host to listen on (default: all interfaces)")
	portBase := flags.Int("port-base", 0, "if set, listen on port-base+0..7 instead of the standard ports; -1 picks free ports")
	verbose := flags.Bool("v", false, "debug logs")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0 // -h asked for the usage
		}
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	state, err := loadState(*dataDir, *devices)
	if err != nil {
		fmt.Fprintln(stderr, "site:", err)
		return 1
	}
	cfg := gateway.Defaults()
	cfg.DataDir = filepath.Join(*dataDir, "gateway")
	cfg.Templates = []datastream.Template{demoTemplate()}
	cfg.Devices = state.Devices
	ports := []*string{&cfg.Blynk.Listen, &cfg.Blynk.TLSListen, &cfg.MQTT.Listen, &cfg.MQTT.TLSListen, &cfg.MQTT.WSListen, &cfg.HTTP.Listen, &cfg.Installer.Listen}
	for i, p := range ports {
		_, port, _ := net.SplitHostPort(*p)
		switch {
		case *portBase > 0:
			port = fmt.Sprint(*portBase + i)
		case *portBase < 0:
			port = "0"
		}
		host := *listen
		if p == &cfg.Installer.Listen {
			host = "127.0.0.1" // it adds devices and has no token here: loopback only
		}
		*p = net.JoinHostPort(host, port)
	}

	ccfg := cloud.Defaults()
	ccfg.DataDir = filepath.Join(*dataDir, "cloud")
	_, cport, _ := net.SplitHostPort(ccfg.Listen)
	switch {
	case *portBase > 0:
		cport = fmt.Sprint(*portBase + len(ports))
	case *portBase < 0:
		cport = "0"
	}
	chost := *listen
	if chost == "" {
		chost = "127.0.0.1" // the demo admin password is printed: keep the API on loopback
	}
	ccfg.Listen = net.JoinHostPort(chost, cport)
	if cport != "0" { // links in mail name the cloud, never a request's Host (with port 0 the cloud names itself)
		ccfg.PublicURL = "http://" + ccfg.Listen
	}
	ccfg.Admin.Email, ccfg.Admin.Password = state.AdminEmail, state.AdminPassword
	ccfg.Admin.OrgName = "Outpost Demo"

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	c, err := cloud.New(ccfg, logger.With("system", "cloud"))
	if err != nil {
		fmt.Fprintln(stderr, "site:", err)
		return 1
	}
	cfg.Cloud.URL = c.URL()
	cfg.Cloud.Name = "Demo Site"
	g, _, err := gateway.New(ctx, cfg, logger.With("system", "gateway"))
	if err != nil {
		c.Close()
		fmt.Fprintln(stderr, "site:", err)
		return 1
	}
	simulated := state.Devices[max(0, len(state.Devices)-*sim):]
	printBanner(stdout, g.Addrs(), g.TLSCA(), c.URL(), state, simulated)

	errs := make(chan error, 2)
	go func() { errs <- c.Run(ctx) }()
	go func() { errs <- g.Run(ctx) }()
	go claimDemo(ctx, c, g, *dataDir, &state, stdout, logger)
	for i, d := range simulated {
		go simulate(ctx, g.Addrs().Blynk, d, float64(20+i), *simEvery, logger)
	}
	code := 0
	for range 2 {
		if err := <-errs; err != nil {
			fmt.Fprintln(stderr, "site:", err)
			code = 1
			stop() // one part failed: stop the other
		}
	}
	return code
}

// claimDemo claims the gateway into the demo client org through the
// Platform API, as the cloud's Admin, once it has registered (on the first start; later starts find it claimed) and prints
// how to see its devices through the Platform API.
func claimDemo(ctx context.Context, c *cloud.Server, g *gateway.Gateway, dir string, st *siteState, w io.Writer, log *slog.Logger) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		cl, _ := g.Claim()
		if cl.Claimed && st.DemoOrgID != 0 {
			break
		}
		if cl.ClaimCode != "" {
			// As an installer would: the Admin logs in and claims.
			admin, err := platformclient.Login(ctx, nil, c.URL(), st.AdminEmail, st.AdminPassword)
			var id int64
			if err == nil {
				id, err = admin.ClaimGateway(ctx, cl.ClaimCode, DemoClientOrg)
			}
			if err != nil {
				log.Error("site: demo claim failed", "err", err)
				return
			}
			st.DemoOrgID = id
			if err := saveState(dir, *st); err != nil {
				log.Error("site: save state", "err", err)
			}
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	fmt.Fprintf(w, " Gateway claimed into client org %q (orgId %d). A device's values through the Platform API:\n", DemoClientOrg, st.DemoOrgID)
	fmt.Fprintf(w, "   TOKEN=$(login as above | jq -r .token)\n")
	fmt.Fprintf(w, "   curl -s -H \"Authorization: Bearer $TOKEN\" '%s/api/v1/organization/devices?orgId=%d'\n", c.URL(), st.DemoOrgID)
	fmt.Fprintf(w, "   curl -s -H \"Authorization: Bearer $TOKEN\" '%s/api/v1/organization/device?deviceId=<id>'   (dataStreamValues)\n\n", c.URL())
}

// simulate plays a device no real board uses: it logs in with the demo
// token and writes a slowly changing temperature on V0, reconnecting when
// the gateway drops it.
func simulate(ctx context.Context, addr string, d gateway.DeviceConfig, base float64, every time.Duration, log *slog.Logger) {
	if addr == "" {
		return
	}
	log = log.With("component", "sim", "device", d.Name)
	for step := 0; ctx.Err() == nil; {
		dev, err := devicesim.Dial(ctx, addr, devicesim.Options{Token: d.Token, Template: DemoTemplate, Handler: func(devicesim.Incoming) {}})
		if err == nil {
			t := time.NewTicker(every)
			for err == nil {
				temp := base + 3*math.Sin(float64(step)/20)
				step++
				if _, err = dev.VirtualWrite(0, math.Round(temp*10)/10); err != nil {
					break
				}
				select {
				case <-ctx.Done():
					err = ctx.Err()
				case <-dev.Done():
					err = dev.Err()
				case <-t.C:
				}
			}
			t.Stop()
			dev.Close()
		}
		if ctx.Err() != nil {
			return
		}
		log.Debug("simulated device reconnects", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func saveState(dir string, st siteState) error {
	data, _ := json.MarshalIndent(st, "", "  ")
	return os.WriteFile(filepath.Join(dir, "site.json"), data, 0o600)
}

func loadState(dir string, n int) (siteState, error) {
	path := filepath.Join(dir, "site.json")
	var st siteState
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &st); err != nil {
			return st, fmt.Errorf("%s: %w (delete it to start afresh)", path, err)
		}
		return st, nil
	case !errors.Is(err, fs.ErrNotExist):
		return st, err
	}
	pw, err := newToken()
	if err != nil {
		return st, err
	}
	st.AdminEmail, st.AdminPassword = "admin@outpost.local", pw[:20]
	for i := 1; i <= n; i++ {
		tok, err := newToken()
		if err != nil {
			return st, err
		}
		st.Devices = append(st.Devices, gateway.DeviceConfig{Name: fmt.Sprintf("Demo Device %d", i), Template: DemoTemplate, Token: tok})
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return st, err
	}
	data, _ = json.MarshalIndent(st, "", "  ")
	return st, os.WriteFile(path, data, 0o600)
}

// newToken makes a Blynk-style token: 32 chars of base64url (24 random bytes).
func newToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// printBanner tells where devices connect: the first address at which
// the gateway's listeners answer (gateway.ReachableHosts: the LAN address
// when listening on every interface, else the -listen host), which the
// gateway's TLS certificate names.
func printBanner(w io.Writer, a gateway.Addrs, caFile, cloudURL string, st siteState, simulated []gateway.DeviceConfig) {
	host := "127.0.0.1"
	if hs := gateway.ReachableHosts(a.Blynk); len(hs) > 0 {
		host = hs[0]
	}
	at := func(addr string) string { return net.JoinHostPort(host, port(addr)) }
	var b strings.Builder
	fmt.Fprintf(&b, "\n Outpost site is running (Ctrl-C to stop)\n\n")
	fmt.Fprintf(&b, " Gateway host      %s\n", host)
	fmt.Fprintf(&b, " Blynk TCP         %s   (Blynk.begin(BLYNK_AUTH_TOKEN, ssid, pass, \"%s\", %s))\n", at(a.Blynk), host, port(a.Blynk))
	fmt.Fprintf(&b, " Blynk TLS         %s   (devices pin the CA %s)\n", at(a.BlynkTLS), caFile)
	fmt.Fprintf(&b, " MQTT              %s   (user \"device\", password = token); TLS %s; websocket ws://%s/mqtt\n", at(a.MQTT), at(a.MQTTTLS), at(a.MQTTWS))
	fmt.Fprintf(&b, " Device HTTP API   http://%s/external/api/\n", at(a.HTTP))
	fmt.Fprintf(&b, " Installer page    http://%s/   (asks for a password at first start; scripts: /installer/api/devices)\n\n", a.Installer)
	fmt.Fprintf(&b, " Template id       %s  (#define BLYNK_TEMPLATE_ID \"%s\")\n\n", DemoTemplate, DemoTemplate)
	for _, d := range st.Devices {
		sim := ""
		for _, s := range simulated {
			if s.Name == d.Name {
				sim = "   (simulated: writes a temperature on V0)"
			}
		}
		fmt.Fprintf(&b, " %-17s token %s%s\n", d.Name, d.Token, sim)
	}
	if len(st.Devices) > 0 {
		fmt.Fprintf(&b, "\n Try: curl 'http://%s/external/api/update?token=%s&v1=23.5'\n\n", at(a.HTTP), st.Devices[0].Token)
	}
	fmt.Fprintf(&b, " Cloud console      %s/   (open it in a browser; sign in as the admin below)\n", cloudURL)
	fmt.Fprintf(&b, " Cloud Platform API %s/api/v1   (OpenAPI: %s/api/v1/openapi.json)\n", cloudURL, cloudURL)
	fmt.Fprintf(&b, " Cloud admin        %s  password %s\n", st.AdminEmail, st.AdminPassword)
	fmt.Fprintf(&b, " Log in:  curl -s -X POST %s/api/v1/auth/login -H 'Content-Type: application/json' -d '{\"email\":\"%s\",\"password\":\"%s\"}'\n\n",
		cloudURL, st.AdminEmail, st.AdminPassword)
	fmt.Fprint(w, b.String())
}
