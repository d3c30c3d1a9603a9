package console

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"outpost/cloud/internal/tenancy"
)

// treeItem is one org of the user's scope in tree order.
type treeItem struct {
	Org   tenancy.Org
	Depth int // below the user's home org
}

type scopeTreeKey struct{ actor tenancy.Actor }

type scopeTreeMemo struct {
	tree  *tenancy.Tree
	items []treeItem
	byID  map[tenancy.OrgID]tenancy.Org

	// picks are the orgs offered per picker purpose (without a keep
	// filter): a decision per org of the scope, which on a thousand orgs
	// costs more than the rest of a device list page. Decide reads only
	// the actor and the tree, which the memo is keyed by.
	mu    sync.Mutex
	picks map[string][]treeItem
}

// scopeTree lists every org of the user's scope (the home org and, with
// ORG_SWITCH_SUB, all below it) in tree order, siblings by name. It reads
// the orgs a thousand at a time by keyset; the list is kept while the
// tree snapshot stays the same (every change to an org makes a new one).
// Callers must not modify it.
func (c *Console) scopeTree(r *http.Request, s *session) ([]treeItem, error) {
	m, err := c.scopeMemo(r, s)
	if err != nil {
		return nil, err
	}
	return m.items, nil
}

// scopeOrgs maps every org of the user's scope by id (see scopeTree).
func (c *Console) scopeOrgs(r *http.Request, s *session) (map[tenancy.OrgID]tenancy.Org, error) {
	m, err := c.scopeMemo(r, s)
	if err != nil {
		return nil, err
	}
	return m.byID, nil
}

func (c *Console) scopeMemo(r *http.Request, s *session) (*scopeTreeMemo, error) {
	if v, ok := c.memo.get(scopeTreeKey{s.actor}); ok {
		if m := v.(*scopeTreeMemo); m.tree == s.tree {
			return m, nil
		}
	}
	items, err := c.readScopeTree(r, s)
	if err != nil {
		return nil, err
	}
	m := &scopeTreeMemo{tree: s.tree, items: items, byID: make(map[tenancy.OrgID]tenancy.Org, len(items))}
	for _, it := range items {
		m.byID[it.Org.ID] = it.Org
	}
	c.memo.put(scopeTreeKey{s.actor}, m)
	return m, nil
}

