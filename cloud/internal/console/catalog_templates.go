package console

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
)

type templatesData struct {
	Templates []tenancy.Template
	Total     int
	CanCreate bool
	Form      form
}

// canEditTemplates: templates live in the root org and only who may edit
// products there (signed in to the root) changes them.
func (s *session) canEditTemplates() bool {
	return s.tree.Depth(s.actor.OrgID) == 1 && s.can(tenancy.ProductEdit, tenancy.OrgResource(s.actor.OrgID))
}

// templatesPage is GET /templates: the templates enabled in the current
// organization, and the create form where the user may create.
func (c *Console) templatesPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.renderTemplates(w, r, s, http.StatusOK, form{})
}

func (c *Console) renderTemplates(w http.ResponseWriter, r *http.Request, s *session, status int, f form) {
	if !s.can(tenancy.ProductView, tenancy.OrgResource(s.org)) {
		c.forbidden(w, r, s)
		return
	}
	l, err := c.svc.Templates(r.Context(), s.actor, s.org, tenancy.Page{Size: tenancy.MaxPageSize})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.renderShell(w, r, s, status, "templates", view{Title: "Templates", Nav: "templates",
		Data: templatesData{Templates: l.Items, Total: l.Total, CanCreate: s.canEditTemplates(), Form: f}})
}

// templateCreate is POST /templates (name, description).
func (c *Console) templateCreate(w http.ResponseWriter, r *http.Request, s *session) {
	f := newForm(r, "name", "description")
	if f.V("name") == "" {
		f.Errs["name"] = "Enter the template's name."
		c.renderTemplates(w, r, s, http.StatusBadRequest, f)
		return
	}
	t, err := c.svc.CreateTemplate(r.Context(), s.actor, tenancy.NewTemplate{Def: datastream.Template{Name: f.V("name")}, Description: f.V("description")})
	if err != nil {
		if st := httpStatus(err); st == http.StatusBadRequest || st == http.StatusForbidden || st == http.StatusConflict {
			f.Errs["name"] = message(err)
			c.renderTemplates(w, r, s, st, f)
			return
		}
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/templates/"+string(t.ID)+"?done=created", http.StatusSeeOther)
}

type enabledRow struct {
	Org     orgItem
	On      bool
	CanEdit bool
}

type templateData struct {
	T       tenancy.Template
	CanEdit bool
	Types   []datastream.Type
	// Decimals are the choices of a Double's decimals ("" = as stored).
	Decimals []option
	Enabled  []enabledRow
	// More: the switcher lists the first orgs only; EnableIn picks any
	// other sub-organization to enable or disable the template in.
	More     bool
	EnableIn orgPicker
	Form     form   // the form that was refused, if any
	Which    string // "template", "datastream", "event", "system", "meta", "enabled"
	Devices  int
	Roles    []tenancy.Role // the tree's roles (event recipients)
	// EventTypes are the event types (datastream.EventTypes).
	EventTypes []string
	System     form // the system events form: refused values, or the template's
	SystemRows []systemRow
}

// decimalChoices are Blynk's formats of a Double: as stored, "#", "#.#", …
var decimalChoices = func() []option {
	out := []option{{Value: "", Label: "As sent"}}
	for n := 0; n <= datastream.MaxDecimals; n++ {
		l := "#"
		if n > 0 {
			l += "." + strings.Repeat("#", n)
		}
		out = append(out, option{Value: strconv.Itoa(n), Label: l})
	}
	return out
}()

var datastreamTypes = []datastream.Type{datastream.Integer, datastream.Double, datastream.String, datastream.Enum, datastream.Location, datastream.Boolean}

// templatePage is GET /templates/{id}: datastreams, events, metadata and
// the sub-organizations it is enabled in.
func (c *Console) templatePage(w http.ResponseWriter, r *http.Request, s *session) {
	t, err := c.svc.Template(r.Context(), s.actor, tenancy.TemplateID(r.PathValue("id")))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	v := view{}
	switch r.URL.Query().Get("done") {
	case "created":
		v.Notice = "The template was created. Add its datastreams below."
	case "saved":
		v.Notice = "Saved."
	}
	f, which := form{}, ""
	if pin, err := strconv.Atoi(r.URL.Query().Get("edit")); err == nil {
		if ds, ok := t.Def.Pin(pin); ok {
			f, which = datastreamForm(*ds), "datastream"
		}
	}
	if code := r.URL.Query().Get("event"); code != "" {
		if ev, ok := t.Def.Event(code); ok {
			f, which = eventForm(*ev), "event"
		}
	}
	c.renderTemplate(w, r, s, http.StatusOK, t, which, f, v)
}

// datastreamForm fills the datastream form to edit ds.
func datastreamForm(ds datastream.Datastream) form {
	num := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', -1, 64)
	}
	var enum []string
	for _, e := range ds.Enum {
		enum = append(enum, strconv.Itoa(e.Value)+"="+e.Label)
	}
	f := form{Errs: fieldErrs{}, Values: map[string]string{"replace": strconv.Itoa(ds.Pin), "pin": "V" + strconv.Itoa(ds.Pin),
		"name": ds.Name, "type": string(ds.Type), "units": ds.Units, "min": num(ds.Min), "max": num(ds.Max),
		"enum": strings.Join(enum, ", "), "default": ds.Default, "alias": ds.Alias, "step": num(ds.Step)}}
	if ds.Decimals != nil {
		f.Values["decimals"] = strconv.Itoa(*ds.Decimals)
	}
	if ds.Sync {
		f.Values["sync"] = "1"
	}
	return f
}

