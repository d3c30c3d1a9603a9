package console

import (
	"cmp"
	"net/http"
	"slices"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/syncproto"
)

// openScan bounds the timeline entries read to find the open events.
const openScan = 500

// openEvents returns the device's critical events not resolved yet, newest
// first: a critical event stays open until the device resolves it
// (resolveEvent: a clear of its code resolves the latest open one, a clear
// with "all" every open one of the code). Only the latest openScan
// timeline entries are read: an event older than those is not shown.
func (c *Console) openEvents(r *http.Request, d tenancy.Device, t tenancy.Template) ([]Event, error) {
	critical := map[string]bool{}
	for _, e := range t.Def.Events {
		if e.Type == "critical" {
			critical[e.Code] = true
		}
	}
	if len(critical) == 0 {
		return nil, nil
	}
	es, _, err := c.live.Timeline(r.Context(), d.UID, "", 0, openScan)
	if err != nil {
		return nil, err
	}
	return stillOpen(es, critical), nil
}

// stillOpen replays timeline entries (newest first, as the timeline gives
// them) and returns the events of the codes in track still open, newest
// first.
func stillOpen(es []Event, track map[string]bool) []Event {
	open := map[string][]Event{}
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		if !track[e.Code] {
			continue
		}
		switch e.Kind {
		case string(syncproto.KindEvent):
			open[e.Code] = append(open[e.Code], e)
		case string(syncproto.KindClear):
			if e.Description == "all" {
				delete(open, e.Code)
			} else if n := len(open[e.Code]); n > 0 {
				open[e.Code] = open[e.Code][:n-1]
			}
		}
	}
	var out []Event
	for _, l := range open {
		out = append(out, l...)
	}
	slices.SortFunc(out, func(a, b Event) int { return cmp.Compare(b.ID, a.ID) })
	return out
}
