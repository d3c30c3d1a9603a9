package console

import (
	"bytes"
	"embed"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"outpost/cloud/internal/tenancy"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

func (c *Console) funcs() template.FuncMap {
	return c.assets.Funcs(c.now, template.FuncMap{
		"ms": func(t time.Time) int64 {
			if t.IsZero() {
				return 0
			}
			return t.UnixMilli()
		},
		"join":       strings.Join,
		"add":        func(a, b int) int { return a + b },
		"hasPrefix":  strings.HasPrefix,
		"trimPrefix": strings.TrimPrefix,
		"resolver":   resolver,
		"resolveArgs": func(dev tenancy.DeviceID, e Event, where string) resolveArgs {
			a := resolveArgs{Device: dev, Event: e, Where: where}
			if where == "note" {
				a.Back = "notifications"
			}
			return a
		},
		// decimals shows a Double's decimals as Blynk does: "#", "#.##".
		"decimals": func(n *int) string {
			if n == nil || *n < 0 || *n+1 >= len(decimalChoices) {
				return ""
			}
			return decimalChoices[*n+1].Label
		},
	})
}

// resolveArgs are what the resolve form needs: the device, the event, a
// word that keeps its field ids unique on the page, and where to return.
type resolveArgs struct {
	Device tenancy.DeviceID
	Event  Event
	Where  string
	Back   string
}

// resolver names who resolved an event ("device", "user:<id>",
// "client:<id>") in words.
func resolver(by string) string {
	switch {
	case by == "device":
		return "the device"
	case strings.HasPrefix(by, "user:"):
		return "user " + strings.TrimPrefix(by, "user:")
	case strings.HasPrefix(by, "client:"):
		return "API client " + strings.TrimPrefix(by, "client:")
	}
	return by
}

// view is what every page template gets.
type view struct {
	Title   string
	Nav     string // "devices", "sites", "profile": the current section
	Shell   *shell // nil on the pages of signed-out people
	Notice  string
	Error   string
	Scripts []string // our ES modules the page loads
	Data    any
}

// shell is the header: who is signed in, the current org and the orgs the
// user may switch into.
type shell struct {
	Admin     adminNav // the administration links offered
	User      tenancy.User
	Org       tenancy.Org
	Orgs      []orgItem
	Switcher  template.HTML // Orgs as the switcher's list items (see fragment)
	More      bool          // the switcher lists the first maxSwitcher orgs only
	CanSites  bool
	CanOTA    bool // the firmware pages
	Path      string
	ViewsNone bool // the role may see no devices at all
	Catalog   catalogNav
	// Issue 17: the bell (Unread: the unread count), the automation
	// pages, and the webhook pages (built elsewhere; the link only).
	Bell        bool
	Unread      int
	Automations bool
	Webhooks    bool

	orgs *orgTree // what Orgs came from: fragments of it are kept there
}

type orgItem struct {
	ID    tenancy.OrgID
	Name  string
	Depth int // below the home org
}

const maxSwitcher = 100

// orgTree is the switcher's list for one user and tree snapshot.
type orgTree struct {
	tree  *tenancy.Tree // the snapshot it was computed from
	items []orgItem
	byID  map[tenancy.OrgID]tenancy.Org
	more  bool
	frags fragments
}

// fragments are rendered partials kept with the data they were rendered
// from (an orgTree, a device list's filterLists).
type fragments struct {
	mu sync.Mutex
	m  map[fragKey]template.HTML
}

// fragKey names a fragment: a partial and what it marks as current (the
// switcher's current org, a select's chosen option).
type fragKey struct {
	name string
	cur  string
}

// fragment is the partial template key.name executed on data, rendered
// once per input (the holder's data and key.cur) and kept in fs. The
// switcher printed 100 org names through html/template on every page, a
// third of a device list page's time; the owner filter's 200 users as
// much again. The fragment is escaped by html/template like any other
// output: it is executed on its own, in the HTML text context, and the
// pages insert it where an HTML text context is (a list's items, a
// select's options), never in an attribute, script or URL.
func (c *Console) fragment(fs *fragments, key fragKey, data func() any) (template.HTML, error) {
	fs.mu.Lock()
	h, ok := fs.m[key]
	fs.mu.Unlock()
	if ok {
		return h, nil
	}
	var buf bytes.Buffer
	if err := c.frags.ExecuteTemplate(&buf, key.name, data()); err != nil {
		return "", err
	}
	h = template.HTML(buf.String()) // produced by html/template, see above
	fs.mu.Lock()
	if fs.m == nil {
		fs.m = map[fragKey]template.HTML{}
	}
	fs.m[key] = h
	fs.mu.Unlock()
	return h, nil
}

type orgTreeKey struct{ actor tenancy.Actor }

// shell builds the header for a signed-in page: the orgs the user may
// switch into, in tree order below their home org. The list is computed
// once per user and tree snapshot (an org created, renamed or moved makes
// a new snapshot) and kept a few seconds.
func (c *Console) shell(r *http.Request, s *session) (*shell, map[tenancy.OrgID]tenancy.Org, error) {
	sh := &shell{User: s.user, Path: r.URL.Path, CanSites: s.perms.Has(tenancy.GatewaysView), CanOTA: c.canFirmware(s), Catalog: s.catalogNav()}
	if _, _, ok := s.tree.DeviceScope(s.actor); !ok {
		sh.ViewsNone = true
	}
	v, ok := c.memo.get(orgTreeKey{s.actor})
	ot, _ := v.(*orgTree)
	if !ok || ot.tree != s.tree {
		var err error
		if ot, err = c.orgTree(r, s); err != nil {
			return nil, nil, err
		}
		c.memo.put(orgTreeKey{s.actor}, ot)
	}
	sh.Admin = s.adminNav()
	c.shellExtras(r, s, sh)
	sh.Orgs, sh.More, sh.orgs = ot.items, ot.more, ot
	sw, err := c.fragment(&ot.frags, fragKey{name: "orgswitch", cur: strconv.FormatInt(int64(s.org), 10)}, func() any {
		return struct {
			Cur  tenancy.OrgID
			Orgs []orgItem
		}{s.org, ot.items}
	})
	if err != nil {
		return nil, nil, err
	}
	sh.Switcher = sw
	byID := ot.byID
	sh.Org = byID[s.org]
	if sh.Org.ID == 0 {
		o, err := c.svc.Org(r.Context(), s.actor, s.org)
		if err != nil {
			return nil, nil, err
		}
		sh.Org = o
		byID = maps.Clone(byID)
		byID[o.ID] = o
	}
	return sh, byID, nil
}

func (c *Console) orgTree(r *http.Request, s *session) (*orgTree, error) {
	l, err := c.svc.Orgs(r.Context(), s.actor, tenancy.OrgQuery{OrgID: s.actor.OrgID, IncludeSub: true,
		Page: tenancy.Page{Size: maxSwitcher}})
	if err != nil {
		return nil, err
	}
	ot := &orgTree{tree: s.tree, byID: make(map[tenancy.OrgID]tenancy.Org, len(l.Items)), more: l.Total > len(l.Items)}
	kids := map[tenancy.OrgID][]tenancy.Org{}
	for _, o := range l.Items {
		ot.byID[o.ID] = o
		kids[o.ParentID] = append(kids[o.ParentID], o)
	}
	for _, k := range kids {
		slices.SortFunc(k, func(a, b tenancy.Org) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	}
	var walk func(o tenancy.Org, depth int)
	walk = func(o tenancy.Org, depth int) {
		ot.items = append(ot.items, orgItem{ID: o.ID, Name: o.Name, Depth: min(depth, 4)})
		for _, k := range kids[o.ID] {
			walk(k, depth+1)
		}
	}
	if home, ok := ot.byID[s.actor.OrgID]; ok {
		walk(home, 0)
	}
	return ot, nil
}

// render executes a page into a buffer first, so a template error gives a
// clean 500 instead of half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	t, ok := c.pages[page]
	if !ok {
		c.log.ErrorContext(r.Context(), "no such page template", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		c.log.ErrorContext(r.Context(), "render failed", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// renderShell renders a signed-in page with its header.
func (c *Console) renderShell(w http.ResponseWriter, r *http.Request, s *session, status int, page string, v view) {
	sh, _, err := c.shell(r, s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	v.Shell = sh
	c.render(w, r, status, page, v)
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request, s *session) {
	c.errorPage(w, r, s, http.StatusNotFound, "Not found", "This page does not exist, or you don't have access to it.")
}

func (c *Console) forbidden(w http.ResponseWriter, r *http.Request, s *session) {
	c.errorPage(w, r, s, http.StatusForbidden, "Not permitted", "Your role does not allow this.")
}

func (c *Console) serverError(w http.ResponseWriter, r *http.Request, err error) {
	c.log.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "err", err)
	c.errorPage(w, r, nil, http.StatusInternalServerError, "Something went wrong", "The error has been logged.")
}

// fail answers a tenancy error with the page its code calls for.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	switch st := httpStatus(err); st {
	case http.StatusNotFound:
		c.notFound(w, r, s)
	case http.StatusForbidden:
		c.forbidden(w, r, s)
	case http.StatusInternalServerError:
		c.serverError(w, r, err)
	default:
		c.errorPage(w, r, s, st, http.StatusText(st), message(err))
	}
}

func (c *Console) errorPage(w http.ResponseWriter, r *http.Request, s *session, status int, title, msg string) {
	v := view{Title: title, Data: msg}
	if s != nil {
		if sh, _, err := c.shell(r, s); err == nil {
			v.Shell = sh
		}
	}
	c.render(w, r, status, "error", v)
}
