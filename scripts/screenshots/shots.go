package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

var (
	consoleRE   = regexp.MustCompile(`Cloud console\s+(http://\S+?)/\s`)
	installerRE = regexp.MustCompile(`Installer page\s+(http://\S+?)/\s`)
	adminRE     = regexp.MustCompile(`Cloud admin\s+(\S+)\s+password\s+(\S+)`)
)

// startSite builds scripts/site, runs it on free ports in a temporary
// directory and returns the console URL and the admin login from its
// banner, and a function that stops it.
func startSite(ctx context.Context) (url, installer, email, password string, stop func(), err error) {
	dir, err := os.MkdirTemp("", "outpost-shots-")
	if err != nil {
		return "", "", "", "", nil, err
	}
	bin := filepath.Join(dir, "site")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./scripts/site")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return "", "", "", "", nil, fmt.Errorf("build the site (run from the repository root): %w", err)
	}
	cmd := exec.Command(bin, "-data", filepath.Join(dir, "data"), "-port-base", "-1", "-devices", "4", "-sim", "3", "-sim-every", "500ms")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", "", "", "", nil, err
	}
	stop = func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		os.RemoveAll(dir)
	}
	found := make(chan [4]string, 1)
	go func() {
		var banner strings.Builder
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			banner.WriteString(sc.Text() + "\n")
			c, a := consoleRE.FindStringSubmatch(banner.String()), adminRE.FindStringSubmatch(banner.String())
			in := installerRE.FindStringSubmatch(banner.String())
			if !sent && c != nil && a != nil && in != nil {
				found <- [4]string{c[1], in[1], a[1], a[2]}
				sent = true
			}
		}
	}()
	select {
	case f := <-found:
		return f[0], f[1], f[2], f[3], stop, nil
	case <-time.After(2 * time.Minute):
		stop()
		return "", "", "", "", nil, errors.New("the site printed no console and installer URL within 2 minutes")
	}
}

type shot struct {
	name, path string
	ready      string // CSS selector to wait for
}

func run(ctx context.Context, out string, wait time.Duration) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	base, installer, email, password, stop, err := startSite(ctx)
	if err != nil {
		return err
	}
	defer stop()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true), chromedp.Flag("hide-scrollbars", true))
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Run(bctx); err != nil { // starts the browser, which lives as long as bctx
		return fmt.Errorf("start chromium: %w", err)
	}
	step := func(actions ...chromedp.Action) error {
		c, cancel := context.WithTimeout(bctx, time.Minute)
		defer cancel()
		return chromedp.Run(c, actions...)
	}
	if err := step(emulation.SetDeviceMetricsOverride(1440, 900, 1, false), chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible("#email", chromedp.ByID)); err != nil {
		return err
	}
	if err := save(step, out, "login-1440", 1440); err != nil {
		return err
	}
	if err := step(chromedp.SendKeys("#email", email, chromedp.ByID), chromedp.SendKeys("#password", password, chromedp.ByID),
		chromedp.Submit("#password", chromedp.ByID), chromedp.WaitVisible("#count", chromedp.ByID)); err != nil {
		return err
	}
	// Wait until the simulated devices are online and have some history.
	deadline := time.Now().Add(2 * time.Minute)
	since := time.Now()
	for {
		var online int
		if err := step(chromedp.Navigate(base+"/devices?status=online"), chromedp.WaitVisible("#count", chromedp.ByID),
			chromedp.Evaluate(`document.querySelectorAll("#devices tbody tr").length`, &online)); err != nil {
			return err
		}
		if online >= 3 {
			break
		}
		since = time.Now()
		if time.Now().After(deadline) {
			return errors.New("the simulated devices did not come online")
		}
		time.Sleep(time.Second)
	}
	time.Sleep(wait)
	var dev string
	if err := step(chromedp.Navigate(base+"/devices"), chromedp.WaitVisible("#devices", chromedp.ByID),
		chromedp.AttributeValue(`//table[@id="devices"]//a[contains(., "Demo Device 4")]`, "href", &dev, nil)); err != nil {
		return err
	}
	var tmpl string
	if err := step(chromedp.Navigate(base+"/templates"), chromedp.WaitVisible("main", chromedp.ByQuery),
		chromedp.AttributeValue(`//main//a[starts-with(@href, "/templates/")]`, "href", &tmpl, nil)); err != nil {
		return err
	}
	auto, err := automationSample(step, base)
	if err != nil {
		return err
	}
	shots := []shot{
		{"devices", "/devices", "#devices"},
		{"device", dev, `#device[data-state="live"]`},
		// The chart shows what the simulated devices wrote since they came up.
		{"charts", fmt.Sprintf("%s/charts?from=%d&to=%d", dev, since.Add(-2*time.Second).UnixMilli(), time.Now().Add(2*time.Second).UnixMilli()), "#chart0 svg"},
		{"timeline", dev + "/timeline", "main"},
		{"info", dev + "/info", "#metadata"},
		{"sites", "/sites", "main"},
		{"orgs", "/orgs", "#orgs"},
		{"users", "/users", "main"},
		{"roles", "/roles", "#matrix"},
		{"audit", "/audit", "main"},
		{"profile", "/profile", "main"},
		{"templates", "/templates", "main"},
		{"template", tmpl, "#evform"},
		{"static-tokens", "/static-tokens", "main"},
		{"developers", "/developers", "main"},
		{"automations", "/automations", "#automations"},
		{"automation", auto, "#runs"},
		{"automation-edit", auto + "/edit", "#autoform"},
		{"notifications", "/notifications", "#notes"},
		{"firmware", "/firmware", "main"},
		{"webhooks", "/webhooks", "main"},
		{"webhook-new", "/webhooks/new", "#wh-name"},
	}
	for _, width := range []int64{1440, 375} {
		for _, s := range shots {
			if err := step(emulation.SetDeviceMetricsOverride(width, 900, 1, width < 500), chromedp.Navigate(base+s.path),
				chromedp.WaitVisible(s.ready, chromedp.ByQuery)); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			if err := save(step, out, fmt.Sprintf("%s-%d", s.name, width), width); err != nil {
				return err
			}
		}
	}
	if err := step(emulation.SetDeviceMetricsOverride(1440, 900, 1, false),
		emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}),
		chromedp.Navigate(base+dev), chromedp.WaitVisible(`#device[data-state="live"]`, chromedp.ByQuery)); err != nil {
		return err
	}
	if err := save(step, out, "device-dark-1440", 1440); err != nil {
		return err
	}
	// The timeline's phone layout (stacked rows, Resolve) in dark mode.
	if err := step(emulation.SetDeviceMetricsOverride(375, 900, 1, true), chromedp.Navigate(base+dev+"/timeline"),
		chromedp.WaitVisible("main", chromedp.ByQuery)); err != nil {
		return err
	}
	if err := save(step, out, "timeline-dark-375", 375); err != nil {
		return err
	}
	if err := step(emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}})); err != nil {
		return err
	}
	return installerShots(step, installer, out)
}

