package consoletest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"outpost/shared/blnkinf"
)

// TestFirmwarePages: an image uploaded from the Firmware page's form is
// listed there, one whose tag names another template is refused with the
// reason; a user-controlled shipment started from its form opens its page
// with a status row and an Approve button per device of the template;
// Approve and Pause work from the page; the pages pass the page check.
// With OUTPOST_SHOTS set, screenshots of both pages at 1440 and 375 px
// are written there.
func TestFirmwarePages(t *testing.T) {
	s := startSite(t)
	dir := t.TempDir()
	image := func(name, typ string) string {
		img := bytes.Repeat([]byte{0xE9, 0, 1, 2}, 8192)
		copy(img[1000:], blnkinf.Encode(blnkinf.Tag{Version: "1.2.0", Type: typ, Build: "Dec  3 2026 03:30:00"}))
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, img, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, wrong := image("thermostat.bin", s.template), image("other.bin", "TMPLother")

	problems := make(chan string, 16)
	ctx := browser(t, problems)
	signIn(t, ctx, s.url, adminEmail, adminPW)
	shots := os.Getenv("OUTPOST_SHOTS")
	shot := func(name string) {
		t.Helper()
		if shots == "" {
			return
		}
		for _, w := range []int64{1440, 375} {
			var png []byte
			run(t, ctx, "screenshot "+name, chromedp.EmulateViewport(w, 900), chromedp.FullScreenshot(&png, 100))
			if err := os.WriteFile(filepath.Join(shots, fmt.Sprintf("%s-%d.png", name, w)), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		run(t, ctx, "wide again", chromedp.EmulateViewport(1280, 900))
	}
	big := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(big, make([]byte, 16<<20+1), 0o600); err != nil { // the default firmware.max_image_bytes + 1
		t.Fatal(err)
	}
	var tooBig string
	run(t, ctx, "pick an image over the limit",
		chromedp.Navigate(s.url+"/firmware"),
		chromedp.WaitVisible("#ufile", chromedp.ByID),
		chromedp.SetUploadFiles("#ufile", []string{big}, chromedp.ByID),
		chromedp.Evaluate(`document.getElementById("ufile").validationMessage`, &tooBig),
	)
	if !strings.Contains(tooBig, "larger than the limit of 16 MiB") {
		t.Errorf("an image over the limit picked: validation message %q", tooBig)
	}
	var refused string
	run(t, ctx, "upload an image of another template",
		chromedp.Navigate(s.url+"/firmware"),
		chromedp.WaitVisible("#ufile", chromedp.ByID),
		chromedp.SetUploadFiles("#ufile", []string{wrong}, chromedp.ByID),
		chromedp.Submit("#ufile", chromedp.ByID),
		chromedp.WaitVisible("#upload-error", chromedp.ByID),
		chromedp.Text("#upload-error", &refused, chromedp.ByID),
	)
	if !strings.Contains(refused, "does not match template") {
		t.Errorf("refused upload says %q", refused)
	}
	var listed string
	run(t, ctx, "upload from the firmware page",
		chromedp.SetUploadFiles("#ufile", []string{good}, chromedp.ByID),
		chromedp.Submit("#ufile", chromedp.ByID),
		chromedp.WaitVisible("#sname", chromedp.ByID),
		chromedp.Text("main", &listed, chromedp.ByQuery),
	)
	if !strings.Contains(listed, "1.2.0") || !strings.Contains(listed, "thermostat.bin") || !strings.Contains(listed, "No shipment yet") {
		t.Fatalf("firmware page: %q", listed)
	}
	run(t, ctx, "start a shipment from the form",
		chromedp.SendKeys("#sname", "Thermostats 1.2", chromedp.ByID),
		chromedp.SetValue("#swin", "night", chromedp.ByID),
		chromedp.Click(`input[name="user"]`, chromedp.ByQuery),
		chromedp.Submit("#sname", chromedp.ByID),
		chromedp.WaitVisible("#shipment-devices", chromedp.ByID),
	)
	var shipmentPath string
	run(t, ctx, "the shipment's path", chromedp.Evaluate(`location.pathname`, &shipmentPath))
	var rows int
	run(t, ctx, "count status rows", chromedp.Evaluate(`document.querySelectorAll("#shipment-devices tbody tr").length`, &rows))
	if rows != len(s.devs) {
		t.Errorf("%d status rows, want one per device of the template (%d)", rows, len(s.devs))
	}
	var approvable int
	run(t, ctx, "count Approve buttons", chromedp.Evaluate(`document.querySelectorAll('form[action$="/approve"]').length`, &approvable))
	if approvable != len(s.devs) {
		t.Errorf("%d Approve buttons, want one per device awaiting approval (%d)", approvable, len(s.devs))
	}
	shot("shipment")
	devicePath := fmt.Sprintf("/devices/%d", s.devs["Heat Pump Two"].ID)
	run(t, ctx, "the device page offers the approval",
		chromedp.Navigate(s.url+devicePath), chromedp.WaitVisible("#ota-approve", chromedp.ByID))
	shot("device-approve")
	run(t, ctx, "back to the shipment", chromedp.Navigate(s.url+shipmentPath), chromedp.WaitVisible("#shipment-devices", chromedp.ByID))
	var approved string
	run(t, ctx, "approve one device",
		chromedp.Click(`form[action$="/approve"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`p.notice.ok`, chromedp.ByQuery),
		chromedp.Text("#shipment-devices", &approved, chromedp.ByID),
	)
	if !strings.Contains(approved, "approved") {
		t.Errorf("after approving: %q", approved)
	}
	var notice string
	run(t, ctx, "pause",
		chromedp.Click(`form[action$="/pause"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`form[action$="/resume"]`, chromedp.ByQuery),
		chromedp.Text("main", &notice, chromedp.ByQuery),
	)
	if !strings.Contains(notice, "paused") {
		t.Errorf("after pausing: %q", notice)
	}
	run(t, ctx, "back to the list", chromedp.Navigate(s.url+"/firmware"), chromedp.WaitVisible("#shipments", chromedp.ByID))
	shot("firmware")
	checkPages(t, ctx, problems, s.url, []pageCheck{{"/firmware", "#shipments"}, {shipmentPath, "#shipment-devices"}, {devicePath, ""}})
}
