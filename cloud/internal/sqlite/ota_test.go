package sqlite

import (
	"context"
	"strconv"
	"testing"
	"time"

	"outpost/cloud/internal/ota"
	"outpost/shared/syncproto"
)

// A gateway's KindOTA items land in the status table, keeping the owner's
// approval; an item naming a shipment that no longer exists is dropped.
func TestApplyOTAStatus(t *testing.T) {
	st := newSite(t)
	ctx := context.Background()
	fid, err := st.s.CreateFirmware(ctx, ota.Firmware{RootID: st.mine.OrgID, TemplateID: st.mine.TemplateID, Name: "f.bin",
		Size: 10, Version: "2", Type: string(st.mine.TemplateID), Build: "b", CreatedAt: time.Now()})
	must(t, err)
	sid, err := st.s.CreateShipment(ctx, ota.Shipment{RootID: st.mine.OrgID, Name: "s", FirmwareID: fid, TemplateID: st.mine.TemplateID,
		Window: ota.AnyTime, Rule: ota.LowerVersion, Attempts: 3, UserControlled: true, State: ota.Live, CreatedAt: time.Now(), UpdatedAt: time.Now()})
	must(t, err)
	must(t, st.s.PutDeviceStatus(ctx, ota.DeviceStatus{ShipmentID: sid, DeviceID: st.mine.ID, Status: ota.AwaitingUser, Approved: true, UpdatedAt: time.Now()}))
	items := []syncproto.Item{
		{Seq: 1, Kind: syncproto.KindOTA, Device: st.mine.UID, Name: strconv.FormatInt(int64(sid), 10), TS: 1000, Source: "local",
			Value: syncproto.EncodeOTA(syncproto.OTAStatus{Status: "downloaded", Attempts: 1, Version: "1"})},
		{Seq: 2, Kind: syncproto.KindOTA, Device: st.mine.UID, Name: "99", TS: 1001, Source: "local",
			Value: syncproto.EncodeOTA(syncproto.OTAStatus{Status: "success"})},
		{Seq: 3, Kind: syncproto.KindOTA, Device: st.mine.UID, Name: strconv.FormatInt(int64(sid), 10), TS: 1002, Source: "local",
			Value: syncproto.EncodeOTA(syncproto.OTAStatus{Status: "success", Attempts: 1, Version: "2", Detail: "d"})},
	}
	must(t, st.s.Apply(ctx, st.gw, 1, items, 3))
	rows, err := st.s.DeviceStatuses(ctx, sid)
	must(t, err)
	if len(rows) != 1 {
		t.Fatalf("rows %+v", rows)
	}
	r := rows[0]
	if r.Status != ota.Success || !r.Approved || r.Attempts != 1 || r.Version != "2" || r.Detail != "d" || r.UpdatedAt.UnixMilli() != 1002 {
		t.Errorf("row %+v", r)
	}
	if other, err := st.s.DeviceStatuses(ctx, 99); err != nil || len(other) != 0 {
		t.Errorf("status for a missing shipment: %+v, %v", other, err)
	}
}