// automationSample writes an automation in the console's editor, runs
// it now (a run in its log, a notification in the bell) and returns its
// page's path.
func automationSample(step func(...chromedp.Action) error, base string) (string, error) {
	var path string
	err := step(chromedp.Navigate(base+"/automations/new"), chromedp.WaitVisible("#autoform", chromedp.ByID),
		// Demo Device 3 is simulated (it reports V0): "run now" reads its value.
		chromedp.SendKeys("#a-name", "Demo Device 3 too warm", chromedp.ByID),
		chromedp.Evaluate(`(() => { const s = document.getElementById("t-device");
			s.value = [...s.options].find(o => o.textContent === "Demo Device 3").value; })()`, nil),
		chromedp.SetValue("#t-value", "30", chromedp.ByID),
		chromedp.SetValue("#t-hold", "10", chromedp.ByID),
		chromedp.SendKeys("#a0_subject", "Too warm", chromedp.ByID),
		chromedp.SendKeys("#a0_text", "Demo Device 3 reads {trigger_value}", chromedp.ByID),
		// Only if Demo Device 2 is warm too, in the daytime (the conditions
		// form); it also logs a critical event on Demo Device 4 (open on its
		// page once run).
		chromedp.Evaluate(`(() => { const s = document.getElementById("c0_device");
			s.value = [...s.options].find(o => o.textContent === "Demo Device 2").value; })()`, nil),
		chromedp.SetValue("#c0_value", "25", chromedp.ByID),
		chromedp.SetValue("#w-from", "06:00", chromedp.ByID),
		chromedp.SetValue("#w-to", "22:00", chromedp.ByID),
		chromedp.SetValue("#a1_kind", "log_event", chromedp.ByID),
		chromedp.Evaluate(`(() => { const s = document.getElementById("a1_device");
			s.value = [...s.options].find(o => o.textContent === "Demo Device 4").value; })()`, nil),
		chromedp.SetValue("#a1_event", "overheat", chromedp.ByID),
		chromedp.SetValue("#a1_text", "Demo Device 3 reads {trigger_value}", chromedp.ByID),
		chromedp.Click(`#autoform button.primary`, chromedp.ByQuery),
		chromedp.WaitVisible(`//p[contains(., "Saved.")]`),
		chromedp.Evaluate(`location.pathname`, &path),
		chromedp.Click(`//button[. = "Run now"]`),
		chromedp.WaitVisible(`//p[contains(., "Started")]`),
		chromedp.Sleep(time.Second))
	if err != nil {
		return "", fmt.Errorf("sample automation: %w", err)
	}
	return path, nil
}

// save writes a full-page PNG.
func save(step func(...chromedp.Action) error, dir, name string, width int64) error {
	var png []byte
	if err := step(chromedp.Sleep(300*time.Millisecond), chromedp.FullScreenshot(&png, 100)); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	path := filepath.Join(dir, name+".png")
	fmt.Println(path)
	return os.WriteFile(path, png, 0o644)
}
