package console

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/webui"
)

// deviceRow is one line of a device table.
type deviceRow struct {
	ID       tenancy.DeviceID
	Name     string
	Online   bool
	Reported bool
	LastSeen time.Time
	Template string
	Org      string
	Owner    string
	Seen     string // LastSeen for machines (RFC 3339) and people ("3 min ago"),
	Ago      string // formatted in Go: a table of 50 rows called two template functions per row
	Open     int    // open critical events
}

type option struct {
	Value, Label string
	Selected     bool
}

type devicesData struct {
	Q         string
	Sub       bool
	Status    string
	Templates template.HTML // <option>s (filterLists.options)
	Owners    template.HTML
	Locations template.HTML
	Tags      []option // offered only to who may manage tags
	AllTags   bool
	Cols      []column
	Rows      []deviceRow
	Total     int
	Next      string // URL of the next page ("" on the last)
	First     string // URL of the first page ("" on it)
	Filtered  bool
	Bulk      bulkChoices // the selection's actions the user may take
}

// column is a sortable column header.
type column struct {
	Label, URL, Sort string // Sort: "", "ascending" or "descending" (aria-sort)
	Narrow           bool   // hidden on narrow screens
}

const devicesPageSize = 50

var sortColumns = []struct {
	key    tenancy.DeviceSort
	label  string
	narrow bool
}{
	{tenancy.SortName, "Name", false}, {tenancy.SortStatus, "Status", false}, {tenancy.SortLastReported, "Last reported", false},
	{tenancy.SortTemplate, "Template", true}, {tenancy.SortOrg, "Organization", true}, {tenancy.SortOwner, "Owner", true},
}

