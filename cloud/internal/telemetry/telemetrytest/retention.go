package telemetrytest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"outpost/cloud/internal/telemetry"
	"outpost/cloud/internal/tenancy"
	"outpost/shared/syncproto"
)

// testDeleteHistoryBefore: retention deletes the points older than the
// cutoff of the named organizations' devices only (not those of other
// organizations, above or below), however many batches that takes, and
// leaves the latest values.
func testDeleteHistoryBefore(t *testing.T, newStore func(t *testing.T) Store) {
	st := NewSite(t, newStore(t))
	ctx := context.Background()
	sub := tenancy.Org{ParentID: st.Mine.OrgID, Name: "Sub", Type: tenancy.OrgBusiness}
	must(t, st.S.CreateOrg(ctx, &sub))
	subDev := tenancy.Device{OrgID: sub.ID, TemplateID: st.Mine.TemplateID, Name: "sub", Token: "sub", TokenHash: tenancy.HashToken("sub")}
	must(t, st.S.CreateDevice(ctx, &subDev))
	base := T0.UnixMilli()
	const n = 12_000 // more than one batch of either store
	var seq int64
	var items []syncproto.Item
	for i := range n {
		for _, uid := range []string{st.Mine.UID, subDev.UID} {
			seq++
			items = append(items, syncproto.Item{Seq: seq, Kind: syncproto.KindWrite, Device: uid, Pin: 1, Value: strconv.Itoa(i), TS: base + int64(i)})
		}
		if len(items) >= 1000 || i == n-1 {
			must(t, st.S.Apply(ctx, st.GW, 1, items, seq))
			items = nil
		}
	}
	count := func(uid string) int {
		t.Helper()
		var got int
		must(t, st.S.ExportHistory(ctx, uid, 1, T0.Add(-time.Hour), T0.Add(time.Hour), func(p []telemetry.HistoryPoint) error {
			got += len(p)
			return nil
		}))
		return got
	}
	cut := T0.Add(11_000 * time.Millisecond) // keeps the last 1,000 points
	del, err := st.S.DeleteHistoryBefore(ctx, []tenancy.OrgID{sub.ID}, cut)
	must(t, err)
	if del != 11_000 || count(subDev.UID) != 1_000 || count(st.Mine.UID) != n {
		t.Fatalf("deleted %d (want 11,000); kept %d of the sub-org's device (want 1,000) and %d of its parent's (want all %d)",
			del, count(subDev.UID), count(st.Mine.UID), n)
	}
	if del, err := st.S.DeleteHistoryBefore(ctx, []tenancy.OrgID{sub.ID}, cut); err != nil || del != 0 {
		t.Fatalf("again: %d %v, want nothing left to delete", del, err)
	}
	vals, err := st.S.DeviceValues(ctx, subDev.UID)
	must(t, err)
	if len(vals) != 1 || vals[0].Value != strconv.Itoa(n-1) {
		t.Fatalf("the latest value after retention: %+v", vals)
	}
}
