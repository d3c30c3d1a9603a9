package cloud

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

// syncEnv is a cloud on 127.0.0.1:0 with a real SQLite file.
type syncEnv struct {
	t     testing.TB
	s     *Server
	admin tenancy.Actor
	tok   string // root Admin's bearer token
}

func newSyncEnv(t testing.TB) *syncEnv { return runEnv(t, nil) }

// runEnv runs a cloud on a fresh SQLite file (or as edit changes its
// config) until the test ends, and logs its root Admin in.
func runEnv(t testing.TB, edit func(*Config)) *syncEnv {
	t.Helper()
	cfg := Defaults()
	cfg.Listen, cfg.DataDir = "127.0.0.1:0", t.TempDir()
	cfg.Admin.Email, cfg.Admin.Password = "admin@root.test", "root-password-1"
	cfg.Auth.BcryptCost = 4
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	e := &syncEnv{t: t, s: s}
	u, err := s.store.GetUserByEmail(context.Background(), "admin@root.test")
	if err != nil {
		t.Fatal(err)
	}
	e.admin = tenancy.Actor{UserID: u.ID, OrgID: u.OrgID, RoleID: tenancy.RoleAdmin}
	var sess struct{ Token string }
	e.call(200, "POST", "/api/v1/auth/login", "", map[string]string{"email": "admin@root.test", "password": "root-password-1"}, &sess)
	e.tok = sess.Token
	return e
}

func (e *syncEnv) call(want int, method, path, tok string, body, out any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.s.URL()+path, rd)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, data, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
}

type registration struct{ GatewayID, ClaimCode, Credential string }

func (e *syncEnv) register(name string) registration {
	var r registration
	e.call(201, "POST", "/api/v1/gateway/register", "", map[string]string{"name": name, "software": "outpost-gateway/test"}, &r)
	return r
}

// dial opens the sync websocket; it returns the HTTP status when refused.
func (e *syncEnv) dial(cred string) (*fakeGateway, int) {
	e.t.Helper()
	h := http.Header{"Authorization": {"Bearer " + cred}}
	ws, resp, err := websocket.DefaultDialer.Dial("ws://"+e.s.Addr()+"/api/v1/gateway/sync", h)
	if err != nil {
		if resp == nil {
			e.t.Fatal(err)
		}
		return nil, resp.StatusCode
	}
	e.t.Cleanup(func() { ws.Close() })
	return &fakeGateway{t: e.t, ws: ws}, 101
}

// connect dials the sync websocket as reg's gateway (claimed already),
// says hello for the outbox epoch and waits for the welcome.
func (e *syncEnv) connect(reg registration, epoch int64) *fakeGateway {
	e.t.Helper()
	gw, code := e.dial(reg.Credential)
	if code != http.StatusSwitchingProtocols {
		e.t.Fatalf("dial as gateway %s: %d", reg.GatewayID, code)
	}
	gw.send(&syncproto.Message{Type: syncproto.TypeHello, Hello: &syncproto.Hello{Gateway: reg.GatewayID, Epoch: epoch, Software: "outpost-gateway/test"}})
	gw.must(syncproto.TypeWelcome)
	return gw
}

// fakeGateway speaks syncproto over gorilla, as a gateway would.
type fakeGateway struct {
	t  testing.TB
	ws *websocket.Conn
}

func (g *fakeGateway) send(m *syncproto.Message) {
	g.t.Helper()
	b, err := syncproto.Encode(m)
	if err != nil {
		g.t.Fatal(err)
	}
	if err := g.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		g.t.Fatal(err)
	}
}

// next reads the next message of type want (skipping others) within d.
func (g *fakeGateway) next(want syncproto.Type, d time.Duration) (*syncproto.Message, error) {
	g.ws.SetReadDeadline(time.Now().Add(d))
	for {
		_, b, err := g.ws.ReadMessage()
		if err != nil {
			return nil, err
		}
		m, err := syncproto.Decode(b)
		if err != nil {
			return nil, err
		}
		if m.Type == want {
			return m, nil
		}
	}
}

