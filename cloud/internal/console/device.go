package console

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"outpost/cloud/internal/events"
	"outpost/cloud/internal/livefeed"
	"outpost/cloud/internal/ota"
	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
	"outpost/shared/webui"
)

// devicePageAssets is what the device page loads (its weight is measured).
var devicePageAssets = []string{"style.css", "app.js", "device.js", "chart.js", "live.js"}

// tile is one datastream on the dashboard: its latest value and, where the
// user may write, a control fitting its type (shared with the gateway's
// installer page).
type tile = webui.Tile

type deviceData struct {
	Device       tenancy.Device
	Tab          string
	Template     tenancy.Template
	Org          string
	Owner        string
	Site         string
	SiteID       tenancy.GatewayID
	Tags         []string
	State        DeviceState
	Reported     bool
	Location     string // reported by a location datastream
	LocationURL  string
	LocationName string // the location the device was placed at
	CanControl   bool
	CanActions   bool
	CanManage    bool // the device's administration page offers something
	Tiles        []tile
	Charts       []tile
	Events       []Event
	Open         []Event         // critical events not resolved yet (openEvents)
	Resolvable   map[string]bool // event codes the user may resolve (critical, warning)
	EventKind    string
	FirstPage    bool              // the timeline's first page (it lists the open events)
	Resolvers    map[string]string // "user:<id>" → the person's name, where the user may see them
	NextEvents   string
	Info         [][2]string
	Meta         []metaRow
	CanEditMeta  bool
	Audit        []auditRow
	NextAudit    string
	WriteNote    string
	Updates      []ota.Shipment // user-controlled updates the user may approve
}

// metaRow is one metadata field on the Info tab: its value now and where
// the value comes from.
type metaRow struct {
	Name   string
	Value  string
	Source string    // set in the cloud, reported by the device, default
	At     time.Time // when it was set or reported (zero: the default)
	Status string    // for a value set here: whether the site applied it
}

type auditRow struct {
	At     time.Time
	Action string
	By     string
}

func (c *Console) loadDevice(w http.ResponseWriter, r *http.Request, s *session) (tenancy.Device, tenancy.Template, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		c.notFound(w, r, s)
		return tenancy.Device{}, tenancy.Template{}, false
	}
	d, t, err := c.svc.DeviceTemplate(r.Context(), s.actor, tenancy.DeviceID(id))
	if err != nil {
		c.fail(w, r, s, err)
		return d, t, false
	}
	return d, t, true
}

var tabs = map[string]string{"": "Dashboard", "charts": "Charts", "timeline": "Timeline", "info": "Info", "actions": "Actions log"}