func (c *Console) renderTemplate(w http.ResponseWriter, r *http.Request, s *session, status int, t tenancy.Template, which string, f form, v view) {
	sh, _, err := c.shell(r, s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d := templateData{T: t, CanEdit: s.canEditTemplates(), Types: datastreamTypes, Decimals: decimalChoices, Form: f, Which: which, EventTypes: datastream.EventTypes, System: systemForm(t), SystemRows: systemRows}
	if which == "system" {
		d.System = f
	}
	if d.CanEdit {
		if rs, err := c.svc.Roles(r.Context(), s.actor, s.org); err == nil { // a role to notify; without the list, none
			for _, ri := range rs {
				d.Roles = append(d.Roles, ri.Role)
			}
		}
	}
	// Enabled per sub-organization: the orgs of the switcher below the
	// root whose settings the user may change, or at least see.
	for _, o := range sh.Orgs {
		if s.tree.Depth(o.ID) <= 1 {
			continue
		}
		res := tenancy.OrgResource(o.ID)
		if !s.can(tenancy.ProductView, res) {
			continue
		}
		l, err := c.svc.Templates(r.Context(), s.actor, o.ID, tenancy.Page{Size: tenancy.MaxPageSize})
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		on := slices.ContainsFunc(l.Items, func(x tenancy.Template) bool { return x.ID == t.ID })
		d.Enabled = append(d.Enabled, enabledRow{Org: o, On: on, CanEdit: s.can(tenancy.OrgSettingsAccess, res)})
	}
	if d.More = sh.More; d.More {
		cur := ""
		if which == "enabled" {
			cur = f.V("org")
		}
		if d.EnableIn, err = c.orgPicker(r, s, "templates.enable", cur, func(o tenancy.Org) bool { return s.tree.Depth(o.ID) > 1 }); err != nil {
			c.fail(w, r, s, err)
			return
		}
	}
	v.Title, v.Nav, v.Shell, v.Data = t.Def.Name, "templates", sh, d
	c.render(w, r, status, "template", v)
}

// errShown is what a change returns when it has put its message next to
// another field than the form's main one.
const errShown = "\x00"

// editTemplate loads the template, applies change to a copy of its
// definition and saves it; a refusal shows the form again with the
// service's message next to field.
func (c *Console) editTemplate(w http.ResponseWriter, r *http.Request, s *session, which, field string, f form,
	change func(t *tenancy.Template) string) {
	t, err := c.svc.Template(r.Context(), s.actor, tenancy.TemplateID(r.PathValue("id")))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	if !s.canEditTemplates() {
		c.forbidden(w, r, s)
		return
	}
	nt := t
	nt.Def.Datastreams = slices.Clone(t.Def.Datastreams)
	nt.Def.Events = slices.Clone(t.Def.Events)
	nt.Def.MetaFields = slices.Clone(t.Def.MetaFields)
	if msg := change(&nt); msg != "" {
		if msg != errShown {
			f.Errs[field] = msg
		}
		c.renderTemplate(w, r, s, http.StatusBadRequest, t, which, f, view{})
		return
	}
	if _, err := c.svc.UpdateTemplate(r.Context(), s.actor, t.ID, tenancy.NewTemplate{Def: nt.Def, Description: nt.Description,
		BoardType: nt.BoardType, ConnectionType: nt.ConnectionType}); err != nil {
		st := httpStatus(err)
		if st == http.StatusInternalServerError || st == http.StatusNotFound {
			c.fail(w, r, s, err)
			return
		}
		f.Errs[field] = message(err)
		c.renderTemplate(w, r, s, st, t, which, f, view{})
		return
	}
	http.Redirect(w, r, "/templates/"+string(t.ID)+"?done=saved", http.StatusSeeOther)
}

// templateEdit is POST /templates/{id} (name, description).
func (c *Console) templateEdit(w http.ResponseWriter, r *http.Request, s *session) {
	f := newForm(r, "name", "description")
	c.editTemplate(w, r, s, "template", "name", f, func(t *tenancy.Template) string {
		if f.V("name") == "" {
			return "Enter the template's name."
		}
		t.Def.Name, t.Description = f.V("name"), f.V("description")
		return ""
	})
}

// templateDelete is POST /templates/{id}/delete.
func (c *Console) templateDelete(w http.ResponseWriter, r *http.Request, s *session) {
	id := tenancy.TemplateID(r.PathValue("id"))
	if err := c.svc.DeleteTemplate(r.Context(), s.actor, id); err != nil {
		t, gerr := c.svc.Template(r.Context(), s.actor, id)
		if st := httpStatus(err); gerr != nil || st == http.StatusNotFound || st == http.StatusInternalServerError {
			c.fail(w, r, s, err)
			return
		}
		c.renderTemplate(w, r, s, httpStatus(err), t, "delete", form{Errs: fieldErrs{"delete": message(err)}}, view{})
		return
	}
	http.Redirect(w, r, "/templates", http.StatusSeeOther)
}

// optFloat parses an optional number field.
func optFloat(v string) (*float64, bool) {
	if v == "" {
		return nil, true
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return nil, false
	}
	return &f, true
}

// parseEnum reads "0=Off, 1=Heat" (or one pair a line).
func parseEnum(v string) ([]datastream.EnumItem, bool) {
	var out []datastream.EnumItem
	for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' }) {
		num, label, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(strings.TrimSpace(num))
		if !ok || err != nil || strings.TrimSpace(label) == "" {
			return nil, false
		}
		out = append(out, datastream.EnumItem{Value: n, Label: strings.TrimSpace(label)})
	}
	return out, true
}