func (c *Console) readScopeTree(r *http.Request, s *session) ([]treeItem, error) {
	var all []tenancy.Org
	for page := (tenancy.Page{Size: tenancy.MaxPageSize}); ; {
		l, err := c.svc.Orgs(r.Context(), s.actor, tenancy.OrgQuery{OrgID: s.actor.OrgID, IncludeSub: true, Page: page})
		if err != nil {
			return nil, err
		}
		all = append(all, l.Items...)
		if l.Next == 0 || len(l.Items) == 0 {
			break
		}
		page.After = l.Next
	}
	kids := make(map[tenancy.OrgID][]tenancy.Org, len(all))
	var home tenancy.Org
	for _, o := range all {
		if o.ID == s.actor.OrgID {
			home = o
			continue
		}
		kids[o.ParentID] = append(kids[o.ParentID], o)
	}
	for _, k := range kids {
		slices.SortFunc(k, func(a, b tenancy.Org) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	}
	out := make([]treeItem, 0, len(all))
	var walk func(o tenancy.Org, depth int)
	walk = func(o tenancy.Org, depth int) {
		out = append(out, treeItem{Org: o, Depth: depth})
		for _, k := range kids[o.ID] {
			walk(k, depth+1)
		}
	}
	if home.ID != 0 {
		walk(home, 0)
	}
	return out, nil
}

// orgRow is one line of the organizations page. Its fields are ready to
// print (a tree of a thousand orgs is rendered in one go, and every
// template action costs).
type orgRow struct {
	ID, Name, Type  string
	Depth           string // "d0".."d4"
	Devices, Users  string // "–" when not shown
	Current         bool
	CanEdit, CanAdd bool
}

type orgsData struct {
	Q       string
	Rows    []orgRow
	Total   int
	CanAdd  bool // may create a sub-organization of the current org
	Current tenancy.OrgID
}

// orgsPage is GET /orgs: the user's organizations as a tree with the
// devices and users each holds, or with ?q= the ones whose name matches.
func (c *Console) orgsPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	items, err := c.scopeTree(r, s)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	low := strings.ToLower(q)
	if q != "" {
		var matches []treeItem
		for _, it := range items {
			if strings.Contains(strings.ToLower(it.Org.Name), low) {
				matches = append(matches, it)
			}
		}
		items = matches
	}
	counts, err := c.orgCounts(r, s, items)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := orgsData{Q: q, Current: s.org, CanAdd: s.tree.CanCreateSub(s.org) && s.can(tenancy.OrgCreateSub, tenancy.OrgResource(s.org))}
	for _, it := range items {
		n, ok := counts[it.Org.ID]
		if !ok {
			n = tenancy.OrgCount{Devices: -1, Users: -1}
		}
		res := tenancy.OrgResource(it.Org.ID)
		depth := min(it.Depth, 4)
		if q != "" {
			depth = 0 // matches are a flat list
		}
		d.Rows = append(d.Rows, orgRow{ID: strconv.FormatInt(int64(it.Org.ID), 10), Name: it.Org.Name, Type: string(it.Org.Type),
			Depth: depthClass[depth], Devices: countText(n.Devices), Users: countText(n.Users), Current: it.Org.ID == s.org,
			CanEdit: s.can(tenancy.OrgSettingsAccess, res) || s.can(tenancy.OrgTransfer, res) || s.can(tenancy.OrgDelete, res),
			CanAdd:  it.Org.CanCreateSub && s.can(tenancy.OrgCreateSub, res)})
	}
	d.Total = len(d.Rows)
	c.renderShell(w, r, s, http.StatusOK, "orgs", view{Title: "Organizations", Nav: "orgs", Notice: doneNotice(r), Data: d})
}

// orgCountsEach is how many orgs a page counts one by one; more are
// counted with the user's whole scope in one query.
const orgCountsEach = 20

// orgCounts counts the devices and users of the listed orgs: a search's
// few matches one by one (the whole scope's counts read every org of it:
// a search among 1,111 orgs spent most of its time there), else the
// user's whole scope at once.
func (c *Console) orgCounts(r *http.Request, s *session, items []treeItem) (map[tenancy.OrgID]tenancy.OrgCount, error) {
	if len(items) > orgCountsEach {
		return c.svc.OrgCounts(r.Context(), s.actor, s.actor.OrgID, true)
	}
	out := make(map[tenancy.OrgID]tenancy.OrgCount, len(items))
	for _, it := range items {
		m, err := c.svc.OrgCounts(r.Context(), s.actor, it.Org.ID, false)
		if tenancy.CodeOf(err) == tenancy.Internal {
			return nil, err
		}
		if n, ok := m[it.Org.ID]; ok {
			out[it.Org.ID] = n
		}
	}
	return out, nil
}

var depthClass = [...]string{"d0", "d1", "d2", "d3", "d4"}

// countText prints a count, or a dash when it is not shown (-1).
func countText(n int) string {
	if n < 0 {
		return "–"
	}
	return strconv.Itoa(n)
}

// doneNotice is the confirmation a redirect after a change asks for.
func doneNotice(r *http.Request) string {
	return map[string]string{
		"created": "Organization created.", "saved": "Saved.", "transferred": "Organization transferred.",
		"deleted": "Deleted.", "invited": "Invitation sent.", "user-created": "User created.", "role": "Role changed.",
		"user-transferred": "User transferred.", "user-transferred-no-admin": "User transferred. The organization they left has no Admin any more.", "suspended": "User suspended.", "reactivated": "User reactivated.",
		"logged-out": "Every session of the user has ended.", "reset": "A password reset link was mailed to the user.",
		"perms": "Permissions saved.", "role-created": "Role created.", "renamed": "Role renamed.",
	}[r.URL.Query().Get("done")]
}

