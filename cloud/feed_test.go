package cloud

import (
	"context"
	"testing"
	"time"

	"outpost/cloud/internal/livefeed"
	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

// takeWithin waits for the subscription to have updates, up to d.
func takeWithin(t *testing.T, s *livefeed.Subscription, d time.Duration) []livefeed.Update {
	t.Helper()
	select {
	case <-s.Ready():
	case <-time.After(d):
		t.Fatal("no live update")
	}
	us, dropped := s.Take(nil)
	if dropped != 0 {
		t.Fatalf("%d events dropped", dropped)
	}
	return us
}

// TestLiveFeedFromGatewaySync: what a gateway's telemetry applies reaches
// the live feed's subscribers of that device, once committed, and nothing
// else does (replays, devices the gateway does not serve).
func TestLiveFeedFromGatewaySync(t *testing.T) {
	e := newSyncEnv(t)
	ctx := context.Background()
	svc := e.s.svc
	tm, err := svc.CreateTemplate(ctx, e.admin, tenancy.NewTemplate{Def: datastream.Template{Name: "Heater",
		Datastreams: []datastream.Datastream{{Pin: 1, Name: "temp", Type: datastream.Double}}}})
	if err != nil {
		t.Fatal(err)
	}
	org, err := svc.CreateOrg(ctx, e.admin, tenancy.NewOrg{ParentID: e.admin.OrgID, Name: "Site client"})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SetTemplateEnabled(ctx, e.admin, org.ID, tm.ID, true); err != nil {
		t.Fatal(err)
	}
	mine, err := svc.CreateDevice(ctx, e.admin, tenancy.NewDevice{TemplateID: tm.ID, Name: "Boiler", OrgID: org.ID})
	if err != nil {
		t.Fatal(err)
	}
	far, err := svc.CreateDevice(ctx, e.admin, tenancy.NewDevice{TemplateID: tm.ID, Name: "Far away"}) // root org: not served
	if err != nil {
		t.Fatal(err)
	}
	reg := e.register("Pi")
	e.call(200, "POST", "/api/v1/organization/gateway/claim", e.tok, map[string]any{"claimCode": reg.ClaimCode, "orgId": org.ID}, nil)
	gw := e.connect(reg, 1)
	gw.must(syncproto.TypeSnapshot)

	sub := e.s.feed.Subscribe(mine.UID)
	defer sub.Close()
	subFar := e.s.feed.Subscribe(far.UID)
	defer subFar.Close()

	now := time.Now().UnixMilli()
	batch := &syncproto.Message{Type: syncproto.TypeTelemetry, Seq: 5, Telemetry: &syncproto.Telemetry{Items: []syncproto.Item{
		{Seq: 1, Kind: syncproto.KindOnline, Device: mine.UID, Name: "tcp", TS: now},
		{Seq: 2, Kind: syncproto.KindWrite, Device: mine.UID, Pin: 1, Value: "21.5", TS: now + 1},
		{Seq: 3, Kind: syncproto.KindWrite, Device: far.UID, Pin: 1, Value: "99", TS: now + 1},
		{Seq: 4, Kind: syncproto.KindWrite, Device: mine.UID, Pin: 1, Value: "22", TS: now + 2},
		{Seq: 5, Kind: syncproto.KindEvent, Device: mine.UID, Name: "overheat", Value: "hot", TS: now + 3},
	}}}
	gw.send(batch)
	gw.must(syncproto.TypeAck)
	got := takeWithin(t, sub, 5*time.Second)
	want := []livefeed.Update{
		{Device: mine.UID, Kind: syncproto.KindOnline, Name: "tcp", TS: now},
		{Device: mine.UID, Kind: syncproto.KindWrite, Pin: 1, Value: "22", TS: now + 2}, // coalesced per pin
		{Device: mine.UID, Kind: syncproto.KindEvent, Name: "overheat", Value: "hot", TS: now + 3},
	}
	if len(got) != len(want) {
		t.Fatalf("updates %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("update %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// The gateway acked after Apply returned, so a publish would be there.
	if us, _ := subFar.Take(nil); len(us) != 0 {
		t.Fatalf("a device the gateway does not serve was published: %+v", us)
	}
	gw.send(batch) // a replay stores nothing and publishes nothing
	gw.must(syncproto.TypeAck)
	if us, _ := sub.Take(nil); len(us) != 0 {
		t.Fatalf("a replay was published: %+v", us)
	}
	// The list shows what was applied.
	p, err := svc.DeviceList(ctx, e.admin, tenancy.DeviceListQuery{DeviceQuery: tenancy.DeviceQuery{IncludeSub: true}, Status: tenancy.OnlyOnline})
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != 1 || p.Rows[0].ID != mine.ID {
		t.Fatalf("online devices %+v", p)
	}
}
