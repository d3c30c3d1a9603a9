package console

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/webhooks"
)

// webhookRoutes are the webhook pages: the current organization's
// webhooks, the editor, enable / disable, delete, the delivery log and a
// test send. The webhooks service decides every call
// (ORG_SETTINGS_ACCESS); the pages offer nothing it would refuse.
func (c *Console) webhookRoutes(mux *http.ServeMux) {
	mux.Handle("GET /webhooks", c.auth(c.webhooksPage))
	mux.Handle("GET /webhooks/new", c.auth(c.webhookNew))
	mux.Handle("POST /webhooks/new", c.auth(c.webhookSubmit))
	mux.Handle("GET /webhooks/{id}", c.auth(c.webhookPage))
	mux.Handle("POST /webhooks/{id}", c.auth(c.webhookSubmit))
	mux.Handle("POST /webhooks/{id}/{action}", c.auth(c.webhookAction))
}

// canWebhooks reports whether the user may manage the current
// organization's webhooks.
func (c *Console) canWebhooks(s *session) bool {
	return c.hooks != nil && s.can(tenancy.OrgSettingsAccess, tenancy.Resource{OrgID: s.org, Org: true})
}

type webhookRow struct {
	webhooks.Status
	Host string
}

type webhooksData struct {
	Org   tenancy.Org
	Hooks []webhookRow
}

// webhooksPage is GET /webhooks: the current organization's webhooks.
func (c *Console) webhooksPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !c.canWebhooks(s) {
		c.forbidden(w, r, s)
		return
	}
	sh, _, err := c.shell(r, s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	sts, err := c.hooks.Statuses(r.Context(), s.actor, int64(s.org))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := webhooksData{Org: sh.Org}
	for _, st := range sts {
		host := st.URL
		if u, err := url.Parse(st.URL); err == nil {
			host = u.Host
		}
		d.Hooks = append(d.Hooks, webhookRow{Status: st, Host: host})
	}
	v := view{Title: "Webhooks", Nav: "webhooks", Shell: sh, Data: d}
	if r.URL.Query().Get("done") == "delete" {
		v.Notice = "The webhook and its delivery log are deleted."
	}
	c.render(w, r, http.StatusOK, "webhooks", v)
}

// webhookForm is the editor's fields as typed.
type webhookForm struct {
	Name, Kind, Device, Template, Pin, Event, Method, URL, Headers, Body string
	AuthKind, User, Password, Token, Secret, PerMinute, DisableAfter     string
	Enabled                                                              bool
}

func webhookFormOf(w webhooks.Webhook) webhookForm {
	f := webhookForm{Name: w.Name, Kind: w.Trigger.Kind, Device: w.Trigger.Device, Template: w.Trigger.Template,
		Event: w.Trigger.Event, Method: w.Method, URL: w.URL, Body: w.Body, AuthKind: w.Auth.Kind, User: w.Auth.User,
		Password: w.Auth.Password, Token: w.Auth.Token, Secret: w.Secret, Enabled: w.Enabled}
	if w.Trigger.Pin != nil {
		f.Pin = strconv.Itoa(*w.Trigger.Pin)
	}
	if w.PerMinute != 0 {
		f.PerMinute = strconv.Itoa(w.PerMinute)
	}
	if w.DisableAfter != 0 {
		f.DisableAfter = strconv.Itoa(w.DisableAfter)
	}
	keys := make([]string, 0, len(w.Headers))
	for k := range w.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, w.Headers[k])
	}
	f.Headers = b.String()
	return f
}

func readWebhookForm(r *http.Request) webhookForm {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	return webhookForm{Name: v("name"), Kind: v("kind"), Device: v("device"), Template: v("template"), Pin: v("pin"),
		Event: v("event"), Method: v("method"), URL: v("url"), Headers: r.PostFormValue("headers"), Body: r.PostFormValue("body"),
		AuthKind: v("auth"), User: v("user"), Password: r.PostFormValue("password"), Token: r.PostFormValue("token"),
		Secret: r.PostFormValue("secret"), PerMinute: v("perMinute"), DisableAfter: v("disableAfter"),
		Enabled: r.PostFormValue("enabled") == "on"}
}

