package consoletest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"outpost/cloud"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"
)

// person is someone who signs in to the test's one browser; the browser
// is signed in as one person at a time (as).
type person struct {
	name, email, password string
}

// as signs the browser in as p (cookies of the previous person cleared,
// the org switched into included) unless it already is.
func (w *world) as(p *person) {
	w.t.Helper()
	if w.current == p {
		return
	}
	run(w.t, w.ctx, "clear cookies", network.ClearBrowserCookies())
	signIn(w.t, w.ctx, w.base, p.email, p.password)
	w.current = p
}

// world is the browser and who is signed in to it.
type world struct {
	t       *testing.T
	ctx     context.Context
	base    string
	current *person
}

// deviceNames are the names in p's device list (first page).
func (w *world) deviceNames(p *person) []string {
	w.t.Helper()
	w.as(p)
	var names []string
	run(w.t, w.ctx, p.name+"'s device list",
		chromedp.Navigate(w.base+"/devices"),
		chromedp.WaitVisible("main", chromedp.ByQuery),
		chromedp.Evaluate(`[...document.querySelectorAll("#devices tbody tr")].map(r => r.cells[0].textContent.trim())`, &names))
	return names
}

// sees checks that p's device list holds want and none of notWant.
func (w *world) sees(p *person, want, notWant []string) {
	w.t.Helper()
	names := w.deviceNames(p)
	has := map[string]bool{}
	for _, n := range names {
		has[n] = true
	}
	for _, x := range want {
		if !has[x] {
			w.t.Errorf("%s does not see %q (sees %q)", p.name, x, names)
		}
	}
	for _, x := range notWant {
		if has[x] {
			w.t.Errorf("%s sees %q", p.name, x)
		}
	}
}

// cookies are the browser's cookies (who is signed in).
func (w *world) cookies() []*network.Cookie {
	w.t.Helper()
	var cs []*network.Cookie
	run(w.t, w.ctx, "read cookies", chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cs, err = storage.GetCookies().Do(ctx)
		return err
	}))
	return cs
}

// setCookies replaces the browser's cookies with cs.
func (w *world) setCookies(cs []*network.Cookie) {
	w.t.Helper()
	run(w.t, w.ctx, "set cookies", network.ClearBrowserCookies(), chromedp.ActionFunc(func(ctx context.Context) error {
		for _, c := range cs {
			if err := network.SetCookie(c.Name, c.Value).WithURL(w.base).WithPath(c.Path).WithHTTPOnly(c.HTTPOnly).Do(ctx); err != nil {
				return err
			}
		}
		return nil
	}))
}

// userID is the number of the user with email, from the users page.
func userID(t *testing.T, ctx context.Context, base, email string) int64 {
	t.Helper()
	var id int64
	run(t, ctx, "the number of "+email,
		chromedp.Navigate(base+"/users?q="+email),
		chromedp.WaitVisible("#users", chromedp.ByID),
		chromedp.Evaluate(`Number(document.querySelector("#users tbody tr").dataset.user)`, &id))
	return id
}

var idInPath = regexp.MustCompile(`/(\d+)$`)

// orgRowAt is the tree depth class of an org's row on /orgs.
func orgRowAt(t *testing.T, ctx context.Context, base, name string) string {
	t.Helper()
	var class string
	run(t, ctx, "the tree row of "+name,
		chromedp.Navigate(base+"/orgs"),
		chromedp.WaitVisible("#orgs", chromedp.ByID),
		chromedp.Evaluate(fmt.Sprintf(`(() => { const th = [...document.querySelectorAll("#orgs tbody th")].find(h => h.textContent.trim().startsWith(%q));
			return th ? th.className : ""; })()`, name), &class))
	return class
}

var inviteLink = regexp.MustCompile(`https?://\S+/accept-invitation\?token=\S+`)

// mailedLink waits for a mail to to in the mailbox directory and returns
// the invitation link in it.
func mailedLink(t *testing.T, dir, to string) string {
	t.Helper()
	var link string
	waitFor(t, "the invitation mail to "+to, 10*time.Second, func() bool {
		ms, _ := cloud.Mails(dir, to)
		for _, m := range ms {
			if link = inviteLink.FindString(m); link != "" {
				return true
			}
		}
		return false
	})
	return link
}