func (g *fakeGateway) must(want syncproto.Type) *syncproto.Message {
	g.t.Helper()
	m, err := g.next(want, 5*time.Second)
	if err != nil {
		g.t.Fatalf("waiting for %s: %v", want, err)
	}
	return m
}

func uids(ds []syncproto.Device) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.UID)
	}
	sort.Strings(out)
	return out
}

func TestGatewaySiteEndToEnd(t *testing.T) {
	e := newSyncEnv(t)
	ctx := context.Background()
	svc := e.s.svc
	tm, err := svc.CreateTemplate(ctx, e.admin, tenancy.NewTemplate{Def: datastream.Template{Name: "Heater",
		Datastreams: []datastream.Datastream{{Pin: 1, Name: "temp", Type: datastream.Double}, {Pin: 2, Name: "set", Type: datastream.Integer}}}})
	if err != nil {
		t.Fatal(err)
	}
	mkOrg := func(name string) tenancy.Org {
		o, err := svc.CreateOrg(ctx, e.admin, tenancy.NewOrg{ParentID: e.admin.OrgID, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.SetTemplateEnabled(ctx, e.admin, o.ID, tm.ID, true); err != nil {
			t.Fatal(err)
		}
		return o
	}
	siteOrg, otherOrg := mkOrg("Site client"), mkOrg("Other client")
	mkDev := func(org tenancy.OrgID, name string) tenancy.Device {
		d, err := svc.CreateDevice(ctx, e.admin, tenancy.NewDevice{TemplateID: tm.ID, Name: name, OrgID: org})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d1 := mkDev(siteOrg.ID, "Boiler")
	far := mkDev(otherOrg.ID, "Far away")

	reg := e.register("Pi at the site")
	if _, code := e.dial(reg.Credential); code != http.StatusForbidden {
		t.Fatalf("before the claim: %d, want 403", code)
	}
	if _, code := e.dial("gwc_nonsense"); code != http.StatusUnauthorized {
		t.Fatalf("unknown credential: %d, want 401", code)
	}
	e.call(200, "POST", "/api/v1/organization/gateway/claim", e.tok, map[string]any{"claimCode": reg.ClaimCode, "orgId": siteOrg.ID}, nil)

	gw := e.connect(reg, 42)
	snap := gw.must(syncproto.TypeSnapshot).Snapshot
	if got := uids(snap.Devices); len(got) != 1 || got[0] != d1.UID {
		t.Fatalf("snapshot devices %v, want only %s", got, d1.UID)
	}
	version := snap.Version

	// Cloud changes reach the gateway as deltas.
	d2 := mkDev(siteOrg.ID, "Pool")
	delta := gw.must(syncproto.TypeDelta).Delta
	if delta.From != version || len(delta.Devices) != 1 || delta.Devices[0].UID != d2.UID {
		t.Fatalf("create: delta %+v", delta)
	}
	if _, err := svc.TransferDevice(ctx, e.admin, far.ID, tenancy.DeviceTransfer{OrgID: siteOrg.ID}); err != nil {
		t.Fatal(err)
	}
	if delta = gw.must(syncproto.TypeDelta).Delta; len(delta.Devices) != 1 || delta.Devices[0].UID != far.UID {
		t.Fatalf("transfer in: delta %+v", delta)
	}
	if err := svc.DeleteDevice(ctx, e.admin, d2.ID); err != nil {
		t.Fatal(err)
	}
	if delta = gw.must(syncproto.TypeDelta).Delta; len(delta.DeletedDevices) != 1 || delta.DeletedDevices[0] != d2.UID {
		t.Fatalf("delete: delta %+v", delta)
	}

	// Telemetry shows up in the Platform API; a replay changes nothing.
	batch := &syncproto.Message{Type: syncproto.TypeTelemetry, Seq: 3, Telemetry: &syncproto.Telemetry{Items: []syncproto.Item{
		{Seq: 1, Kind: syncproto.KindOnline, Device: d1.UID, Name: "tcp", TS: time.Now().UnixMilli()},
		{Seq: 2, Kind: syncproto.KindWrite, Device: d1.UID, Pin: 1, Value: "21.5", TS: time.Now().UnixMilli()},
		{Seq: 3, Kind: syncproto.KindWrite, Device: d1.UID, Pin: 1, Value: "22", TS: time.Now().UnixMilli()},
	}}}
	for range 2 {
		gw.send(batch)
		if ack := gw.must(syncproto.TypeAck); ack.Seq != 3 {
			t.Fatalf("ack %d", ack.Seq)
		}
	}
	dq := "?deviceId=" + strconv.FormatInt(int64(d1.ID), 10)
	var vals map[string]string
	e.call(200, "GET", "/api/v1/organization/device/datastreams"+dq, e.tok, nil, &vals)
	if vals["v1"] != "22" {
		t.Fatalf("values %v", vals)
	}
	var hist struct{ Content []struct{ Value string } }
	e.call(200, "GET", "/api/v1/organization/device/datastream/history"+dq+"&pin=v1", e.tok, nil, &hist)
	if len(hist.Content) != 2 {
		t.Fatalf("history %+v: a replayed batch doubled it, or lost it", hist)
	}
	var online struct{ Connected bool }
	e.call(200, "GET", "/api/v1/organization/device/online"+dq, e.tok, nil, &online)
	if !online.Connected {
		t.Fatal("device not online")
	}
	var site struct {
		Connected     bool
		LastSeen      int64
		DevicesOnline int
		Software      string
	}
	e.call(200, "GET", "/api/v1/organization/gateway?gatewayId="+reg.GatewayID, e.tok, nil, &site)
	if !site.Connected || site.LastSeen == 0 || site.Software != "outpost-gateway/test" {
		t.Fatalf("site status %+v", site)
	}

	// A user of another client org never sees this site's devices or values.
	_, err = svc.CreateUser(ctx, e.admin, tenancy.NewUser{Email: "o@other.test", Name: "O", OrgID: otherOrg.ID, RoleID: tenancy.RoleAdmin, Password: "other-password-1"})
	if err != nil {
		t.Fatal(err)
	}
	var osess struct{ Token string }
	e.call(200, "POST", "/api/v1/auth/login", "", map[string]string{"email": "o@other.test", "password": "other-password-1"}, &osess)
	for _, p := range []string{"/device", "/device/datastreams", "/device/online", "/device/timeline"} {
		e.call(404, "GET", "/api/v1/organization"+p+dq, osess.Token, nil, nil)
	}
	e.call(404, "GET", "/api/v1/organization/device/datastream/history"+dq+"&pin=1", osess.Token, nil, nil)
	e.call(404, "POST", "/api/v1/organization/device/datastream", osess.Token, map[string]any{"deviceId": d1.ID, "dataStreamId": 2, "value": 5}, nil)

	// A datastream write reaches the gateway as a command with an id; 204
	// once the gateway answers.
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.call(204, "POST", "/api/v1/organization/device/datastream", e.tok, map[string]any{"deviceId": d1.ID, "dataStreamId": "v2", "value": 7}, nil)
	}()
	cmd := gw.must(syncproto.TypeCommand)
	if cmd.ID == "" || cmd.Command.Device != d1.UID || cmd.Command.Pin != 2 || cmd.Command.Value != "7" {
		t.Fatalf("command %+v %+v", cmd, cmd.Command)
	}
	gw.send(&syncproto.Message{Type: syncproto.TypeResult, ID: cmd.ID, Result: &syncproto.Result{Code: syncproto.ResultOK, Value: "7"}})
	<-done

	// Release: disconnected at once, 401 after.
	e.call(200, "POST", "/api/v1/organization/gateway/release?gatewayId="+reg.GatewayID, e.tok, nil, nil)
	if _, err := gw.next(syncproto.TypeSnapshot, 2*time.Second); err == nil || !strings.Contains(err.Error(), "close") && !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("after release the link is still up: %v", err)
	}
	if _, code := e.dial(reg.Credential); code != http.StatusUnauthorized {
		t.Fatalf("after release: %d, want 401", code)
	}
}
