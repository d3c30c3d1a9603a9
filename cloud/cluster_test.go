package cloud

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"outpost/cloud/internal/livefeed"
	"outpost/cloud/internal/tenancy"
	"outpost/internal/pgtest"
	"outpost/internal/poll"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

// newInstance runs a cloud instance on the PostgreSQL database dsn; the
// first one bootstraps the root Admin, the others find it.
func newInstance(t testing.TB, dsn string) *syncEnv {
	t.Helper()
	return runEnv(t, func(c *Config) { c.Store.Driver, c.Store.DSN, c.Store.MaxConns = "postgres", dsn, 8 })
}

// TestTwoInstancesOneCloud: two instances on one PostgreSQL database are
// one cloud. The gateway is connected to A; everything else goes through
// B: a tenancy change, a control write (its result comes back to B's
// caller), live telemetry on B's feed, and the gateway's release.
func TestTwoInstancesOneCloud(t *testing.T) {
	dsn := pgtest.Database(t)
	a := newInstance(t, dsn)
	b := newInstance(t, dsn)
	ctx := context.Background()
	tm, err := b.s.svc.CreateTemplate(ctx, b.admin, tenancy.NewTemplate{Def: datastream.Template{Name: "Heater",
		Datastreams: []datastream.Datastream{{Pin: 1, Name: "temp", Type: datastream.Double}, {Pin: 2, Name: "set", Type: datastream.Integer}}}})
	if err != nil {
		t.Fatal(err)
	}
	// An org made on B: A's org tree learns it through the bus.
	siteOrg, err := b.s.svc.CreateOrg(ctx, b.admin, tenancy.NewOrg{ParentID: b.admin.OrgID, Name: "Site client"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.s.svc.SetTemplateEnabled(ctx, b.admin, siteOrg.ID, tm.ID, true); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "A's org tree to hold B's new org", func() bool { return a.s.svc.Tree().Has(siteOrg.ID) })
	d1, err := b.s.svc.CreateDevice(ctx, b.admin, tenancy.NewDevice{TemplateID: tm.ID, Name: "Boiler", OrgID: siteOrg.ID})
	if err != nil {
		t.Fatal(err)
	}

	reg := a.register("Pi at the site")
	b.call(200, "POST", "/api/v1/organization/gateway/claim", b.tok, map[string]any{"claimCode": reg.ClaimCode, "orgId": siteOrg.ID}, nil)
	gw := a.connect(reg, 1)
	if snap := gw.must(syncproto.TypeSnapshot).Snapshot; len(snap.Devices) != 1 || snap.Devices[0].UID != d1.UID {
		t.Fatalf("snapshot %+v", snap.Devices)
	}

	// A device created on B reaches the gateway on A as a delta.
	d2, err := b.s.svc.CreateDevice(ctx, b.admin, tenancy.NewDevice{TemplateID: tm.ID, Name: "Pool", OrgID: siteOrg.ID})
	if err != nil {
		t.Fatal(err)
	}
	if delta := gw.must(syncproto.TypeDelta).Delta; len(delta.Devices) != 1 || delta.Devices[0].UID != d2.UID {
		t.Fatalf("delta %+v", delta)
	}

	// Telemetry applied on A shows on B's live feed.
	sub := b.s.feed.Subscribe(d1.UID)
	defer sub.Close()
	now := time.Now().UnixMilli()
	gw.send(&syncproto.Message{Type: syncproto.TypeTelemetry, Seq: 2, Telemetry: &syncproto.Telemetry{Items: []syncproto.Item{
		{Seq: 1, Kind: syncproto.KindOnline, Device: d1.UID, Name: "tcp", TS: now},
		{Seq: 2, Kind: syncproto.KindWrite, Device: d1.UID, Pin: 1, Value: "21.5", TS: now + 1},
	}}})
	gw.must(syncproto.TypeAck)
	// The online event and the write may come in separate messages.
	for got := []livefeed.Update(nil); !slices.ContainsFunc(got, func(u livefeed.Update) bool { return u.Value == "21.5" }); {
		got = append(got, takeWithin(t, sub, 5*time.Second)...)
	}

	// A control write through B reaches the gateway on A; the result
	// comes back to B's caller.
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.call(204, "POST", "/api/v1/organization/device/datastream", b.tok, map[string]any{"deviceId": d1.ID, "dataStreamId": "v2", "value": 7}, nil)
	}()
	cmd := gw.must(syncproto.TypeCommand)
	if cmd.Command.Device != d1.UID || cmd.Command.Pin != 2 || cmd.Command.Value != "7" {
		t.Fatalf("command %+v", cmd.Command)
	}
	gw.send(&syncproto.Message{Type: syncproto.TypeResult, ID: cmd.ID, Result: &syncproto.Result{Code: syncproto.ResultOK, Value: "7"}})
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the write through B did not return")
	}

	// /metrics counts what A applied and what B heard from A.
	if m := get(t, a.s.URL()+"/metrics"); !strings.Contains(m, "outpost_cloud_telemetry_items_applied_total 2") ||
		!strings.Contains(m, "outpost_cloud_gateways_connected 1") {
		t.Errorf("A's metrics:\n%s", grepLines(m, "outpost_cloud"))
	}
	if m := get(t, b.s.URL()+"/metrics"); strings.Contains(m, "outpost_cloud_cluster_messages_received_total 0") ||
		!strings.Contains(m, "outpost_cloud_cluster_messages_received_total") {
		t.Errorf("B's metrics:\n%s", grepLines(m, "outpost_cloud"))
	}

	// A session logged out on B is refused by A (B's "auth" message
	// empties A's bearer cache; TestRevocationAcrossInstances shows it
	// with a cache of a minute).
	var sess struct{ Token string }
	a.call(200, "POST", "/api/v1/auth/login", "", map[string]string{"email": "admin@root.test", "password": "root-password-1"}, &sess)
	a.call(200, "GET", "/api/v1/auth/me", sess.Token, nil, nil)
	b.call(204, "POST", "/api/v1/auth/logout", sess.Token, nil, nil)
	poll.Until(t, "A to refuse the session logged out on B", func() bool {
		req, _ := http.NewRequest("GET", a.s.URL()+"/api/v1/auth/me", nil)
		req.Header.Set("Authorization", "Bearer "+sess.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusUnauthorized
	})

	// An automation of the site's two devices saved through B goes down to
	// the gateway on A; one the cloud runs (no device) is loaded by A's
	// runner too.
	site := map[string]any{"id": "01JD5Z8Q3M4N5P6Q7R8S9T0001", "name": "boost", "enabled": true,
		"trigger": map[string]any{"kind": "datastream", "device": d1.UID, "pin": 1, "op": "gt", "value": "30"},
		"actions": []map[string]any{{"kind": "write", "device": d2.UID, "pin": 2, "value": "1"}}}
	b.call(201, "PUT", fmt.Sprintf("/api/v1/organization/automation?orgId=%d", siteOrg.ID), b.tok, site, nil)
	if delta := gw.must(syncproto.TypeDelta).Delta; len(delta.Automations) != 1 || delta.Automations[0].ID != "01JD5Z8Q3M4N5P6Q7R8S9T0001" {
		t.Fatalf("delta after the automation saved on B: %+v", delta)
	}
	morning := map[string]any{"id": "01JD5Z8Q3M4N5P6Q7R8S9T0002", "name": "morning", "enabled": true,
		"trigger": map[string]any{"kind": "schedule", "schedule": map[string]any{"at": "07:00"}},
		"actions": []map[string]any{{"kind": "notify", "text": "good morning"}}}
	b.call(201, "PUT", fmt.Sprintf("/api/v1/organization/automation?orgId=%d", siteOrg.ID), b.tok, morning, nil)
	poll.Until(t, "A's cloud runner to load the automation saved on B", func() bool { return a.s.CloudAutomations() == 1 })

	// Released on B: the gateway's link on A closes.
	b.call(200, "POST", "/api/v1/organization/gateway/release?gatewayId="+reg.GatewayID, b.tok, nil, nil)
	if _, err := gw.next(syncproto.TypeSnapshot, 5*time.Second); err == nil || !strings.Contains(err.Error(), "close") && !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("after release on B the link to A is still up: %v", err)
	}
}

