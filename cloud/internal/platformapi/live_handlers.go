package platformapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"outpost/cloud/internal/tenancy"
)

// Live is what the API shows and does of devices served by gateways: their
// state as the gateways reported it, control writes sent down as commands,
// and the status of sites. The cloud wiring implements it over
// cloud/internal/gatewaysync and the telemetry store; nil: devices have no
// live state and writes answer 404.
//
// Errors are tenancy-coded (NotFound, Invalid, Conflict…) so they map to
// statuses like every other error of the API.
type Live interface {
	DeviceLive(ctx context.Context, d tenancy.Device) (DeviceLive, error)
	History(ctx context.Context, d tenancy.Device, pin int, before int64, limit int) (points []HistoryPoint, next int64, err error)
	Timeline(ctx context.Context, d tenancy.Device, before int64, limit int) (events []TimelineEvent, next int64, err error)
	// Write sends a control write to the device's gateway and returns once
	// the gateway applied it.
	Write(ctx context.Context, a tenancy.Actor, d tenancy.Device, pin int, value string) error
	Site(ctx context.Context, g tenancy.Gateway) (SiteStatus, error)
	// GatewayReleased is called after a release: the site's link must end.
	GatewayReleased(g tenancy.GatewayID)
}

// DeviceLive is a device's latest state.
type DeviceLive struct {
	Online   bool
	LastSeen time.Time
	Values   map[int]string // by pin, items NUL-joined
}

// HistoryPoint is one raw datastream value.
type HistoryPoint struct {
	ID    int64
	Value string
	TS    time.Time
}

// TimelineEvent is one event or connection change of a device.
type TimelineEvent struct {
	ID          int64
	Kind        string
	Code        string
	Description string
	TS          time.Time
	Source      string // what logged it: a transport, "automation:<id>"
	// Shown is false for an event whose template event has "show on the
	// timeline" off (the console's timeline leaves it out).
	Shown bool
	// ResolvedAt is when an event was resolved (zero: open), ResolvedBy
	// by whom ("device", "user:<id>", "client:<id>"), with Comment.
	ResolvedAt time.Time
	ResolvedBy string
	Comment    string
}

// Events resolves device events (cloud/internal/events); nil: the
// resolve route answers 404. Errors are tenancy-coded.
type Events interface {
	Resolve(ctx context.Context, a tenancy.Actor, device tenancy.DeviceID, id int64, comment string) (TimelineEvent, error)
}

// SiteStatus is what the cloud knows of a gateway's site.
type SiteStatus struct {
	Connected     bool
	LastSeen      time.Time
	Software      string
	Backlog       int64
	DevicesOnline int
}

func (c *call) live() (Live, error) {
	if c.api.live == nil {
		return nil, tenancy.Errorf(tenancy.NotFound, "no live device data on this cloud")
	}
	return c.api.live, nil
}

// liveDevice loads the device for a read (its view permission).
func (c *call) liveDevice() (tenancy.Device, Live, error) {
	id, err := c.deviceID()
	if err != nil {
		return tenancy.Device{}, nil, err
	}
	d, err := c.api.svc.Device(c.ctx, c.actor, id)
	if err != nil {
		return d, nil, err
	}
	l, err := c.live()
	return d, l, err
}

type deviceLiveJSON struct {
	deviceJSON
	Connected        bool           `json:"connected"`
	LastReportedAt   int64          `json:"lastReportedAt"`
	DataStreamValues []pinValueJSON `json:"dataStreamValues"`
}

type pinValueJSON struct {
	DataStreamID int    `json:"dataStreamId"`
	Pin          string `json:"pin"`
	Value        string `json:"value"`
}

// getDeviceLive is GET /organization/device: the device with its values
// and connection status.
func (c *call) getDeviceLive() error {
	id, err := c.deviceID()
	if err != nil {
		return err
	}
	d, err := c.api.svc.Device(c.ctx, c.actor, id)
	if err != nil {
		return err
	}
	out := deviceLiveJSON{deviceJSON: toDevice(d), DataStreamValues: []pinValueJSON{}}
	if c.api.live == nil {
		return c.json(http.StatusOK, out)
	}
	st, err := c.api.live.DeviceLive(c.ctx, d)
	if err != nil {
		return err
	}
	out.Connected, out.LastReportedAt = st.Online, ms(st.LastSeen)
	for _, p := range sortedPins(st.Values) {
		out.DataStreamValues = append(out.DataStreamValues, pinValueJSON{DataStreamID: p, Pin: "v" + strconv.Itoa(p),
			Value: strings.ReplaceAll(st.Values[p], "\x00", ",")})
	}
	return c.json(http.StatusOK, out)
}