type orgFormData struct {
	Parent tenancy.Org
	Org    tenancy.Org // the edited org (edit page)
	Name   string
	Desc   string
	Type   string
	Types  []option
	CanSub bool
	// Retention is the history retention in days as typed ("": none of
	// its own).
	Retention string
	Templates []templateOption
	Errs      formErrors
	// Edit page only.
	Path        []tenancy.Org // ancestors from the user's home org
	Devices     int
	Users       int
	Parents     orgPicker // transfer destinations
	ParentText  string    // the parent field as sent (a name typed without JavaScript)
	CanSettings bool
	CanTransfer bool
	CanDelete   bool
	CanSwitch   bool
}

type templateOption struct {
	ID      tenancy.TemplateID
	Name    string
	Checked bool
}

var orgTypes = []tenancy.OrgType{tenancy.OrgBusiness, tenancy.OrgPersonal, tenancy.OrgBranch, tenancy.OrgDistributor,
	tenancy.OrgContractor, tenancy.OrgInstaller, tenancy.OrgReseller}

func typeOptions(sel string) []option {
	out := make([]option, 0, len(orgTypes))
	for _, t := range orgTypes {
		label := strings.ToUpper(string(t[:1])) + strings.ToLower(string(t[1:]))
		out = append(out, option{Value: string(t), Label: label, Selected: string(t) == sel})
	}
	return out
}

// orgNewPage is GET /orgs/new?parent=: the form for a sub-organization
// (default parent: the current org).
func (c *Console) orgNewPage(w http.ResponseWriter, r *http.Request, s *session) {
	parent, _ := strconv.ParseInt(r.URL.Query().Get("parent"), 10, 64)
	if parent == 0 {
		parent = int64(s.org)
	}
	d := orgFormData{Type: string(tenancy.OrgBusiness), Errs: formErrors{}}
	c.renderOrgNew(w, r, s, http.StatusOK, tenancy.OrgID(parent), d, nil)
}

func (c *Console) renderOrgNew(w http.ResponseWriter, r *http.Request, s *session, status int, parent tenancy.OrgID, d orgFormData, checked map[tenancy.TemplateID]bool) {
	p, err := c.svc.Org(r.Context(), s.actor, parent)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	if !s.perms.Has(tenancy.OrgCreateSub) { // the role; the service checks the rest (the parent's flag, depth)
		c.forbidden(w, r, s)
		return
	}
	d.Parent = p
	d.Types = typeOptions(d.Type)
	if status == http.StatusOK {
		d.CanSub = p.Depth == 1 // the service's default
	}
	tl, err := c.svc.Templates(r.Context(), s.actor, parent, tenancy.Page{Size: tenancy.MaxPageSize})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	for _, t := range tl.Items {
		d.Templates = append(d.Templates, templateOption{ID: t.ID, Name: t.Def.Name, Checked: checked == nil || checked[t.ID]})
	}
	c.renderShell(w, r, s, status, "orgnew", view{Title: "New organization", Nav: "orgs", Data: d})
}

