package consoletest

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"outpost/shared/blnkinf"
)

// TestFirmwarePages: an image uploaded through the API is listed on the
// Firmware page; a shipment started from its form opens its page with a
// status row per device of the template; Pause works from the page; the
// page reads on a 375 px phone. With OUTPOST_SHOTS set, screenshots of
// both pages at 1440 and 375 px are written there.
func TestFirmwarePages(t *testing.T) {
	s := startSite(t)
	img := bytes.Repeat([]byte{0xE9, 0, 1, 2}, 8192)
	copy(img[1000:], blnkinf.Encode(blnkinf.Tag{Version: "1.2.0", Type: s.template, Build: "Dec  3 2026 03:30:00"}))
	req, _ := http.NewRequest("POST", s.url+"/api/v1/organization/firmware/upload?templateId="+s.template+"&name=thermostat.bin", bytes.NewReader(img))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Authorization", "Bearer "+s.admin)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %v %v", res, err)
	}
	res.Body.Close()

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
	var listed string
	run(t, ctx, "the firmware page",
		chromedp.Navigate(s.url+"/firmware"),
		chromedp.WaitVisible("#sname", chromedp.ByID),
		chromedp.Text("main", &listed, chromedp.ByQuery),
	)
	if !strings.Contains(listed, "1.2.0") || !strings.Contains(listed, "No shipment yet") {
		t.Fatalf("firmware page: %q", listed)
	}
	run(t, ctx, "start a shipment from the form",
		chromedp.SendKeys("#sname", "Thermostats 1.2", chromedp.ByID),
		chromedp.SetValue("#swin", "night", chromedp.ByID),
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
	shot("shipment")
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
	for _, path := range []string{"/firmware", shipmentPath} {
		var width int
		run(t, ctx, "narrow "+path, chromedp.EmulateViewport(375, 800), chromedp.Navigate(s.url+path),
			chromedp.WaitVisible("main", chromedp.ByQuery), chromedp.Evaluate(`document.documentElement.scrollWidth`, &width))
		if width > 375 {
			t.Errorf("%s is %d px wide at a 375 px viewport", path, width)
		}
	}
	select {
	case p := <-problems:
		t.Errorf("browser: %s", p)
	default:
	}
}
