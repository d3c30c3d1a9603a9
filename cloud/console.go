package cloud

import (
	"context"
	"strconv"

	"outpost/cloud/internal/console"
	"outpost/cloud/internal/tenancy"
)

// consoleLive is the console's view of the gateways: the telemetry store
// for what they reported and sites (the Platform API's Live) for writes
// and site status, so a console write takes the API's path.
type consoleLive struct{ *sites }

var _ console.Live = consoleLive{}

func gatewayOf(key string) tenancy.GatewayID {
	id, _ := strconv.ParseInt(key, 10, 64)
	return tenancy.GatewayID(id)
}

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
	st, ok, err := l.store.DeviceStatus(ctx, uid)
	if err != nil || !ok {
		return out, err
	}
	out.DeviceStatus = console.DeviceStatus{Online: st.Online, LastSeen: st.LastSeen, Gateway: gatewayOf(st.Gateway)}
	out.Info = st.Info
	return out, nil
}

func (l consoleLive) Statuses(ctx context.Context, uids []string) (map[string]console.DeviceStatus, error) {
	out := make(map[string]console.DeviceStatus, len(uids))
	for _, uid := range uids {
		st, ok, err := l.store.DeviceStatus(ctx, uid)
		if err != nil {
			return nil, err
		}
		if ok {
			out[uid] = console.DeviceStatus{Online: st.Online, LastSeen: st.LastSeen, Gateway: gatewayOf(st.Gateway)}
		}
	}
	return out, nil
}

func (l consoleLive) Timeline(ctx context.Context, uid string, before int64, limit int) ([]console.Event, int64, error) {
	es, next, err := l.store.Timeline(ctx, uid, before, limit)
	out := make([]console.Event, len(es))
	for i, e := range es {
		out[i] = console.Event{ID: e.ID, Kind: e.Kind, Code: e.Code, Description: e.Description, TS: e.TS}
	}
	return out, next, err
}

func (l consoleLive) Site(ctx context.Context, g tenancy.Gateway) (console.SiteStatus, error) {
	st, err := l.sites.Site(ctx, g)
	return console.SiteStatus(st), err
}
