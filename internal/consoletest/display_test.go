package consoletest

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"outpost/gateway"
	"outpost/internal/poll"
)

// TestTemplateDisplayAndTagsInBrowser: by clicks the Admin gives the
// Thermostat's temperature an alias, a step and one decimal; the template
// reaches the site's real gateway (which announces the display feature)
// without the link dropping; the device page labels the tile with the
// alias, steps its slider by 0.5, and shows a value the Blynk device
// writes through the gateway with one decimal, live. Then the Admin tags
// the view-only user on the user's page, sees the tag in the users list
// and filters the list by it.
func TestTemplateDisplayAndTagsInBrowser(t *testing.T) {
	problems := make(chan string, 32)
	ctx := browser(t, problems)
	s := startSite(t)
	base := s.url
	boiler := s.device("Boiler One", nil) // the tenancy reached the gateway
	gwStats := func() gateway.CloudStats { return *s.gw.Stats().(gateway.Stats).Cloud }
	connects := gwStats().Connects

	signIn(t, ctx, base, adminEmail, adminPW)
	run(t, ctx, "edit the temperature's display settings",
		chromedp.Navigate(base+"/templates/"+s.template),
		chromedp.Click(`a[aria-label="Edit datastream V0"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#ds-alias", chromedp.ByID),
		chromedp.SendKeys("#ds-alias", "Room temperature", chromedp.ByID),
		chromedp.SendKeys("#ds-step", "0.5", chromedp.ByID),
		chromedp.SetValue("#ds-decimals", "1", chromedp.ByID),
		chromedp.Click(`#dsform button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//table[@id="datastreams"]//td[contains(., "shown as “Room temperature”")]`))
	shots(t, ctx, base, "template-display", "")
	// The gateway's installer page labels the tile with the alias too:
	// the template came down with its display settings.
	inst := "http://" + s.gw.Addrs().Installer
	firstStart(t, ctx, inst)
	var devURL string
	run(t, ctx, "the installer's device page",
		chromedp.Navigate(inst+"/devices"),
		chromedp.AttributeValue(`//a[. = "Boiler One"]`, "href", &devURL, nil))
	poll.Until(t, "the alias on the installer's device page", func() bool {
		var l string
		run(t, ctx, "read the installer's tile", chromedp.Navigate(inst+devURL), chromedp.WaitVisible("#ds0", chromedp.ByID),
			chromedp.Text("#ds0", &l, chromedp.ByID))
		return l == "Room temperature"
	})
	if st := gwStats(); !st.Connected || st.Connects != connects {
		t.Errorf("the gateway's link after the display change: %+v (connects before %d)", st, connects)
	}

	var label, step, shown string
	run(t, ctx, "the device page uses them",
		chromedp.Navigate(fmt.Sprintf("%s/devices/%d", base, s.devs["Boiler One"].ID)),
		chromedp.WaitVisible("#ds0", chromedp.ByID),
		chromedp.Text("#ds0", &label, chromedp.ByID),
		chromedp.AttributeValue("#r0", "step", &step, nil, chromedp.ByID))
	if label != "Room temperature" || step != "0.5" {
		t.Errorf("tile label %q, slider step %q; want the alias and 0.5", label, step)
	}
	time.Sleep(200 * time.Millisecond) // the live feed subscribes on load
	if _, err := boiler.VirtualWrite(0, 21.46); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "a live value with one decimal",
		chromedp.Poll(`document.querySelector('output[data-value="0"]').dataset.raw === "21.46"`, nil),
		chromedp.Text(`output[data-value="0"]`, &shown, chromedp.ByQuery))
	if shown != "21.5" {
		t.Errorf("live value shown %q, want 21.5", shown)
	}
	shots(t, ctx, base, "device-display", "")

	// Tags on a user.
	const o = "/api/v1/organization"
	s.api("POST", o+"/tags/create", s.admin, map[string]any{"name": "night shift"}, 201, nil) // the root's: offered below it
	var users struct {
		Content []struct {
			ID    int64
			Email string
		}
	}
	s.api("GET", fmt.Sprintf("%s/users?orgId=%d", o, s.orgA), s.admin, nil, 200, &users)
	var viewer int64
	for _, u := range users.Content {
		if u.Email == "viewer@a.test" {
			viewer = u.ID
		}
	}
	run(t, ctx, "tag the viewer",
		chromedp.Navigate(fmt.Sprintf("%s/users/%d", base, viewer)),
		chromedp.WaitVisible("#tagsform", chromedp.ByID),
		chromedp.Click(`//form[@id="tagsform"]//label[contains(., "night shift")]/input`),
		chromedp.Click(`#tagsform button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//p[contains(., "Saved.")]`),
		chromedp.WaitVisible(`//form[@id="tagsform"]//label[contains(., "night shift")]/input[@checked]`))
	shots(t, ctx, base, "user-tags", "")
	var rows int
	var selected bool
	run(t, ctx, "filter the users by the tag",
		chromedp.Navigate(base+"/users"),
		chromedp.WaitVisible(`//table[@id="users"]//span[@class="chip"][. = "night shift"]`),
		chromedp.Evaluate(`document.querySelector("#tag").selectedIndex = 1`, nil),
		chromedp.Submit("#tag", chromedp.ByID),
		chromedp.WaitVisible(`//p[@id="count"][starts-with(normalize-space(.), "1 user ")]`),
		chromedp.Evaluate(`document.querySelector("#tag").selectedOptions[0].textContent === "night shift"`, &selected),
		chromedp.Evaluate(`document.querySelectorAll("#users tbody tr").length`, &rows))
	if rows != 1 || !selected {
		t.Errorf("users tagged night shift: %d rows (want 1), filter kept %v", rows, selected)
	}
	shots(t, ctx, base, "users-tags", "")
	checkPages(t, ctx, problems, base, []pageCheck{{"/templates/" + s.template, "#datastreams"}, {"/users", "#users"},
		{fmt.Sprintf("/users/%d", viewer), "#tagsform"}})
}