// devicePage is GET /devices/{id}[/{tab}].
func (c *Console) devicePage(w http.ResponseWriter, r *http.Request, s *session) {
	tab := r.PathValue("tab")
	if _, ok := tabs[tab]; !ok {
		c.notFound(w, r, s)
		return
	}
	d, t, ok := c.loadDevice(w, r, s)
	if !ok {
		return
	}
	sh, orgs, err := c.shell(r, s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	res := tenancy.Resource{OrgID: d.OrgID, OwnerID: d.OwnerID}
	dd := deviceData{Device: d, Tab: tab, Template: t, Org: c.orgName(r, s, orgs, d.OrgID),
		CanControl: s.can(tenancy.OrgDevicesControl, res), CanActions: s.can(tenancy.UsersActionsLogView, tenancy.Resource{OrgID: d.OrgID})}
	dd.CanManage = s.canManageDevice(d)
	dd.Updates = c.awaitingApproval(r, s, d.ID)
	if tab == "actions" && !dd.CanActions {
		c.forbidden(w, r, s)
		return
	}
	if d.OwnerID != 0 {
		dd.Owner = "user " + strconv.FormatInt(int64(d.OwnerID), 10)
		if d.OwnerID == s.user.ID {
			dd.Owner = s.user.Name + " (you)"
		} else if u, err := c.svc.User(r.Context(), s.actor, d.OwnerID); err == nil {
			dd.Owner = u.Name
		}
	}
	if d.LocationID != 0 {
		if l, err := c.svc.Location(r.Context(), s.actor, d.LocationID); err == nil {
			dd.LocationName = l.Name
		}
	}
	if s.can(tenancy.TagsManage, tenancy.Resource{OrgID: d.OrgID}) {
		if ts, err := c.svc.DeviceTags(r.Context(), s.actor, d.ID); err == nil {
			for _, tg := range ts {
				dd.Tags = append(dd.Tags, tg.Name)
			}
		}
	}
	if c.live != nil {
		if dd.State, err = c.live.DeviceState(r.Context(), d.UID); err != nil {
			c.serverError(w, r, err)
			return
		}
		dd.Reported = !dd.State.LastSeen.IsZero()
		if g := dd.State.Gateway; g != 0 {
			dd.SiteID = g
			dd.Site = "site " + strconv.FormatInt(int64(g), 10)
			if gw, err := c.svc.Gateway(r.Context(), s.actor, g); err == nil {
				dd.Site = gw.Name
			} else {
				dd.SiteID = 0
			}
		}
	}
	for _, ds := range t.Def.Datastreams {
		tl := makeTile(ds, dd.State.Values[ds.Pin], dd.CanControl)
		if ds.Type == datastream.Location && tl.MapURL != "" && dd.LocationURL == "" {
			dd.Location, dd.LocationURL = tl.Display, tl.MapURL
		}
		dd.Tiles = append(dd.Tiles, tl)
		if tl.Chart {
			dd.Charts = append(dd.Charts, tl)
		}
	}
	if err := c.openEvents(r, d, t, &dd); err != nil {
		c.serverError(w, r, err)
		return
	}
	v := view{Title: d.Name, Nav: "devices", Shell: sh, Data: &dd, Scripts: []string{"device.js"}}
	resolveNotice(&v, r.URL.Query().Get("resolve"))
	if r.URL.Query().Get("done") == "approve" {
		v.Notice = "Firmware update approved: the device is offered it at its next chance."
	}
	switch r.URL.Query().Get("write") {
	case "applied":
		v.Notice = "The device applied the value."
	case "stale":
		v.Error = "Not applied: the device reported a newer value."
	case "offline":
		v.Error = "Not applied: the device's gateway is offline."
	case "invalid":
		v.Error = "Not applied: the value does not fit the datastream."
	}
	switch r.URL.Query().Get("meta") {
	case "saved":
		v.Notice = "Saved. The device's site receives the value with its next update."
	case "invalid":
		v.Error = "Not saved: a metadata value is text of at most 1024 characters."
	}
	switch tab {
	case "timeline":
		if err := c.timeline(r, s, d, t, &dd); err != nil {
			c.serverError(w, r, err)
			return
		}
	case "info":
		dd.Info = infoPairs(dd.State.Info)
		dd.CanEditMeta = s.can(tenancy.OrgDevicesEdit, res)
		set, err := c.svc.DeviceMetaValues(r.Context(), s.actor, d.ID)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		dd.Meta = metaRows(t.Def.MetaFields, set, dd.State.Meta)
	case "actions":
		if err := c.actions(r, s, d, &dd); err != nil {
			c.fail(w, r, s, err)
			return
		}
	}
	c.render(w, r, http.StatusOK, "device", v)
}

// metaRows joins the template's metadata fields with the values people
// set (tenancy) and those the site reported: the newer of the two wins, as
// on the gateway (a device's own setting after a person's overrides it),
// else the template's default.
func metaRows(fields []datastream.MetaField, set []tenancy.DeviceMeta, reported map[string]Value) []metaRow {
	byName := make(map[string]tenancy.DeviceMeta, len(set))
	for _, m := range set {
		byName[m.Name] = m
	}
	rows := make([]metaRow, 0, len(fields))
	for _, f := range fields {
		row := metaRow{Name: f.Name, Value: f.Default, Source: "template default"}
		p, isSet := byName[f.Name]
		rep, isRep := reported[f.Name]
		switch {
		case isSet && (!isRep || !rep.TS.After(p.UpdatedAt)):
			row.Value, row.Source, row.At = p.Value, "set in the cloud", p.UpdatedAt
			row.Status = "waiting for the site"
			if isRep && rep.Value == p.Value && rep.TS.Equal(p.UpdatedAt) {
				row.Status = "applied at the site"
			}
		case isRep:
			row.Value, row.Source, row.At = rep.Value, "reported by the device", rep.TS
		}
		rows = append(rows, row)
	}
	return rows
}

// deviceMetaSubmit is POST /devices/{id}/meta (name, value): a person sets
// a metadata field (ORG_DEVICES_EDIT); the tenancy service checks, stores
// and audits it, and the device's gateway receives it with its view.
func (c *Console) deviceMetaSubmit(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		c.notFound(w, r, s)
		return
	}
	_, err = c.svc.SetDeviceMeta(r.Context(), s.actor, tenancy.DeviceID(id), r.PostFormValue("name"), r.PostFormValue("value"))
	result := "saved"
	switch tenancy.CodeOf(err) {
	case "":
	case tenancy.Invalid:
		result = "invalid"
	default:
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/devices/%d/info?meta=%s", id, result), http.StatusSeeOther)
}

// infoPairs orders what a device reported about itself for display.
func infoPairs(info map[string]string) [][2]string {
	known := []struct{ key, label string }{{"fw", "Firmware version"}, {"build", "Firmware build"}, {"mcu", "MCU firmware"},
		{"fw-type", "Firmware type"}, {"h-beat", "Heartbeat (s)"}, {"ver", "Blynk library"}, {"dev", "Hardware"},
		{"con", "Connection"}, {"buff-in", "Receive buffer"}, {"tmpl", "Template"}}
	seen := map[string]bool{}
	var out [][2]string
	for _, k := range known {
		if v, ok := info[k.key]; ok {
			out = append(out, [2]string{k.label, v})
			seen[k.key] = true
		}
	}
	var rest []string
	for k := range info {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sortStrings(rest)
	for _, k := range rest {
		out = append(out, [2]string{k, info[k]})
	}
	return out
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// makeTile picks the display and the control of a datastream.
func makeTile(ds datastream.Datastream, v Value, canWrite bool) tile {
	return webui.MakeTile(ds, v.Value, v.TS, canWrite)
}

const timelinePage = 50

func (c *Console) timeline(r *http.Request, s *session, d tenancy.Device, t tenancy.Template, dd *deviceData) error {
	if c.live == nil {
		return nil
	}
	kind := r.URL.Query().Get("kind")
	switch kind {
	case "", "event", "online", "offline", "clear":
	default:
		kind = ""
	}
	dd.EventKind = kind
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	es, next, err := c.timelineShown(r, d.UID, kind, events.Hidden(&t), max(before, 0), timelinePage)
	if err != nil {
		return err
	}
	dd.Events, before = es, next
	dd.FirstPage = r.URL.Query().Get("before") == "" // it lists the open ones
	dd.Resolvers = c.resolvers(r, s, es)
	if before != 0 {
		q := url.Values{"before": {strconv.FormatInt(before, 10)}}
		if kind != "" {
			q.Set("kind", kind)
		}
		dd.NextEvents = fmt.Sprintf("/devices/%d/timeline?%s", d.ID, q.Encode())
	}
	return nil
}

// actions lists the audit entries about this device, newest first,
// keyset-paged (?after=).
func (c *Console) actions(r *http.Request, s *session, d tenancy.Device, dd *deviceData) error {
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	l, err := c.svc.Audit(r.Context(), s.actor, tenancy.AuditQuery{OrgID: d.OrgID, ObjectType: "device",
		ObjectID: strconv.FormatInt(int64(d.ID), 10), Page: tenancy.Page{Size: timelinePage, After: max(after, 0)}})
	if err != nil {
		return err
	}
	for _, e := range l.Items {
		by := e.ClientID
		if e.UserID != 0 {
			by = "user " + strconv.FormatInt(int64(e.UserID), 10)
			if e.UserID == s.user.ID {
				by = s.user.Name + " (you)"
			}
		}
		dd.Audit = append(dd.Audit, auditRow{At: e.At, Action: e.Action, By: by})
	}
	if l.Next != 0 {
		dd.NextAudit = fmt.Sprintf("/devices/%d/actions?after=%d", d.ID, l.Next)
	}
	return nil
}

// writeResult is the answer to a control write.
type writeResult struct {
	Result  string `json:"result"` // applied, stale, offline, forbidden, invalid, error
	Message string `json:"message"`
}

// deviceWrite is POST /devices/{id}/write (pin, value): the same write path
// as the Platform API's, permission ORG_DEVICES_CONTROL (or own). fetch()
// callers get JSON; a plain form post is redirected back to the page.
func (c *Console) deviceWrite(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		c.notFound(w, r, s)
		return
	}
	pin, perr := strconv.Atoi(r.PostFormValue("pin"))
	value := r.PostFormValue("value")
	d, err := c.svc.CheckDevice(r.Context(), s.actor, tenancy.DeviceID(id), tenancy.OrgDevicesControl)
	if err == nil && c.live == nil {
		err = tenancy.Errorf(tenancy.Unavailable, "this cloud has no gateway link")
	}
	if err == nil && (perr != nil || pin < 0 || pin > datastream.MaxPin) {
		err = tenancy.Errorf(tenancy.Invalid, "pin must be 0..255")
	}
	if err == nil {
		err = c.live.Write(r.Context(), s.actor, d, pin, value)
	}
	res, st := writeResult{Result: "applied", Message: "Applied"}, http.StatusOK
	switch tenancy.CodeOf(err) {
	case "":
	case tenancy.Conflict:
		res, st = writeResult{"stale", "Not applied: the device reported a newer value"}, http.StatusConflict
	case tenancy.Unavailable:
		res, st = writeResult{"offline", "Not applied: the gateway is offline"}, http.StatusServiceUnavailable
	case tenancy.Forbidden:
		res, st = writeResult{"forbidden", "Not permitted"}, http.StatusForbidden
	case tenancy.NotFound:
		res, st = writeResult{"notfound", message(err)}, http.StatusNotFound
	case tenancy.Invalid:
		res, st = writeResult{"invalid", message(err)}, http.StatusBadRequest
	default:
		c.log.ErrorContext(r.Context(), "control write failed", "device", id, "err", err)
		res, st = writeResult{"error", "Something went wrong"}, http.StatusInternalServerError
	}
	if !strings.Contains(r.Header.Get("Accept"), "application/json") {
		if st == http.StatusForbidden || st == http.StatusNotFound {
			c.fail(w, r, s, err)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/devices/%d?write=%s", id, res.Result), http.StatusSeeOther)
		return
	}
	writeJSON(w, st, res)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// deviceLive is GET /devices/{id}/live: server-sent events of the device's
// values ("value") and connection ("status") as the cloud applies them.
func (c *Console) deviceLive(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	d, err := c.svc.Device(r.Context(), s.actor, tenancy.DeviceID(id))
	if err != nil {
		http.Error(w, message(err), httpStatus(err))
		return
	}
	if c.feed == nil {
		http.Error(w, "no live updates on this cloud", http.StatusNotFound)
		return
	}
	sub := c.feed.Subscribe(d.UID)
	defer sub.Close()
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{}) // the server's write timeout would cut the stream
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	if err := rc.Flush(); err != nil {
		return
	}
	ping := time.NewTicker(25 * time.Second)
	defer ping.Stop()
	var buf []livefeed.Update
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.done:
			return
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
		case <-sub.Ready():
			var dropped int
			buf, dropped = sub.Take(buf[:0])
			for _, u := range buf {
				writeEvent(w, u)
			}
			if dropped > 0 {
				fmt.Fprintf(w, "event: dropped\ndata: %d\n\n", dropped)
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// writeEvent writes one update as a server-sent event: "value" (a write
// or an erase, value ""), "status" (online/offline) or "event".
func writeEvent(w io.Writer, u livefeed.Update) {
	var typ string
	var v any
	switch u.Kind {
	case syncproto.KindWrite, syncproto.KindErase:
		val := u.Value
		if u.Kind == syncproto.KindErase {
			val = ""
		}
		typ, v = "value", struct {
			Pin   int    `json:"pin"`
			Value string `json:"value"`
			TS    int64  `json:"ts"`
		}{u.Pin, val, u.TS}
	case syncproto.KindOnline, syncproto.KindOffline:
		typ, v = "status", struct {
			Online    bool   `json:"online"`
			Transport string `json:"transport,omitempty"`
			TS        int64  `json:"ts"`
		}{u.Kind == syncproto.KindOnline, u.Name, u.TS}
	case syncproto.KindEvent, syncproto.KindClear:
		typ, v = "event", struct {
			Kind        string `json:"kind"`
			Code        string `json:"code"`
			Description string `json:"description"`
			TS          int64  `json:"ts"`
		}{string(u.Kind), u.Name, u.Value, u.TS}
	default:
		return
	}
	b, _ := json.Marshal(v)
	fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, b)
}

// ranges are the chart's time ranges (Live is the last 15 minutes, kept
// current by the page).
var ranges = map[string]time.Duration{"live": 15 * time.Minute, "1h": time.Hour, "6h": 6 * time.Hour, "1d": 24 * time.Hour,
	"1w": 7 * 24 * time.Hour, "1mo": 30 * 24 * time.Hour, "3mo": 90 * 24 * time.Hour}

// maxBuckets bounds a chart's series (about one per two pixels of a wide
// screen).
const maxBuckets = 1000

// span reads range= or from=&to= (ms since the epoch).
func (c *Console) span(q url.Values) (from, to time.Time, err error) {
	if d, ok := ranges[q.Get("range")]; ok {
		to = c.now()
		return to.Add(-d), to, nil
	}
	f, ferr := strconv.ParseInt(q.Get("from"), 10, 64)
	t, terr := strconv.ParseInt(q.Get("to"), 10, 64)
	if ferr != nil || terr != nil || f >= t || t-f > int64(5*366*24*time.Hour/time.Millisecond) {
		return from, to, tenancy.Errorf(tenancy.Invalid, "give range=live|1h|6h|1d|1w|1mo|3mo, or from and to in ms (to > from, at most 5 years)")
	}
	return time.UnixMilli(f), time.UnixMilli(t), nil
}

// seriesDevice checks the device and reads pin and span for the chart
// data and the export.
func (c *Console) seriesDevice(w http.ResponseWriter, r *http.Request, s *session) (d tenancy.Device, pin int, from, to time.Time, ok bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if d, err = c.svc.Device(r.Context(), s.actor, tenancy.DeviceID(id)); err != nil {
		http.Error(w, message(err), httpStatus(err))
		return
	}
	if pin, err = strconv.Atoi(r.URL.Query().Get("pin")); err != nil || pin < 0 || pin > datastream.MaxPin {
		http.Error(w, "pin must be 0..255", http.StatusBadRequest)
		return
	}
	if from, to, err = c.span(r.URL.Query()); err != nil {
		http.Error(w, message(err), http.StatusBadRequest)
		return
	}
	if c.hist == nil {
		http.Error(w, "no history on this cloud", http.StatusNotFound)
		return
	}
	return d, pin, from, to, true
}

// deviceSeries is GET /devices/{id}/series?pin=&range= (or from, to): the
// aggregated series as JSON for the chart.
func (c *Console) deviceSeries(w http.ResponseWriter, r *http.Request, s *session) {
	d, pin, from, to, ok := c.seriesDevice(w, r, s)
	if !ok {
		return
	}
	bs, width, err := c.hist.Aggregate(r.Context(), d.UID, pin, from, to, maxBuckets)
	if err != nil {
		c.log.ErrorContext(r.Context(), "aggregate failed", "device", d.ID, "pin", pin, "err", err)
		http.Error(w, message(err), httpStatus(err))
		return
	}
	out := webui.MakeSeries(from, to, width, bs)
	writeJSON(w, http.StatusOK, out)
}

// csvSafe keeps a device-written string from running as a formula when
// the export is opened in a spreadsheet: text starting with = + - @ or a
// control character gets a leading quote; numbers stay numbers.
func csvSafe(v string) string {
	if v == "" || !strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return v
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return v
	}
	return "'" + v
}

// deviceExport is GET /devices/{id}/export.csv?pin=&range= (or from, to):
// the raw values of the range, oldest first.
func (c *Console) deviceExport(w http.ResponseWriter, r *http.Request, s *session) {
	d, pin, from, to, ok := c.seriesDevice(w, r, s)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="device-%d-v%d-%s.csv"`, d.ID, pin, from.UTC().Format("20060102T1504")))
	cw := csv.NewWriter(w)
	cw.Write([]string{"time", "ts_ms", "value"})
	err := c.hist.Export(r.Context(), d.UID, pin, from, to, func(ts time.Time, v string) error {
		cw.Write([]string{ts.UTC().Format(time.RFC3339Nano), strconv.FormatInt(ts.UnixMilli(), 10), csvSafe(strings.ReplaceAll(v, "\x00", ","))})
		return cw.Error()
	})
	cw.Flush()
	if err != nil {
		c.log.ErrorContext(r.Context(), "export failed", "device", d.ID, "err", err)
	}
}
