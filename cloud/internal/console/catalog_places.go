package console

import (
	"net/http"
	"slices"
	"strconv"

	"outpost/cloud/internal/tenancy"
)

type locationRow struct {
	L     tenancy.Location
	Owned bool
	Org   string
	Owner string
}

type locationsData struct {
	All       bool // "All locations": the current org and every one below it
	Rows      []locationRow
	Total     int
	CanCreate bool // an organization location
	CanOwn    bool // an owned location
	Form      form
}

// locationsPage is GET /locations?all=1: owned and organization
// locations of the current org, or of it and every sub-org.
func (c *Console) locationsPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.renderLocations(w, r, s, http.StatusOK, form{}, view{})
}

func (c *Console) renderLocations(w http.ResponseWriter, r *http.Request, s *session, status int, f form, v view) {
	sh, orgs, err := c.shell(r, s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	res := tenancy.OrgResource(s.org)
	d := locationsData{All: r.URL.Query().Get("all") == "1", Form: f,
		CanCreate: s.can(tenancy.LocationsOrgCreate, res), CanOwn: s.org == s.actor.OrgID && s.can(tenancy.LocationsOwnCreate, res)}
	l, err := c.svc.Locations(r.Context(), s.actor, tenancy.LocationQuery{OrgID: s.org, IncludeSub: d.All, Page: tenancy.Page{Size: 200}})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d.Total = l.Total
	for _, loc := range l.Items {
		row := locationRow{L: loc, Owned: loc.OwnerID != 0, Org: c.orgName(r, s, orgs, loc.OrgID)}
		if row.Owned {
			row.Owner = "user " + itoa(loc.OwnerID)
			if loc.OwnerID == s.user.ID {
				row.Owner = "you"
			} else if u, err := c.svc.User(r.Context(), s.actor, loc.OwnerID); err == nil {
				row.Owner = u.Name
			}
		}
		d.Rows = append(d.Rows, row)
	}
	v.Title, v.Nav, v.Shell, v.Data = "Locations", "locations", sh, d
	c.render(w, r, status, "locations", v)
}

// locationFields reads the fields of the create and edit forms.
func locationFields(r *http.Request) (form, tenancy.Address, float64, float64) {
	f := newForm(r, "name", "address", "city", "country", "lat", "lon", "kind")
	var lat, lon float64
	var err error
	if f.V("lat") != "" {
		if lat, err = strconv.ParseFloat(f.V("lat"), 64); err != nil || lat < -90 || lat > 90 {
			f.Errs["lat"] = "Enter a latitude from -90 to 90, or leave it empty."
		}
	}
	if f.V("lon") != "" {
		if lon, err = strconv.ParseFloat(f.V("lon"), 64); err != nil || lon < -180 || lon > 180 {
			f.Errs["lon"] = "Enter a longitude from -180 to 180, or leave it empty."
		}
	}
	if f.V("name") == "" {
		f.Errs["name"] = "Enter the location's name."
	}
	return f, tenancy.Address{Full: f.V("address"), City: f.V("city"), Country: f.V("country")}, lat, lon
}

// locationCreate is POST /locations (kind: org or owned).
func (c *Console) locationCreate(w http.ResponseWriter, r *http.Request, s *session) {
	f, addr, lat, lon := locationFields(r)
	if len(f.Errs) > 0 {
		c.renderLocations(w, r, s, http.StatusBadRequest, f, view{})
		return
	}
	l, err := c.svc.CreateLocation(r.Context(), s.actor, tenancy.NewLocation{OrgID: s.org, Owned: f.V("kind") == "owned",
		Name: f.V("name"), Address: addr, Lat: lat, Lon: lon})
	if err != nil {
		st := httpStatus(err)
		if st == http.StatusInternalServerError {
			c.serverError(w, r, err)
			return
		}
		f.Errs["name"] = message(err)
		c.renderLocations(w, r, s, st, f, view{})
		return
	}
	http.Redirect(w, r, "/locations/"+itoa(l.ID), http.StatusSeeOther)
}

type userChoice struct {
	ID      tenancy.UserID
	Label   string
	Checked bool
}

type locationData struct {
	L        tenancy.Location
	Org      string
	CanEdit  bool
	CanUsers bool
	Users    []userChoice
	Devices  []deviceRow
	Choices  []option // devices of the org that may be placed here
	Form     form
}

// locationPage is GET /locations/{id}: edit, assigned users, devices.
func (c *Console) locationPage(w http.ResponseWriter, r *http.Request, s *session) {
	v := view{}
	if r.URL.Query().Get("done") == "saved" {
		v.Notice = "Saved."
	}
	c.renderLocation(w, r, s, http.StatusOK, form{}, v)
}

func (c *Console) renderLocation(w http.ResponseWriter, r *http.Request, s *session, status int, f form, v view) {
	id, ok := int64Path(r, "id")
	if !ok {
		c.notFound(w, r, s)
		return
	}
	l, err := c.svc.Location(r.Context(), s.actor, tenancy.LocationID(id))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	sh, orgs, err := c.shell(r, s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	res := tenancy.Resource{OrgID: l.OrgID, OwnerID: l.OwnerID}
	d := locationData{L: l, Org: c.orgName(r, s, orgs, l.OrgID), Form: f}
	if l.OwnerID != 0 {
		d.CanEdit, d.CanUsers = s.can(tenancy.LocationsOwnEdit, res), s.can(tenancy.LocationsOwnAssignUsers, res)
	} else {
		d.CanEdit, d.CanUsers = s.can(tenancy.LocationsOrgEdit, res), s.can(tenancy.LocationsOrgAssignUsers, res)
	}
	if f.Values == nil {
		d.Form = form{Errs: f.Errs, Values: map[string]string{"name": l.Name, "address": l.Address.Full, "city": l.Address.City, "country": l.Address.Country,
			"lat": strconv.FormatFloat(l.Lat, 'f', -1, 64), "lon": strconv.FormatFloat(l.Lon, 'f', -1, 64)}}
		if l.Lat == 0 && l.Lon == 0 { // never set
			d.Form.Values["lat"], d.Form.Values["lon"] = "", ""
		}
	}
	if d.CanUsers {
		ul, err := c.svc.Users(r.Context(), s.actor, tenancy.UserQuery{OrgID: l.OrgID, Page: tenancy.Page{Size: 200}})
		if err == nil {
			for _, u := range ul.Items {
				label := u.Name
				if label == "" {
					label = u.Email
				}
				d.Users = append(d.Users, userChoice{ID: u.ID, Label: label, Checked: slices.Contains(l.Users, u.ID)})
			}
		}
	}
	// Devices of the location's org and below may be placed here.
	p, err := c.svc.DeviceList(r.Context(), s.actor, tenancy.DeviceListQuery{DeviceQuery: tenancy.DeviceQuery{OrgID: l.OrgID,
		IncludeSub: true, Page: tenancy.Page{Size: 200}}, LocationID: l.ID})
	if err == nil {
		d.Devices = listRows(c.now(), p.Rows)
	}
	if s.can(tenancy.OrgDevicesEdit, tenancy.OrgResource(l.OrgID)) {
		all, err := c.svc.DeviceList(r.Context(), s.actor, tenancy.DeviceListQuery{DeviceQuery: tenancy.DeviceQuery{OrgID: l.OrgID,
			IncludeSub: true, Page: tenancy.Page{Size: 200}}})
		if err == nil {
			for _, row := range all.Rows {
				if !slices.ContainsFunc(d.Devices, func(x deviceRow) bool { return x.ID == row.ID }) {
					d.Choices = append(d.Choices, option{Value: itoa(row.ID), Label: row.Name})
				}
			}
		}
	}
	v.Title, v.Nav, v.Shell, v.Data = l.Name, "locations", sh, d
	c.render(w, r, status, "location", v)
}

// locationEdit is POST /locations/{id}.
func (c *Console) locationEdit(w http.ResponseWriter, r *http.Request, s *session) {
	id, _ := int64Path(r, "id")
	f, addr, lat, lon := locationFields(r)
	if len(f.Errs) > 0 {
		c.renderLocation(w, r, s, http.StatusBadRequest, f, view{})
		return
	}
	name := f.V("name")
	if _, err := c.svc.UpdateLocation(r.Context(), s.actor, tenancy.LocationID(id), tenancy.LocationUpdate{Name: &name, Address: &addr, Lat: &lat, Lon: &lon}); err != nil {
		c.locationRefused(w, r, s, err, f, "name")
		return
	}
	http.Redirect(w, r, "/locations/"+itoa(id)+"?done=saved", http.StatusSeeOther)
}

func (c *Console) locationRefused(w http.ResponseWriter, r *http.Request, s *session, err error, f form, field string) {
	st := httpStatus(err)
	if st == http.StatusInternalServerError || st == http.StatusNotFound {
		c.fail(w, r, s, err)
		return
	}
	if f.Errs == nil {
		f.Errs = fieldErrs{}
	}
	f.Errs[field] = message(err)
	c.renderLocation(w, r, s, st, f, view{})
}

// locationUsers is POST /locations/{id}/users (user: the ids assigned).
func (c *Console) locationUsers(w http.ResponseWriter, r *http.Request, s *session) {
	id, _ := int64Path(r, "id")
	r.ParseForm()
	var ids []tenancy.UserID
	for _, v := range r.PostForm["user"] {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			ids = append(ids, tenancy.UserID(n))
		}
	}
	if _, err := c.svc.AssignLocationUsers(r.Context(), s.actor, tenancy.LocationID(id), ids); err != nil {
		c.locationRefused(w, r, s, err, form{}, "users")
		return
	}
	http.Redirect(w, r, "/locations/"+itoa(id)+"?done=saved", http.StatusSeeOther)
}

// locationDevice is POST /locations/{id}/devices (device; remove=1 takes
// it out of the location).
func (c *Console) locationDevice(w http.ResponseWriter, r *http.Request, s *session) {
	id, _ := int64Path(r, "id")
	dev, _ := strconv.ParseInt(r.PostFormValue("device"), 10, 64)
	loc := tenancy.LocationID(id)
	if r.PostFormValue("remove") == "1" {
		loc = 0
	}
	if dev == 0 {
		c.locationRefused(w, r, s, tenancy.Errorf(tenancy.Invalid, "choose a device"), form{}, "device")
		return
	}
	if _, err := c.svc.SetDeviceLocation(r.Context(), s.actor, tenancy.DeviceID(dev), loc); err != nil {
		c.locationRefused(w, r, s, err, form{}, "device")
		return
	}
	http.Redirect(w, r, "/locations/"+itoa(id)+"?done=saved", http.StatusSeeOther)
}

// locationDelete is POST /locations/{id}/delete.
func (c *Console) locationDelete(w http.ResponseWriter, r *http.Request, s *session) {
	id, _ := int64Path(r, "id")
	if err := c.svc.DeleteLocation(r.Context(), s.actor, tenancy.LocationID(id)); err != nil {
		c.locationRefused(w, r, s, err, form{}, "delete")
		return
	}
	http.Redirect(w, r, "/locations", http.StatusSeeOther)
}

type tagsData struct {
	Tags []tenancy.Tag
	Max  int
	Form form
}

// tagsPage is GET /tags: the current org's tags (TAGS_MANAGE).
func (c *Console) tagsPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.renderTags(w, r, s, http.StatusOK, form{})
}

