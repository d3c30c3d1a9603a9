package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/rules"
)

// Automations is what the automation pages need (automations.Service):
// every call checks the AUTOMATIONS_* key itself, so a forged request is
// refused there whatever the page offered.
type Automations interface {
	List(ctx context.Context, a tenancy.Actor, org tenancy.OrgID) ([]rules.Automation, error)
	Get(ctx context.Context, a tenancy.Actor, id string) (rules.Automation, error)
	Save(ctx context.Context, a tenancy.Actor, org tenancy.OrgID, au rules.Automation) (created bool, err error)
	Delete(ctx context.Context, a tenancy.Actor, id string) error
	Runs(ctx context.Context, a tenancy.Actor, id string, limit int) ([]rules.Run, error)
	// RunNow runs an automation's actions once through the cloud
	// (AUTOMATIONS_EXECUTE), recorded as a run.
	RunNow(ctx context.Context, a tenancy.Actor, id string) error
	// Where names the site that runs the automation ("" and false: the
	// cloud).
	Where(ctx context.Context, au *rules.Automation) (site string, atSite bool, err error)
}

// Editor limits: the form offers this many action rows beyond the
// automation's own; more need the Platform API.
const (
	editorSpareActions = 2
	editorMinActions   = 3
	runLogSize         = 50
	maxPickDevices     = tenancy.MaxPageSize
)

// automationRoutes are the automation pages and, with them, the bell's
// notifications page (issue 17).
func (c *Console) automationRoutes(mux *http.ServeMux) {
	c.notifyRoutes(mux)
	mux.Handle("GET /automations", c.auth(c.automationsPage))
	mux.Handle("GET /automations/new", c.auth(c.automationNewPage))
	mux.Handle("POST /automations/new", c.auth(c.automationSubmit))
	mux.Handle("GET /automations/{id}", c.auth(c.automationPage))
	mux.Handle("GET /automations/{id}/edit", c.auth(c.automationEditPage))
	mux.Handle("POST /automations/{id}/edit", c.auth(c.automationSubmit))
	mux.Handle("POST /automations/{id}/enabled", c.auth(c.automationEnabled))
	mux.Handle("POST /automations/{id}/delete", c.auth(c.automationDelete))
	mux.Handle("POST /automations/{id}/run", c.auth(c.automationRun))
}

// autoPerms is what the role may do with the current org's automations.
type autoPerms struct{ Create, Edit, Delete, Execute bool }

func (s *session) autoPerms(org tenancy.OrgID) autoPerms {
	r := tenancy.OrgResource(org)
	return autoPerms{Create: s.can(tenancy.AutomationsCreate, r), Edit: s.can(tenancy.AutomationsEdit, r),
		Delete: s.can(tenancy.AutomationsDelete, r), Execute: s.can(tenancy.AutomationsExecute, r)}
}

// deviceNames are the devices of the current org and below that the
// user may see: the editor's choices and the names in summaries.
type deviceNames struct {
	Options []option
	Names   map[string]string // uid → name
	More    bool              // not every device is offered
}

func (c *Console) deviceNames(ctx context.Context, s *session) (deviceNames, error) {
	l, err := c.svc.Devices(ctx, s.actor, tenancy.DeviceQuery{OrgID: s.org, IncludeSub: true, Page: tenancy.Page{Size: maxPickDevices}})
	if err != nil && tenancy.CodeOf(err) != tenancy.Forbidden {
		return deviceNames{}, err
	}
	d := deviceNames{Names: map[string]string{}, More: l.Total > len(l.Items)}
	for _, x := range l.Items {
		d.Names[x.UID] = x.Name
		d.Options = append(d.Options, option{Value: x.UID, Label: x.Name})
	}
	slices.SortFunc(d.Options, func(a, b option) int { return strings.Compare(strings.ToLower(a.Label), strings.ToLower(b.Label)) })
	return d, nil
}

func (d deviceNames) name(uid string) string {
	if n, ok := d.Names[uid]; ok {
		return n
	}
	return "device " + uid
}

var opWords = map[rules.Op]string{rules.OpGt: ">", rules.OpGe: "≥", rules.OpLt: "<", rules.OpLe: "≤", rules.OpEq: "=", rules.OpNe: "≠",
	rules.OpBetween: "between", rules.OpOn: "is on", rules.OpOff: "is off", rules.OpChanged: "changes", rules.OpAny: "is written"}

var dayNames = [...]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

func compareText(dev string, pin int, op rules.Op, v, v2 string) string {
	s := fmt.Sprintf("%s V%d %s", dev, pin, opWords[op])
	switch op {
	case rules.OpBetween:
		s += fmt.Sprintf(" %s and %s", v, v2)
	case rules.OpOn, rules.OpOff, rules.OpChanged, rules.OpAny:
	default:
		s += " " + v
	}
	return s
}

