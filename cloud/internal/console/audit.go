package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"outpost/cloud/internal/tenancy"
)

const auditPageSize = 50

// auditActions are the actions the filter offers (the service's names).
var auditActions = []string{
	"org.create", "org.update", "org.transfer", "org.delete",
	"user.create", "user.invite", "user.invite.resend", "user.invite.accept", "user.update", "user.role", "user.transfer",
	"user.suspend", "user.unsuspend", "user.force_logout", "user.delete", "user.password.set", "user.password.change",
	"user.password.reset", "user.password.reset_sent", "user.tags",
	"role.create", "role.rename", "role.delete", "role.permissions",
	"template.create", "template.update", "template.delete", "template.enable",
	"device.create", "device.rename", "device.transfer", "device.delete", "device.owner.remove", "device.token",
	"device.metadata", "device.event.resolve", "automation.save", "automation.delete",
	"location.create", "location.update", "location.delete", "location.transfer",
	"tag.create", "tag.rename", "tag.delete", "device.tags", "statictoken.create", "statictoken.claim", "statictoken.disclaim",
	"gateway.claim", "gateway.release", "oauth.create", "oauth.delete",
}

// auditRowFull is one entry of the audit page.
type auditRowFull struct {
	tenancy.AuditEntry
	Who     string
	Org     string
	Before  string
	After   string
	Changes []fieldChange // the fields that differ, when Diffed
	Diffed  bool          // both shapes are objects
	Object  string
}

// fieldChange is one field of an API shape before and after a change.
type fieldChange struct {
	Key, Before, After string
}

// changes lists the top-level fields whose values differ between two
// API shapes (the modification time left out); false when either is not
// an object.
func changes(before, after json.RawMessage) ([]fieldChange, bool) {
	var b, a map[string]json.RawMessage
	if json.Unmarshal(before, &b) != nil || json.Unmarshal(after, &a) != nil || b == nil || a == nil {
		return nil, false
	}
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []fieldChange
	for _, k := range keys {
		if k == "lastModifiedTs" || bytes.Equal(b[k], a[k]) {
			continue
		}
		out = append(out, fieldChange{Key: k, Before: orNone(compactJSON(b[k])), After: orNone(compactJSON(a[k]))})
	}
	return out, true
}

