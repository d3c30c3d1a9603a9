package console

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/rules"
	"outpost/shared/ulid"
)

// autoForm is the editor's form: the common cases of the model as
// fields, conditions as rows (automation_conds.go) or as JSON (the
// "advanced" part).
type autoForm struct {
	New                 bool
	ID                  string
	Name, MinInterval   string // min interval in seconds
	Enabled             bool
	Kind                string // trigger kind
	TDevice, TPin, TOp  string
	TValue, TValue2     string
	THold, TEvent       string
	SMode               string // "time", "sunrise", "sunset"
	SAt, SOffset, STZ   string
	SLat, SLon          string
	SDays               [7]bool
	Conditions          string // as JSON
	CMode               string // how conditions are edited: "form" or "json"
	CJoin               string // the rows joined by "all" (AND) or "any" (OR)
	Conds               []condForm
	CNext               int  // the next row index (the script's added rows)
	Nested              bool // the conditions are beyond the form: JSON only
	WFrom, WTo, WTZ     string
	WDays               [7]bool
	Actions             []actionForm
	Errs                fieldErrs
	Problems            []string // what validation refused, in its words
	Devices             []option
	MoreDevices         bool
	TriggerKinds, Ops   []option
	ActionKinds, SModes []option
	CondOps             []option
}

type actionForm struct {
	N                               int // 1-based, for labels
	Kind, Device, Pin, Value, Event string
	Subject, Text, Webhook, Wait    string
}

// E is the error of a field, "" when none.
func (f autoForm) E(name string) string { return f.Errs[name] }

// Day is whether weekday i (0 = Sunday) is chosen.
func (f autoForm) Day(i int) bool { return f.SDays[i] }

// DayNames are the weekdays' short names, Sunday first.
func (autoForm) DayNames() []string { return dayNames[:] }

func (f *autoForm) choices(d deviceNames) {
	f.Devices, f.MoreDevices = d.Options, d.More
	f.TriggerKinds = []option{{"datastream", "A datastream value", false}, {"schedule", "A schedule", false},
		{"online", "A device comes online", false}, {"offline", "A device goes offline", false}, {"event", "A device logs an event", false}}
	for _, op := range []rules.Op{rules.OpGt, rules.OpGe, rules.OpLt, rules.OpLe, rules.OpEq, rules.OpNe, rules.OpBetween,
		rules.OpOn, rules.OpOff, rules.OpChanged, rules.OpAny} {
		f.Ops = append(f.Ops, option{Value: string(op), Label: opWords[op]})
	}
	f.ActionKinds = []option{{"", "— none —", false}, {"write", "Write a datastream", false}, {"notify", "Notify people", false},
		{"webhook", "Call a webhook", false}, {"wait", "Wait", false}, {"log_event", "Log an event", false}}
	f.SModes = []option{{"time", "At a time of day", false}, {"sunrise", "At sunrise", false}, {"sunset", "At sunset", false}}
	f.CondOps = condOpsOptions()
}