// orgCreate is POST /orgs/new: creates the sub-organization, which
// inherits the parent's role permissions and enabled templates; the
// templates left unticked are then disabled in it.
func (c *Console) orgCreate(w http.ResponseWriter, r *http.Request, s *session) {
	parent := tenancy.OrgID(formID(r, "parent"))
	canSub := r.PostFormValue("cansub") == "on"
	d := orgFormData{Name: r.PostFormValue("name"), Desc: r.PostFormValue("description"), Type: r.PostFormValue("type"), CanSub: canSub}
	checked := map[tenancy.TemplateID]bool{}
	for _, t := range r.PostForm["template"] {
		checked[tenancy.TemplateID(t)] = true
	}
	o, err := c.svc.CreateOrg(r.Context(), s.actor, tenancy.NewOrg{ParentID: parent, Name: d.Name, Description: d.Desc,
		Type: tenancy.OrgType(d.Type), CanCreateSub: &canSub})
	if err != nil {
		if httpStatus(err) == http.StatusNotFound {
			c.fail(w, r, s, err)
			return
		}
		c.failForm(w, r, err, func(st int) {
			d.Errs = refusal(err, "name", "description", "type")
			if st == http.StatusForbidden || strings.Contains(message(err), "depth") {
				d.Errs = formErrors{"": message(err)} // about the parent, not a field
			}
			c.renderOrgNew(w, r, s, st, parent, d, checked)
		})
		return
	}
	tl, err := c.svc.Templates(r.Context(), s.actor, o.ID, tenancy.Page{Size: tenancy.MaxPageSize})
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	for _, t := range tl.Items {
		if !checked[t.ID] {
			if err := c.svc.SetTemplateEnabled(r.Context(), s.actor, o.ID, t.ID, false); err != nil {
				c.fail(w, r, s, err)
				return
			}
		}
	}
	http.Redirect(w, r, "/orgs/"+strconv.FormatInt(int64(o.ID), 10)+"?done=created", http.StatusSeeOther)
}

// orgPage is GET /orgs/{id}: settings, transfer and deletion of one org.
func (c *Console) orgPage(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	if !ok {
		c.notFound(w, r, s)
		return
	}
	c.renderOrg(w, r, s, http.StatusOK, tenancy.OrgID(id), nil, "")
}