// devicesPage is GET /devices: the devices of the current organization
// (and below it unless sub=0) the user may see, filtered (search,
// template, status, owner, location, up to 5 tags matched all or any),
// sorted by any column and keyset-paginated.
func (c *Console) devicesPage(w http.ResponseWriter, r *http.Request, s *session) {
	sh, _, err := c.shell(r, s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	q := r.URL.Query()
	d := devicesData{Q: strings.TrimSpace(q.Get("q")), Sub: q.Get("sub") != "0", Status: q.Get("status"), AllTags: q.Get("match") == "all"}
	owner, _ := strconv.ParseInt(q.Get("owner"), 10, 64)
	loc, _ := strconv.ParseInt(q.Get("location"), 10, 64)
	dq := tenancy.DeviceListQuery{DeviceQuery: tenancy.DeviceQuery{OrgID: s.org, IncludeSub: d.Sub, Query: d.Q,
		TemplateID: tenancy.TemplateID(q.Get("template")), OwnerID: tenancy.UserID(owner), Page: tenancy.Page{Size: devicesPageSize}},
		Status: tenancy.StatusFilter(d.Status), LocationID: tenancy.LocationID(loc), AllTags: d.AllTags,
		Sort: tenancy.DeviceSort(q.Get("sort")), Desc: q.Get("dir") == "desc", Cursor: q.Get("cursor")}
	if dq.Sort == "" {
		dq.Sort = tenancy.SortName
	}
	selTags := map[string]bool{}
	for _, v := range q["tag"] {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil && !selTags[v] {
			selTags[v] = true
			dq.Tags = append(dq.Tags, tenancy.TagID(id))
		}
	}
	d.Filtered = d.Q != "" || dq.TemplateID != "" || dq.OwnerID != 0 || dq.Status != "" || dq.LocationID != 0 || len(dq.Tags) > 0
	p, err := c.svc.DeviceList(r.Context(), s.actor, dq)
	if err != nil {
		if httpStatus(err) == http.StatusBadRequest { // a hand-edited URL: show the page with the message
			sh2 := sh
			c.render(w, r, http.StatusBadRequest, "devices", view{Title: "Devices", Nav: "devices", Shell: sh2, Error: message(err), Data: d})
			return
		}
		c.fail(w, r, s, err)
		return
	}
	fl, err := c.filterLists(r, s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d.Templates, err = c.options(fl, "templates", fl.templates, string(dq.TemplateID))
	if err == nil {
		d.Owners, err = c.options(fl, "owners", fl.owners, strconv.FormatInt(int64(dq.OwnerID), 10))
	}
	if err == nil {
		d.Locations, err = c.options(fl, "locations", fl.locations, strconv.FormatInt(int64(dq.LocationID), 10))
	}
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d.Tags = selected(fl.tags, func(v string) bool { return selTags[v] })
	for _, col := range sortColumns {
		cq := cloneQuery(q)
		cq.Del("cursor")
		cq.Set("sort", string(col.key))
		cq.Del("dir")
		cl := column{Label: col.label, Narrow: col.narrow}
		if col.key == dq.Sort {
			cl.Sort = "ascending"
			if dq.Desc {
				cl.Sort = "descending"
			} else {
				cq.Set("dir", "desc")
			}
		}
		cl.URL = "/devices?" + cq.Encode()
		d.Cols = append(d.Cols, cl)
	}
	d.Rows = listRows(c.now(), p.Rows)
	if err := c.openCounts(r, p.Rows, d.Rows); err != nil {
		c.serverError(w, r, err)
		return
	}
	d.Total = p.Total
	d.Bulk = c.bulkChoices(r, s, fl)
	if p.Next != "" {
		nq := cloneQuery(q)
		nq.Set("cursor", p.Next)
		d.Next = "/devices?" + nq.Encode()
	}
	if dq.Cursor != "" {
		fq := cloneQuery(q)
		fq.Del("cursor")
		d.First = "/devices?" + fq.Encode()
	}
	c.render(w, r, http.StatusOK, "devices", view{Title: "Devices", Nav: "devices", Shell: sh, Data: d, Notice: doneNotices[q.Get("done")]})
}

func cloneQuery(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// filterLists are the choices of the device list's filters in the
// current org: what the user may list of templates, users (owners),
// locations and tags (tags only for who may manage them).
type filterLists struct {
	tree                               *tenancy.Tree
	templates, owners, locations, tags []option
	frags                              fragments // their <option>s, rendered
}

// options renders list's <option>s with the one valued chosen selected,
// once per filterLists and choice: up to 200 owners and 200 locations
// through html/template cost a device list page as much as its rows.
func (c *Console) options(fl *filterLists, name string, list []option, chosen string) (template.HTML, error) {
	if len(list) == 0 {
		return "", nil
	}
	return c.fragment(&fl.frags, fragKey{name: "options", cur: name + "\x00" + chosen}, func() any {
		return selected(list, func(v string) bool { return v == chosen })
	})
}

type filterKey struct {
	actor tenancy.Actor
	org   tenancy.OrgID
}

// filterLists computes the lists, or takes them from the memo (they are a
// few seconds old at most).
func (c *Console) filterLists(r *http.Request, s *session) (*filterLists, error) {
	key := filterKey{s.actor, s.org}
	if v, ok := c.memo.get(key); ok && v.(*filterLists).tree == s.tree {
		return v.(*filterLists), nil
	}
	ctx := r.Context()
	fl := &filterLists{tree: s.tree}
	// Lists the role may not see are left out (the filter is not offered).
	if tl, err := c.svc.Templates(ctx, s.actor, s.org, tenancy.Page{Size: tenancy.MaxPageSize}); err == nil {
		for _, t := range tl.Items {
			fl.templates = append(fl.templates, option{Value: string(t.ID), Label: t.Def.Name})
		}
	} else if tenancy.CodeOf(err) == tenancy.Internal {
		return nil, err
	}
	if ul, err := c.svc.Users(ctx, s.actor, tenancy.UserQuery{OrgID: s.org, IncludeSub: true, Page: tenancy.Page{Size: 200}}); err == nil {
		for _, u := range ul.Items {
			label := u.Name
			if label == "" {
				label = u.Email
			}
			fl.owners = append(fl.owners, option{Value: strconv.FormatInt(int64(u.ID), 10), Label: label})
		}
	} else if tenancy.CodeOf(err) == tenancy.Internal {
		return nil, err
	}
	if ll, err := c.svc.Locations(ctx, s.actor, tenancy.LocationQuery{OrgID: s.org, IncludeSub: true, Page: tenancy.Page{Size: 200}}); err == nil {
		for _, l := range ll.Items {
			fl.locations = append(fl.locations, option{Value: strconv.FormatInt(int64(l.ID), 10), Label: l.Name})
		}
	} else if tenancy.CodeOf(err) == tenancy.Internal {
		return nil, err
	}
	if s.can(tenancy.TagsManage, tenancy.Resource{OrgID: s.org}) {
		ts, err := c.svc.Tags(ctx, s.actor, s.org)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			fl.tags = append(fl.tags, option{Value: strconv.FormatInt(int64(t.ID), 10), Label: t.Name})
		}
	}
	c.memo.put(key, fl)
	return fl, nil
}

// selected copies options, marking those whose value is chosen.
func selected(opts []option, chosen func(string) bool) []option {
	out := make([]option, len(opts))
	for i, o := range opts {
		o.Selected = chosen(o.Value)
		out[i] = o
	}
	return out
}

func listRows(now time.Time, rows []tenancy.DeviceRow) []deviceRow {
	out := make([]deviceRow, len(rows))
	for i, r := range rows {
		out[i] = deviceRow{ID: r.ID, Name: r.Name, Online: r.Online, Reported: !r.LastReported.IsZero(),
			LastSeen: r.LastReported, Template: r.TemplateName, Org: r.OrgName, Owner: r.OwnerName}
		if out[i].Reported {
			out[i].Seen, out[i].Ago = r.LastReported.UTC().Format(time.RFC3339), webui.Ago(now, r.LastReported)
		}
	}
	return out
}

// openCounts fills the rows' counts of open critical events.
func (c *Console) openCounts(r *http.Request, rows []tenancy.DeviceRow, out []deviceRow) error {
	if c.events == nil || len(rows) == 0 {
		return nil
	}
	devs := make([]tenancy.Device, len(rows))
	for i, r := range rows {
		devs[i] = r.Device
	}
	n, err := c.events.OpenCounts(r.Context(), devs)
	if err != nil {
		return err
	}
	for i, r := range rows {
		out[i].Open = n[r.UID]
	}
	return nil
}

// orgName names an org: from the header's list, else from the service
// (the header lists the first orgs of a large tree only).
func (c *Console) orgName(r *http.Request, s *session, orgs map[tenancy.OrgID]tenancy.Org, id tenancy.OrgID) string {
	if o, ok := orgs[id]; ok {
		return o.Name
	}
	if o, err := c.svc.Org(r.Context(), s.actor, id); err == nil {
		return o.Name
	}
	return "organization " + strconv.FormatInt(int64(id), 10)
}
