package consoletest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"outpost/firmware-bridge/gpiobridge"
	"outpost/firmware-bridge/serialbridge"

	"outpost/cloud"
	"outpost/gateway"
	"outpost/internal/ptyboard"
	"outpost/shared/blynk"
	"outpost/shared/datastream"
	"outpost/shared/devicesim"
)

const installerPW = "installer-pass-1"

// gatewayConfig is a gateway on 127.0.0.1:0 with one template (a
// temperature and a pump switch) and one configured device.
func gatewayConfig(dir string) gateway.Config {
	gc := gateway.Defaults()
	gc.DataDir = dir
	for _, p := range []*string{&gc.Blynk.Listen, &gc.HTTP.Listen, &gc.Installer.Listen} {
		*p = "127.0.0.1:0"
	}
	gc.Blynk.TLSListen, gc.MQTT.Listen, gc.MQTT.TLSListen, gc.MQTT.WSListen = "", "", "", ""
	lo, hi := -40.0, 125.0
	gc.Templates = []datastream.Template{{ID: "TMPLGREEN01", Name: "Greenhouse", Datastreams: []datastream.Datastream{
		{Pin: 0, Name: "Temperature", Type: datastream.Double, Min: &lo, Max: &hi, Units: "°C"},
		{Pin: 4, Name: "Pump", Type: datastream.Boolean},
	}}}
	gc.Devices = []gateway.DeviceConfig{{Name: "Seed tray", Template: "TMPLGREEN01", Token: "SeedTrayToken0000000000000000000"}}
	return gc
}

