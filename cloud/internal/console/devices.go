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
	Templates []option
	Owners    []option
	Status    string
	Rows      []deviceRow
	Total     int
	Next      string // URL of the next page ("" on the last)
	First     string // URL of the first page ("" on it)
}

const devicesPageSize = 50

// devicesPage is GET /devices: the devices of the current organization
// (and below it unless sub=0) the user may see.
func (c *Console) devicesPage(w http.ResponseWriter, r *http.Request, s *session) {
	sh, orgs, err := c.shell(r, s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	q := r.URL.Query()
	d := devicesData{Q: strings.TrimSpace(q.Get("q")), Sub: q.Get("sub") != "0", Status: q.Get("status")}
	after, _ := strconv.ParseInt(q.Get("after"), 10, 64)
	owner, _ := strconv.ParseInt(q.Get("owner"), 10, 64)
	dq := tenancy.DeviceQuery{OrgID: s.org, IncludeSub: d.Sub, Query: d.Q, TemplateID: tenancy.TemplateID(q.Get("template")),
		OwnerID: tenancy.UserID(owner), Page: tenancy.Page{Size: devicesPageSize, After: max(after, 0)}}
	l, err := c.svc.Devices(r.Context(), s.actor, dq)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	names := c.names(r, s)
	d.Templates = names.templateOptions(string(dq.TemplateID))
	d.Owners = names.ownerOptions(dq.OwnerID)
	d.Rows, err = c.rows(r, l.Items, orgs, names)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d.Total = l.Total
	if l.Next != 0 {
		nq := cloneQuery(q)
		nq.Set("after", strconv.FormatInt(l.Next, 10))
		d.Next = "/devices?" + nq.Encode()
	}
	if after > 0 {
		fq := cloneQuery(q)
		fq.Del("after")
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

func (n names) template(id tenancy.TemplateID) string {
	if s, ok := n.templates[id]; ok && s != "" {
		return s
	}
	return string(id)
}

func (n names) user(id tenancy.UserID) string {
	if id == 0 {
		return ""
	}
	if s, ok := n.users[id]; ok && s != "" {
		return s
	}
	return "user " + strconv.FormatInt(int64(id), 10)
}

func orgName(orgs map[tenancy.OrgID]tenancy.Org, id tenancy.OrgID) string {
	if o, ok := orgs[id]; ok {
		return o.Name
	}
	return "organization " + strconv.FormatInt(int64(id), 10)
}

// rows joins devices with their status and display names.
func (c *Console) rows(r *http.Request, devs []tenancy.Device, orgs map[tenancy.OrgID]tenancy.Org, n names) ([]deviceRow, error) {
	st := map[string]DeviceStatus{}
	if c.live != nil && len(devs) > 0 {
		uids := make([]string, len(devs))
		for i, d := range devs {
			uids[i] = d.UID
		}
		var err error
		if st, err = c.live.Statuses(r.Context(), uids); err != nil {
			return nil, err
		}
	}
	out := make([]deviceRow, len(devs))
	for i, d := range devs {
		ds, ok := st[d.UID]
		out[i] = deviceRow{ID: d.ID, Name: d.Name, Online: ds.Online, Reported: ok, LastSeen: ds.LastSeen,
			Template: n.template(d.TemplateID), Org: orgName(orgs, d.OrgID), Owner: n.user(d.OwnerID)}
	}
	return out, nil
}
