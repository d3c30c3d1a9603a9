package consoletest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"outpost/shared/devicesim"
)

// TestCatalogInBrowser walks the catalog pages by clicks: create a
// template with a datastream and enable it in Client A, create a device
// there (its token is shown once, in a sketch header) and log a simulated
// Blynk TCP device in with it through the gateway; generate static tokens
// and claim one by pasting its QR payload; transfer the device to Client B
// (refused until its template is enabled there, §13) after which Client
// B's user sees it and Client A's no longer does.
func TestCatalogInBrowser(t *testing.T) {
	problems := make(chan string, 32)
	ctx := browser(t, problems)
	s := startSite(t)
	base := s.url
	const o = "/api/v1/organization"
	s.api("POST", o+"/users/create-in-org", s.admin, map[string]any{"email": "bob@b.test", "password": viewerPW,
		"name": "Bob of B", "orgId": s.orgB, "roleId": 1}, 201, nil)

	signIn(t, ctx, base, adminEmail, adminPW)
	var tmplID string
	run(t, ctx, "create a template",
		chromedp.Navigate(base+"/templates"),
		chromedp.WaitVisible("#t-name", chromedp.ByID),
		chromedp.SendKeys("#t-name", "Pump", chromedp.ByID),
		chromedp.Submit("#t-name", chromedp.ByID),
		chromedp.WaitVisible(`//p[contains(., "The template was created")]`),
		chromedp.Text("#tmplid", &tmplID, chromedp.ByID))
	run(t, ctx, "add a datastream",
		chromedp.SendKeys("#ds-pin", "V0", chromedp.ByID),
		chromedp.SendKeys("#ds-name", "Pressure", chromedp.ByID),
		chromedp.SetValue("#ds-type", "double", chromedp.ByID),
		chromedp.SendKeys("#ds-units", "bar", chromedp.ByID),
		chromedp.SendKeys("#ds-max", "10", chromedp.ByID),
		chromedp.Click(`#dsform button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//table[@id="datastreams"]//td[. = "Pressure"]`))
	// A refused datastream: the message next to the field, nothing added.
	var rows int
	run(t, ctx, "a taken pin is refused",
		chromedp.SendKeys("#ds-pin", "V0", chromedp.ByID),
		chromedp.SendKeys("#ds-name", "Again", chromedp.ByID),
		chromedp.Click(`#dsform button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//p[@class="errors"][contains(., "V0 already has a datastream.")]`),
		chromedp.Evaluate(`document.querySelectorAll("#datastreams tbody tr").length`, &rows))
	if rows != 1 {
		t.Errorf("after a refused add the template lists %d datastreams", rows)
	}
	run(t, ctx, "enable it in Client A",
		chromedp.Click(`button[aria-label="Enable in Client A"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`button[aria-label="Disable in Client A"]`, chromedp.ByQuery))
	shots(t, ctx, base, "template", "/templates/"+tmplID)

	// Create a device: the token is shown once, with the sketch header.
	var token, sketch string
	run(t, ctx, "create a device",
		chromedp.Navigate(base+"/devices"),
		chromedp.Click(`//a[. = "New device"]`),
		chromedp.WaitVisible("#nd-name", chromedp.ByID),
		chromedp.SetValue("#nd-template", tmplID, chromedp.ByID),
		chromedp.SendKeys("#nd-name", "Pump One", chromedp.ByID),
		chromedp.SetValue("#nd-org", fmt.Sprint(s.orgA), chromedp.ByID),
		chromedp.Submit("#nd-name", chromedp.ByID),
		chromedp.WaitVisible("#sketch", chromedp.ByID),
		chromedp.Text("#token", &token, chromedp.ByID),
		chromedp.Text("#sketch", &sketch, chromedp.ByID))
	want := fmt.Sprintf("#define BLYNK_TEMPLATE_ID \"%s\"\n#define BLYNK_TEMPLATE_NAME \"Pump\"\n#define BLYNK_AUTH_TOKEN \"%s\"", tmplID, token)
	if token == "" || strings.TrimSpace(sketch) != want {
		t.Errorf("sketch header %q, want %q", sketch, want)
	}
	shots(t, ctx, base, "devicecreated", "")
	var pumpURL string
	run(t, ctx, "open the device", chromedp.Click(`//a[. = "Open the device"]`), chromedp.WaitVisible("#device", chromedp.ByID),
		chromedp.Location(&pumpURL))
	var seen bool
	run(t, ctx, "the token is not on the device page", chromedp.Evaluate(fmt.Sprintf(`document.body.innerHTML.includes(%q)`, sketch[:20]), &seen))
	if seen {
		t.Error("the sketch header is shown again on the device page")
	}
	// The token logs a Blynk TCP device in through the gateway.
	var dev *devicesim.Device
	waitFor(t, "the new device's login at the gateway", 30*time.Second, func() bool {
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		dev, err = devicesim.Dial(dctx, s.gw.Addrs().Blynk, devicesim.Options{Token: token})
		return err == nil
	})
	defer dev.Close()
	if _, err := dev.VirtualWrite(0, 3.5); err != nil {
		t.Fatal(err)
	}

	// Static tokens: generate two of the Thermostat in the root, and
	// Bob of Client B claims one by pasting its QR payload.
	var payload string
	var imgs int
	run(t, ctx, "generate static tokens",
		chromedp.Navigate(base+"/static-tokens"),
		chromedp.WaitVisible("#st-count", chromedp.ByID),
		chromedp.SetValue("#st-template", s.template, chromedp.ByID),
		chromedp.SetValue("#st-count", "2", chromedp.ByID),
		chromedp.Submit("#st-count", chromedp.ByID),
		chromedp.WaitVisible(`//p[contains(., "2 static tokens were created")]`),
		chromedp.Text(`#statictokens tbody tr:first-child code.payload`, &payload, chromedp.ByQuery))
	shots(t, ctx, base, "statictokens", "")
	run(t, ctx, "QR sheet",
		chromedp.Click(`//a[. = "Print QR sheet"]`),
		chromedp.WaitVisible("#qrsheet", chromedp.ByID),
		chromedp.Evaluate(`[...document.querySelectorAll("#qrsheet img")].filter(i => i.complete && i.naturalWidth > 0).length`, &imgs))
	if imgs != 2 {
		t.Errorf("the QR sheet shows %d decoded images, want 2", imgs)
	}
	shots(t, ctx, base, "tokensheet", "")

	run(t, ctx, "sign out", chromedp.Submit(`form[action="/logout"] button`, chromedp.ByQuery), chromedp.WaitVisible("#email", chromedp.ByID))
	signIn(t, ctx, base, "bob@b.test", viewerPW)
	var claimed string
	run(t, ctx, "claim by pasting the QR payload",
		chromedp.Navigate(base+"/static-tokens"),
		chromedp.WaitVisible("#st-qr", chromedp.ByID),
		chromedp.SendKeys("#st-qr", payload, chromedp.ByID),
		chromedp.SendKeys("#st-name", "Bob's Thermostat", chromedp.ByID),
		chromedp.Submit("#st-qr", chromedp.ByID),
		chromedp.WaitVisible("#device", chromedp.ByID),
		chromedp.Text("h1", &claimed, chromedp.ByQuery))
	if claimed != "Bob's Thermostat" {
		t.Errorf("after the claim the page shows %q", claimed)
	}
	run(t, ctx, "claim it again",
		chromedp.Navigate(base+"/static-tokens"),
		chromedp.WaitVisible("#st-qr", chromedp.ByID),
		chromedp.SendKeys("#st-qr", payload, chromedp.ByID),
		chromedp.Submit("#st-qr", chromedp.ByID),
		chromedp.WaitVisible(`//p[@id="st-qr-err"][contains(., "No unclaimed device has this code.")]`))
	status := func(who, url string) int {
		var st int
		run(t, ctx, who+" fetches "+url, eval(fmt.Sprintf(`fetch(%q).then(r => r.status)`, url), &st))
		return st
	}
	if st := status("Bob", pumpURL); st != 404 {
		t.Errorf("before the transfer Bob (Client B) opens Client A's device: %d", st)
	}
	run(t, ctx, "sign out", chromedp.Submit(`form[action="/logout"] button`, chromedp.ByQuery), chromedp.WaitVisible("#email", chromedp.ByID))
	signIn(t, ctx, base, "viewer@a.test", viewerPW)
	if st := status("Vera", pumpURL); st != 200 {
		t.Errorf("before the transfer Vera (Client A) cannot open the device: %d", st)
	}

	// Transfer to Client B: refused while the template is not enabled
	// there (§13: the service's words next to the field), then done.
	run(t, ctx, "sign out", chromedp.Submit(`form[action="/logout"] button`, chromedp.ByQuery), chromedp.WaitVisible("#email", chromedp.ByID))
	signIn(t, ctx, base, adminEmail, adminPW)
	run(t, ctx, "transfer, refused",
		chromedp.Navigate(pumpURL),
		chromedp.Click(`//a[. = "Manage"]`),
		chromedp.WaitVisible("#dm-org", chromedp.ByID),
		chromedp.SetValue("#dm-org", fmt.Sprint(s.orgB), chromedp.ByID),
		chromedp.Submit("#dm-org", chromedp.ByID),
		chromedp.WaitVisible(`//p[@id="dm-org-err"][contains(., "is not enabled in the destination organization")]`))
	shots(t, ctx, base, "devicemanage", "")
	run(t, ctx, "enable the template in Client B",
		chromedp.Navigate(base+"/templates/"+tmplID),
		chromedp.Click(`button[aria-label="Enable in Client B"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`button[aria-label="Disable in Client B"]`, chromedp.ByQuery))
	run(t, ctx, "transfer",
		chromedp.Navigate(pumpURL+"/manage"),
		chromedp.WaitVisible("#dm-org", chromedp.ByID),
		chromedp.SetValue("#dm-org", fmt.Sprint(s.orgB), chromedp.ByID),
		chromedp.Submit("#dm-org", chromedp.ByID),
		chromedp.WaitVisible(`//p[contains(., "Saved.")]`))
	run(t, ctx, "sign out", chromedp.Submit(`form[action="/logout"] button`, chromedp.ByQuery), chromedp.WaitVisible("#email", chromedp.ByID))
	signIn(t, ctx, base, "viewer@a.test", viewerPW)
	if st := status("Vera", pumpURL); st != 404 {
		t.Errorf("after the transfer Vera (Client A) still opens the device: %d", st)
	}
	run(t, ctx, "sign out", chromedp.Submit(`form[action="/logout"] button`, chromedp.ByQuery), chromedp.WaitVisible("#email", chromedp.ByID))
	signIn(t, ctx, base, "bob@b.test", viewerPW)
	var listed bool
	run(t, ctx, "Bob's device list", chromedp.Navigate(base+"/devices"), chromedp.WaitVisible("#count", chromedp.ByID),
		chromedp.Evaluate(`[...document.querySelectorAll("#devices tbody a")].some(a => a.textContent === "Pump One")`, &listed))
	if !listed {
		t.Error("after the transfer Bob (Client B) does not see Pump One in his list")
	}
	shots(t, ctx, base, "devices-bulk", "/devices")

	// A location for the whole company: a Client B device placed
	// there and a user assigned, by clicks.
	run(t, ctx, "sign out", chromedp.Submit(`form[action="/logout"] button`, chromedp.ByQuery), chromedp.WaitVisible("#email", chromedp.ByID))
	signIn(t, ctx, base, adminEmail, adminPW)
	var locURL string
	var checked bool
	run(t, ctx, "create a location",
		chromedp.Navigate(base+"/locations"),
		chromedp.WaitVisible("#l-name", chromedp.ByID),
		chromedp.SendKeys("#l-name", "Plant room", chromedp.ByID),
		chromedp.SendKeys("#l-city", "Lyon", chromedp.ByID),
		chromedp.Submit("#l-name", chromedp.ByID),
		chromedp.WaitVisible(`//h1[. = "Plant room"]`),
		chromedp.Location(&locURL))
	run(t, ctx, "place Pump One there",
		chromedp.SetValue("#l-dev", fmt.Sprint(s.devs["Other Client Device"].ID), chromedp.ByID),
		chromedp.Submit("#l-dev", chromedp.ByID),
		chromedp.WaitVisible(`//section[@aria-labelledby="h-ld"]//a[. = "Other Client Device"]`))
	// The page before the save is marked: the check reads the page the
	// save answered with, not the one still showing the click.
	run(t, ctx, "assign Ada",
		chromedp.Click(`//label[contains(., "Ada Admin")]/input`),
		chromedp.Evaluate(`document.body.dataset.beforeSave = "1"`, nil),
		chromedp.Click(`//form[@action="`+locURL[len(base):]+`/users"]//button`),
		chromedp.WaitVisible(`//body[not(@data-before-save)]//p[contains(., "Saved.")]`),
		chromedp.Evaluate(`[...document.querySelectorAll('input[name="user"]')].some(i => i.checked)`, &checked))
	if !checked {
		t.Error("the assigned user is not checked after saving")
	}
	shots(t, ctx, base, "location", "")

	// Readable on a phone: the catalog pages do not scroll sideways.
	for _, path := range []string{"/templates", "/templates/" + tmplID, "/devices/new", pumpURL[len(base):] + "/manage", "/static-tokens",
		"/static-tokens/sheet?status=claimed", "/locations", locURL[len(base):], "/tags", "/developers", "/devices"} {
		var width int
		run(t, ctx, "narrow "+path,
			chromedp.EmulateViewport(375, 800),
			chromedp.Navigate(base+path),
			chromedp.WaitVisible("main", chromedp.ByQuery),
			chromedp.Evaluate(`document.documentElement.scrollWidth`, &width))
		if width > 375 {
			var wide string
			run(t, ctx, "what is wide", chromedp.Evaluate(`[...document.querySelectorAll("main *")].filter(e => e.getBoundingClientRect().right > 376).slice(0, 5).map(e => e.tagName + "." + e.className + "#" + e.id).join(" ")`, &wide))
			t.Errorf("%s is %d px wide at a 375 px viewport (%s)", path, width, wide)
		}
	}
	run(t, ctx, "wide again", chromedp.EmulateViewport(1280, 900))
	for _, p := range []string{"/templates", "/locations", "/tags", "/developers", "/devices/new"} {
		shots(t, ctx, base, strings.Trim(strings.ReplaceAll(p, "/", "-"), "-"), p)
	}
	for {
		select {
		case p := <-problems:
			t.Errorf("in the browser: %s", p)
		default:
			return
		}
	}
}

// shots saves full-page screenshots of path ("" = the page shown) at 1440
// and 375 px into $OUTPOST_SHOTS, when set (for looking at the pages).
func shots(t *testing.T, ctx context.Context, base, name, path string) {
	dir := os.Getenv("OUTPOST_SHOTS")
	if dir == "" {
		return
	}
	for _, w := range []int64{1440, 375} {
		var png []byte
		acts := []chromedp.Action{emulation.SetDeviceMetricsOverride(w, 900, 1, w < 500)}
		if path != "" {
			acts = append(acts, chromedp.Navigate(base+path), chromedp.WaitVisible("main", chromedp.ByQuery))
		}
		acts = append(acts, chromedp.FullScreenshot(&png, 100))
		run(t, ctx, fmt.Sprintf("screenshot %s at %d px", name, w), acts...)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, w)), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, ctx, "viewport back", emulation.ClearDeviceMetricsOverride(), chromedp.EmulateViewport(1280, 900))
}