// triggerText says in words what starts an automation.
func (d deviceNames) triggerText(t rules.Trigger) string {
	switch t.Kind {
	case rules.TriggerDatastream:
		s := "When " + compareText(d.name(t.Device), t.Pin, t.Op, t.Value, t.Value2)
		if t.HoldS > 0 {
			s += fmt.Sprintf(" for %d s", t.HoldS)
		}
		return s
	case rules.TriggerSchedule:
		if t.Schedule == nil {
			return "On a schedule"
		}
		sc := t.Schedule
		var s string
		if sc.Sun != "" {
			s = "At " + sc.Sun
			if sc.OffsetMin != 0 {
				s += fmt.Sprintf(" %+d min", sc.OffsetMin)
			}
		} else {
			s = "At " + sc.At
		}
		if len(sc.Weekdays) > 0 && len(sc.Weekdays) < 7 {
			var days []string
			for _, w := range sc.Weekdays {
				if w >= 0 && int(w) < len(dayNames) {
					days = append(days, dayNames[w])
				}
			}
			s += " on " + strings.Join(days, ", ")
		} else {
			s += " every day"
		}
		tz := sc.TZ
		if tz == "" {
			tz = "UTC"
		}
		return s + " (" + tz + ")"
	case rules.TriggerOnline:
		return "When " + d.name(t.Device) + " comes online"
	case rules.TriggerOffline:
		return "When " + d.name(t.Device) + " goes offline"
	case rules.TriggerEvent:
		if t.Event == "" {
			return "When " + d.name(t.Device) + " logs any event"
		}
		return "When " + d.name(t.Device) + " logs event " + t.Event
	}
	return string(t.Kind)
}

// actionText says in words what an action does.
func (d deviceNames) actionText(a rules.Action) string {
	switch a.Kind {
	case rules.ActionWrite:
		return fmt.Sprintf("Write %s to %s V%d", a.Value, d.name(a.Device), a.Pin)
	case rules.ActionLogEvent:
		return fmt.Sprintf("Log event %s on %s", a.Event, d.name(a.Device))
	case rules.ActionNotify:
		if a.Subject != "" {
			return "Notify: " + a.Subject
		}
		return "Notify: " + a.Text
	case rules.ActionWebhook:
		return "Call webhook " + a.Webhook
	case rules.ActionWait:
		return fmt.Sprintf("Wait %d s", a.WaitS)
	}
	return string(a.Kind)
}

type autoRow struct {
	rules.Automation
	Trigger string
	Where   place
	LastRun *rules.Run
	LastAt  time.Time
}

type automationsData struct {
	Rows  []autoRow
	Perms autoPerms
}

// place is where an automation runs, in words, with a link to the site's
// page when the user may see the site.
type place struct{ Text, Href string }

func (c *Console) where(ctx context.Context, s *session, au *rules.Automation) place {
	site, atSite, err := c.autos.Where(ctx, au)
	switch {
	case err != nil:
		return place{Text: "unknown"}
	case !atSite:
		return place{Text: "Cloud"}
	}
	if id, err := strconv.ParseInt(site, 10, 64); err == nil {
		if g, err := c.svc.Gateway(ctx, s.actor, tenancy.GatewayID(id)); err == nil && g.Name != "" {
			return place{Text: g.Name, Href: "/sites/" + site}
		}
	}
	return place{Text: "Site " + site}
}