// /healthz and /readyz answer on both stores; readiness checks the store.
func TestHealthAndReadiness(t *testing.T) {
	for name, e := range map[string]*syncEnv{"sqlite": newSyncEnv(t), "postgres": newInstance(t, pgtest.Database(t))} {
		for _, path := range []string{"/healthz", "/readyz"} {
			resp, err := http.Get(e.s.URL() + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s %s: %d", name, path, resp.StatusCode)
			}
		}
		e.s.store.Close() // the store is gone: not ready, still alive
		resp, err := http.Get(e.s.URL() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s /readyz without a store: %d, want 503", name, resp.StatusCode)
		}
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// /metrics answers only the listed peers.
func TestMetricsOnlyForListedPeers(t *testing.T) {
	cfg := Defaults()
	cfg.Listen, cfg.DataDir = "127.0.0.1:0", t.TempDir()
	cfg.Admin.Password, cfg.Auth.BcryptCost = "root-password-1", 4
	cfg.MetricsFrom = []string{"10.9.8.7"}
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	resp, err := http.Get(s.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/metrics from an unlisted peer: %d, want 404", resp.StatusCode)
	}
}

// BenchmarkControlWriteAcrossInstances measures a datastream write
// accepted by instance B for a gateway connected to A: B's Platform API
// call until the gateway's result is back (p50, p99). The gateway answers
// at once.
func BenchmarkControlWriteAcrossInstances(b *testing.B) {
	dsn := pgtest.Database(b)
	a, bi := newInstance(b, dsn), newInstance(b, dsn)
	ctx := context.Background()
	tm, err := a.s.svc.CreateTemplate(ctx, a.admin, tenancy.NewTemplate{Def: datastream.Template{Name: "Heater",
		Datastreams: []datastream.Datastream{{Pin: 2, Name: "set", Type: datastream.Integer}}}})
	if err != nil {
		b.Fatal(err)
	}
	d, err := a.s.svc.CreateDevice(ctx, a.admin, tenancy.NewDevice{TemplateID: tm.ID, Name: "Boiler", OrgID: a.admin.OrgID})
	if err != nil {
		b.Fatal(err)
	}
	reg := a.register("pi")
	a.call(200, "POST", "/api/v1/organization/gateway/claim", a.tok, map[string]any{"claimCode": reg.ClaimCode, "orgId": a.admin.OrgID}, nil)
	gw := a.connect(reg, 1)
	go func() { // the gateway: answer every command
		for {
			m, err := gw.next(syncproto.TypeCommand, time.Minute)
			if err != nil {
				return
			}
			res, _ := syncproto.Encode(&syncproto.Message{Type: syncproto.TypeResult, ID: m.ID, Result: &syncproto.Result{Code: syncproto.ResultOK}})
			if gw.ws.WriteMessage(websocket.TextMessage, res) != nil {
				return
			}
		}
	}()
	body := map[string]any{"deviceId": d.ID, "dataStreamId": "v2", "value": 7}
	var durs []time.Duration
	for b.Loop() {
		t0 := time.Now()
		bi.call(204, "POST", "/api/v1/organization/device/datastream", bi.tok, body, nil)
		durs = append(durs, time.Since(t0))
	}
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(durs[len(durs)*99/100].Microseconds()), "p99-µs")
}
