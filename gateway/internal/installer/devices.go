package installer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"outpost/gateway/internal/hub"
	"outpost/shared/datastream"
	"outpost/shared/webui"
)

// History is the device page's local history (the gateway's store).
type History interface {
	// Aggregate splits [from, to) into at most maxBuckets equal buckets and
	// returns the non-empty ones, oldest first, with their width.
	Aggregate(ctx context.Context, deviceID int64, pin int, from, to time.Time, maxBuckets int) ([]Bucket, time.Duration, error)
	// Events returns the device's latest events, newest first.
	Events(ctx context.Context, deviceID int64, limit int) ([]Event, error)
}

// Bucket is one aggregated stretch of a numeric datastream.
type Bucket = webui.Bucket

// Event is one event a device logged.
type Event struct {
	Code, Description string
	TS, ResolvedAt    time.Time // ResolvedAt zero while open
}

type deviceRow struct {
	hub.Device
	Template string // the template's name
	Online   bool
	Values   []string // "Name: value" of the first datastreams
}

type devicesData struct {
	Devices   []deviceRow
	Templates []datastream.Template
	Name      string // the add form, kept on an error
	Template  string
	Added     *addedDevice // the device just added: its token, shown once
}

// addedDevice is shown once after "add a device".
type addedDevice struct {
	hub.Device
	Token        string
	TokenQR      template.URL // data: URL of a PNG
	TemplateName string
	SketchTCP    string
	SketchTLS    string // "" without a TLS port
	TLSCA        bool   // the CA file can be downloaded
}