// datastreamAdd is POST /templates/{id}/datastreams: pin, name, alias,
// type, units, min, max, step, decimals, enum labels, default, sync on
// connect; with replace
// (the pin it had), an edit of that datastream.
func (c *Console) datastreamAdd(w http.ResponseWriter, r *http.Request, s *session) {
	f := newForm(r, "replace", "pin", "name", "alias", "type", "units", "min", "max", "step", "decimals", "enum", "default", "sync")
	c.editTemplate(w, r, s, "datastream", "pin", f, func(t *tenancy.Template) string {
		pin, err := datastream.ParsePinName(f.V("pin"))
		if err != nil {
			return "Enter a virtual pin, 0 to 255 (V0..V255)."
		}
		if f.V("replace") != "" { // an edit: the datastream it replaces goes first
			old, err := strconv.Atoi(f.V("replace"))
			n := len(t.Def.Datastreams)
			t.Def.Datastreams = slices.DeleteFunc(t.Def.Datastreams, func(d datastream.Datastream) bool { return err == nil && d.Pin == old })
			if len(t.Def.Datastreams) == n {
				return "The datastream being edited no longer exists."
			}
		}
		if _, taken := t.Def.Pin(pin); taken {
			return "V" + strconv.Itoa(pin) + " already has a datastream."
		}
		ds := datastream.Datastream{Pin: pin, Name: f.V("name"), Alias: f.V("alias"), Type: datastream.Type(f.V("type")), Units: f.V("units"),
			Default: f.V("default"), Sync: f.V("sync") != ""}
		if ds.Name == "" {
			f.Errs["name"] = "Enter the datastream's name."
			return errShown
		}
		var ok bool
		if ds.Min, ok = optFloat(f.V("min")); !ok {
			f.Errs["min"] = "Enter a number, or leave it empty."
			return errShown
		}
		if ds.Max, ok = optFloat(f.V("max")); !ok {
			f.Errs["max"] = "Enter a number, or leave it empty."
			return errShown
		}
		if ds.Step, ok = optFloat(f.V("step")); !ok {
			f.Errs["step"] = "Enter a number, or leave it empty."
			return errShown
		}
		if v := f.V("decimals"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				f.Errs["decimals"] = "Pick how many decimals to show."
				return errShown
			}
			ds.Decimals = &n
		}
		if ds.Type == datastream.Enum {
			if ds.Enum, ok = parseEnum(f.V("enum")); !ok || len(ds.Enum) == 0 {
				f.Errs["enum"] = "List the values as 0=Off, 1=On."
				return errShown
			}
		}
		// The display settings' refusals go next to their fields.
		for _, p := range ds.CheckDisplay() {
			field, _, _ := strings.Cut(p, " ")
			if _, shown := f.Errs[field]; !shown {
				f.Errs[field] = strings.ToUpper(p[:1]) + p[1:] + "."
			}
		}
		if len(f.Errs) > 0 {
			return errShown
		}
		t.Def.Datastreams = append(t.Def.Datastreams, ds)
		slices.SortFunc(t.Def.Datastreams, func(a, b datastream.Datastream) int { return a.Pin - b.Pin })
		return ""
	})
}

