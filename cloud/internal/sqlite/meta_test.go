package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"outpost/cloud/internal/telemetry"
	"outpost/shared/syncproto"
)

func TestReportedMeta(t *testing.T) {
	st := newSite(t)
	ctx := context.Background()
	u := st.mine.UID
	must(t, st.s.Apply(ctx, st.gw, 1, []syncproto.Item{
		{Seq: 1, Kind: syncproto.KindMeta, Device: u, Name: "Serial Number", Value: "SN-1", TS: 1000},
		{Seq: 2, Kind: syncproto.KindMeta, Device: u, Name: "Serial Number", Value: "SN-2", TS: 1001},
		{Seq: 3, Kind: syncproto.KindProperty, Device: u, Pin: 1, Name: "color", Value: "#fff", TS: 1002}, // not metadata
		{Seq: 4, Kind: syncproto.KindMeta, Device: st.other.UID, Name: "Serial Number", Value: "X", TS: 1003},
	}, 4))
	got, err := st.s.ReportedMeta(ctx, u)
	must(t, err)
	if diff := cmp.Diff(map[string]telemetry.MetaValue{"Serial Number": {Value: "SN-2", TS: time.UnixMilli(1001)}}, got); diff != "" {
		t.Fatal(diff)
	}
}