// renderOrg shows the org page; edit (when not nil) holds the submitted
// settings, errs the refusals.
func (c *Console) renderOrg(w http.ResponseWriter, r *http.Request, s *session, status int, id tenancy.OrgID, edit *orgFormData, notice string) {
	o, err := c.svc.Org(r.Context(), s.actor, id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := orgFormData{Org: o, Name: o.Name, Desc: o.Description, Type: string(o.Type), CanSub: o.CanCreateSub, Errs: formErrors{},
		CanSettings: s.can(tenancy.OrgSettingsAccess, tenancy.OrgResource(id)),
		CanTransfer: s.can(tenancy.OrgTransfer, tenancy.OrgResource(id)) && o.Depth > 1,
		CanDelete:   s.can(tenancy.OrgDelete, tenancy.OrgResource(id)) && o.Depth > 1 && id != s.actor.OrgID && o.Special == tenancy.SpecialNone,
		CanSwitch:   id != s.org}
	if o.HistoryRetentionDays > 0 {
		d.Retention = strconv.Itoa(o.HistoryRetentionDays)
	}
	if edit != nil {
		d.Name, d.Desc, d.CanSub, d.Retention, d.Errs = edit.Name, edit.Desc, edit.CanSub, edit.Retention, edit.Errs
	}
	counts, err := c.svc.OrgCounts(r.Context(), s.actor, id, false)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d.Devices, d.Users = counts[id].Devices, counts[id].Users
	for p := o.ParentID; p != 0 && s.tree.InScope(s.actor, p); p = s.tree.Parent(p) {
		po, err := c.svc.Org(r.Context(), s.actor, p)
		if err != nil {
			break
		}
		d.Path = append([]tenancy.Org{po}, d.Path...)
	}
	if d.CanTransfer {
		cur := ""
		if edit != nil {
			cur = edit.ParentText
			if cur == "" {
				cur = strconv.FormatInt(int64(edit.Parent.ID), 10)
			}
		}
		var err error
		d.Parents, err = c.orgPicker(r, s, "orgs.parent", cur, func(x tenancy.Org) bool {
			return !s.tree.Within(id, x.ID) && x.ID != o.ParentID // the service would refuse: itself, below itself, where it is
		})
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
	}
	if notice == "" {
		notice = doneNotice(r)
	}
	errMsg := d.Errs.unshown(map[string]bool{"name": d.CanSettings, "description": d.CanSettings, "retention": d.CanSettings, "parent": d.CanTransfer, "delete": d.CanDelete})
	c.renderShell(w, r, s, status, "org", view{Scripts: adminScripts, Title: o.Name, Nav: "orgs", Notice: notice, Error: errMsg, Data: d})
}

// orgUpdate is POST /orgs/{id}: name, description, may-create-sub-orgs,
// history retention.
func (c *Console) orgUpdate(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	if !ok {
		c.notFound(w, r, s)
		return
	}
	in := orgFormData{Name: r.PostFormValue("name"), Desc: r.PostFormValue("description"), CanSub: r.PostFormValue("cansub") == "on",
		Retention: strings.TrimSpace(r.PostFormValue("retention"))}
	days, err := 0, error(nil)
	if in.Retention != "" {
		if days, err = strconv.Atoi(in.Retention); err != nil {
			err = tenancy.Errorf(tenancy.Invalid, "history retention: %q is not a whole number of days", in.Retention)
		}
	}
	if err == nil {
		_, err = c.svc.UpdateOrg(r.Context(), s.actor, tenancy.OrgID(id), tenancy.OrgUpdate{Name: &in.Name, Description: &in.Desc,
			CanCreateSub: &in.CanSub, HistoryRetentionDays: &days})
	}
	if err != nil {
		if st := httpStatus(err); st == http.StatusNotFound || st == http.StatusForbidden {
			c.fail(w, r, s, err)
			return
		}
		c.failForm(w, r, err, func(st int) {
			in.Errs = refusal(err, "name", "description", "retention")
			c.renderOrg(w, r, s, st, tenancy.OrgID(id), &in, "")
		})
		return
	}
	http.Redirect(w, r, "/orgs/"+strconv.FormatInt(id, 10)+"?done=saved", http.StatusSeeOther)
}

// orgTransfer is POST /orgs/{id}/transfer (parent): moves the org with
// its subtree; the service's refusals (cycle, depth, not a root Admin,
// the destination may not have sub-organizations) show at the field.
func (c *Console) orgTransfer(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	if !ok {
		c.notFound(w, r, s)
		return
	}
	parent := tenancy.OrgID(c.formOrg(r, s, "parent"))
	if _, err := c.svc.TransferOrg(r.Context(), s.actor, tenancy.OrgID(id), parent); err != nil {
		if tenancy.CodeOf(err) == tenancy.NotFound && !s.tree.InScope(s.actor, tenancy.OrgID(id)) {
			c.notFound(w, r, s)
			return
		}
		c.failForm(w, r, err, func(st int) {
			in := orgFormData{Errs: formErrors{"parent": message(err)}}
			o, _ := c.svc.Org(r.Context(), s.actor, tenancy.OrgID(id))
			in.Name, in.Desc, in.CanSub, in.Parent.ID, in.ParentText = o.Name, o.Description, o.CanCreateSub, parent, r.PostFormValue("parent")
			c.renderOrg(w, r, s, st, tenancy.OrgID(id), &in, "")
		})
		return
	}
	http.Redirect(w, r, "/orgs/"+strconv.FormatInt(id, 10)+"?done=transferred", http.StatusSeeOther)
}

// orgDelete is POST /orgs/{id}/delete: an empty leaf only.
func (c *Console) orgDelete(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	if !ok {
		c.notFound(w, r, s)
		return
	}
	if err := c.svc.DeleteOrg(r.Context(), s.actor, tenancy.OrgID(id)); err != nil {
		if tenancy.CodeOf(err) == tenancy.NotFound {
			c.notFound(w, r, s)
			return
		}
		c.failForm(w, r, err, func(st int) {
			o, _ := c.svc.Org(r.Context(), s.actor, tenancy.OrgID(id))
			in := orgFormData{Name: o.Name, Desc: o.Description, CanSub: o.CanCreateSub, Errs: formErrors{"delete": message(err)}}
			c.renderOrg(w, r, s, st, tenancy.OrgID(id), &in, "")
		})
		return
	}
	if tenancy.OrgID(id) == s.org {
		clearCookie(w, r, orgCookie)
	}
	http.Redirect(w, r, "/orgs?done=deleted", http.StatusSeeOther)
}