// automationsPage is GET /automations: the current org's automations.
func (c *Console) automationsPage(w http.ResponseWriter, r *http.Request, s *session) {
	if c.autos == nil {
		c.notFound(w, r, s)
		return
	}
	list, err := c.autos.List(r.Context(), s.actor, s.org)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	names, err := c.deviceNames(r.Context(), s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	slices.SortFunc(list, func(a, b rules.Automation) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	d := automationsData{Perms: s.autoPerms(s.org)}
	for i := range list {
		row := autoRow{Automation: list[i], Trigger: names.triggerText(list[i].Trigger), Where: c.where(r.Context(), s, &list[i])}
		runs, err := c.autos.Runs(r.Context(), s.actor, list[i].ID, 1)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		if len(runs) > 0 {
			row.LastRun, row.LastAt = &runs[0], time.UnixMilli(runs[0].At)
		}
		d.Rows = append(d.Rows, row)
	}
	v := view{Title: "Automations", Nav: "automations", Data: d}
	switch r.URL.Query().Get("done") {
	case "deleted":
		v.Notice = "The automation is deleted; its runs stay in the log of the platform."
	}
	c.renderShell(w, r, s, http.StatusOK, "automations", v)
}

type runRow struct {
	rules.Run
	At      time.Time
	Trigger string
	Results []resultRow
}

type resultRow struct {
	rules.Result
	Action string
}

type automationData struct {
	Auto       rules.Automation
	Trigger    string
	Conditions string // JSON, indented
	Actions    []string
	Where      place
	Runs       []runRow
	Perms      autoPerms
}

func (c *Console) triggerOfRun(names deviceNames, run rules.Run) string {
	switch {
	case run.Trigger == rules.TriggerManual:
		return "Run now"
	case run.Device == "":
		return string(run.Trigger)
	case run.Trigger == rules.TriggerDatastream:
		return fmt.Sprintf("%s: %s V%d = %s", run.Trigger, names.name(run.Device), run.Pin, run.Value)
	}
	return fmt.Sprintf("%s: %s", run.Trigger, names.name(run.Device))
}

// automationOf reads the automation the path names as the user may see
// it, else answers (404 without automations, the service's refusal).
func (c *Console) automationOf(w http.ResponseWriter, r *http.Request, s *session) (rules.Automation, bool) {
	if c.autos == nil {
		c.notFound(w, r, s)
		return rules.Automation{}, false
	}
	au, err := c.autos.Get(r.Context(), s.actor, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, s, err)
		return rules.Automation{}, false
	}
	return au, true
}

// automationPage is GET /automations/{id}: what it does and its run log.
func (c *Console) automationPage(w http.ResponseWriter, r *http.Request, s *session) {
	au, ok := c.automationOf(w, r, s)
	if !ok {
		return
	}
	runs, err := c.autos.Runs(r.Context(), s.actor, au.ID, runLogSize)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	names, err := c.deviceNames(r.Context(), s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d := automationData{Auto: au, Trigger: names.triggerText(au.Trigger), Where: c.where(r.Context(), s, &au),
		Perms: s.autoPerms(tenancy.OrgID(au.OrgID))}
	if au.Conditions != nil {
		b, _ := json.MarshalIndent(au.Conditions, "", "  ")
		d.Conditions = string(b)
	}
	for _, a := range au.Actions {
		d.Actions = append(d.Actions, names.actionText(a))
	}
	for _, run := range runs {
		row := runRow{Run: run, At: time.UnixMilli(run.At), Trigger: c.triggerOfRun(names, run)}
		for _, res := range run.Results {
			txt := string(res.Kind)
			if res.Action < len(au.Actions) && au.Actions[res.Action].Kind == res.Kind {
				txt = names.actionText(au.Actions[res.Action])
			}
			row.Results = append(row.Results, resultRow{Result: res, Action: txt})
		}
		d.Runs = append(d.Runs, row)
	}
	v := view{Title: au.Name, Nav: "automations", Data: d}
	switch r.URL.Query().Get("done") {
	case "saved":
		v.Notice = "Saved. Sites that run it have it within seconds."
	case "enabled":
		v.Notice = "The automation is enabled."
	case "disabled":
		v.Notice = "The automation is disabled: nothing triggers it until you enable it."
	case "run":
		v.Notice = "Started: the cloud runs its actions once; the run appears in the log below when it ends."
	}
	c.renderShell(w, r, s, http.StatusOK, "automation", v)
}

// automationEnabled is POST /automations/{id}/enabled (enabled=on|off):
// a save, so AUTOMATIONS_EDIT.
func (c *Console) automationEnabled(w http.ResponseWriter, r *http.Request, s *session) {
	au, ok := c.automationOf(w, r, s)
	if !ok {
		return
	}
	au.Enabled = r.PostFormValue("enabled") == "on"
	if _, err := c.autos.Save(r.Context(), s.actor, tenancy.OrgID(au.OrgID), au); err != nil {
		c.fail(w, r, s, err)
		return
	}
	done := "disabled"
	if au.Enabled {
		done = "enabled"
	}
	http.Redirect(w, r, "/automations/"+au.ID+"?done="+done, http.StatusSeeOther)
}

// automationDelete is POST /automations/{id}/delete.
func (c *Console) automationDelete(w http.ResponseWriter, r *http.Request, s *session) {
	if c.autos == nil {
		c.notFound(w, r, s)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		c.errorPage(w, r, s, http.StatusBadRequest, "Not deleted", "Tick the box that confirms the deletion.")
		return
	}
	if err := c.autos.Delete(r.Context(), s.actor, r.PathValue("id")); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/automations?done=deleted", http.StatusSeeOther)
}

// automationRun is POST /automations/{id}/run: "run now".
func (c *Console) automationRun(w http.ResponseWriter, r *http.Request, s *session) {
	if c.autos == nil {
		c.notFound(w, r, s)
		return
	}
	id := r.PathValue("id")
	if err := c.autos.RunNow(r.Context(), s.actor, id); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/automations/"+id+"?done=run", http.StatusSeeOther)
}
