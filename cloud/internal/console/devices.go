package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"outpost/cloud/internal/tenancy"
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
}

type option struct {
	Value, Label string
	Selected     bool
}

type devicesData struct {
	Q         string
	Sub       bool
	Status    string
	Templates []option
	Owners    []option
	Locations []option
	Tags      []option // offered only to who may manage tags
	AllTags   bool
	Cols      []column
	Rows      []deviceRow
	Total     int
	Next      string // URL of the next page ("" on the last)
	First     string // URL of the first page ("" on it)
	Filtered  bool
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
	n := c.names(r, s)
	d.Templates = n.templateOptions(string(dq.TemplateID))
	d.Owners = n.ownerOptions(dq.OwnerID)
	if ll, err := c.svc.Locations(r.Context(), s.actor, tenancy.LocationQuery{OrgID: s.org, IncludeSub: true, Page: tenancy.Page{Size: 200}}); err == nil {
		for _, l := range ll.Items {
			d.Locations = append(d.Locations, option{Value: strconv.FormatInt(int64(l.ID), 10), Label: l.Name, Selected: l.ID == dq.LocationID})
		}
	}
	if s.can(tenancy.TagsManage, tenancy.Resource{OrgID: s.org}) {
		if ts, err := c.svc.Tags(r.Context(), s.actor, s.org); err == nil {
			for _, t := range ts {
				v := strconv.FormatInt(int64(t.ID), 10)
				d.Tags = append(d.Tags, option{Value: v, Label: t.Name, Selected: selTags[v]})
			}
		}
	}
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
	d.Rows = listRows(p.Rows)
	d.Total = p.Total
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
	c.render(w, r, http.StatusOK, "devices", view{Title: "Devices", Nav: "devices", Shell: sh, Data: d})
}

func cloneQuery(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// names resolves template and owner names for display; what the user may
// not list stays an id.
type names struct {
	templates map[tenancy.TemplateID]string
	users     map[tenancy.UserID]string
	tmplOrder []tenancy.TemplateID
	userOrder []tenancy.UserID
}

func (c *Console) names(r *http.Request, s *session) names {
	n := names{templates: map[tenancy.TemplateID]string{}, users: map[tenancy.UserID]string{}}
	if tl, err := c.svc.Templates(r.Context(), s.actor, s.org, tenancy.Page{Size: tenancy.MaxPageSize}); err == nil {
		for _, t := range tl.Items {
			n.templates[t.ID] = t.Def.Name
			n.tmplOrder = append(n.tmplOrder, t.ID)
		}
	}
	if ul, err := c.svc.Users(r.Context(), s.actor, tenancy.UserQuery{OrgID: s.org, IncludeSub: true, Page: tenancy.Page{Size: 200}}); err == nil {
		for _, u := range ul.Items {
			label := u.Name
			if label == "" {
				label = u.Email
			}
			n.users[u.ID] = label
			n.userOrder = append(n.userOrder, u.ID)
		}
	}
	n.users[s.user.ID] = s.user.Name
	return n
}

func (n names) templateOptions(sel string) []option {
	out := make([]option, 0, len(n.tmplOrder))
	for _, id := range n.tmplOrder {
		out = append(out, option{Value: string(id), Label: n.templates[id], Selected: string(id) == sel})
	}
	return out
}

func (n names) ownerOptions(sel tenancy.UserID) []option {
	out := make([]option, 0, len(n.userOrder))
	for _, id := range n.userOrder {
		out = append(out, option{Value: strconv.FormatInt(int64(id), 10), Label: n.users[id], Selected: id == sel})
	}
	return out
}

func orgName(orgs map[tenancy.OrgID]tenancy.Org, id tenancy.OrgID) string {
	if o, ok := orgs[id]; ok {
		return o.Name
	}
	return "organization " + strconv.FormatInt(int64(id), 10)
}

func listRows(rows []tenancy.DeviceRow) []deviceRow {
	out := make([]deviceRow, len(rows))
	for i, r := range rows {
		out[i] = deviceRow{ID: r.ID, Name: r.Name, Online: r.Online, Reported: !r.LastReported.IsZero(),
			LastSeen: r.LastReported, Template: r.TemplateName, Org: r.OrgName, Owner: r.OwnerName}
	}
	return out
}