func orNone(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

type auditData struct {
	Org     orgPicker
	Sub     bool
	User    string // an email, or a user's number
	Action  string
	Actions []option
	Device  string
	From    string
	To      string
	Rows    []auditRowFull
	Next    string
	First   string
}

const auditTimeForm = "2006-01-02T15:04"

// auditPage is GET /audit: the audit log of an org (and, with sub, the
// orgs below it) filtered by user, action, device and time, newest first,
// keyset-paged; each entry shows who, when and before → after in the
// Platform API's shapes.
func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	org := s.org
	var bad []string
	switch v := c.formOrg(r, s, "org"); v {
	case 0:
	case unknownOrg:
		bad = append(bad, "no single organization has that name: pick it from the list, or type its number")
	default:
		org = tenancy.OrgID(v)
	}
	d := auditData{Sub: q.Get("sub") != "0", User: q.Get("user"), Action: q.Get("action"), Device: strings.TrimSpace(q.Get("device")),
		From: q.Get("from"), To: q.Get("to")}
	aq := tenancy.AuditQuery{OrgID: org, IncludeSub: d.Sub, Action: d.Action, Page: tenancy.Page{Size: auditPageSize}, SkipTotal: true}
	if d.User != "" {
		if u, err := c.auditUser(r, s, org, d.User); err == nil {
			aq.UserID = u
		} else {
			bad = append(bad, err.Error())
		}
	}
	if d.Device != "" {
		if _, err := strconv.ParseInt(d.Device, 10, 64); err != nil {
			bad = append(bad, "the device is its number, as in its address /devices/N")
		}
		aq.ObjectType, aq.ObjectID = "device", d.Device
	}
	for _, b := range []struct {
		v   string
		dst *time.Time
	}{{d.From, &aq.Since}, {d.To, &aq.Until}} {
		if b.v == "" {
			continue
		}
		t, err := time.ParseInLocation(auditTimeForm, b.v, time.UTC)
		if err != nil {
			bad = append(bad, "times are YYYY-MM-DDTHH:MM (UTC)")
			continue
		}
		*b.dst = t
	}
	if after, err := strconv.ParseInt(q.Get("after"), 10, 64); err == nil && after > 0 {
		aq.Page.After = after
	}
	if !s.can(tenancy.UsersActionsLogView, tenancy.OrgResource(org)) {
		if !s.tree.InScope(s.actor, org) {
			c.notFound(w, r, s)
		} else {
			c.forbidden(w, r, s)
		}
		return
	}
	status, errMsg := http.StatusOK, strings.Join(bad, "; ")
	var l tenancy.List[tenancy.AuditEntry]
	if errMsg == "" {
		var err error
		if l, err = c.svc.Audit(r.Context(), s.actor, aq); err != nil {
			if httpStatus(err) != http.StatusBadRequest {
				c.fail(w, r, s, err)
				return
			}
			status, errMsg = http.StatusBadRequest, message(err)
		}
	} else {
		status = http.StatusBadRequest
	}
	// The org filter offers the orgs whose log the user may read: a
	// <select>, or past maxPickerOptions a searchable field (orgpick.js).
	pick, err := c.orgPicker(r, s, "audit.view", strconv.FormatInt(int64(org), 10), nil)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d.Org = pick
	orgs, err := c.scopeOrgs(r, s)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	name := func(id tenancy.OrgID) string { return orgs[id].Name }
	for _, a := range auditActions {
		d.Actions = append(d.Actions, option{Value: a, Label: a, Selected: a == d.Action})
	}
	if d.Action != "" && !slices.Contains(auditActions, d.Action) {
		d.Actions = append(d.Actions, option{Value: d.Action, Label: d.Action, Selected: true})
	}
	names := map[tenancy.UserID]string{}
	for _, e := range l.Items {
		row := auditRowFull{AuditEntry: e, Org: name(e.OrgID), Before: compactJSON(e.Before), After: compactJSON(e.After),
			Object: e.ObjectType + " " + e.ObjectID}
		if e.Before != nil && e.After != nil {
			row.Changes, row.Diffed = changes(e.Before, e.After)
		}
		switch {
		case e.UserID == s.user.ID:
			row.Who = s.user.Name + " (you)"
		case e.UserID != 0:
			n, ok := names[e.UserID]
			if !ok {
				if u, err := c.svc.User(r.Context(), s.actor, e.UserID); err == nil {
					n = u.Name
				} else {
					n = "someone outside your organizations"
				}
				names[e.UserID] = n
			}
			row.Who = n
		case e.ClientID != "":
			row.Who = "API client " + e.ClientID
		default:
			row.Who = "system"
		}
		d.Rows = append(d.Rows, row)
	}
	if l.Next != 0 {
		nq := cloneQuery(q)
		nq.Set("after", strconv.FormatInt(l.Next, 10))
		d.Next = "/audit?" + nq.Encode()
	}
	if aq.Page.After != 0 {
		fq := cloneQuery(q)
		fq.Del("after")
		d.First = "/audit?" + fq.Encode()
	}
	c.renderShell(w, r, s, status, "audit", view{Title: "Audit log", Nav: "audit", Error: errMsg, Data: d})
}

// compactJSON shows a before/after shape on one line ("" when absent).
func compactJSON(m json.RawMessage) string {
	if len(m) == 0 {
		return ""
	}
	var b bytes.Buffer
	if json.Compact(&b, m) != nil {
		return string(m)
	}
	return b.String()
}

// auditUser resolves the user filter: a user's number, or the email of a
// user of org's subtree.
func (c *Console) auditUser(r *http.Request, s *session, org tenancy.OrgID, v string) (tenancy.UserID, error) {
	v = strings.TrimSpace(v)
	if id, err := strconv.ParseInt(v, 10, 64); err == nil && id > 0 {
		return tenancy.UserID(id), nil
	}
	l, err := c.svc.Users(r.Context(), s.actor, tenancy.UserQuery{OrgID: org, IncludeSub: true, Query: v, Page: tenancy.Page{Size: 10}})
	if err == nil {
		for _, u := range l.Items {
			if strings.EqualFold(u.Email, v) {
				return u.ID, nil
			}
		}
	}
	return 0, errors.New("no user with this email here")
}