// datastreamDelete is POST /templates/{id}/datastreams/{pin}/delete.
func (c *Console) datastreamDelete(w http.ResponseWriter, r *http.Request, s *session) {
	pin, err := strconv.Atoi(r.PathValue("pin"))
	c.editTemplate(w, r, s, "datastreams", "datastreams", newForm(r), func(t *tenancy.Template) string {
		n := len(t.Def.Datastreams)
		t.Def.Datastreams = slices.DeleteFunc(t.Def.Datastreams, func(d datastream.Datastream) bool { return err == nil && d.Pin == pin })
		if len(t.Def.Datastreams) == n {
			return "No datastream on that pin."
		}
		return ""
	})
}

// eventDelete is POST /templates/{id}/events/{code}/delete.
func (c *Console) eventDelete(w http.ResponseWriter, r *http.Request, s *session) {
	code := r.PathValue("code")
	c.editTemplate(w, r, s, "events", "events", newForm(r), func(t *tenancy.Template) string {
		n := len(t.Def.Events)
		t.Def.Events = slices.DeleteFunc(t.Def.Events, func(e datastream.Event) bool { return e.Code == code })
		if len(t.Def.Events) == n {
			return "No event with that code."
		}
		return ""
	})
}

// metaAdd is POST /templates/{id}/meta (name, default).
func (c *Console) metaAdd(w http.ResponseWriter, r *http.Request, s *session) {
	f := newForm(r, "name", "default")
	c.editTemplate(w, r, s, "meta", "name", f, func(t *tenancy.Template) string {
		if f.V("name") == "" {
			return "Enter the field's name."
		}
		if _, taken := t.Def.Meta(f.V("name")); taken {
			return "A field with this name exists."
		}
		id := 1
		for _, m := range t.Def.MetaFields {
			id = max(id, m.ID+1)
		}
		t.Def.MetaFields = append(t.Def.MetaFields, datastream.MetaField{ID: id, Name: f.V("name"), Default: f.V("default")})
		return ""
	})
}

// metaDelete is POST /templates/{id}/meta/{mid}/delete.
func (c *Console) metaDelete(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := strconv.Atoi(r.PathValue("mid"))
	c.editTemplate(w, r, s, "metas", "metas", newForm(r), func(t *tenancy.Template) string {
		n := len(t.Def.MetaFields)
		t.Def.MetaFields = slices.DeleteFunc(t.Def.MetaFields, func(m datastream.MetaField) bool { return err == nil && m.ID == id })
		if len(t.Def.MetaFields) == n {
			return "No such field."
		}
		return ""
	})
}

// templateEnabled is POST /templates/{id}/enabled (org, enabled=1|0).
func (c *Console) templateEnabled(w http.ResponseWriter, r *http.Request, s *session) {
	id := tenancy.TemplateID(r.PathValue("id"))
	org := c.formOrg(r, s, "org")
	on := r.PostFormValue("enabled") == "1"
	if err := c.svc.SetTemplateEnabled(r.Context(), s.actor, tenancy.OrgID(org), id, on); err != nil {
		st := httpStatus(err)
		t, gerr := c.svc.Template(r.Context(), s.actor, id)
		picked := r.PostFormValue("pick") != "" // the picker's form: an unknown org is a message next to it
		if gerr != nil || (st == http.StatusNotFound && !picked) || st == http.StatusInternalServerError {
			c.fail(w, r, s, err)
			return
		}
		f := form{Errs: fieldErrs{"org" + strconv.FormatInt(org, 10): message(err)}, Values: map[string]string{"org": r.PostFormValue("org")}}
		if picked {
			f.Errs = fieldErrs{"pick": message(err)}
		}
		c.renderTemplate(w, r, s, st, t, "enabled", f, view{})
		return
	}
	http.Redirect(w, r, "/templates/"+string(id)+"?done=saved#enabled", http.StatusSeeOther)
}