// TestWorkingWithClients walks the seeds' "working with clients" workflow
// by clicks: "My Clients" with two client orgs; a customer invited by
// mail who sets a password; the client role's permissions set on "My
// Clients" and pushed down; switching into a client org; a device
// created and transferred to the other client (through the Platform API:
// the console's device administration is another page); the customer
// transferred with their device; a client org transferred under another
// parent and back. After each step it checks what each affected user sees.
func TestWorkingWithClients(t *testing.T) {
	problems := make(chan string, 32)
	ctx := browser(t, problems)
	s := startSite(t)
	base := s.url
	const o = "/api/v1/organization"
	w := &world{t: t, ctx: ctx, base: base}
	// Destructive forms ask first: the test says yes and notes the question.
	asked := make(chan string, 16)
	chromedp.ListenTarget(ctx, func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			select {
			case asked <- d.Message:
			default:
			}
			go chromedp.Run(ctx, page.HandleJavaScriptDialog(true))
		}
	})
	question := func(want string) {
		t.Helper()
		select {
		case q := <-asked:
			if !strings.Contains(q, want) {
				t.Errorf("the confirmation asked %q, want %q", q, want)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("no confirmation was asked for %q", want)
		}
	}
	admin := &person{"the admin", adminEmail, adminPW}
	carla := &person{"Carla (customer)", "carla@north.test", "carla-password-1"}
	sam := &person{"Sam (Client South)", "sam@south.test", "sam-password-1"}
	viewer := &person{"Vera (Client A viewer)", "viewer@a.test", viewerPW}
	w.as(admin)
	switchInto := func(name string) {
		t.Helper()
		w.as(admin)
		var current string
		run(t, ctx, "switch into "+name,
			chromedp.Navigate(base+"/orgs"),
			chromedp.Click(fmt.Sprintf(`button[aria-label="Switch into %s"]`, name), chromedp.ByQuery),
			chromedp.WaitVisible(fmt.Sprintf(`//summary[starts-with(., %q)]`, name)),
			chromedp.Text(".orgswitch summary", &current, chromedp.ByQuery))
		if !strings.HasPrefix(current, name) {
			t.Errorf("after switching into %s the header names %q", name, current)
		}
	}

	createOrg := func(parent int64, name string) int64 {
		t.Helper()
		page := "/orgs/new"
		if parent != 0 {
			page += "?parent=" + strconv.FormatInt(parent, 10)
		}
		var path string
		run(t, ctx, "create "+name,
			chromedp.Navigate(base+page),
			chromedp.WaitVisible("#name", chromedp.ByID),
			chromedp.SendKeys("#name", name, chromedp.ByID),
			chromedp.Click(`//button[. = "Create organization"]`),
			chromedp.WaitVisible(`//p[contains(., "Organization created.")]`),
			chromedp.Evaluate(`location.pathname`, &path))
		m := idInPath.FindStringSubmatch(path)
		if m == nil {
			t.Fatalf("created %s, landed on %s", name, path)
		}
		id, _ := strconv.ParseInt(m[1], 10, 64)
		return id
	}
	// 1. "My Clients" below the root, two clients below it.
	myClients := createOrg(0, "My Clients")
	north := createOrg(myClients, "Client North")
	south := createOrg(myClients, "Client South")
	if c := orgRowAt(t, ctx, base, "Client North"); c != "d2" {
		t.Errorf("Client North sits at %q in the tree, want d2 (below My Clients)", c)
	}

	// 2. Invite a customer into Client North; the mail's link lets her
	// set a password and signs her in.
	run(t, ctx, "invite the customer",
		chromedp.Navigate(base+"/users/add"),
		chromedp.WaitVisible("#invite-email", chromedp.ByID),
		chromedp.SendKeys("#invite-email", "carla@north.test", chromedp.ByID),
		chromedp.SendKeys("#invite-name", "Carla Customer", chromedp.ByID),
		chromedp.SetValue("#invite-role", "3", chromedp.ByID),
		chromedp.SetValue("#invite-org", strconv.FormatInt(north, 10), chromedp.ByID),
		chromedp.Click(`//button[. = "Send invitation"]`),
		chromedp.WaitVisible(`//p[contains(., "Invitation sent.")]`),
		chromedp.WaitVisible(`//table[@id="users"]//a[. = "Carla Customer"]`))
	link := mailedLink(t, s.mailbox, "carla@north.test")
	var notice string
	run(t, ctx, "accept the invitation",
		network.ClearBrowserCookies(),
		chromedp.Navigate(link),
		chromedp.WaitVisible("#password", chromedp.ByID),
		chromedp.SendKeys("#password", carla.password, chromedp.ByID),
		chromedp.SendKeys("#confirm", carla.password, chromedp.ByID),
		chromedp.Click(`//button[. = "Create account"]`),
		chromedp.WaitVisible(`//a[@class="user"][. = "Carla Customer"]`),
		chromedp.Text("main", &notice, chromedp.ByQuery))
	w.current = carla
	if !strings.Contains(notice, "no permission to view devices") {
		t.Errorf("a new customer with the default User role is not told she may see no devices: %q", notice)
	}
	w.as(admin)
	var carlaID int64
	run(t, ctx, "the customer's number",
		chromedp.Navigate(base+"/users?q=carla"),
		chromedp.WaitVisible("#users", chromedp.ByID),
		chromedp.Evaluate(`Number(document.querySelector("#users tbody tr").dataset.user)`, &carlaID))

	// A member of Client South, created with a password.
	run(t, ctx, "create Sam in Client South",
		chromedp.Navigate(base+"/users/add"),
		chromedp.WaitVisible("#create-email", chromedp.ByID),
		chromedp.SendKeys("#create-email", "sam@south.test", chromedp.ByID),
		chromedp.SendKeys("#create-name", "Sam South", chromedp.ByID),
		chromedp.SendKeys("#create-password", "sam-password-1", chromedp.ByID),
		chromedp.SetValue("#create-role", "3", chromedp.ByID),
		chromedp.SetValue("#create-org", strconv.FormatInt(south, 10), chromedp.ByID),
		chromedp.Click(`//button[. = "Create user"]`),
		chromedp.WaitVisible(`//p[contains(., "User created.")]`))

	// 3. On "My Clients" the client role (User) may view the
	// organization's devices; pushed down to every client.
	switchInto("My Clients")
	run(t, ctx, "set the client role's permissions and push them down",
		chromedp.Navigate(base+"/roles/3"),
		chromedp.WaitVisible(`//p[contains(., "permissions in My Clients")]`),
		chromedp.Click(`input[value="ORG_DEVICES_VIEW"]`, chromedp.ByQuery),
		chromedp.Click(`input[value="OWN_DEVICES_VIEW"]`, chromedp.ByQuery),
		chromedp.SetValue("#push", "overwrite", chromedp.ByID),
		chromedp.Click(`//button[. = "Save permissions"]`),
		chromedp.WaitVisible(`//p[contains(., "Permissions saved.")]`))
	var checked bool
	switchInto("Client North")
	run(t, ctx, "the matrix of Client North",
		chromedp.Navigate(base+"/roles/3"),
		chromedp.WaitVisible(`//p[contains(., "permissions in Client North")]`),
		chromedp.Evaluate(`document.querySelector('input[value="ORG_DEVICES_VIEW"]').checked`, &checked))
	if !checked {
		t.Errorf("the pushed permission did not reach Client North")
	}

	// 4. Switched into Client North, the admin's device list is North's.
	if names := w.deviceNames(admin); len(names) != 0 {
		t.Errorf("Client North has no devices yet, the list shows %q", names)
	}

	// 5. A device for the customer and one for the org; the second moves
	// to Client South (through the Platform API, see above).
	var boiler, meter apiDevice
	s.api("POST", o+"/device/create", s.admin, map[string]any{"templateId": s.template, "orgId": north, "name": "North Boiler", "ownerId": carlaID}, 201, &boiler)
	s.api("POST", o+"/device/create", s.admin, map[string]any{"templateId": s.template, "orgId": north, "name": "North Meter"}, 201, &meter)
	w.sees(carla, []string{"North Boiler", "North Meter"}, []string{"Boiler One", "Other Client Device"})
	w.sees(sam, nil, []string{"North Boiler", "North Meter"})
	s.api("POST", o+"/device/transfer", s.admin, map[string]any{"deviceId": meter.ID, "newOrgId": south}, 204, nil)
	w.sees(carla, []string{"North Boiler"}, []string{"North Meter"})
	w.sees(sam, []string{"North Meter"}, []string{"North Boiler"})

	// 6. The customer moves to Client South with her device.
	w.as(admin)
	run(t, ctx, "transfer the customer with her devices",
		chromedp.Navigate(fmt.Sprintf("%s/users/%d", base, carlaID)),
		chromedp.WaitVisible("#torg", chromedp.ByID),
		chromedp.SetValue("#torg", strconv.FormatInt(south, 10), chromedp.ByID),
		chromedp.SetValue("#trole", "3", chromedp.ByID),
		chromedp.Click("#tdevices", chromedp.ByID),
		chromedp.Click(`//button[. = "Transfer user"]`),
		chromedp.WaitVisible(`//p[contains(., "User transferred.")]`),
		chromedp.WaitVisible(`//dl[@id="facts"]/dd[. = "Client South"]`))
	w.sees(carla, []string{"North Boiler", "North Meter"}, nil)
	var current string
	run(t, ctx, "the customer's header", chromedp.Text(".orgswitch summary", &current, chromedp.ByQuery))
	if !strings.HasPrefix(current, "Client South") {
		t.Errorf("the transferred customer's header names %q", current)
	}
	w.sees(sam, []string{"North Boiler", "North Meter"}, nil)
	switchInto("Client North")
	if names := w.deviceNames(admin); len(names) != 0 {
		t.Errorf("Client North still lists %q after its customer left with her device", names)
	}

	// 7. Client South moves under Client A and back. Client A's viewer
	// may not switch into sub-organizations: South's devices stay out of
	// her sight; South's own people keep theirs.
	var msg string
	w.as(admin)
	run(t, ctx, "transfer Client South under Client A",
		chromedp.Navigate(fmt.Sprintf("%s/orgs/%d", base, south)),
		chromedp.WaitVisible("#parent", chromedp.ByID),
		chromedp.SetValue("#parent", strconv.FormatInt(s.orgA, 10), chromedp.ByID),
		chromedp.Click(`//button[. = "Transfer"]`),
		chromedp.WaitVisible(`//p[contains(., "Organization transferred.")]`),
		chromedp.Text("nav.crumbs", &msg, chromedp.ByQuery))
	question("Move Client South with everything below it?")
	if !strings.HasSuffix(strings.TrimSpace(msg), "Client A") {
		t.Errorf("Client South's path after the transfer: %q", msg)
	}
	w.sees(sam, []string{"North Boiler", "North Meter"}, nil)
	w.sees(viewer, []string{"Boiler One"}, []string{"North Boiler", "North Meter"})
	// The service's refusals, shown at the field: My Clients with its
	// clients below Client South would be 5 levels deep; Client South
	// may not have sub-organizations.
	w.as(admin)
	for _, tc := range []struct {
		org, under int64
		want       string
	}{
		{myClients, south, "maximum organization depth is 4 levels"},
		{north, south, "cannot have sub-organizations"},
	} {
		run(t, ctx, "a refused transfer",
			chromedp.Navigate(fmt.Sprintf("%s/orgs/%d", base, tc.org)),
			chromedp.WaitVisible("#parent", chromedp.ByID),
			chromedp.SetValue("#parent", strconv.FormatInt(tc.under, 10), chromedp.ByID),
			chromedp.Click(`//button[. = "Transfer"]`),
			chromedp.WaitVisible("#parent-err", chromedp.ByID),
			chromedp.Text("#parent-err", &msg, chromedp.ByID))
		if !strings.Contains(msg, tc.want) {
			t.Errorf("transfer of org %d under %d: %q, want %q", tc.org, tc.under, msg, tc.want)
		}
		question("with everything below it?")
	}
	run(t, ctx, "transfer Client South back",
		chromedp.Navigate(fmt.Sprintf("%s/orgs/%d", base, south)),
		chromedp.WaitVisible("#parent", chromedp.ByID),
		chromedp.SetValue("#parent", strconv.FormatInt(myClients, 10), chromedp.ByID),
		chromedp.Click(`//button[. = "Transfer"]`),
		chromedp.WaitVisible(`//p[contains(., "Organization transferred.")]`),
		chromedp.Text("nav.crumbs", &msg, chromedp.ByQuery))
	question("Move Client South with everything below it?")
	if !strings.HasSuffix(strings.TrimSpace(msg), "My Clients") {
		t.Errorf("Client South's path after the transfer back: %q", msg)
	}
	if c := orgRowAt(t, ctx, base, "Client South"); c != "d2" {
		t.Errorf("Client South sits at %q after coming back, want d2", c)
	}
	w.sees(sam, []string{"North Boiler", "North Meter"}, nil)

	// The audit log tells who did it.
	w.as(admin)
	var actions []string
	run(t, ctx, "the audit log of org transfers",
		chromedp.Navigate(fmt.Sprintf("%s/audit?org=%d&action=org.transfer", base, myClients)),
		chromedp.WaitVisible("#audit", chromedp.ByID),
		chromedp.Evaluate(`[...document.querySelectorAll("#audit tbody tr")].map(r => r.dataset.action + " by " + r.cells[1].textContent)`, &actions))
	if len(actions) != 2 || !strings.HasSuffix(actions[0], "by Ada Admin (you)") {
		t.Errorf("org transfers in the audit log: %q", actions)
	}

	// §13.15 by clicks: a custom role, given to Sam, deleted with a
	// replacement: Sam holds the replacement.
	w.as(admin) // signed in afresh: in the root
	var roleURL string
	run(t, ctx, "create a custom role",
		chromedp.Navigate(base+"/roles"),
		chromedp.WaitVisible("#name", chromedp.ByID),
		chromedp.SendKeys("#name", "Installer", chromedp.ByID),
		chromedp.Click(`//button[. = "Create role"]`),
		chromedp.WaitVisible(`//p[contains(., "Role created.")]`),
		chromedp.Evaluate(`location.pathname`, &roleURL))
	samID := userID(t, ctx, base, "sam@south.test")
	run(t, ctx, "give Sam the custom role",
		chromedp.Navigate(fmt.Sprintf("%s/users/%d", base, samID)),
		chromedp.WaitVisible("#role", chromedp.ByID),
		chromedp.SetValue("#role", strings.TrimPrefix(roleURL, "/roles/"), chromedp.ByID),
		chromedp.Click(`//button[. = "Change role"]`),
		chromedp.WaitVisible(`//dl[@id="facts"]/dd[. = "Installer"]`))
	w.sees(sam, nil, []string{"North Boiler", "North Meter"}) // the new role holds nothing
	w.as(admin)
	run(t, ctx, "delete the custom role",
		chromedp.Navigate(base+roleURL),
		chromedp.WaitVisible("#repl", chromedp.ByID),
		chromedp.SetValue("#repl", "3", chromedp.ByID),
		chromedp.Click(`//button[. = "Delete role"]`),
		chromedp.WaitVisible(`//p[contains(., "Deleted.")]`),
		chromedp.ActionFunc(func(context.Context) error { question("Delete the role Installer?"); return nil }),
		chromedp.Navigate(fmt.Sprintf("%s/users/%d", base, samID)),
		chromedp.WaitVisible(`//dl[@id="facts"]/dd[. = "User"]`))
	w.sees(sam, []string{"North Boiler", "North Meter"}, nil)

	// §13.19 by clicks: a suspended user cannot sign in; reactivated, can;
	// a forced logout ends the session at once.
	w.as(admin)
	run(t, ctx, "suspend Sam",
		chromedp.Navigate(fmt.Sprintf("%s/users/%d", base, samID)),
		chromedp.Click(`//button[. = "Suspend"]`),
		chromedp.WaitVisible(`//p[contains(., "User suspended.")]`),
		chromedp.ActionFunc(func(context.Context) error { question("Suspend sam@south.test?"); return nil }),
		chromedp.WaitVisible(`//dl[@id="facts"]/dd[. = "Suspended"]`),
		network.ClearBrowserCookies(),
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible("#email", chromedp.ByID),
		chromedp.SendKeys("#email", sam.email, chromedp.ByID),
		chromedp.SendKeys("#password", sam.password, chromedp.ByID),
		chromedp.Submit("#password", chromedp.ByID),
		chromedp.WaitVisible(`//p[contains(@class, "error")][contains(., "suspended")]`))
	w.current = nil
	w.as(admin)
	run(t, ctx, "reactivate Sam",
		chromedp.Navigate(fmt.Sprintf("%s/users/%d", base, samID)),
		chromedp.Click(`//button[. = "Reactivate"]`),
		chromedp.WaitVisible(`//p[contains(., "User reactivated.")]`))
	w.sees(sam, []string{"North Meter"}, nil)
	samCookies := w.cookies()
	w.as(admin)
	run(t, ctx, "force Sam out",
		chromedp.Navigate(fmt.Sprintf("%s/users/%d", base, samID)),
		chromedp.Click(`//button[. = "Force logout"]`),
		chromedp.WaitVisible(`//p[contains(., "Every session of the user has ended.")]`))
	w.setCookies(samCookies)
	var title string
	run(t, ctx, "Sam's old session", chromedp.Navigate(base+"/devices"), chromedp.WaitVisible("#email", chromedp.ByID), chromedp.Title(&title))
	if !strings.HasPrefix(title, "Sign in") {
		t.Errorf("after a forced logout Sam's browser shows %q, want the sign-in page", title)
	}
	w.current = nil

	// §13.12 by clicks: My Clients has clients, so it stays; Client North,
	// empty since its customer left, goes.
	w.as(admin)
	run(t, ctx, "delete My Clients",
		chromedp.Navigate(fmt.Sprintf("%s/orgs/%d", base, myClients)),
		chromedp.Click(`//button[. = "Delete My Clients"]`),
		chromedp.WaitVisible("#delete-err", chromedp.ByID),
		chromedp.Text("#delete-err", &msg, chromedp.ByID))
	question("Delete the organization My Clients?")
	if !strings.Contains(msg, "has sub-organizations") {
		t.Errorf("deleting My Clients: %q", msg)
	}
	run(t, ctx, "delete Client North",
		chromedp.Navigate(fmt.Sprintf("%s/orgs/%d", base, north)),
		chromedp.Click(`//button[. = "Delete Client North"]`),
		chromedp.WaitVisible(`//p[contains(., "Deleted.")]`))
	question("Delete the organization Client North?")
	if c := orgRowAt(t, ctx, base, "Client North"); c != "" {
		t.Errorf("the deleted Client North is still in the tree")
	}

	// Readable on a phone: at 375 px no administration page scrolls
	// sideways. With OUTPOST_SHOTS set to a directory, each page is also
	// saved there as a full-page PNG at 1440 and 375 px.
	shots := os.Getenv("OUTPOST_SHOTS")
	switchInto("My Clients")
	for _, width := range []int64{1440, 375} {
		for _, pg := range []struct{ name, path string }{{"orgs", "/orgs"}, {"org", fmt.Sprintf("/orgs/%d", south)},
			{"orgnew", "/orgs/new"}, {"users", "/users"}, {"usersadd", "/users/add"}, {"user", fmt.Sprintf("/users/%d", carlaID)},
			{"roles", "/roles"}, {"role", "/roles/3"}, {"audit", "/audit"}} {
			var scroll int64
			run(t, ctx, "narrow "+pg.path,
				chromedp.EmulateViewport(width, 800),
				chromedp.Navigate(base+pg.path),
				chromedp.WaitVisible("main", chromedp.ByQuery),
				chromedp.Evaluate(`document.documentElement.scrollWidth`, &scroll))
			if scroll > width {
				t.Errorf("%s is %d px wide at a %d px viewport", pg.path, scroll, width)
			}
			if shots != "" {
				var png []byte
				run(t, ctx, "screenshot "+pg.path, chromedp.FullScreenshot(&png, 100))
				if err := os.WriteFile(filepath.Join(shots, fmt.Sprintf("admin-%s-%d.png", pg.name, width)), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
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