func (c *Console) renderTags(w http.ResponseWriter, r *http.Request, s *session, status int, f form) {
	ts, err := c.svc.Tags(r.Context(), s.actor, s.org)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.renderShell(w, r, s, status, "tags", view{Title: "Tags", Nav: "tags", Data: tagsData{Tags: ts, Max: tenancy.MaxTagsPerOrg, Form: f}})
}

// tagCreate is POST /tags (name).
func (c *Console) tagCreate(w http.ResponseWriter, r *http.Request, s *session) {
	f := newForm(r, "name")
	if f.V("name") == "" {
		f.Errs["name"] = "Enter the tag's name."
		c.renderTags(w, r, s, http.StatusBadRequest, f)
		return
	}
	if _, err := c.svc.CreateTag(r.Context(), s.actor, s.org, f.V("name")); err != nil {
		st := httpStatus(err)
		if st == http.StatusInternalServerError || st == http.StatusNotFound || st == http.StatusForbidden {
			c.fail(w, r, s, err)
			return
		}
		f.Errs["name"] = message(err)
		c.renderTags(w, r, s, st, f)
		return
	}
	http.Redirect(w, r, "/tags", http.StatusSeeOther)
}

// tagDelete is POST /tags/{id}/delete.
func (c *Console) tagDelete(w http.ResponseWriter, r *http.Request, s *session) {
	id, _ := int64Path(r, "id")
	if err := c.svc.DeleteTag(r.Context(), s.actor, tenancy.TagID(id)); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/tags", http.StatusSeeOther)
}

// tagRename is POST /tags/{id} (name).
func (c *Console) tagRename(w http.ResponseWriter, r *http.Request, s *session) {
	id, _ := int64Path(r, "id")
	f := newForm(r, "name")
	if _, err := c.svc.RenameTag(r.Context(), s.actor, tenancy.TagID(id), f.V("name")); err != nil {
		st := httpStatus(err)
		if st == http.StatusInternalServerError || st == http.StatusNotFound || st == http.StatusForbidden {
			c.fail(w, r, s, err)
			return
		}
		f.Errs["tag"+itoa(id)] = message(err)
		c.renderTags(w, r, s, st, f)
		return
	}
	http.Redirect(w, r, "/tags", http.StatusSeeOther)
}