// runGateway runs a gateway until stop (or the test's end).
func runGateway(t *testing.T, gc gateway.Config) (g *gateway.Gateway, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	g, _, err := gateway.New(ctx, gc, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return g, stop
}

// firstStart sets the installer password on a fresh gateway's page.
func firstStart(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	var loc string
	run(t, ctx, "first start",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible("#confirm", chromedp.ByID),
		chromedp.Location(&loc),
	)
	if !strings.HasSuffix(loc, "/setup") {
		t.Fatalf("a fresh gateway's page opened at %s, want /setup", loc)
	}
	run(t, ctx, "set the password",
		chromedp.SendKeys("#password", installerPW, chromedp.ByID),
		chromedp.SendKeys("#confirm", installerPW, chromedp.ByID),
		chromedp.Click(`button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#cloudstate", chromedp.ByID),
	)
}

// TestInstallerPageInBrowser: first start asks for a password; the
// installer adds a device, the token from the page logs in a simulated
// Blynk TCP device, its value appears live on the list and the device
// page, and the page's switch reaches the device.
func TestInstallerPageInBrowser(t *testing.T) {
	problems := make(chan string, 32)
	ctx := browser(t, problems)
	g, _ := runGateway(t, gatewayConfig(t.TempDir()))
	base := "http://" + g.Addrs().Installer
	firstStart(t, ctx, base)

	var token, sketch string
	run(t, ctx, "add a device",
		chromedp.Navigate(base+"/devices"),
		chromedp.WaitVisible("#name", chromedp.ByID),
		chromedp.SendKeys("#name", "Kitchen", chromedp.ByID),
		chromedp.SetValue("#template", "TMPLGREEN01", chromedp.ByID),
		chromedp.Click(`form[action="/devices"] button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#token", chromedp.ByID),
		chromedp.Text("#token", &token, chromedp.ByID),
		chromedp.Text("#sketch-tcp", &sketch, chromedp.ByID),
	)
	_, port, _ := strings.Cut(g.Addrs().Blynk, ":")
	for _, want := range []string{`BLYNK_TEMPLATE_ID   "TMPLGREEN01"`, `BLYNK_AUTH_TOKEN    "` + token + `"`, `"127.0.0.1", ` + port + `);`} {
		if !strings.Contains(sketch, want) {
			t.Errorf("sketch header lacks %s:\n%s", want, sketch)
		}
	}
	dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dev, err := devicesim.Dial(dctx, g.Addrs().Blynk, devicesim.Options{Token: token})
	if err != nil {
		t.Fatalf("the token from the page does not log in: %v", err)
	}
	defer dev.Close()

	// The list, opened before the value is written, shows it live.
	var href string
	run(t, ctx, "open the list",
		chromedp.Navigate(base+"/devices"),
		chromedp.WaitVisible("#devices", chromedp.ByID),
		eval(`[...document.querySelectorAll("#devices a")].find((a) => a.textContent === "Kitchen").getAttribute("href")`, &href),
		chromedp.WaitVisible(`#livestate`, chromedp.ByID),
	)
	if _, err := dev.VirtualWrite(0, 21.5); err != nil {
		t.Fatal(err)
	}
	var ok bool
	run(t, ctx, "the value appears in the list without a reload",
		chromedp.Poll(fmt.Sprintf(`document.querySelector('#devices a[href=%q]').closest("tr").querySelector("[data-values]").textContent.includes("21.5")`, href),
			&ok, chromedp.WithPollingTimeout(10*time.Second)),
	)

	// The device page: a new value arrives live; the switch reaches the device.
	run(t, ctx, "open the device page",
		chromedp.Navigate(base+href),
		chromedp.WaitVisible(`#device[data-state="live"]`, chromedp.ByQuery),
	)
	if _, err := dev.VirtualWrite(0, 23.25); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "the new value appears live",
		chromedp.Poll(`document.querySelector('output[data-value="0"]').textContent === "23.25"`, &ok, chromedp.WithPollingTimeout(10*time.Second)),
	)
	run(t, ctx, "switch the pump on",
		chromedp.Click(`.tile[data-pin="4"] [data-switch]`, chromedp.ByQuery),
	)
	in, err := dev.Expect(dctx, func(in devicesim.Incoming) bool { return in.Op == blynk.OpVirtualWrite && in.Pin == 4 })
	if err != nil {
		t.Fatalf("the device did not receive the switch: %v", err)
	}
	if len(in.Values) != 1 || in.Values[0] != "1" {
		t.Errorf("the device received V4 = %v, want [1]", in.Values)
	}
	var result string
	run(t, ctx, "the write's result", chromedp.Poll(`(() => { const r = document.querySelector('.tile[data-pin="4"] .result').textContent;
		return r !== "Sending…" && r; })()`, &result, chromedp.WithPollingTimeout(10*time.Second)))
	if result != "Applied" {
		t.Errorf("write result %q, want Applied", result)
	}
	select {
	case p := <-problems:
		t.Errorf("browser reported: %s", p)
	default:
	}
}

// TestInstallerCloudInBrowser: the claim code on the status page is the
// one `outpost-gateway claim-code` prints (both read cloud.json); once
// claimed and with the cloud stopped, the banner appears and devices keep
// working.
func TestInstallerCloudInBrowser(t *testing.T) {
	problems := make(chan string, 32)
	ctx := browser(t, problems)
	dir := t.TempDir()
	cctx, stopCloud := context.WithCancel(context.Background())
	cc := cloud.Defaults()
	cc.Listen, cc.DataDir = "127.0.0.1:0", filepath.Join(dir, "cloud")
	cc.Auth.BcryptCost = 4
	cc.Admin = cloud.AdminConfig{OrgName: "Installer Test", Email: adminEmail, Name: "Ada Admin", Password: adminPW}
	c, err := cloud.New(cc, nil)
	if err != nil {
		t.Fatal(err)
	}
	cdone := make(chan error, 1)
	go func() { cdone <- c.Run(cctx) }()
	cloudStopped := false
	stop := func() {
		if !cloudStopped {
			cloudStopped = true
			stopCloud()
			<-cdone
		}
	}
	t.Cleanup(stop)
	s := &site{t: t, cloud: c, url: c.URL()}
	var login struct{ Token string }
	s.api("POST", "/api/v1/auth/login", "", map[string]any{"email": adminEmail, "password": adminPW}, 200, &login)

	gc := gatewayConfig(filepath.Join(dir, "gateway"))
	gc.Cloud.URL, gc.Cloud.Name = c.URL(), "Greenhouse site"
	g, _ := runGateway(t, gc)
	base := "http://" + g.Addrs().Installer
	waitFor(t, "the gateway's registration", 30*time.Second, func() bool {
		id, err := gateway.ReadCloudIdentity(gc.DataDir)
		return err == nil && id.ClaimCode != ""
	})
	firstStart(t, ctx, base)
	var shown string
	run(t, ctx, "the claim code", chromedp.Navigate(base+"/"), chromedp.WaitVisible("#claimcode", chromedp.ByID),
		chromedp.Text("#claimcode", &shown, chromedp.ByID))
	id, err := gateway.ReadCloudIdentity(gc.DataDir) // what `outpost-gateway claim-code` prints
	if err != nil {
		t.Fatal(err)
	}
	if shown != id.ClaimCode || shown == "" {
		t.Fatalf("the page shows claim code %q, claim-code prints %q", shown, id.ClaimCode)
	}
	var org struct{ ID int64 }
	s.api("POST", "/api/v1/organization/create", login.Token, map[string]any{"name": "Client A"}, 201, &org)
	s.api("POST", "/api/v1/organization/gateway/claim", login.Token, map[string]any{"claimCode": shown, "orgId": org.ID}, 200, nil)
	// The status page reloads itself when the link's state changes.
	pageUntil(t, ctx, "the page follows the claim", `document.getElementById("cloudstate")?.dataset.state === "connected"`)
	waitFor(t, "the organization the site is claimed into", 30*time.Second, func() bool {
		var org string
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		err := chromedp.Run(c, chromedp.Navigate(base+"/"), chromedp.WaitVisible("#cloudstate", chromedp.ByID),
			chromedp.Evaluate(`document.getElementById("cloudorg")?.textContent ?? ""`, &org))
		return err == nil && org == "Client A"
	})

	stop()
	pageUntil(t, ctx, "the banner appears", `document.getElementById("banner")?.hidden === false`)
	var banner string
	run(t, ctx, "read the banner", chromedp.Text("#banner", &banner, chromedp.ByID))
	if !strings.Contains(banner, "Devices keep working") {
		t.Errorf("banner %q", banner)
	}
	// Devices keep working: a device logs in and its value shows.
	dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dev, err := devicesim.Dial(dctx, g.Addrs().Blynk, devicesim.Options{Token: "SeedTrayToken0000000000000000000"})
	if err != nil {
		t.Fatalf("a device cannot log in with the cloud down: %v", err)
	}
	defer dev.Close()
	if _, err := dev.VirtualWrite(0, 19.5); err != nil {
		t.Fatal(err)
	}
	var ok bool
	run(t, ctx, "the device's value with the cloud down",
		chromedp.Navigate(base+"/devices"),
		chromedp.Poll(`document.querySelector("#devices").textContent.includes("19.5")`, &ok, chromedp.WithPollingTimeout(10*time.Second)),
	)
	select {
	case p := <-problems:
		t.Errorf("browser reported: %s", p)
	default:
	}
}

// pageUntil evaluates expr in the page until it is true, across the page's
// own reloads, for at most 30 s.
func pageUntil(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	var last error
	waitFor(t, what, 30*time.Second, func() bool {
		var ok bool
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		last = chromedp.Run(c, chromedp.Evaluate(expr, &ok))
		return last == nil && ok
	})
}

// TestInstallerHardwareInBrowser: the hardware page lists the box's pins
// with the device bound to them (periph's gpiotest pins); that device's
// page shows an input edge live and toggles an output.
func TestInstallerHardwareInBrowser(t *testing.T) {
	problems := make(chan string, 32)
	ctx := browser(t, problems)
	gc := gatewayConfig(t.TempDir())
	parsed, err := gateway.ParseConfig(strings.NewReader(`version: 1
gpio:
  - name: pump room
    token: "gggggggggggggggggggggggggggggggg"
    pins:
      - {pin: GPIO17, vpin: 1, mode: input, edge: both, debounce: 0s}
      - {pin: GPIO27, vpin: 2, mode: output}
`))
	if err != nil {
		t.Fatal(err)
	}
	gc.GPIO = parsed.GPIO
	in := &gpiotest.Pin{N: "GPIO17", EdgesChan: make(chan gpio.Level, 4)}
	out := &gpiotest.Pin{N: "GPIO27"}
	hw := gateway.Hardware{
		OpenGPIO: func(...gpiobridge.Config) (map[string]gpio.PinIO, error) {
			return map[string]gpio.PinIO{"GPIO17": in, "GPIO27": out}, nil
		},
		ListGPIO: func() []gpiobridge.PinInfo {
			return []gpiobridge.PinInfo{{Name: "GPIO17", Number: 17}, {Name: "GPIO27", Number: 27}, {Name: "GPIO22", Number: 22}}
		},
	}
	ctxG, cancel := context.WithCancel(context.Background())
	g, _, err := gateway.New(ctxG, gc, nil, gateway.WithHardware(hw))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(ctxG) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	base := "http://" + g.Addrs().Installer
	firstStart(t, ctx, base)
	var href, free string
	run(t, ctx, "the hardware page",
		chromedp.Navigate(base+"/hardware"),
		chromedp.WaitVisible(`tr[data-key="gpio:GPIO17"] [data-device] a`, chromedp.ByQuery),
		chromedp.AttributeValue(`tr[data-key="gpio:GPIO17"] [data-device] a`, "href", &href, nil, chromedp.ByQuery),
		chromedp.Text(`tr[data-key="gpio:GPIO22"] [data-device]`, &free, chromedp.ByQuery),
	)
	if free != "free" {
		t.Errorf("GPIO22 shows %q, want free", free)
	}
	run(t, ctx, "the pins' device page",
		chromedp.Navigate(base+href),
		chromedp.WaitVisible(`#device[data-state="live"]`, chromedp.ByQuery),
	)
	in.EdgesChan <- gpio.High
	var ok bool
	run(t, ctx, "the input edge appears live",
		chromedp.Poll(`["1", "On"].includes(document.querySelector('output[data-value="1"]').textContent)`, &ok, chromedp.WithPollingTimeout(10*time.Second)))
	run(t, ctx, "toggle the output", chromedp.Click(`.tile[data-pin="2"] [data-switch]`, chromedp.ByQuery))
	waitFor(t, "GPIO27 driven high", 10*time.Second, func() bool { return out.Read() == gpio.High })
	select {
	case p := <-problems:
		t.Errorf("browser reported: %s", p)
	default:
	}
}

// TestInstallerSerialInBrowser: a pty-backed serial port bound from the
// hardware page is served at once; the MCU's login brings its device
// online and the page shows the port bound to it.
func TestInstallerSerialInBrowser(t *testing.T) {
	problems := make(chan string, 32)
	ctx := browser(t, problems)
	path, mcu := ptyboard.Plug(t)
	gc := gatewayConfig(t.TempDir())
	hw := gateway.Hardware{
		OpenSerial: func(pc serialbridge.PortConfig) serialbridge.Opener {
			return func(context.Context) (io.ReadWriteCloser, error) {
				return os.OpenFile(pc.Path, os.O_RDWR|syscall.O_NOCTTY, 0)
			}
		},
		ListSerial: func() ([]serialbridge.PortInfo, error) { return nil, nil },
	}
	ctxG, cancel := context.WithCancel(context.Background())
	g, _, err := gateway.New(ctxG, gc, nil, gateway.WithHardware(hw))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(ctxG) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	base := "http://" + g.Addrs().Installer
	firstStart(t, ctx, base)
	run(t, ctx, "bind the port",
		chromedp.Navigate(base+"/hardware"),
		chromedp.WaitVisible("#path", chromedp.ByID),
		chromedp.SendKeys("#path", path, chromedp.ByID),
		chromedp.Click(`form[action="/hardware/serial/bind"] button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(fmt.Sprintf(`tr[data-key="serial:%s"]`, path), chromedp.ByQuery),
	)
	// The MCU logs in over the port, as the Blynk library does at boot.
	w, rd := blynk.NewWriter(mcu), blynk.NewReader(mcu, 0)
	waitFor(t, "the MCU's login answered", 20*time.Second, func() bool {
		if err := w.Write(blynk.Message{Cmd: blynk.CmdHWLogin, ID: 1, Body: []byte("SeedTrayToken0000000000000000000")}); err != nil {
			return false
		}
		mcu.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		for {
			m, err := rd.Next()
			if err != nil {
				rd = blynk.NewReader(mcu, 0)
				return false
			}
			if m.Cmd == blynk.CmdResponse && m.ID == 1 {
				return m.Status == blynk.StatusSuccess
			}
		}
	})
	pageUntil(t, ctx, "the page shows the port bound to the device",
		fmt.Sprintf(`document.querySelector('tr[data-key="serial:%s"] [data-device] a')?.textContent === "Seed tray"`, path))
	var state string
	run(t, ctx, "the bridge's state", chromedp.Text(fmt.Sprintf(`tr[data-key="serial:%s"] [data-state]`, path), &state, chromedp.ByQuery))
	if state != "connected" {
		t.Errorf("bridge state %q, want connected", state)
	}
	select {
	case p := <-problems:
		t.Errorf("browser reported: %s", p)
	default:
	}
}