func (in *Installer) rows() []deviceRow {
	devs := in.o.Hub.Devices()
	slices.SortFunc(devs, func(a, b hub.Device) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	out := make([]deviceRow, 0, len(devs))
	for _, d := range devs {
		row := deviceRow{Device: d, Template: d.TemplateID, Online: in.o.Hub.Online(d.ID)}
		t, ok := in.o.Hub.Template(d.TemplateID)
		if ok && t.Name != "" {
			row.Template = t.Name
		}
		row.Values = in.summary(d.ID, t)
		out = append(out, row)
	}
	return out
}

// summary is the first few latest values of a device for the list.
func (in *Installer) summary(id int64, t datastream.Template) []string {
	var out []string
	for _, v := range in.o.Hub.Values(id) {
		ds, ok := datastreamOf(t, v.Pin)
		if !ok {
			continue
		}
		out = append(out, ds.Label()+": "+webui.Display(ds, v.Value)+unitSuffix(ds))
		if len(out) == 3 {
			break
		}
	}
	return out
}

func unitSuffix(ds datastream.Datastream) string {
	if ds.Units == "" {
		return ""
	}
	return " " + ds.Units
}

func datastreamOf(t datastream.Template, pin int) (datastream.Datastream, bool) {
	for _, ds := range t.Datastreams {
		if ds.Pin == pin {
			return ds, true
		}
	}
	return datastream.Datastream{}, false
}

func (in *Installer) devicesPage(w http.ResponseWriter, r *http.Request) {
	d := devicesData{Devices: in.rows(), Templates: in.o.Hub.Templates()}
	v := view{Title: "Devices", Nav: "devices", Scripts: []string{"installer.js"}, Data: &d}
	if r.URL.Query().Get("deleted") != "" {
		v.Notice = "The device was deleted; its token no longer works."
	}
	in.render(w, r, http.StatusOK, "devices", v)
}

// addDevice is POST /devices: the token is shown once, on the answer page.
func (in *Installer) addDevice(w http.ResponseWriter, r *http.Request) {
	d := devicesData{Templates: in.o.Hub.Templates(), Name: strings.TrimSpace(r.PostFormValue("name")), Template: r.PostFormValue("template")}
	v := view{Title: "Devices", Nav: "devices", Scripts: []string{"installer.js"}, Data: &d}
	fail := func(msg string) {
		d.Devices = in.rows()
		v.Error = msg
		in.render(w, r, http.StatusBadRequest, "devices", v)
	}
	if d.Name == "" || len(d.Name) > 128 {
		fail("Give the device a name (at most 128 characters).")
		return
	}
	t, ok := in.o.Hub.Template(d.Template)
	if !ok {
		fail("Choose a template.")
		return
	}
	dev, token, err := in.o.Hub.AddDevice(r.Context(), t.ID, d.Name)
	if err != nil {
		in.serverError(w, r, err)
		return
	}
	in.log.Info("device added", "device", dev.ID, "uid", dev.UID, "template", dev.TemplateID)
	st := in.o.Site.Status(r.Context())
	a := &addedDevice{Device: dev, Token: token, TemplateName: t.Name, TLSCA: st.TLSCA != ""}
	qr, err := qrDataURL(token)
	if err != nil {
		in.serverError(w, r, err)
		return
	}
	a.TokenQR = qr
	host := deviceHost(r, st)
	for _, e := range st.Endpoints {
		h, port, _ := net.SplitHostPort(e.Addr)
		if e.Wildcard || h == "" || isLoopbackHost(h) {
			h = host
		}
		switch e.Transport {
		case "Blynk TCP":
			a.SketchTCP = sketch(t, dev.Name, token, h, port, false)
		case "Blynk TLS":
			a.SketchTLS = sketch(t, dev.Name, token, h, port, true)
		}
	}
	d.Added, d.Name, d.Template = a, "", ""
	d.Devices = in.rows()
	v.Notice = "Device added. Copy its token now: it is shown only this once."
	w.Header().Set("Cache-Control", "no-store")
	in.render(w, r, http.StatusCreated, "devices", v)
}

// deviceHost is the host devices should dial on a port bound to every
// address: the one this page was reached at, unless that is loopback (a
// tunnel), then the box's first address as the gateway reports it.
func deviceHost(r *http.Request, st Status) string {
	h := r.Host
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	if h != "" && !isLoopbackHost(h) {
		return h
	}
	for _, e := range st.Endpoints {
		if hh, _, err := net.SplitHostPort(e.Addr); err == nil && hh != "" {
			return hh
		}
	}
	return "127.0.0.1"
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}

// sketch is the ready-to-paste head of an Arduino sketch for a device of
// this gateway (Blynk library 1.x).
func sketch(t datastream.Template, name, token, host, port string, tls bool) string {
	q := func(s string) string { return strconv.Quote(s) }
	var b strings.Builder
	fmt.Fprintf(&b, "#define BLYNK_TEMPLATE_ID   %s\n", q(t.ID))
	fmt.Fprintf(&b, "#define BLYNK_TEMPLATE_NAME %s\n", q(t.Name))
	fmt.Fprintf(&b, "#define BLYNK_AUTH_TOKEN    %s   // %s\n", q(token), name)
	b.WriteString("#include <WiFi.h>\n")
	if tls {
		b.WriteString("#include <BlynkSimpleEsp32_SSL.h>\n\n")
		b.WriteString("// the gateway's CA (ca.crt, downloaded from its installer page) as a C string\n")
		b.WriteString("static const char root_ca[] = \"-----BEGIN CERTIFICATE-----\\n\" /* … */;\n\n")
		b.WriteString("void setup() {\n")
		fmt.Fprintf(&b, "  Blynk.begin(BLYNK_AUTH_TOKEN, \"wifi-ssid\", \"wifi-pass\", %s, %s, root_ca);\n", q(host), port)
	} else {
		b.WriteString("#include <BlynkSimpleEsp32.h>\n\n")
		b.WriteString("void setup() {\n")
		fmt.Fprintf(&b, "  Blynk.begin(BLYNK_AUTH_TOKEN, \"wifi-ssid\", \"wifi-pass\", %s, %s);\n", q(host), port)
	}
	b.WriteString("}\nvoid loop() { Blynk.run(); }\n")
	return b.String()
}

func (in *Installer) lookup(w http.ResponseWriter, r *http.Request) (hub.Device, datastream.Template, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var d hub.Device
	ok := err == nil
	if ok {
		d, ok = in.o.Hub.Device(id)
	}
	if !ok {
		in.errorPage(w, r, http.StatusNotFound, "Not found", "There is no such device on this gateway.")
		return d, datastream.Template{}, false
	}
	t, _ := in.o.Hub.Template(d.TemplateID)
	return d, t, true
}

func (in *Installer) deleteDevice(w http.ResponseWriter, r *http.Request) {
	d, _, ok := in.lookup(w, r)
	if !ok {
		return
	}
	if err := in.o.Hub.DeleteDevice(r.Context(), d.ID); err != nil {
		in.serverError(w, r, err)
		return
	}
	in.log.Info("device deleted", "device", d.ID, "uid", d.UID)
	http.Redirect(w, r, "/devices?deleted=1", http.StatusSeeOther)
}

// renameDevice is POST /devices/{id}/rename (name). On a site claimed into
// a cloud, the cloud owns names: its next tenancy update wins.
func (in *Installer) renameDevice(w http.ResponseWriter, r *http.Request) {
	d, _, ok := in.lookup(w, r)
	if !ok {
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" || len(name) > 128 {
		in.errorPage(w, r, http.StatusBadRequest, "Not renamed", "A name has 1 to 128 characters.")
		return
	}
	old := d.Name
	d.Name = name
	if _, err := in.o.Hub.UpsertDevice(r.Context(), d); err != nil {
		in.serverError(w, r, err)
		return
	}
	in.log.Info("device renamed", "device", d.ID, "uid", d.UID, "was", old, "name", name)
	http.Redirect(w, r, fmt.Sprintf("/devices/%d?renamed=1", d.ID), http.StatusSeeOther)
}

type eventRow struct {
	Code, Description string
	TS, Resolved      time.Time
}

type deviceData struct {
	Device   hub.Device
	Template datastream.Template
	Online   bool
	LastSeen time.Time // the newest value's time
	// CloudNames: a cloud is configured; it owns device names once claimed.
	CloudNames bool
	Tiles      []webui.Tile
	Charts     []webui.Tile
	Events     []eventRow
}

// devicePageAssets is what the device page loads (its weight is measured).
var devicePageAssets = []string{"style.css", "installer.css", "device.js", "installer.js", "chart.js", "live.js"}

func (in *Installer) devicePage(w http.ResponseWriter, r *http.Request) {
	d, t, ok := in.lookup(w, r)
	if !ok {
		return
	}
	dd := deviceData{Device: d, Template: t, Online: in.o.Hub.Online(d.ID)}
	vals := map[int]hub.PinValue{}
	for _, v := range in.o.Hub.Values(d.ID) {
		vals[v.Pin] = v
		if t := time.UnixMilli(v.TS); v.TS != 0 && t.After(dd.LastSeen) {
			dd.LastSeen = t
		}
	}
	for _, ds := range t.Datastreams {
		v := vals[ds.Pin]
		var ts time.Time
		if v.TS != 0 {
			ts = time.UnixMilli(v.TS)
		}
		tl := webui.MakeTile(ds, v.Value, ts, true)
		dd.Tiles = append(dd.Tiles, tl)
		if tl.Chart && in.o.History != nil {
			dd.Charts = append(dd.Charts, tl)
		}
	}
	if in.o.History != nil {
		es, err := in.o.History.Events(r.Context(), d.ID, 20)
		if err != nil {
			in.serverError(w, r, err)
			return
		}
		for _, e := range es {
			dd.Events = append(dd.Events, eventRow{Code: e.Code, Description: e.Description, TS: e.TS, Resolved: e.ResolvedAt})
		}
	}
	dd.CloudNames = in.o.Site.Status(r.Context()).Cloud.Configured
	v := view{Title: d.Name, Nav: "devices", Scripts: []string{"device.js", "installer.js"}, Data: &dd}
	if r.URL.Query().Get("renamed") != "" {
		v.Notice = "Renamed."
	}
	in.render(w, r, http.StatusOK, "device", v)
}

type writeResult struct {
	Result  string `json:"result"`
	Message string `json:"message"`
}

// deviceWrite is POST /devices/{id}/write (pin, value): a control write,
// the same path as a write from the cloud.
func (in *Installer) deviceWrite(w http.ResponseWriter, r *http.Request) {
	d, _, ok := in.lookup(w, r)
	if !ok {
		return
	}
	pin, err := strconv.Atoi(r.PostFormValue("pin"))
	res, st := writeResult{"applied", "Applied"}, http.StatusOK
	if err != nil || pin < 0 || pin > datastream.MaxPin {
		res, st = writeResult{"invalid", "Pin must be 0..255"}, http.StatusBadRequest
	} else {
		var items [][]byte
		for _, it := range strings.Split(r.PostFormValue("value"), "\x00") {
			items = append(items, []byte(it))
		}
		if _, err := in.o.Hub.ControlWrite(d.ID, pin, items, in.o.Now().UnixMilli(), "installer"); err != nil {
			switch {
			case errors.Is(err, hub.ErrNoDevice):
				res, st = writeResult{"notfound", "No such device"}, http.StatusNotFound
			default:
				res, st = writeResult{"invalid", "Not applied: " + plain(err)}, http.StatusBadRequest
			}
		}
	}
	if !strings.Contains(r.Header.Get("Accept"), "application/json") {
		http.Redirect(w, r, fmt.Sprintf("/devices/%d?write=%s", d.ID, url.QueryEscape(res.Result)), http.StatusSeeOther)
		return
	}
	writeJSONStatus(w, st, res)
}

// plain is an error for people: the last part of a wrapped message.
func plain(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}

func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

var ranges = map[string]time.Duration{"live": 15 * time.Minute, "1h": time.Hour, "6h": 6 * time.Hour, "1d": 24 * time.Hour,
	"1w": 7 * 24 * time.Hour, "1mo": 30 * 24 * time.Hour, "3mo": 90 * 24 * time.Hour}

const maxBuckets = 1000

// deviceSeries is GET /devices/{id}/series?pin=&range= (or from, to in
// ms): the chart's buckets, aggregated in SQLite.
func (in *Installer) deviceSeries(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	d, ok := in.o.Hub.Device(id)
	if err != nil || !ok || in.o.History == nil {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	pin, err := strconv.Atoi(q.Get("pin"))
	if err != nil || pin < 0 || pin > datastream.MaxPin {
		http.Error(w, "pin must be 0..255", http.StatusBadRequest)
		return
	}
	var from, to time.Time
	if span, ok := ranges[q.Get("range")]; ok {
		to = in.o.Now().Add(time.Millisecond) // the range ends now, included
		from = to.Add(-span)
	} else {
		f, ferr := strconv.ParseInt(q.Get("from"), 10, 64)
		t, terr := strconv.ParseInt(q.Get("to"), 10, 64)
		if ferr != nil || terr != nil || f >= t || t-f > int64(5*366*24*time.Hour/time.Millisecond) {
			http.Error(w, "give range=live|1h|6h|1d|1w|1mo|3mo, or from and to in ms (to > from, at most 5 years)", http.StatusBadRequest)
			return
		}
		from, to = time.UnixMilli(f), time.UnixMilli(t)
	}
	bs, width, err := in.o.History.Aggregate(r.Context(), d.ID, pin, from, to, maxBuckets)
	if err != nil {
		in.log.ErrorContext(r.Context(), "aggregate failed", "device", d.ID, "pin", pin, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	out := webui.MakeSeries(from, to, width, bs)
	writeJSONStatus(w, http.StatusOK, out)
}

// liveBuffer bounds the updates waiting for one device page.
const liveBuffer = 256

// deviceLive is GET /devices/{id}/live: the device's values, online state
// and events as server-sent events, as the hub accepts them.
func (in *Installer) deviceLive(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if _, ok := in.o.Hub.Device(id); err != nil || !ok {
		http.NotFound(w, r)
		return
	}
	ch := make(chan hub.Record, liveBuffer)
	cancel := in.o.Hub.Subscribe(func(u hub.Update) {
		if u.Record.DeviceID != id {
			return
		}
		select {
		case ch <- u.Record:
		default: // a stalled page loses updates, never the hub's time
		}
	})
	defer cancel()
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	if rc.Flush() != nil {
		return
	}
	ping := time.NewTicker(25 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-in.done:
			return
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
		case rec := <-ch:
			writeRecord(w, rec)
			for n := len(ch); n > 0; n-- {
				writeRecord(w, <-ch)
			}
		}
		if rc.Flush() != nil {
			return
		}
	}
}

func writeRecord(w http.ResponseWriter, rec hub.Record) {
	var typ string
	var v any
	switch rec.Kind {
	case hub.KindWrite:
		typ, v = "value", map[string]any{"pin": rec.Pin, "value": rec.Value, "ts": rec.TS}
	case hub.KindOnline:
		typ, v = "status", map[string]any{"online": true, "ts": rec.TS, "transport": rec.Name}
	case hub.KindOffline:
		typ, v = "status", map[string]any{"online": false, "ts": rec.TS}
	case hub.KindEvent:
		typ, v = "event", map[string]any{"kind": "event", "code": rec.Name, "description": rec.Value, "ts": rec.TS}
	default:
		return
	}
	b, _ := json.Marshal(v)
	fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, b)
}

// devicesLive is GET /devices/live: the list's online states and values,
// sent when they change (read every two seconds while the page is open).
func (in *Installer) devicesLive(w http.ResponseWriter, r *http.Request) {
	in.stream(w, r, 2*time.Second, func() (string, any) {
		type row struct {
			ID     int64    `json:"id"`
			Online bool     `json:"online"`
			Values []string `json:"values"`
		}
		rows := in.rows()
		out := make([]row, len(rows))
		for i, d := range rows {
			out[i] = row{d.ID, d.Online, d.Values}
		}
		return "devices", out
	})
}
