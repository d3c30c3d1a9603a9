package console

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"outpost/cloud/internal/tenancy"
)

// maxPickerOptions is the most organizations a form lists in a plain
// <select>; with more, the field is a text input that takes a name or a
// number, which orgpick.js turns into a searchable list fed by
// GET /pick/orgs.
const maxPickerOptions = 100

// maxPickResults is the most suggestions GET /pick/orgs answers.
const maxPickResults = 20

// pickPurposes name what an organization is picked for, and the
// permission the user needs in it to be offered it (nil: any org of the
// scope).
var pickPurposes = map[string]*tenancy.Permission{
	"devices.create":   ptr(tenancy.OrgDevicesCreate),
	"devices.transfer": ptr(tenancy.OrgDevicesView), // a destination the user sees
	"sites.claim":      ptr(tenancy.GatewaysClaim),
	"users.invite":     ptr(tenancy.UsersInvite),
	"users.transfer":   ptr(tenancy.UsersTransfer),
	"templates.enable": ptr(tenancy.OrgSettingsAccess),
	"audit.view":       ptr(tenancy.UsersActionsLogView),
	"orgs.parent":      nil, // the service refuses cycles, depth and rights with its words
}

// orgPicker is a form's organization field: a <select> of Options, or
// with Many candidates a text field taking a name or a number.
type orgPicker struct {
	ID, Name string // the control's id and the form field's name
	For      string // the purpose (pickPurposes)
	Choose   string // the empty first option's text ("" = none)
	Required bool
	ErrID    string // the id of the message about the field ("" = none)
	Options  []option
	Many     bool   // more than maxPickerOptions candidates
	Count    int    // the candidates
	Text     string // Many: the field's text (the chosen org's name)
	Value    string // Many: the chosen org's id
}

// orgPicker builds the field for purpose: the orgs of the user's scope
// (tree order, names indented by depth) the user may pick for it that
// keep accepts (nil: all); cur is the field's value, an org's number (the
// one chosen) or a name typed without JavaScript (shown again).
func (c *Console) orgPicker(r *http.Request, s *session, purpose, cur string, keep func(tenancy.Org) bool) (orgPicker, error) {
	p := orgPicker{For: purpose}
	n, err := strconv.ParseInt(cur, 10, 64)
	sel := tenancy.OrgID(n)
	if err != nil {
		p.Text = strings.TrimSpace(cur)
	}
	items, err := c.pickable(r, s, purpose, keep)
	if err != nil {
		return p, err
	}
	p.Count = len(items)
	if p.Many = len(items) > maxPickerOptions; p.Many {
		for _, it := range items {
			if it.Org.ID == sel {
				p.Text, p.Value = it.Org.Name, strconv.FormatInt(int64(sel), 10)
			}
		}
		return p, nil
	}
	p.Options = make([]option, 0, len(items))
	for _, it := range items {
		p.Options = append(p.Options, option{Value: strconv.FormatInt(int64(it.Org.ID), 10),
			Label: strings.Repeat("— ", it.Depth) + it.Org.Name, Selected: it.Org.ID == sel})
	}
	return p, nil
}

// With returns p with the control's id, field name, empty option and
// the id of the message about it ("" = none) set: a template's choices,
// kept next to its markup.
func (p orgPicker) With(id, name, choose string, required bool, errID string) orgPicker {
	p.ID, p.Name, p.Choose, p.Required, p.ErrID = id, name, choose, required, errID
	return p
}

// pickable lists the orgs of the user's scope offered for purpose;
// callers must not modify the list (it is kept, see scopeTreeMemo).
func (c *Console) pickable(r *http.Request, s *session, purpose string, keep func(tenancy.Org) bool) ([]treeItem, error) {
	perm, ok := pickPurposes[purpose]
	if !ok {
		return nil, nil
	}
	m, err := c.scopeMemo(r, s)
	if err != nil {
		return nil, err
	}
	if keep == nil {
		m.mu.Lock()
		defer m.mu.Unlock()
		if out, ok := m.picks[purpose]; ok {
			return out, nil
		}
	}
	out := make([]treeItem, 0, len(m.items))
	for _, it := range m.items {
		if (perm == nil || s.can(*perm, tenancy.OrgResource(it.Org.ID))) && (keep == nil || keep(it.Org)) {
			out = append(out, it)
		}
	}
	if keep == nil {
		if m.picks == nil {
			m.picks = map[string][]treeItem{}
		}
		m.picks[purpose] = slices.Clip(out)
	}
	return out, nil
}

// unknownOrg is what formOrg answers for a name that names no single
// organization: an id no org has, so the service refuses it as not found
// (never 0, which some services read as "the caller's own org").
const unknownOrg = -1

// formOrg reads an organization field: a number (what the <select> and
// orgpick.js send), or without JavaScript the name typed into the text
// field, matched exactly (case aside) among the orgs of the user's scope.
// Empty is 0.
func (c *Console) formOrg(r *http.Request, s *session, name string) int64 {
	v := strings.TrimSpace(r.FormValue(name))
	if v == "" {
		return 0
	}
	if id, err := strconv.ParseInt(strings.TrimPrefix(v, "#"), 10, 64); err == nil {
		return max(id, 0)
	}
	items, err := c.scopeTree(r, s)
	if err != nil {
		return unknownOrg
	}
	found := int64(unknownOrg)
	for _, it := range items {
		if strings.EqualFold(it.Org.Name, v) {
			if found != unknownOrg {
				return unknownOrg // two orgs of that name: the number tells them apart
			}
			found = int64(it.Org.ID)
		}
	}
	return found
}

// pickResult is one suggestion of GET /pick/orgs.
type pickResult struct {
	ID   tenancy.OrgID `json:"id"`
	Name string        `json:"name"`
	Path string        `json:"path"` // the parents from the user's home org, "A › B"
}

// pickOrgs is GET /pick/orgs?for=&q=: the first maxPickResults orgs the
// user may pick for the purpose whose name contains q (case aside) or
// whose number is q, in tree order, as JSON {items, more}.
func (c *Console) pickOrgs(w http.ResponseWriter, r *http.Request, s *session) {
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	purpose := r.URL.Query().Get("for")
	if _, ok := pickPurposes[purpose]; !ok {
		http.Error(w, "unknown purpose", http.StatusBadRequest)
		return
	}
	items, err := c.pickable(r, s, purpose, nil)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	byID, err := c.scopeOrgs(r, s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	num, numErr := strconv.ParseInt(strings.TrimPrefix(q, "#"), 10, 64)
	out := struct {
		Items []pickResult `json:"items"`
		More  bool         `json:"more"`
	}{Items: []pickResult{}}
	for _, it := range items {
		if q != "" && !strings.Contains(strings.ToLower(it.Org.Name), q) && (numErr != nil || int64(it.Org.ID) != num) {
			continue
		}
		if len(out.Items) == maxPickResults {
			out.More = true
			break
		}
		var path []string
		for p := it.Org.ParentID; p != 0 && p != s.actor.OrgID; {
			o, ok := byID[p]
			if !ok {
				break
			}
			path = append([]string{o.Name}, path...)
			p = o.ParentID
		}
		if it.Org.ID != s.actor.OrgID {
			if home, ok := byID[s.actor.OrgID]; ok {
				path = append([]string{home.Name}, path...)
			}
		}
		out.Items = append(out.Items, pickResult{ID: it.Org.ID, Name: it.Org.Name, Path: strings.Join(path, " › ")})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(out)
}
