package consoletest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestAutomationsInBrowser: the root Admin writes an automation in the
// editor (its script shows the fields of the chosen trigger), runs it now
// from its page (the run appears in the log, its notification in the
// bell), and every automation and notification page passes the page
// check at 1440 and 375 px.
func TestAutomationsInBrowser(t *testing.T) {
	problems := make(chan string, 32)
	ctx := browser(t, problems)
	s := startSite(t)
	s.device("Boiler One", nil)
	base := s.url
	signIn(t, ctx, base, adminEmail, adminPW)

	var hiddenBefore, hiddenAfter bool
	run(t, ctx, "the editor shows the trigger's fields",
		chromedp.Navigate(base+"/automations/new"),
		chromedp.WaitVisible("#autoform", chromedp.ByID),
		eval(settle, nil),
		chromedp.Evaluate(`document.getElementById("t-event").closest(".field").hidden`, &hiddenBefore),
		chromedp.SetValue("#t-kind", "event", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById("t-kind").dispatchEvent(new Event("change"))`, nil),
		chromedp.Evaluate(`document.getElementById("t-event").closest(".field").hidden`, &hiddenAfter))
	if !hiddenBefore || hiddenAfter {
		t.Errorf("event code hidden for a datastream trigger: %v, for an event trigger: %v", hiddenBefore, hiddenAfter)
	}
	run(t, ctx, "write an automation",
		chromedp.SetValue("#t-kind", "datastream", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById("t-kind").dispatchEvent(new Event("change"))`, nil),
		chromedp.SendKeys("#a-name", "Hot boiler", chromedp.ByID),
		chromedp.Evaluate(`(() => { const s = document.getElementById("t-device");
			s.value = [...s.options].find(o => o.textContent === "Boiler One").value; })()`, nil),
		chromedp.SetValue("#t-value", "30", chromedp.ByID),
		chromedp.SendKeys("#a0_subject", "Boiler hot", chromedp.ByID),
		chromedp.SendKeys("#a0_text", "V0 = {trigger_value}", chromedp.ByID),
		chromedp.Click(`#autoform button.primary`, chromedp.ByQuery),
		chromedp.WaitVisible(`//p[contains(., "Saved.")]`))
	var path string
	run(t, ctx, "where it is", chromedp.Evaluate(`location.pathname`, &path))
	if !strings.HasPrefix(path, "/automations/") {
		t.Fatalf("after saving: %s", path)
	}
	run(t, ctx, "run it now",
		chromedp.Click(`//button[. = "Run now"]`),
		chromedp.WaitVisible(`//p[contains(., "Started")]`))
	var rows int
	for i := 0; i < 100 && rows == 0; i++ {
		run(t, ctx, "reload the run log", chromedp.Navigate(base+path), chromedp.WaitVisible("main", chromedp.ByQuery),
			chromedp.Evaluate(`document.querySelectorAll("#runs tbody tr").length`, &rows))
		if rows == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	var log, bell string
	run(t, ctx, "read the run log and the bell",
		chromedp.Evaluate(`document.querySelector("#runs tbody").textContent`, &log),
		chromedp.Evaluate(`document.querySelector("a.bell").getAttribute("aria-label")`, &bell))
	if !strings.Contains(log, "Run now") || !strings.Contains(log, "ok Notify: Boiler hot") {
		t.Errorf("run log: %q", log)
	}
	if bell != "Notifications, 1 unread" {
		t.Errorf("bell: %q", bell)
	}
	checkPages(t, ctx, problems, base, []pageCheck{{"/automations", "#automations"}, {path, ""}, {path + "/edit", "#autoform"},
		{"/automations/new", "#autoform"}, {"/notifications", "#notes"}})
	var unread string
	run(t, ctx, "the bell after reading",
		chromedp.Navigate(base+"/devices"), chromedp.WaitVisible("a.bell", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector("a.bell").getAttribute("aria-label")`, &unread))
	if unread != fmt.Sprintf("Notifications, %d unread", 0) {
		t.Errorf("bell after the notifications page: %q", unread)
	}
}
