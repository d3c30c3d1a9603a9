package cloud

import (
	"context"
	"time"

	"outpost/cloud/internal/console"
	"outpost/cloud/internal/siteregistry"
	"outpost/cloud/internal/telemetry"
	"outpost/cloud/internal/tenancy"
)

// consoleLive is the console's view of the gateways: the telemetry store
// for what they reported and the site registry for writes and site
// status, so a console write takes the API's path.
type consoleLive struct {
	*siteregistry.Registry
	store cloudStore
}

var _ console.Live = consoleLive{}

func (l consoleLive) DeviceState(ctx context.Context, uid string) (console.DeviceState, error) {
	var out console.DeviceState
	vals, err := l.store.DeviceValues(ctx, uid)
	if err != nil {
		return out, err
	}
	out.Values = make(map[int]console.Value, len(vals))
	for _, v := range vals {
		out.Values[v.Pin] = console.Value{Value: v.Value, TS: v.TS}
	}
	meta, err := l.store.ReportedMeta(ctx, uid)
	if err != nil {
		return out, err
	}
	out.Meta = make(map[string]console.Value, len(meta))
	for name, m := range meta {
		out.Meta[name] = console.Value{Value: m.Value, TS: m.TS}
	}
	st, ok, err := l.store.DeviceStatus(ctx, uid)
	if err != nil || !ok {
		return out, err
	}
	out.DeviceStatus = console.DeviceStatus{Online: st.Online, LastSeen: st.LastSeen, Gateway: siteregistry.GatewayOf(st.Gateway)}
	out.Info = st.Info
	return out, nil
}

func (l consoleLive) Timeline(ctx context.Context, uid, kind string, before int64, limit int) ([]console.Event, int64, error) {
	return l.store.TimelineOfKind(ctx, uid, kind, before, limit)
}

func (l consoleLive) Site(ctx context.Context, g tenancy.Gateway) (console.SiteStatus, error) {
	st, err := l.Registry.Site(ctx, g)
	return console.SiteStatus(st), err
}

// consoleHistory is the console's history: the telemetry store's
// aggregation (SQL over per-minute rollups) and raw export.
type consoleHistory struct{ store cloudStore }

var _ console.History = consoleHistory{}

func (h consoleHistory) Aggregate(ctx context.Context, uid string, pin int, from, to time.Time, maxBuckets int) ([]console.Bucket, time.Duration, error) {
	sr, err := h.store.Aggregate(ctx, uid, pin, from, to, maxBuckets)
	if err != nil {
		return nil, 0, err
	}
	out := make([]console.Bucket, len(sr.Buckets))
	for i, b := range sr.Buckets {
		out[i] = console.Bucket{Start: b.Start, Avg: b.Avg, Min: b.Min, Max: b.Max, Last: b.Last, Count: b.Count}
	}
	return out, sr.Width, nil
}

func (h consoleHistory) Export(ctx context.Context, uid string, pin int, from, to time.Time, each func(time.Time, string) error) error {
	return h.store.ExportHistory(ctx, uid, pin, from, to, func(pts []telemetry.HistoryPoint) error {
		for _, p := range pts {
			if err := each(p.TS, p.Value); err != nil {
				return err
			}
		}
		return nil
	})
}
