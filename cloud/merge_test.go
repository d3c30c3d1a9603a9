package cloud

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/internal/poll"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

// TestGatewayMergeUp: devices an installer created on a gateway while it was
// offline are adopted by the cloud under their UIDs — announced twice on one
// connection and again on a reconnect, they exist once — with a template the
// cloud did not know; their telemetry, sent right after, is stored; the
// cloud sends them back down; a device deleted in the cloud stays deleted
// when the gateway announces it again.
func TestGatewayMergeUp(t *testing.T) {
	e := newSyncEnv(t)
	ctx := context.Background()
	svc := e.s.svc
	known, err := svc.CreateTemplate(ctx, e.admin, tenancy.NewTemplate{Def: datastream.Template{Name: "Heater",
		Datastreams: []datastream.Datastream{{Pin: 1, Name: "temp", Type: datastream.Double}}}})
	if err != nil {
		t.Fatal(err)
	}
	org, err := svc.CreateOrg(ctx, e.admin, tenancy.NewOrg{ParentID: e.admin.OrgID, Name: "Site client"})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SetTemplateEnabled(ctx, e.admin, org.ID, known.ID, true); err != nil {
		t.Fatal(err)
	}
	reg := e.register("Pi")
	e.call(200, "POST", "/api/v1/organization/gateway/claim", e.tok, map[string]any{"claimCode": reg.ClaimCode, "orgId": org.ID}, nil)

	const (
		uidA = "01JD5Z8Q3M4N5P6Q7R8S9T0VAA" // on the cloud's template
		uidB = "01JD5Z8Q3M4N5P6Q7R8S9T0VBB" // on a template made on the gateway
	)
	hashA, hashB := tenancy.HashToken("tokenAtokenAtokenAtokenAtokenA00"), tenancy.HashToken("tokenBtokenBtokenBtokenBtokenB00")
	local := datastream.Template{ID: "TMPLGWLOCAL1", Name: "Cold room", Datastreams: []datastream.Datastream{
		{Pin: 0, Name: "temp", Type: datastream.Double}}}
	announce := &syncproto.Message{Type: syncproto.TypeDevices, Devices: &syncproto.LocalDevices{
		Templates: []datastream.Template{local},
		Devices: []syncproto.LocalDevice{
			{UID: uidA, Name: "Pump house", TemplateID: string(known.ID), TokenHash: syncproto.TokenHashHex(hashA), CreatedAt: 1764000000000},
			{UID: uidB, Name: "Cold room", TemplateID: local.ID, TokenHash: syncproto.TokenHashHex(hashB), CreatedAt: 1764000000500},
		}}}
	now := time.Now().UnixMilli()
	batch := &syncproto.Message{Type: syncproto.TypeTelemetry, Seq: 2, Telemetry: &syncproto.Telemetry{Items: []syncproto.Item{
		{Seq: 1, Kind: syncproto.KindWrite, Device: uidA, Pin: 1, Value: "21.5", TS: now},
		{Seq: 2, Kind: syncproto.KindWrite, Device: uidB, Pin: 0, Value: "3.5", TS: now},
	}}}

	gw := e.connect(reg, 7)
	if snap := gw.must(syncproto.TypeSnapshot).Snapshot; len(snap.Devices) != 0 {
		t.Fatalf("snapshot devices %v before the merge", uids(snap.Devices))
	}
	// Announced, then telemetry at once (no wait): the telemetry finds the devices.
	gw.send(announce)
	gw.send(announce)
	gw.send(batch)
	// Both come back down under their UIDs, with the gateway's token hashes
	// (the deltas and the ack may come in either order).
	got := map[string]syncproto.Device{}
	var version, acked int64
	gw.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < 2 || acked != 2 {
		_, b, err := gw.ws.ReadMessage()
		if err != nil {
			t.Fatalf("devices back down %v, ack %d: %v", got, acked, err)
		}
		m, err := syncproto.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		switch m.Type {
		case syncproto.TypeAck:
			acked = m.Seq
		case syncproto.TypeDelta:
			version = m.Delta.Version
			for _, dev := range m.Delta.Devices {
				got[dev.UID] = dev
			}
		}
	}
	if got[uidA].TokenHash != syncproto.TokenHashHex(hashA) || got[uidB].TokenHash != syncproto.TokenHashHex(hashB) ||
		got[uidA].OrgID != int64(org.ID) || got[uidB].TemplateID != local.ID {
		t.Fatalf("devices sent back down: %+v", got)
	}

	// Reconnect and announce again, as a gateway does on every connection.
	gw.ws.Close()
	gw2, _ := e.dial(reg.Credential)
	gw2.send(&syncproto.Message{Type: syncproto.TypeHello, Hello: &syncproto.Hello{Gateway: reg.GatewayID, Epoch: 7, Software: "t", TenancyVersion: version}})
	if w := gw2.must(syncproto.TypeWelcome).Welcome; w.TelemetryApplied != 2 {
		t.Fatalf("applied %d after reconnect", w.TelemetryApplied)
	}
	gw2.send(announce)
	gw2.send(batch) // a replay too
	gw2.must(syncproto.TypeAck)

	l, err := svc.Devices(ctx, e.admin, tenancy.DeviceQuery{OrgID: org.ID})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	byUID := map[string]tenancy.Device{}
	for _, d := range l.Items {
		names = append(names, d.UID)
		byUID[d.UID] = d
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{uidA, uidB}) {
		t.Fatalf("devices in the site's org: %v, want exactly A and B once", names)
	}
	if byUID[uidA].Name != "Pump house" || byUID[uidA].TokenHash != hashA || byUID[uidA].CreatedAt.UnixMilli() != 1764000000000 {
		t.Fatalf("device A as adopted: %+v", byUID[uidA])
	}

	// The gateway-made template lives in the root, enabled in the site's org,
	// and the audit log says the gateway did it.
	tm, err := e.s.store.GetTemplate(ctx, tenancy.TemplateID(local.ID))
	if err != nil || tm.RootID != e.admin.OrgID {
		t.Fatalf("template %+v, %v", tm, err)
	}
	if on, err := e.s.store.TemplateEnabled(ctx, org.ID, tm.ID); err != nil || !on {
		t.Fatalf("template enabled in the site org: %v %v", on, err)
	}
	audit, err := svc.Audit(ctx, e.admin, tenancy.AuditQuery{OrgID: e.admin.OrgID, IncludeSub: true})
	if err != nil {
		t.Fatal(err)
	}
	byGateway := map[string]int{}
	for _, a := range audit.Items {
		if a.ClientID == "gateway:"+reg.GatewayID {
			byGateway[a.Action+" "+a.ObjectID]++
		}
	}
	if byGateway["template.create "+local.ID] != 1 || byGateway["device.create "+strconv.FormatInt(int64(byUID[uidA].ID), 10)] != 1 || len(byGateway) != 3 {
		t.Fatalf("audit entries by the gateway: %v", byGateway)
	}

	// Their values show in the Platform API; the replay doubled nothing.
	for uid, want := range map[string][2]string{uidA: {"v1", "21.5"}, uidB: {"v0", "3.5"}} {
		dq := "?deviceId=" + strconv.FormatInt(int64(byUID[uid].ID), 10)
		var vals map[string]string
		e.call(200, "GET", "/api/v1/organization/device/datastreams"+dq, e.tok, nil, &vals)
		if vals[want[0]] != want[1] {
			t.Fatalf("device %s values %v, want %s=%s", uid, vals, want[0], want[1])
		}
		var hist struct{ Content []struct{ Value string } }
		e.call(200, "GET", "/api/v1/organization/device/datastream/history"+dq+"&pin="+want[0], e.tok, nil, &hist)
		if len(hist.Content) != 1 {
			t.Fatalf("device %s history %+v", uid, hist)
		}
	}

	// Deleted in the cloud: the gateway is told, and announcing it again
	// (a gateway that had not heard yet) does not bring it back.
	if err := svc.DeleteDevice(ctx, e.admin, byUID[uidA].ID); err != nil {
		t.Fatal(err)
	}
	if d := gw2.must(syncproto.TypeDelta).Delta; !slices.Equal(d.DeletedDevices, []string{uidA}) {
		t.Fatalf("delete: delta %+v", d)
	}
	gw2.send(announce)
	gw2.send(&syncproto.Message{Type: syncproto.TypeStatus, Status: &syncproto.Status{Software: "t"}})
	// The status is read after the announcement was applied.
	poll.Until(t, "the status sent after the announcement", func() bool { st, _ := e.s.sync.Site(reg.GatewayID); return st.Software == "t" })
	if _, err := e.s.store.GetDeviceByUID(ctx, uidA); tenancy.CodeOf(err) != tenancy.NotFound {
		t.Fatalf("device deleted in the cloud came back: %v", err)
	}
}
