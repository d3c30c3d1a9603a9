package consoletest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAutomationConditionsInBrowser: the editor's conditions without
// JSON. The script hides the JSON, turns each row's "Remove" tick box into
// a button, and adds rows; the Admin writes two conditions joined by OR
// (one on a row the script added, an empty spare row removed) and a time
// window, and the saved automation holds them; the JSON stays one radio
// away. The editor passes the page check at 1440 and 375 px.
func TestAutomationConditionsInBrowser(t *testing.T) {
	problems := make(chan string, 32)
	ctx := browser(t, problems)
	s := startSite(t)
	base := s.url
	signIn(t, ctx, base, adminEmail, adminPW)

	const pick = `((id, label) => { const s = document.getElementById(id);
		s.value = [...s.options].find(o => o.textContent === label).value; })`
	var jsonHidden, addShown bool
	var boxes, buttons int
	run(t, ctx, "the script's conditions",
		chromedp.Navigate(base+"/automations/new"),
		chromedp.WaitVisible("#autoform", chromedp.ByID),
		eval(settle, nil),
		chromedp.Evaluate(`document.querySelector('[data-cpart="json"]').hidden`, &jsonHidden),
		chromedp.Evaluate(`!document.getElementById("add-cond").hidden`, &addShown),
		chromedp.Evaluate(`document.querySelectorAll("#condrows input[data-remove]").length`, &boxes),
		chromedp.Evaluate(`document.querySelectorAll("#condrows button.danger").length`, &buttons))
	if !jsonHidden || !addShown || boxes != 0 || buttons != 2 {
		t.Fatalf("JSON hidden %v, Add shown %v, tick boxes %d, Remove buttons %d: want the form with two removable rows",
			jsonHidden, addShown, boxes, buttons)
	}
	var rows int
	run(t, ctx, "write two conditions and a window",
		chromedp.SendKeys("#a-name", "Guarded boiler", chromedp.ByID),
		eval(pick+`("t-device", "Boiler One")`, nil),
		chromedp.SetValue("#t-value", "30", chromedp.ByID),
		chromedp.SendKeys("#a0_subject", "Boiler hot", chromedp.ByID),
		chromedp.SendKeys("#a0_text", "V0 = {trigger_value}", chromedp.ByID),
		eval(pick+`("c0_device", "Heat Pump Two")`, nil),
		chromedp.SetValue("#c0_pin", "2", chromedp.ByID),
		chromedp.SetValue("#c0_op", "on", chromedp.ByID),
		chromedp.Click("#add-cond", chromedp.ByID))
	run(t, ctx, "the added row",
		chromedp.WaitVisible("#c2_device", chromedp.ByID),
		eval(pick+`("c2_device", "Boiler One")`, nil),
		chromedp.SetValue("#c2_pin", "1", chromedp.ByID),
		chromedp.SetValue("#c2_op", "lt", chromedp.ByID),
		chromedp.SetValue("#c2_value", "12.5", chromedp.ByID))
	run(t, ctx, "remove the empty spare row",
		chromedp.Click(`//select[@id="c1_device"]/ancestor::li//button[. = "Remove"]`))
	run(t, ctx, "join and window",
		chromedp.Evaluate(`document.querySelectorAll("#condrows > li").length`, &rows),
		chromedp.SetValue("#c-join", "any", chromedp.ByID),
		chromedp.SetValue("#w-from", "08:00", chromedp.ByID),
		chromedp.SetValue("#w-to", "18:00", chromedp.ByID),
		chromedp.Click(`#autoform button.primary`, chromedp.ByQuery))
	var body string
	run(t, ctx, "saved", chromedp.WaitVisible(`//p[contains(., "Saved.")] | //*[contains(@class, "error")]`),
		chromedp.Evaluate(`document.querySelector("main").innerText`, &body))
	if !strings.Contains(body, "Saved.") {
		t.Fatalf("not saved:\n%s", body)
	}
	if rows != 2 {
		t.Errorf("%d rows after one was added and one removed, want 2", rows)
	}
	var path string
	run(t, ctx, "where it is", chromedp.Evaluate(`location.pathname`, &path))
	id := strings.TrimPrefix(path, "/automations/")
	var au struct{ Conditions json.RawMessage }
	s.api("GET", "/api/v1/organization/automation?id="+id, s.admin, nil, 200, &au)
	want := `{"all":[{"any":[{"datastream":{"device":"` + s.devs["Heat Pump Two"].UID + `","pin":2,"op":"on"}},` +
		`{"datastream":{"device":"` + s.devs["Boiler One"].UID + `","pin":1,"op":"lt","value":"12.5"}}]},` +
		`{"window":{"from":"08:00","to":"18:00"}}]}`
	if string(au.Conditions) != want {
		t.Fatalf("conditions\n%s\nwant\n%s", au.Conditions, want)
	}
	var formHidden bool
	var text string
	run(t, ctx, "the JSON one radio away",
		chromedp.Navigate(base+path+"/edit"),
		chromedp.WaitVisible("#autoform", chromedp.ByID),
		chromedp.Click(`input[name="c_mode"][value="json"]`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('[data-cpart="form"]').hidden`, &formHidden),
		chromedp.Evaluate(`document.getElementById("a-cond").value`, &text))
	if !formHidden || !strings.Contains(text, `"window"`) {
		t.Errorf("JSON mode: form hidden %v, JSON %q", formHidden, text)
	}
	checkPages(t, ctx, problems, base, []pageCheck{{path + "/edit", "#conds"}})
}
