package cloud

import (
	"context"

	"outpost/cloud/internal/events"
	"outpost/cloud/internal/platformapi"
	"outpost/cloud/internal/siteregistry"
	"outpost/cloud/internal/telemetry"
	"outpost/cloud/internal/tenancy"
)

// apiLive is the Platform API's view of the sites: the telemetry store for
// what the gateways reported, the site registry for writes and status.
type apiLive struct {
	*siteregistry.Registry
	store cloudStore
}

var _ platformapi.Live = apiLive{}

func (s apiLive) DeviceLive(ctx context.Context, d tenancy.Device) (platformapi.DeviceLive, error) {
	var out platformapi.DeviceLive
	vals, err := s.store.DeviceValues(ctx, d.UID)
	if err != nil {
		return out, err
	}
	out.Values = make(map[int]string, len(vals))
	for _, v := range vals {
		out.Values[v.Pin] = v.Value
	}
	st, ok, err := s.store.DeviceStatus(ctx, d.UID)
	if err != nil || !ok {
		return out, err
	}
	out.Online, out.LastSeen = st.Online, st.LastSeen
	return out, nil
}

func (s apiLive) History(ctx context.Context, d tenancy.Device, pin int, before int64, limit int) ([]platformapi.HistoryPoint, int64, error) {
	pts, next, err := s.store.History(ctx, d.UID, pin, before, limit)
	out := make([]platformapi.HistoryPoint, len(pts))
	for i, p := range pts {
		out[i] = platformapi.HistoryPoint{ID: p.ID, Value: p.Value, TS: p.TS}
	}
	return out, next, err
}

func (s apiLive) Timeline(ctx context.Context, d tenancy.Device, before int64, limit int) ([]platformapi.TimelineEvent, int64, error) {
	es, next, err := s.store.Timeline(ctx, d.UID, before, limit)
	if err != nil {
		return nil, 0, err
	}
	var hidden map[string]bool
	if t, err := s.store.GetTemplate(ctx, d.TemplateID); err == nil {
		hidden = events.Hidden(&t)
	}
	out := make([]platformapi.TimelineEvent, len(es))
	for i, e := range es {
		out[i] = apiEvent(e, !(e.Kind == "event" && hidden[e.Code]))
	}
	return out, next, nil
}

func apiEvent(e telemetry.TimelineEntry, shown bool) platformapi.TimelineEvent {
	return platformapi.TimelineEvent{ID: e.ID, Kind: e.Kind, Code: e.Code, Description: e.Description, TS: e.TS,
		Source: e.Source, Shown: shown, ResolvedAt: e.ResolvedAt, ResolvedBy: e.ResolvedBy, Comment: e.Comment}
}

// apiEvents is the API's resolution of events.
type apiEvents struct{ *events.Service }

func (a apiEvents) Resolve(ctx context.Context, act tenancy.Actor, device tenancy.DeviceID, id int64, comment string) (platformapi.TimelineEvent, error) {
	e, err := a.Service.Resolve(ctx, act, device, id, comment)
	return apiEvent(e, true), err
}

func (s apiLive) Site(ctx context.Context, g tenancy.Gateway) (platformapi.SiteStatus, error) {
	st, err := s.Registry.Site(ctx, g)
	return platformapi.SiteStatus(st), err
}