// webhook turns the form into a webhook, or says what is wrong with it
// (what the service's validation cannot see: numbers, header lines).
func (f webhookForm) webhook() (webhooks.Webhook, string) {
	w := webhooks.Webhook{Name: f.Name, Enabled: f.Enabled, Method: f.Method, URL: f.URL, Body: f.Body, Secret: f.Secret}
	w.Trigger.Kind, w.Trigger.Device, w.Trigger.Template = f.Kind, f.Device, f.Template
	if f.Kind == webhooks.OnEvent || f.Kind == webhooks.OnNotification {
		w.Trigger.Event = f.Event
	}
	if f.Pin != "" && f.Kind == webhooks.OnDatastream {
		p, err := strconv.Atoi(strings.TrimPrefix(strings.ToUpper(f.Pin), "V"))
		if err != nil || p < 0 || p > 255 {
			return w, "Pin: V0 to V255, or empty for any pin."
		}
		w.Trigger.Pin = &p
	}
	w.Auth.Kind = f.AuthKind
	switch f.AuthKind {
	case "basic":
		w.Auth.User, w.Auth.Password = f.User, f.Password
	case "bearer":
		w.Auth.Token = f.Token
	}
	var err error
	if f.PerMinute != "" {
		if w.PerMinute, err = strconv.Atoi(f.PerMinute); err != nil {
			return w, "Requests a minute must be a number."
		}
	}
	if f.DisableAfter != "" {
		if w.DisableAfter, err = strconv.Atoi(f.DisableAfter); err != nil {
			return w, "Disable after must be a number."
		}
	}
	for _, line := range strings.Split(f.Headers, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return w, fmt.Sprintf("Header %q: write one header a line as Name: value.", line)
		}
		if w.Headers == nil {
			w.Headers = map[string]string{}
		}
		w.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return w, ""
}

type webhookData struct {
	ID           int64
	Form         webhookForm
	Status       webhooks.Status
	Templates    []option
	Devices      []option // suggestions for the device filter (the first 100)
	Kinds        []option
	Placeholders []string
	Deliveries   []webhooks.Delivery
	Test         *webhooks.TestResult
	Redacted     string
}

var webhookKinds = []option{
	{Value: webhooks.OnDatastream, Label: "datastream value written"},
	{Value: webhooks.OnEvent, Label: "event logged"},
	{Value: webhooks.OnNotification, Label: "event notification (the template's webhook channel)"},
	{Value: webhooks.OnOnline, Label: "device online"},
	{Value: webhooks.OnOffline, Label: "device offline"},
	{Value: webhooks.OnCreated, Label: "device created"},
	{Value: webhooks.OnTransfer, Label: "device transferred"},
}

var placeholders = []string{"{device_id}", "{device_name}", "{device_templateId}", "{datastream_pin}", "{datastream_value}",
	"{event_code}", "{event_name}", "{event_type}", "{event_description}", "{timestamp_unix}", "{timestamp_iso}"}

// webhookNew is GET /webhooks/new.
func (c *Console) webhookNew(w http.ResponseWriter, r *http.Request, s *session) {
	c.renderWebhook(w, r, s, http.StatusOK, 0, webhookForm{Kind: webhooks.OnDatastream, Method: http.MethodPost, Enabled: true,
		Body: `{"device":"{device_name}","pin":"{datastream_pin}","value":"{datastream_value}","at":"{timestamp_iso}"}`}, "", nil)
}

func (c *Console) webhookID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

