package console

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"outpost/cloud/internal/tenancy"
)

type deviceNewData struct {
	Templates []option
	Org       orgPicker
	Owners    []option
	Form      form
}

// deviceNewPage is GET /devices/new: template, name, organization, owner.
func (c *Console) deviceNewPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.renderDeviceNew(w, r, s, http.StatusOK, form{Values: map[string]string{"org": itoa(s.org), "template": r.URL.Query().Get("template")}})
}

func (c *Console) renderDeviceNew(w http.ResponseWriter, r *http.Request, s *session, status int, f form) {
	sh, _, err := c.shell(r, s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d := deviceNewData{Form: f}
	if d.Org, err = c.orgPicker(r, s, "devices.create", f.V("org"), nil); err != nil {
		c.serverError(w, r, err)
		return
	}
	if d.Org.Count == 0 {
		c.forbidden(w, r, s)
		return
	}
	fl, err := c.filterLists(r, s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	if d.Templates, err = c.templateOptions(r, s, f.V("template")); err != nil {
		c.serverError(w, r, err)
		return
	}
	d.Owners = selected(fl.owners, func(v string) bool { return v == f.V("owner") })
	c.render(w, r, status, "devicenew", view{Title: "New device", Nav: "devices", Shell: sh, Data: d})
}

type deviceCreatedData struct {
	Device   tenancy.Device
	Template tenancy.Template
	Header   string
	Renewed  bool // a new token of an existing device
}

// sketchHeader is what a firmware author pastes at the top of a Blynk
// sketch: the template's id and name and the device's AuthToken.
func sketchHeader(t tenancy.Template, token string) string {
	q := func(s string) string {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", " ").Replace(s) + `"`
	}
	return "#define BLYNK_TEMPLATE_ID " + q(string(t.ID)) + "\n#define BLYNK_TEMPLATE_NAME " + q(t.Def.Name) +
		"\n#define BLYNK_AUTH_TOKEN " + q(token) + "\n"
}

// deviceCreate is POST /devices/new. The answer shows the AuthToken once,
// in a sketch header; it is not a redirect, so a reload does not show it
// again (and the page is no-store).
func (c *Console) deviceCreate(w http.ResponseWriter, r *http.Request, s *session) {
	f := newForm(r, "template", "name", "org", "owner")
	org := c.formOrg(r, s, "org")
	owner, _ := strconv.ParseInt(f.V("owner"), 10, 64)
	switch {
	case f.V("template") == "":
		f.Errs["template"] = "Choose a template."
	case f.V("name") == "":
		f.Errs["name"] = "Enter the device's name."
	}
	if len(f.Errs) > 0 {
		c.renderDeviceNew(w, r, s, http.StatusBadRequest, f)
		return
	}
	d, err := c.svc.CreateDevice(r.Context(), s.actor, tenancy.NewDevice{TemplateID: tenancy.TemplateID(f.V("template")), Name: f.V("name"),
		OrgID: tenancy.OrgID(org), OwnerID: tenancy.UserID(owner)})
	if err != nil {
		st := httpStatus(err)
		if st == http.StatusInternalServerError {
			c.serverError(w, r, err)
			return
		}
		msg := message(err)
		switch {
		case strings.Contains(msg, "name"):
			f.Errs["name"] = msg
		case strings.Contains(msg, "owner") || strings.Contains(msg, "user"):
			f.Errs["owner"] = msg
		case strings.Contains(msg, "template"):
			f.Errs["template"] = msg
		default:
			f.Errs["org"] = msg
		}
		c.renderDeviceNew(w, r, s, st, f)
		return
	}
	_, t, err := c.svc.DeviceTemplate(r.Context(), s.actor, d.ID)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.renderShell(w, r, s, http.StatusCreated, "devicecreated", view{Title: "Device created", Nav: "devices",
		Data: deviceCreatedData{Device: d, Template: t, Header: sketchHeader(t, d.Token)}})
}

type tagChoice struct {
	ID      tenancy.TagID
	Name    string
	Checked bool
}

// usableTags are the tags that may label a device or user of org: those
// of org and of the orgs above it in the user's scope where they may
// manage tags (SetDeviceTags's and SetUserTags's rule).
func (c *Console) usableTags(r *http.Request, s *session, org tenancy.OrgID) ([]tenancy.Tag, error) {
	var all []tenancy.Tag
	for ; org != 0 && s.tree.InScope(s.actor, org); org = s.tree.Parent(org) {
		if !s.can(tenancy.TagsManage, tenancy.OrgResource(org)) {
			break
		}
		ts, err := c.svc.Tags(r.Context(), s.actor, org)
		if err != nil {
			return nil, err
		}
		all = append(all, ts...)
	}
	return all, nil
}

// tagChoices are the usable tags of org, those in have checked.
func (c *Console) tagChoices(r *http.Request, s *session, org tenancy.OrgID, have []tenancy.Tag) ([]tagChoice, error) {
	all, err := c.usableTags(r, s, org)
	if err != nil {
		return nil, err
	}
	out := make([]tagChoice, 0, len(all))
	for _, tg := range all {
		out = append(out, tagChoice{ID: tg.ID, Name: tg.Name,
			Checked: slices.ContainsFunc(have, func(h tenancy.Tag) bool { return h.ID == tg.ID })})
	}
	return out, nil
}

// formTagIDs reads the checked tag ids of a form (field "tag").
func formTagIDs(r *http.Request) []tenancy.TagID {
	var ids []tenancy.TagID
	r.ParseForm()
	for _, v := range r.PostForm["tag"] {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			ids = append(ids, tenancy.TagID(n))
		}
	}
	return ids
}

type deviceManageData struct {
	Device      tenancy.Device
	Template    tenancy.Template
	Org         string
	Owner       string
	CanEdit     bool
	CanTransfer bool
	CanDelete   bool
	CanToken    bool      // may issue a new AuthToken
	Dest        orgPicker // transfer destinations
	Users       []option  // new owners
	Tags        []tagChoice
	CanTag      bool
	Locations   []option
	CanLocate   bool
	Form        form
}

// canManageDevice: the user may rename, transfer, delete or tag d.
func (s *session) canManageDevice(d tenancy.Device) bool {
	res := tenancy.Resource{OrgID: d.OrgID, OwnerID: d.OwnerID}
	return s.can(tenancy.OrgDevicesEdit, res) || s.can(tenancy.DevicesTransfer, res) || s.can(tenancy.OrgDevicesDelete, res) ||
		s.can(tenancy.TagsManage, tenancy.OrgResource(d.OrgID)) || s.can(tenancy.DeviceAuthTokenEdit, res)
}

// deviceManagePage is GET /devices/{id}/manage: rename, transfer, remove
// the owner, tags, location, delete.
func (c *Console) deviceManagePage(w http.ResponseWriter, r *http.Request, s *session) {
	d, t, ok := c.loadDevice(w, r, s)
	if !ok {
		return
	}
	if !s.canManageDevice(d) {
		c.forbidden(w, r, s)
		return
	}
	v := view{}
	switch r.URL.Query().Get("done") {
	case "saved":
		v.Notice = "Saved."
	case "owner-removed":
		v.Notice = "The device has no owner now."
	}
	c.renderDeviceManage(w, r, s, http.StatusOK, d, t, form{}, v)
}

func (c *Console) renderDeviceManage(w http.ResponseWriter, r *http.Request, s *session, status int, d tenancy.Device, t tenancy.Template, f form, v view) {
	sh, orgs, err := c.shell(r, s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	res := tenancy.Resource{OrgID: d.OrgID, OwnerID: d.OwnerID}
	md := deviceManageData{Device: d, Template: t, Org: c.orgName(r, s, orgs, d.OrgID), Form: f,
		CanEdit: s.can(tenancy.OrgDevicesEdit, res), CanTransfer: s.can(tenancy.DevicesTransfer, res), CanDelete: s.can(tenancy.OrgDevicesDelete, res),
		CanToken: d.StaticToken == 0 && s.can(tenancy.DeviceAuthTokenEdit, res)}
	if d.OwnerID != 0 {
		if u, err := c.svc.User(r.Context(), s.actor, d.OwnerID); err == nil {
			md.Owner = u.Name + " <" + u.Email + ">"
		} else {
			md.Owner = "user " + itoa(d.OwnerID)
		}
	}
	if md.CanTransfer {
		var err error
		if md.Dest, err = c.orgPicker(r, s, "devices.transfer", f.V("org"), func(o tenancy.Org) bool { return o.ID != d.OrgID }); err != nil {
			c.serverError(w, r, err)
			return
		}
		fl, err := c.filterLists(r, s)
		if err != nil {
			c.serverError(w, r, err)
			return
		}
		md.Users = selected(fl.owners, func(v string) bool { return v == f.V("user") })
	}
	if md.CanTag = s.can(tenancy.TagsManage, tenancy.OrgResource(d.OrgID)); md.CanTag {
		have, err := c.svc.DeviceTags(r.Context(), s.actor, d.ID)
		if err == nil {
			md.Tags, err = c.tagChoices(r, s, d.OrgID, have)
		}
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
	}
	if md.CanLocate = md.CanEdit; md.CanLocate {
		// The locations of the device's org and of the orgs above it in
		// the user's scope (SetDeviceLocation's rule).
		for org := d.OrgID; org != 0 && s.tree.InScope(s.actor, org); org = s.tree.Parent(org) {
			ll, err := c.svc.Locations(r.Context(), s.actor, tenancy.LocationQuery{OrgID: org, Page: tenancy.Page{Size: 200}})
			if err != nil {
				break
			}
			for _, l := range ll.Items {
				md.Locations = append(md.Locations, option{Value: itoa(l.ID), Label: l.Name, Selected: l.ID == d.LocationID})
			}
		}
	}
	v.Title, v.Nav, v.Shell, v.Data = "Manage "+d.Name, "devices", sh, md
	c.render(w, r, status, "devicemanage", v)
}

// manageRefused shows the manage page again with err next to field, or
// the error page when the device itself is out of reach.
func (c *Console) manageRefused(w http.ResponseWriter, r *http.Request, s *session, err error, f form, field string) {
	st := httpStatus(err)
	if st == http.StatusInternalServerError {
		c.serverError(w, r, err)
		return
	}
	d, t, ok := c.loadDevice(w, r, s) // answers 404 itself when the device is not visible
	if !ok {
		return
	}
	f.Errs[field] = message(err)
	c.renderDeviceManage(w, r, s, st, d, t, f, view{})
}

func deviceID(r *http.Request) tenancy.DeviceID {
	id, _ := int64Path(r, "id")
	return tenancy.DeviceID(id)
}

// deviceRename is POST /devices/{id}/rename (name).
func (c *Console) deviceRename(w http.ResponseWriter, r *http.Request, s *session) {
	f := newForm(r, "name")
	if _, err := c.svc.RenameDevice(r.Context(), s.actor, deviceID(r), f.V("name")); err != nil {
		c.manageRefused(w, r, s, err, f, "name")
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/devices/%d/manage?done=saved", deviceID(r)), http.StatusSeeOther)
}

// deviceTransfer is POST /devices/{id}/transfer (org, or user: the new
// owner, who takes the device into their org).
func (c *Console) deviceTransfer(w http.ResponseWriter, r *http.Request, s *session) {
	f := newForm(r, "org", "user")
	org := c.formOrg(r, s, "org")
	user, _ := strconv.ParseInt(f.V("user"), 10, 64)
	field := "org"
	if user != 0 {
		field = "user"
	}
	if org == 0 && user == 0 {
		c.manageRefused(w, r, s, tenancy.Errorf(tenancy.Invalid, "choose an organization or a new owner"), f, "org")
		return
	}
	d, err := c.svc.TransferDevice(r.Context(), s.actor, deviceID(r), tenancy.DeviceTransfer{OrgID: tenancy.OrgID(org), UserID: tenancy.UserID(user)})
	if err != nil {
		c.manageRefused(w, r, s, err, f, field)
		return
	}
	// The device may now be outside what the user sees.
	if _, err := c.svc.Device(r.Context(), s.actor, d.ID); err != nil {
		http.Redirect(w, r, "/devices?done=transferred", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/devices/%d/manage?done=saved", d.ID), http.StatusSeeOther)
}

// deviceRemoveOwner is POST /devices/{id}/remove-owner.
func (c *Console) deviceRemoveOwner(w http.ResponseWriter, r *http.Request, s *session) {
	if _, err := c.svc.RemoveDeviceOwner(r.Context(), s.actor, deviceID(r)); err != nil {
		c.manageRefused(w, r, s, err, form{Errs: fieldErrs{}}, "owner")
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/devices/%d/manage?done=owner-removed", deviceID(r)), http.StatusSeeOther)
}

// deviceDelete is POST /devices/{id}/delete.
func (c *Console) deviceDelete(w http.ResponseWriter, r *http.Request, s *session) {
	if err := c.svc.DeleteDevice(r.Context(), s.actor, deviceID(r)); err != nil {
		c.manageRefused(w, r, s, err, form{Errs: fieldErrs{}}, "delete")
		return
	}
	http.Redirect(w, r, "/devices?done=deleted", http.StatusSeeOther)
}

// deviceSetTags is POST /devices/{id}/tags (tag: the ids, at most 5).
func (c *Console) deviceSetTags(w http.ResponseWriter, r *http.Request, s *session) {
	if err := c.svc.SetDeviceTags(r.Context(), s.actor, deviceID(r), formTagIDs(r)); err != nil {
		c.manageRefused(w, r, s, err, form{Errs: fieldErrs{}}, "tags")
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/devices/%d/manage?done=saved", deviceID(r)), http.StatusSeeOther)
}

// deviceSetLocation is POST /devices/{id}/location (location; 0: none).
func (c *Console) deviceSetLocation(w http.ResponseWriter, r *http.Request, s *session) {
	f := newForm(r, "location")
	loc, _ := strconv.ParseInt(f.V("location"), 10, 64)
	if _, err := c.svc.SetDeviceLocation(r.Context(), s.actor, deviceID(r), tenancy.LocationID(loc)); err != nil {
		c.manageRefused(w, r, s, err, f, "location")
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/devices/%d/manage?done=saved", deviceID(r)), http.StatusSeeOther)
}

type bulkRow struct {
	ID     tenancy.DeviceID
	Name   string
	Result string
	OK     bool
}

type bulkData struct {
	Action string
	Rows   []bulkRow
	Done   int
	Users  bool // a bulk action on users (else devices)
}

// maxBulk bounds one bulk action (the device list's page size).
const maxBulk = devicesPageSize

// devicesBulk is POST /devices/bulk: action (transfer, delete, tag) on the
// devices selected in the list (id), each through the service on its own;
// the answer reports each device's outcome.
func (c *Console) devicesBulk(w http.ResponseWriter, r *http.Request, s *session) {
	r.ParseForm()
	action := r.PostFormValue("action")
	org := c.formOrg(r, s, "org")
	tag, _ := strconv.ParseInt(r.PostFormValue("tag"), 10, 64)
	ids := formIDs[tenancy.DeviceID](r, "id")
	msg := ""
	switch {
	case len(ids) == 0:
		msg = "Select the devices first."
	case len(ids) > maxBulk:
		msg = fmt.Sprintf("Select at most %d devices.", maxBulk)
	case action == "transfer" && org == 0:
		msg = "Choose the organization to transfer to."
	case action == "tag" && tag == 0:
		msg = "Choose the tag to add."
	case action != "transfer" && action != "delete" && action != "tag":
		msg = "Choose an action."
	}
	if msg != "" {
		c.renderShell(w, r, s, http.StatusBadRequest, "bulk", view{Title: "Bulk action", Nav: "devices", Error: msg, Data: bulkData{Action: action}})
		return
	}
	bd := bulkData{Action: action}
	ctx := r.Context()
	for _, id := range ids {
		d, err := c.svc.Device(ctx, s.actor, id)
		if err != nil {
			bd.Rows = append(bd.Rows, bulkRow{ID: id, Name: "device " + itoa(id), Result: message(err)})
			continue
		}
		switch action {
		case "transfer":
			_, err = c.svc.TransferDevice(ctx, s.actor, id, tenancy.DeviceTransfer{OrgID: tenancy.OrgID(org)})
		case "delete":
			err = c.svc.DeleteDevice(ctx, s.actor, id)
		case "tag":
			var have []tenancy.Tag
			if have, err = c.svc.DeviceTags(ctx, s.actor, id); err == nil &&
				!slices.ContainsFunc(have, func(t tenancy.Tag) bool { return t.ID == tenancy.TagID(tag) }) {
				tags := []tenancy.TagID{tenancy.TagID(tag)}
				for _, h := range have {
					tags = append(tags, h.ID)
				}
				err = c.svc.SetDeviceTags(ctx, s.actor, id, tags)
			}
		}
		row := bulkRow{ID: id, Name: d.Name, OK: err == nil, Result: "done"}
		if err != nil {
			if httpStatus(err) == http.StatusInternalServerError {
				c.serverError(w, r, err)
				return
			}
			row.Result = message(err)
		} else {
			bd.Done++
		}
		bd.Rows = append(bd.Rows, row)
	}
	c.renderShell(w, r, s, http.StatusOK, "bulk", view{Title: "Bulk action", Nav: "devices", Data: bd})
}

// bulkChoices are the device list's actions on a selection, offered where
// the role may take them in the current org.
type bulkChoices struct {
	Create   bool
	Transfer bool
	Delete   bool
	Org      orgPicker
	Tags     []option
}

func (b bulkChoices) Any() bool { return b.Transfer || b.Delete || len(b.Tags) > 0 }

func (c *Console) bulkChoices(r *http.Request, s *session, fl *filterLists) bulkChoices {
	res := tenancy.OrgResource(s.org)
	b := bulkChoices{Create: s.can(tenancy.OrgDevicesCreate, res), Transfer: s.can(tenancy.DevicesTransfer, res), Delete: s.can(tenancy.OrgDevicesDelete, res), Tags: fl.tags}
	if b.Transfer {
		b.Org, _ = c.orgPicker(r, s, "devices.transfer", "", nil) // the scope is read already: no error
	}
	return b
}

// doneNotices are the device list's notices after an action elsewhere.
var doneNotices = map[string]string{
	"transferred": "The device was transferred; it is no longer in your view.",
	"deleted":     "The device was deleted.",
}

// templateOptions are the templates enabled in the current org, read
// afresh (the filter lists' memo may predate a template just created).
func (c *Console) templateOptions(r *http.Request, s *session, sel string) ([]option, error) {
	tl, err := c.svc.Templates(r.Context(), s.actor, s.org, tenancy.Page{Size: tenancy.MaxPageSize})
	if err != nil {
		if tenancy.CodeOf(err) == tenancy.Internal {
			return nil, err
		}
		return nil, nil
	}
	out := make([]option, 0, len(tl.Items))
	for _, t := range tl.Items {
		out = append(out, option{Value: string(t.ID), Label: t.Def.Name, Selected: string(t.ID) == sel})
	}
	return out, nil
}

// deviceNewToken is POST /devices/{id}/token: a new AuthToken, shown once
// with the sketch header; the old one stops working.
func (c *Console) deviceNewToken(w http.ResponseWriter, r *http.Request, s *session) {
	d, err := c.svc.RegenerateDeviceToken(r.Context(), s.actor, deviceID(r))
	if err != nil {
		c.manageRefused(w, r, s, err, form{Errs: fieldErrs{}}, "token")
		return
	}
	_, t, err := c.svc.DeviceTemplate(r.Context(), s.actor, d.ID)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.renderShell(w, r, s, http.StatusOK, "devicecreated", view{Title: "New AuthToken", Nav: "devices",
		Data: deviceCreatedData{Device: d, Template: t, Header: sketchHeader(t, d.Token), Renewed: true}})
}
