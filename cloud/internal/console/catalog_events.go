package console

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
)

// eventFields are the event form's fields: the event, then its
// notification settings (n-*).
var eventFields = []string{"replace", "code", "name", "type", "description", "timeline",
	"notify", "n-email", "n-console", "n-webhook", "n-owner", "n-role", "n-users", "n-limit", "n-every"}

// onOff is a checkbox's form value.
func onOff(b bool) string {
	if b {
		return "1"
	}
	return ""
}

// eventForm fills the event form to edit ev.
func eventForm(ev datastream.Event) form {
	f := form{Values: map[string]string{"replace": ev.Code, "code": ev.Code, "name": ev.Name, "type": ev.Type,
		"description": ev.Description, "timeline": onOff(ev.ShownOnTimeline())}, Errs: fieldErrs{}}
	if n := ev.Notify; n != nil {
		f.Values["notify"], f.Values["n-email"], f.Values["n-console"], f.Values["n-owner"] = onOff(n.Enabled), onOff(n.Email), onOff(n.Console), onOff(n.Owner)
		f.Values["n-webhook"] = onOff(n.Webhook)
		f.Values["n-role"] = strconv.Itoa(n.Role)
		f.Values["n-users"] = strings.Join(n.Users, ", ")
		f.Values["n-limit"], f.Values["n-every"] = strconv.Itoa(n.LimitS), strconv.Itoa(n.EveryN)
	}
	return f
}

// notifyFromForm reads notification settings from fields named prefix+…;
// the message names the first bad field ("" when all parse).
func notifyFromForm(f form, enabled, prefix string) (*datastream.EventNotify, string, string) {
	n := &datastream.EventNotify{Enabled: f.V(enabled) != "", Email: f.V(prefix+"email") != "",
		Console: f.V(prefix+"console") != "", Webhook: f.V(prefix+"webhook") != "", Owner: f.V(prefix+"owner") != ""}
	for _, x := range []struct {
		field string
		to    *int
	}{{"role", &n.Role}, {"limit", &n.LimitS}, {"every", &n.EveryN}} {
		v := f.V(prefix + x.field)
		if v == "" {
			continue
		}
		i, err := strconv.Atoi(v)
		if err != nil || i < 0 {
			return nil, prefix + x.field, "Enter a whole number, 0 or more."
		}
		*x.to = i
	}
	for u := range strings.FieldsFuncSeq(f.V(prefix+"users"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' }) {
		n.Users = append(n.Users, u)
	}
	if !n.Enabled && !n.Email && !n.Console && !n.Webhook && !n.Owner && n.Role == 0 && n.LimitS == 0 && n.EveryN == 0 && len(n.Users) == 0 {
		return nil, "", "" // nothing set: no settings
	}
	return n, "", ""
}

// eventAdd is POST /templates/{id}/events: adds an event, or replaces the
// one whose code is in replace (its code may change), with its
// description, timeline and notification settings.
func (c *Console) eventAdd(w http.ResponseWriter, r *http.Request, s *session) {
	f := newForm(r, eventFields...)
	c.editTemplate(w, r, s, "event", "code", f, func(t *tenancy.Template) string {
		if f.V("code") == "" {
			return "Enter the event's code, as the device logs it."
		}
		at := -1
		if old := f.V("replace"); old != "" {
			at = slices.IndexFunc(t.Def.Events, func(e datastream.Event) bool { return e.Code == old })
			if at < 0 {
				return "No event with that code."
			}
		}
		if i := slices.IndexFunc(t.Def.Events, func(e datastream.Event) bool { return e.Code == f.V("code") }); i >= 0 && i != at {
			return "An event with this code exists."
		}
		n, field, msg := notifyFromForm(f, "notify", "n-")
		if msg != "" {
			f.Errs[field] = msg
			return errShown
		}
		ev := datastream.Event{Code: f.V("code"), Name: f.V("name"), Type: f.V("type"), Description: f.V("description"),
			Timeline: new(f.V("timeline") != ""), Notify: n}
		if at >= 0 {
			t.Def.Events[at] = ev
		} else {
			t.Def.Events = append(t.Def.Events, ev)
		}
		return ""
	})
}

// systemFields are the system events form's fields.
var systemFields = []string{"ignore",
	"online", "on-email", "on-console", "on-webhook", "on-owner", "on-role", "on-users", "on-limit", "on-every",
	"offline", "off-email", "off-console", "off-webhook", "off-owner", "off-role", "off-users", "off-limit", "off-every",
	"first", "first-email", "first-console", "first-webhook", "first-owner", "first-role", "first-users", "first-limit", "first-every"}

// systemRow is one system event of the form: its enable field, its label
// and the prefix of its settings' fields.
type systemRow struct{ Name, Label, Prefix string }

var systemRows = []systemRow{{"online", "Online", "on-"}, {"offline", "Offline", "off-"}, {"first", "First connection", "first-"}}

// systemForm fills the system events form from the template.
func systemForm(t tenancy.Template) form {
	f := form{Values: map[string]string{}, Errs: fieldErrs{}}
	sys := t.Def.System
	if sys == nil {
		return f
	}
	f.Values["ignore"] = strconv.Itoa(sys.OfflineIgnoreS)
	for _, x := range []struct {
		enabled, prefix string
		n               *datastream.EventNotify
	}{{"online", "on-", sys.Online}, {"offline", "off-", sys.Offline}, {"first", "first-", sys.First}} {
		if x.n == nil {
			continue
		}
		g := eventForm(datastream.Event{Notify: x.n})
		f.Values[x.enabled] = g.V("notify")
		for _, k := range []string{"email", "console", "webhook", "owner", "role", "users", "limit", "every"} {
			f.Values[x.prefix+k] = g.V("n-" + k)
		}
	}
	return f
}

// systemEdit is POST /templates/{id}/system: the offline ignore period
// and the notification settings of online, offline and first connection.
func (c *Console) systemEdit(w http.ResponseWriter, r *http.Request, s *session) {
	f := newForm(r, systemFields...)
	c.editTemplate(w, r, s, "system", "ignore", f, func(t *tenancy.Template) string {
		sys := &datastream.SystemEvents{}
		if v := f.V("ignore"); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil || i < 0 {
				return "Enter a whole number of seconds, 0 or more."
			}
			sys.OfflineIgnoreS = i
		}
		for _, x := range []struct {
			enabled, prefix string
			to              **datastream.EventNotify
		}{{"online", "on-", &sys.Online}, {"offline", "off-", &sys.Offline}, {"first", "first-", &sys.First}} {
			n, field, msg := notifyFromForm(f, x.enabled, x.prefix)
			if msg != "" {
				f.Errs[field] = msg
				return errShown
			}
			*x.to = n
		}
		if sys.OfflineIgnoreS == 0 && sys.Online == nil && sys.Offline == nil && sys.First == nil {
			sys = nil
		}
		t.Def.System = sys
		return ""
	})
}