func itoaOrEmpty(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func ftoaOrEmpty(f float64) string {
	if f == 0 {
		return ""
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// formOf fills the editor from an automation.
func formOf(au rules.Automation) autoForm {
	t := au.Trigger
	f := autoForm{ID: au.ID, Name: au.Name, Enabled: au.Enabled, Kind: string(t.Kind), TDevice: t.Device,
		TPin: strconv.Itoa(t.Pin), TOp: string(t.Op), TValue: t.Value, TValue2: t.Value2, THold: itoaOrEmpty(t.HoldS),
		TEvent: t.Event, SMode: "time", Errs: fieldErrs{}}
	if au.MinIntervalMS > 0 {
		f.MinInterval = strconv.FormatFloat(float64(au.MinIntervalMS)/1000, 'f', -1, 64)
	}
	if sc := t.Schedule; sc != nil {
		f.SAt, f.STZ, f.SOffset = sc.At, sc.TZ, itoaOrEmpty(sc.OffsetMin)
		f.SLat, f.SLon = ftoaOrEmpty(sc.Lat), ftoaOrEmpty(sc.Lon)
		if sc.Sun != "" {
			f.SMode = sc.Sun
		}
		for _, d := range sc.Weekdays {
			if d >= 0 && d < 7 {
				f.SDays[d] = true
			}
		}
	}
	if au.Conditions != nil {
		b, _ := json.MarshalIndent(au.Conditions, "", "  ")
		f.Conditions = string(b)
	}
	f.condsOf(au.Conditions)
	f.spareConds()
	for i, a := range au.Actions {
		f.Actions = append(f.Actions, actionForm{N: i + 1, Kind: string(a.Kind), Device: a.Device, Pin: strconv.Itoa(a.Pin),
			Value: a.Value, Event: a.Event, Subject: a.Subject, Text: a.Text, Webhook: a.Webhook, Wait: itoaOrEmpty(a.WaitS)})
	}
	f.spare()
	return f
}

// spare adds empty action rows up to the editor's minimum plus spares.
func (f *autoForm) spare() {
	n := min(max(len(f.Actions)+editorSpareActions, editorMinActions), rules.MaxActions)
	for len(f.Actions) < n {
		f.Actions = append(f.Actions, actionForm{N: len(f.Actions) + 1})
	}
}

// parseForm reads the editor's fields into an automation; what cannot be
// read (a pin that is not a number, conditions that are not JSON) is set
// in f.Errs by field name.
func parseForm(r *http.Request, id string) (rules.Automation, autoForm) {
	v := func(n string) string { return strings.TrimSpace(r.PostFormValue(n)) }
	f := autoForm{ID: id, Name: v("name"), MinInterval: v("min_interval"), Enabled: r.PostFormValue("enabled") == "on",
		Kind: v("kind"), TDevice: v("t_device"), TPin: v("t_pin"), TOp: v("t_op"), TValue: v("t_value"), TValue2: v("t_value2"),
		THold: v("t_hold"), TEvent: v("t_event"), SMode: v("s_mode"), SAt: v("s_at"), SOffset: v("s_offset"), STZ: v("s_tz"),
		SLat: v("s_lat"), SLon: v("s_lon"), Conditions: v("conditions"), Errs: fieldErrs{}}
	num := func(field, s string, dst *int) {
		if s == "" {
			*dst = 0
			return
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			f.Errs[field] = "Enter a whole number."
		}
		*dst = n
	}
	fnum := func(field, s string, dst *float64) {
		if s == "" {
			return
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			f.Errs[field] = "Enter a number."
		}
		*dst = x
	}
	au := rules.Automation{ID: id, Name: f.Name, Enabled: f.Enabled}
	if f.MinInterval != "" {
		var sec float64
		fnum("min_interval", f.MinInterval, &sec)
		au.MinIntervalMS = int64(sec * 1000)
	}
	t := &au.Trigger
	t.Kind = rules.TriggerKind(f.Kind)
	switch t.Kind {
	case rules.TriggerDatastream:
		t.Device, t.Op, t.Value, t.Value2 = f.TDevice, rules.Op(f.TOp), f.TValue, f.TValue2
		num("t_pin", f.TPin, &t.Pin)
		num("t_hold", f.THold, &t.HoldS)
	case rules.TriggerOnline, rules.TriggerOffline:
		t.Device = f.TDevice
	case rules.TriggerEvent:
		t.Device, t.Event = f.TDevice, f.TEvent
	case rules.TriggerSchedule:
		sc := &rules.Schedule{TZ: f.STZ}
		if f.SMode == rules.Sunrise || f.SMode == rules.Sunset {
			sc.Sun = f.SMode
			num("s_offset", f.SOffset, &sc.OffsetMin)
			fnum("s_lat", f.SLat, &sc.Lat)
			fnum("s_lon", f.SLon, &sc.Lon)
		} else {
			f.SMode, sc.At = "time", f.SAt
		}
		for _, d := range r.PostForm["s_day"] {
			if n, err := strconv.Atoi(d); err == nil && n >= 0 && n < 7 && !f.SDays[n] {
				f.SDays[n] = true
				sc.Weekdays = append(sc.Weekdays, time.Weekday(n))
			}
		}
		if len(sc.Weekdays) == 7 {
			sc.Weekdays = nil // every day
		}
		t.Schedule = sc
	}
	au.Conditions = f.parseConds(r, v, num)
	if f.CMode == "form" {
		f.Conditions = ""
		if au.Conditions != nil {
			b, _ := json.MarshalIndent(au.Conditions, "", "  ")
			f.Conditions = string(b)
		}
	}
	f.spareConds()
	for i := 0; i < rules.MaxActions; i++ {
		p := "a" + strconv.Itoa(i) + "_"
		if _, ok := r.PostForm[p+"kind"]; !ok {
			break
		}
		af := actionForm{N: i + 1, Kind: v(p + "kind"), Device: v(p + "device"), Pin: v(p + "pin"), Value: v(p + "value"),
			Event: v(p + "event"), Subject: v(p + "subject"), Text: v(p + "text"), Webhook: v(p + "webhook"), Wait: v(p + "wait")}
		f.Actions = append(f.Actions, af)
		a := rules.Action{Kind: rules.ActionKind(af.Kind)}
		switch a.Kind {
		case "":
			continue
		case rules.ActionWrite:
			a.Device, a.Value = af.Device, af.Value
			num(p+"pin", af.Pin, &a.Pin)
		case rules.ActionLogEvent:
			a.Device, a.Event, a.Text = af.Device, af.Event, af.Text
		case rules.ActionNotify:
			a.Subject, a.Text = af.Subject, af.Text
		case rules.ActionWebhook:
			a.Webhook = af.Webhook
		case rules.ActionWait:
			num(p+"wait", af.Wait, &a.WaitS)
		}
		au.Actions = append(au.Actions, a)
	}
	f.spare()
	return au, f
}

// parseJSONConds reads the conditions' JSON ("" none).
func (f *autoForm) parseJSONConds() *rules.Condition {
	if f.Conditions == "" {
		return nil
	}
	var c rules.Condition
	dec := json.NewDecoder(bytes.NewReader([]byte(f.Conditions)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		f.Errs["conditions"] = "Not a condition in JSON: " + err.Error()
		return nil
	}
	return &c
}

// problems splits a validation refusal into its parts ("id …; name …").
func problems(err error) []string {
	msg := err.Error()
	var te *tenancy.Error
	if errors.As(err, &te) {
		msg = te.Message
	}
	if _, rest, ok := strings.Cut(msg, rules.ErrInvalid.Error()+": "); ok {
		msg = rest
	}
	return strings.Split(msg, "; ")
}

type editorData struct {
	Form autoForm
}

func (c *Console) renderEditor(w http.ResponseWriter, r *http.Request, s *session, status int, f autoForm) {
	names, err := c.deviceNames(r.Context(), s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	f.choices(names)
	title := "New automation"
	if !f.New {
		title = "Edit " + f.Name
	}
	v := view{Title: title, Nav: "automations", Data: editorData{Form: f}, Scripts: []string{"automation.js"}}
	if len(f.Errs) > 0 || len(f.Problems) > 0 {
		v.Error = "The automation is not saved: correct what is marked below."
	}
	c.renderShell(w, r, s, status, "automationedit", v)
}

// automationNewPage is GET /automations/new. The id is chosen here and
// carried by the form, so a resubmitted form cannot create two.
func (c *Console) automationNewPage(w http.ResponseWriter, r *http.Request, s *session) {
	if c.autos == nil {
		c.notFound(w, r, s)
		return
	}
	if !s.autoPerms(s.org).Create {
		c.forbidden(w, r, s)
		return
	}
	id, err := ulid.New(c.now(), rand.Reader)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	f := autoForm{New: true, ID: id, Enabled: true, Kind: string(rules.TriggerDatastream), TOp: string(rules.OpGt), SMode: "time",
		TPin: "0", Errs: fieldErrs{}}
	f.condsOf(nil)
	f.spareConds()
	f.spare()
	f.Actions[0].Kind = string(rules.ActionNotify)
	c.renderEditor(w, r, s, http.StatusOK, f)
}

// automationEditPage is GET /automations/{id}/edit.
func (c *Console) automationEditPage(w http.ResponseWriter, r *http.Request, s *session) {
	au, ok := c.automationOf(w, r, s)
	if !ok {
		return
	}
	if !s.autoPerms(tenancy.OrgID(au.OrgID)).Edit {
		c.forbidden(w, r, s)
		return
	}
	c.renderEditor(w, r, s, http.StatusOK, formOf(au))
}

// automationSubmit is POST /automations/new (id in the form) and POST
// /automations/{id}/edit. The service decides create or edit by the id
// and checks AUTOMATIONS_CREATE or _EDIT.
func (c *Console) automationSubmit(w http.ResponseWriter, r *http.Request, s *session) {
	if c.autos == nil {
		c.notFound(w, r, s)
		return
	}
	org, id, isNew := s.org, r.PathValue("id"), r.PathValue("id") == ""
	if isNew {
		id = strings.TrimSpace(r.PostFormValue("id"))
	} else {
		old, err := c.autos.Get(r.Context(), s.actor, id)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		org = tenancy.OrgID(old.OrgID)
	}
	au, f := parseForm(r, id)
	f.New = isNew
	if len(f.Errs) > 0 {
		c.renderEditor(w, r, s, http.StatusBadRequest, f)
		return
	}
	if _, err := c.autos.Save(r.Context(), s.actor, org, au); err != nil {
		if tenancy.CodeOf(err) == tenancy.Invalid || tenancy.CodeOf(err) == tenancy.Conflict {
			f.Problems = problems(err)
			c.renderEditor(w, r, s, http.StatusBadRequest, f)
			return
		}
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/automations/"+au.ID+"?done=saved", http.StatusSeeOther)
}