// webhookPage is GET /webhooks/{id}: the editor, the log, the test send.
func (c *Console) webhookPage(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := c.webhookID(r)
	if !ok || c.hooks == nil {
		c.notFound(w, r, s)
		return
	}
	st, err := c.hooks.Get(r.Context(), s.actor, id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.renderWebhook(w, r, s, http.StatusOK, id, webhookFormOf(st.Webhook), "", nil)
}

func (c *Console) renderWebhook(w http.ResponseWriter, r *http.Request, s *session, status int, id int64, f webhookForm, errMsg string, test *webhooks.TestResult) {
	if c.hooks == nil || (id == 0 && !c.canWebhooks(s)) {
		c.forbidden(w, r, s)
		return
	}
	d := webhookData{ID: id, Form: f, Kinds: webhookKinds, Placeholders: placeholders, Test: test, Redacted: webhooks.Redacted}
	org := s.org
	title := "New webhook"
	if id != 0 {
		st, err := c.hooks.Get(r.Context(), s.actor, id)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		d.Status, org, title = st, tenancy.OrgID(st.OrgID), st.Name
		if d.Deliveries, err = c.hooks.Deliveries(r.Context(), s.actor, id, 50); err != nil {
			c.fail(w, r, s, err)
			return
		}
	}
	tl, err := c.svc.Templates(r.Context(), s.actor, org, tenancy.Page{Size: tenancy.MaxPageSize})
	if err != nil && tenancy.CodeOf(err) != tenancy.Forbidden {
		c.fail(w, r, s, err)
		return
	}
	for _, t := range tl.Items {
		d.Templates = append(d.Templates, option{Value: string(t.ID), Label: t.Def.Name, Selected: string(t.ID) == f.Template})
	}
	if dl, err := c.svc.Devices(r.Context(), s.actor, tenancy.DeviceQuery{OrgID: org, IncludeSub: true, Page: tenancy.Page{Size: 100}}); err == nil {
		for _, dv := range dl.Items {
			d.Devices = append(d.Devices, option{Value: dv.UID, Label: dv.Name})
		}
	} // without the right to list devices, the id is typed
	v := view{Title: title, Nav: "webhooks", Data: d, Error: errMsg, Scripts: adminScripts} // admin.js: delete asks first
	switch r.URL.Query().Get("done") {
	case "save":
		v.Notice = "Saved."
	case "enable":
		v.Notice = "The webhook is enabled."
	case "disable":
		v.Notice = "The webhook is disabled: nothing is queued for it until you enable it."
	}
	c.renderShell(w, r, s, status, "webhook", v)
}

// webhookSubmit is POST /webhooks/new and POST /webhooks/{id}.
func (c *Console) webhookSubmit(w http.ResponseWriter, r *http.Request, s *session) {
	var id int64
	org := int64(s.org)
	if r.PathValue("id") != "" {
		var ok bool
		if id, ok = c.webhookID(r); !ok || c.hooks == nil {
			c.notFound(w, r, s)
			return
		}
		st, err := c.hooks.Get(r.Context(), s.actor, id)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		org = st.OrgID
	} else if !c.canWebhooks(s) {
		c.forbidden(w, r, s)
		return
	}
	f := readWebhookForm(r)
	hook, msg := f.webhook()
	if msg != "" {
		c.renderWebhook(w, r, s, http.StatusBadRequest, id, f, msg, nil)
		return
	}
	hook.ID = id
	if _, err := c.hooks.Save(r.Context(), s.actor, org, &hook); err != nil {
		if tenancy.CodeOf(err) == tenancy.Invalid {
			c.renderWebhook(w, r, s, http.StatusBadRequest, id, f, message(err), nil)
			return
		}
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/webhooks/%d?done=save", hook.ID), http.StatusSeeOther)
}

// webhookAction is POST /webhooks/{id}/{enable,disable,delete,test}.
func (c *Console) webhookAction(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := c.webhookID(r)
	if !ok || c.hooks == nil {
		c.notFound(w, r, s)
		return
	}
	switch act := r.PathValue("action"); act {
	case "enable", "disable":
		st, err := c.hooks.Get(r.Context(), s.actor, id)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		hook := st.Webhook // redacted secrets: saving keeps the stored ones
		hook.Enabled = act == "enable"
		if _, err := c.hooks.Save(r.Context(), s.actor, hook.OrgID, &hook); err != nil {
			c.fail(w, r, s, err)
			return
		}
		back := fmt.Sprintf("/webhooks/%d?done=%s", id, act)
		if r.PostFormValue("back") == "list" {
			back = "/webhooks"
		}
		http.Redirect(w, r, back, http.StatusSeeOther)
	case "delete":
		if err := c.hooks.Delete(r.Context(), s.actor, id); err != nil {
			c.fail(w, r, s, err)
			return
		}
		http.Redirect(w, r, "/webhooks?done=delete", http.StatusSeeOther)
	case "test":
		res, err := c.hooks.TestSend(r.Context(), s.actor, id)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		st, err := c.hooks.Get(r.Context(), s.actor, id)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		c.renderWebhook(w, r, s, http.StatusOK, id, webhookFormOf(st.Webhook), "", &res)
	default:
		c.notFound(w, r, s)
	}
}