// siteJSON is a gateway with its site status.
type siteJSON struct {
	gatewayJSON
	Connected     bool   `json:"connected"`
	LastSeen      int64  `json:"lastSeen"`
	Software      string `json:"software,omitempty"`
	Backlog       int64  `json:"backlog"`
	DevicesOnline int    `json:"devicesOnline"`
}

func (c *call) site(g tenancy.Gateway) (siteJSON, error) {
	out := siteJSON{gatewayJSON: toGateway(g)}
	if c.api.live == nil {
		return out, nil
	}
	st, err := c.api.live.Site(c.ctx, g)
	if err != nil {
		return out, err
	}
	out.Connected, out.LastSeen, out.Software, out.Backlog, out.DevicesOnline =
		st.Connected, ms(st.LastSeen), st.Software, st.Backlog, st.DevicesOnline
	return out, nil
}

func sortedPins(m map[int]string) []int {
	out := make([]int, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// deviceOnline is GET /organization/device/online.
func (c *call) deviceOnline() error {
	d, l, err := c.liveDevice()
	if err != nil {
		return err
	}
	st, err := l.DeviceLive(c.ctx, d)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, struct {
		Connected bool `json:"connected"`
	}{st.Online})
}

// deviceValues is GET /organization/device/datastreams?pins=v1,v2: latest
// values keyed "v<pin>" (all pins when pins is absent).
func (c *call) deviceValues() error {
	d, l, err := c.liveDevice()
	if err != nil {
		return err
	}
	st, err := l.DeviceLive(c.ctx, d)
	if err != nil {
		return err
	}
	want := map[int]bool{}
	if q := c.query("pins"); q != "" {
		for _, s := range strings.Split(q, ",") {
			p, err := parsePin(s)
			if err != nil {
				return err
			}
			want[p] = true
		}
	}
	out := map[string]string{}
	for p, v := range st.Values {
		if len(want) == 0 || want[p] {
			out["v"+strconv.Itoa(p)] = strings.ReplaceAll(v, "\x00", ",")
		}
	}
	return c.json(http.StatusOK, out)
}

// parsePin accepts "5", "v5" or "V5" (virtual pins, 0..255).
func parsePin(s string) (int, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "v"), "V")
	p, err := strconv.Atoi(s)
	if err != nil || p < 0 || p > 255 {
		return 0, badRequest("pin must be 0..255 (optionally prefixed v)")
	}
	return p, nil
}

// writeDatastream is POST /organization/device/datastream {deviceId,
// dataStreamId, value}: sent to the device's gateway as a command; 204 once
// the gateway applied it.
func (c *call) writeDatastream() error {
	var in struct {
		DeviceID     tenancy.DeviceID `json:"deviceId"`
		DataStreamID any              `json:"dataStreamId"`
		Value        any              `json:"value"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	pin, err := parsePin(anyString(in.DataStreamID))
	if err != nil {
		return err
	}
	return c.write(in.DeviceID, map[int]string{pin: anyString(in.Value)})
}

// writeDatastreams is POST /organization/device/datastreams {deviceId,
// values{"<dsId>": v}}.
func (c *call) writeDatastreams() error {
	var in struct {
		DeviceID tenancy.DeviceID `json:"deviceId"`
		Values   map[string]any   `json:"values"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	if len(in.Values) == 0 {
		return badRequest("values is required")
	}
	vals := map[int]string{}
	for k, v := range in.Values {
		pin, err := parsePin(k)
		if err != nil {
			return err
		}
		vals[pin] = anyString(v)
	}
	return c.write(in.DeviceID, vals)
}

func (c *call) write(id tenancy.DeviceID, vals map[int]string) error {
	if id <= 0 {
		return badRequest("deviceId is required")
	}
	d, err := c.api.svc.CheckDevice(c.ctx, c.actor, id, tenancy.OrgDevicesControl)
	if err != nil {
		return err
	}
	l, err := c.live()
	if err != nil {
		return err
	}
	for _, p := range sortedPins(vals) {
		if err := l.Write(c.ctx, c.actor, d, p, vals[p]); err != nil {
			return err
		}
	}
	return c.noContent()
}

// anyString renders a JSON scalar (string, number, bool) or an array of
// them (NUL-joined, a multi-value write) as the device sees it.
func anyString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		if x {
			return "1"
		}
		return "0"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = anyString(e)
		}
		return strings.Join(parts, "\x00")
	default:
		return ""
	}
}

