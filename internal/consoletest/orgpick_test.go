package consoletest

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestOrgPickerInBrowser: with more orgs than a <select> lists (113, made
// through the Platform API; the handler test has the 1,111-org fixture)
// the new-device form's organization field is a combobox;
// by keyboard alone the Admin types part of the name of the last org in
// tree order, moves through the suggestions, picks one with Enter and
// creates the device there; Escape closes the list. The pages with such
// fields stay clean (no script error, no CSP violation) and fit 375 px.
func TestOrgPickerInBrowser(t *testing.T) {
	problems := make(chan string, 32)
	ctx := browser(t, problems)
	s := startSite(t)
	const o = "/api/v1/organization"
	var root struct{ ID int64 }
	s.api("GET", o+"/profile", s.admin, nil, 200, &root)
	parents := []int64{root.ID}
	byName := map[string]int64{}
	for depth := 2; depth <= 3; depth++ {
		var level []int64
		for i := 0; i < len(parents)*10; i++ {
			var created struct{ ID int64 }
			name := fmt.Sprintf("Fleet %d-%d", depth, i)
			s.api("POST", o+"/create", s.admin, map[string]any{"name": name, "parentId": parents[i/10], "canCreateSubOrgs": depth < 3}, 201, &created)
			byName[name] = created.ID
			level = append(level, created.ID)
		}
		parents = level
	}
	far := byName["Fleet 3-99"]
	s.api("PUT", fmt.Sprintf("%s/template/enabled?orgId=%d&templateId=%s&enabled=true", o, far, s.template), s.admin, nil, 204, nil)

	signIn(t, ctx, s.url, adminEmail, adminPW)
	var role, expanded, value, hidden string
	run(t, ctx, "the organization field is a combobox",
		chromedp.Navigate(s.url+"/devices/new"),
		chromedp.WaitVisible("#nd-org", chromedp.ByID),
		chromedp.AttributeValue("#nd-org", "role", &role, nil, chromedp.ByID))
	if role != "combobox" {
		t.Fatalf("#nd-org role %q, want combobox", role)
	}
	run(t, ctx, "type part of a name",
		chromedp.Focus("#nd-org", chromedp.ByID), // selects the current org's name: typing replaces it
		chromedp.KeyEvent("Fleet 3"),
		chromedp.WaitVisible(`//ul[@role="listbox"]/li[@role="option"][contains(., "Fleet 3-0")]`))
	run(t, ctx, "Escape closes the suggestions",
		chromedp.KeyEvent(kb.Escape),
		chromedp.Poll(`document.querySelector('ul[role="listbox"]').hidden`, nil),
		chromedp.AttributeValue("#nd-org", "aria-expanded", &expanded, nil, chromedp.ByID))
	if expanded != "false" {
		t.Errorf("aria-expanded after Escape: %q", expanded)
	}
	run(t, ctx, "type, move down, pick with Enter",
		chromedp.Evaluate(`document.querySelector("#nd-org").select()`, nil),
		chromedp.KeyEvent("3-9"),
		// 3-9 and 3-90..3-99: eleven, the last in tree order last.
		chromedp.WaitVisible(`//ul[@role="listbox"]/li[@role="option"][contains(., "Fleet 3-99")]`),
		chromedp.KeyEvent(kb.ArrowUp), // from the first, up wraps to the last: Fleet 3-99
		chromedp.KeyEvent(kb.Enter),
		chromedp.Poll(`document.querySelector('ul[role="listbox"]').hidden`, nil),
		chromedp.Value("#nd-org", &value, chromedp.ByID),
		chromedp.Value(`#nd-org ~ input[type="hidden"][name="org"]`, &hidden, chromedp.ByQuery))
	if value != "Fleet 3-99" || hidden != fmt.Sprint(far) {
		t.Fatalf("picked %q (org %q), want Fleet 3-99 (%d)", value, hidden, far)
	}
	shots(t, ctx, s.url, "devicenew-orgpick", "")
	run(t, ctx, "create the device there",
		chromedp.SetValue("#nd-template", s.template, chromedp.ByID),
		chromedp.SendKeys("#nd-name", "Far Pump", chromedp.ByID),
		chromedp.Click(`#nd-name`, chromedp.ByID),
		chromedp.KeyEvent(kb.Enter), // Enter in a text field submits the form
		chromedp.WaitVisible("#sketch", chromedp.ByID))
	var devs struct {
		Content []struct {
			Name  string
			OrgID int64 `json:"orgId"`
		}
	}
	s.api("GET", fmt.Sprintf("%s/devices?orgId=%d", o, far), s.admin, nil, 200, &devs)
	if len(devs.Content) != 1 || devs.Content[0].Name != "Far Pump" {
		t.Errorf("devices in Fleet 3-99: %+v", devs.Content)
	}
	// Open the suggestions for a screenshot of the list at both widths.
	run(t, ctx, "suggestions open",
		chromedp.Navigate(s.url+"/devices/new"),
		chromedp.WaitVisible("#nd-org", chromedp.ByID),
		chromedp.Focus("#nd-org", chromedp.ByID),
		chromedp.KeyEvent("Fleet 2"),
		chromedp.WaitVisible(`//ul[@role="listbox"]/li[@role="option"][contains(., "Fleet 2-9")]`))
	shots(t, ctx, s.url, "orgpick-open", "")
	shots(t, ctx, s.url, "template-enable", "/templates/"+s.template)
	checkPages(t, ctx, problems, s.url, []pageCheck{{"/devices/new", "#nd-org"}, {"/users/add", "#invite-org"}, {"/sites", "#claimorg"},
		{"/templates/" + s.template, "#en-org"}})
}