type historyJSON struct {
	Content []historyPointJSON `json:"content"`
	Next    int64              `json:"next,omitempty"`
}

type historyPointJSON struct {
	ID        int64  `json:"id"`
	CreatedAt int64  `json:"createdAt"`
	Value     string `json:"value"`
}

// liveCursor reads the keyset cursor ("before": the last id of the
// previous page) and the page size.
func (c *call) liveCursor() (before int64, size int, err error) {
	before, err = c.optID("before")
	if err != nil {
		return 0, 0, err
	}
	p, err := c.page()
	if err != nil {
		return 0, 0, err
	}
	return before, p.Size, nil
}

// deviceHistory is GET /organization/device/datastream/history?deviceId=&pin=
// newest first, keyset-paged with before=<next>.
func (c *call) deviceHistory() error {
	d, l, err := c.liveDevice()
	if err != nil {
		return err
	}
	pin, err := parsePin(c.query("pin"))
	if err != nil {
		return err
	}
	before, size, err := c.liveCursor()
	if err != nil {
		return err
	}
	pts, next, err := l.History(c.ctx, d, pin, before, size)
	if err != nil {
		return err
	}
	out := historyJSON{Content: []historyPointJSON{}, Next: next}
	for _, p := range pts {
		out.Content = append(out.Content, historyPointJSON{ID: p.ID, CreatedAt: ms(p.TS), Value: strings.ReplaceAll(p.Value, "\x00", ",")})
	}
	return c.json(http.StatusOK, out)
}

type timelineJSON struct {
	Content []timelineEventJSON `json:"content"`
	Next    int64               `json:"next,omitempty"`
}

type timelineEventJSON struct {
	ID          int64         `json:"id"`
	OrgID       tenancy.OrgID `json:"orgId"`
	EventType   string        `json:"eventType"`
	EventCode   string        `json:"eventCode,omitempty"`
	Description string        `json:"description,omitempty"`
	TS          int64         `json:"ts"`
	Source      string        `json:"source,omitempty"`
	Shown       bool          `json:"shownOnTimeline"`
	ResolvedAt  int64         `json:"resolvedAt,omitempty"`
	ResolvedBy  string        `json:"resolvedBy,omitempty"`
	Comment     string        `json:"resolveComment,omitempty"`
}

func timelineEvent(org tenancy.OrgID, e TimelineEvent) timelineEventJSON {
	return timelineEventJSON{ID: e.ID, OrgID: org, EventType: strings.ToUpper(e.Kind), EventCode: e.Code,
		Description: e.Description, TS: ms(e.TS), Source: e.Source, Shown: e.Shown, ResolvedAt: ms(e.ResolvedAt),
		ResolvedBy: e.ResolvedBy, Comment: e.Comment}
}

// deviceTimeline is GET /organization/device/timeline?deviceId=: events
// and connection changes, newest first; shown=true leaves out the events
// the console's timeline does not show (a page may then hold fewer than
// size entries; next still pages on).
func (c *call) deviceTimeline() error {
	d, l, err := c.liveDevice()
	if err != nil {
		return err
	}
	before, size, err := c.liveCursor()
	if err != nil {
		return err
	}
	shownOnly := false
	switch c.query("shown") {
	case "", "false":
	case "true":
		shownOnly = true
	default:
		return badRequest("shown must be true or false")
	}
	es, next, err := l.Timeline(c.ctx, d, before, size)
	if err != nil {
		return err
	}
	out := timelineJSON{Content: []timelineEventJSON{}, Next: next}
	for _, e := range es {
		if shownOnly && !e.Shown {
			continue
		}
		out.Content = append(out.Content, timelineEvent(d.OrgID, e))
	}
	return c.json(http.StatusOK, out)
}

// resolveEvent is POST /organization/device/event/resolve?deviceId=&eventId=
// with {"comment": …}: a person resolves an open critical or warning
// event of the device (ORG_DEVICES_CONTROL, or own).
func (c *call) resolveEvent() error {
	if c.api.events == nil {
		return tenancy.Errorf(tenancy.NotFound, "no events on this cloud")
	}
	dev, err := c.deviceID()
	if err != nil {
		return err
	}
	id, err := c.id("eventId")
	if err != nil {
		return err
	}
	var in struct {
		Comment string `json:"comment"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	e, err := c.api.events.Resolve(c.ctx, c.actor, dev, id, in.Comment)
	if err != nil {
		return err
	}
	d, err := c.api.svc.Device(c.ctx, c.actor, dev)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, timelineEvent(d.OrgID, e))
}
