package gatewaysync

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"outpost/internal/poll"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

func TestRefusesBadCredentials(t *testing.T) {
	e := newEnv(t)
	for _, cred := range []string{"", "nope"} {
		_, resp, err := e.dial(t, cred)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("credential %q: err %v, response %v; want 401", cred, err, resp)
		}
	}
}

func TestHelloMustNameTheCredentialsGateway(t *testing.T) {
	e := newEnv(t)
	c, _, err := e.dial(t, "cred-1")
	if err != nil {
		t.Fatal(err)
	}
	c.send(&syncproto.Message{Type: syncproto.TypeHello, Hello: &syncproto.Hello{Gateway: "gw-2"}})
	m := c.recv()
	if m.Type != syncproto.TypeError || m.Error.Code != syncproto.CodeUnauthorized {
		t.Fatalf("got %+v, want an unauthorized error", m)
	}
	if _, err := c.tryRecv(); err == nil {
		t.Error("connection still open")
	}
}

func TestSnapshotOnlyWhenBehind(t *testing.T) {
	e := newEnv(t)
	c, w := e.connect(t, "cred-1", "gw-1", 0)
	if w.Gateway != "gw-1" || w.TelemetryApplied != 0 {
		t.Errorf("welcome %+v", w)
	}
	m := c.recv()
	if m.Type != syncproto.TypeSnapshot || m.Snapshot.Version != 5 || len(m.Snapshot.Devices) != 1 {
		t.Fatalf("got %+v, want the version 5 snapshot", m)
	}
	c.ws.Close()

	// Up to date: the first thing after the welcome is the ack of its batch.
	c2, _ := e.connect(t, "cred-1", "gw-1", 5)
	c2.send(batch(1, 1, uid1))
	if m := c2.recv(); m.Type != syncproto.TypeAck {
		t.Fatalf("got %s, want ack (no snapshot for a gateway at the current version)", m.Type)
	}
}

func TestTelemetryIdempotent(t *testing.T) {
	e := newEnv(t)
	c, _ := e.connect(t, "cred-1", "gw-1", 5)
	c.send(batch(1, 10, uid1))
	if m := c.recv(); m.Type != syncproto.TypeAck || m.Seq != 10 {
		t.Fatalf("got %+v, want ack 10", m)
	}
	c.send(batch(1, 10, uid1)) // replay: acked again, nothing applied
	if m := c.recv(); m.Type != syncproto.TypeAck || m.Seq != 10 {
		t.Fatalf("got %+v, want ack 10", m)
	}
	c.send(batch(6, 10, uid1)) // overlaps: 6..10 skipped, 11..15 applied
	if m := c.recv(); m.Type != syncproto.TypeAck || m.Seq != 15 {
		t.Fatalf("got %+v, want ack 15", m)
	}
	if diff := cmp.Diff(seqStrings(1, 15), e.tel.values("gw-1")); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
	c.ws.Close()

	// A new connection (the gateway lost the acks) learns what was applied.
	c2, w := e.connect(t, "cred-1", "gw-1", 5)
	if w.TelemetryApplied != 15 {
		t.Errorf("welcome applied %d, want 15", w.TelemetryApplied)
	}
	c2.send(batch(12, 4, uid1))
	if m := c2.recv(); m.Type != syncproto.TypeAck || m.Seq != 15 {
		t.Fatalf("got %+v, want ack 15", m)
	}
	if got := len(e.tel.values("gw-1")); got != 15 {
		t.Errorf("%d items stored after replays, want 15", got)
	}
	if st, _ := e.srv.Site("gw-1"); st.Applied != 15 {
		t.Errorf("site applied %d, want 15", st.Applied)
	}
}

func TestTenancyChangedSendsDelta(t *testing.T) {
	e := newEnv(t)
	c1, _ := e.connect(t, "cred-1", "gw-1", 5)
	c2, _ := e.connect(t, "cred-2", "gw-2", 5)
	// The server reads a status only after its initial tenancy push; a
	// change made before that push is rightly a snapshot, not a delta.
	c1.send(&syncproto.Message{Type: syncproto.TypeStatus, Status: &syncproto.Status{Software: "settled"}})
	poll.Until(t, "initial push", func() bool { st, _ := e.srv.Site("gw-1"); return st.Software == "settled" })
	tmpl := datastream.Template{ID: "TMPL1", Name: "t", Datastreams: []datastream.Datastream{{Pin: 1, Name: "v", Type: datastream.Integer}}}
	e.ten.set("gw-1", syncproto.Tenancy{Version: 6,
		Templates: []datastream.Template{tmpl},
		Devices:   []syncproto.Device{{UID: uid2, Name: "two", TemplateID: "TMPL1", OrgID: 1, TokenHash: hash}}})
	e.srv.TenancyChanged("gw-1")
	m := c1.recv()
	want := &syncproto.Delta{From: 5, Version: 6,
		Templates:      []datastream.Template{tmpl},
		Devices:        []syncproto.Device{{UID: uid2, Name: "two", TemplateID: "TMPL1", OrgID: 1, TokenHash: hash}},
		DeletedDevices: []string{uid1}}
	if m.Type != syncproto.TypeDelta {
		t.Fatalf("got %s, want delta", m.Type)
	}
	if diff := cmp.Diff(want, m.Delta); diff != "" {
		t.Errorf("delta (-want +got):\n%s", diff)
	}
	// Only gw-1 changed: gw-2 gets nothing (its next message is the ack).
	e.srv.TenancyChanged()
	c2.send(batch(1, 1, uid2))
	if m := c2.recv(); m.Type != syncproto.TypeAck {
		t.Errorf("gw-2 got %s, want ack", m.Type)
	}
	// The site records the version just after sending it.
	poll.Until(t, "site tenancy version 6", func() bool { st, _ := e.srv.Site("gw-1"); return st.TenancyVersion == 6 })
}

// A refresh that reads the version the gateway has, with content a
// commit made meanwhile (the version is read first), sends nothing — and
// that content stays unsent: the next version's delta carries it.
func TestSameVersionKeepsWhatWasSent(t *testing.T) {
	e := newEnv(t)
	c, _ := e.connect(t, "cred-1", "gw-1", 0)
	if m := c.recv(); m.Type != syncproto.TypeSnapshot {
		t.Fatalf("got %s, want snapshot", m.Type)
	}
	c.send(&syncproto.Message{Type: syncproto.TypeStatus, Status: &syncproto.Status{Software: "settled"}})
	poll.Until(t, "initial push", func() bool { st, _ := e.srv.Site("gw-1"); return st.Software == "settled" })
	two := syncproto.Device{UID: uid2, Name: "two", TemplateID: "TMPL1", OrgID: 1, TokenHash: hash}
	one := syncproto.Device{UID: uid1, Name: "one", TemplateID: "TMPL1", OrgID: 1, TokenHash: hash}
	e.ten.set("gw-1", syncproto.Tenancy{Version: 5, Devices: []syncproto.Device{one, two}})
	reads := e.srv.ViewReads()
	e.srv.TenancyChanged("gw-1")
	poll.Until(t, "the refresh", func() bool { return e.srv.ViewReads() > reads })
	e.ten.set("gw-1", syncproto.Tenancy{Version: 6, Devices: []syncproto.Device{one, two}})
	e.srv.TenancyChanged("gw-1")
	m := c.recv()
	if m.Type != syncproto.TypeDelta || m.Delta.From != 5 || len(m.Delta.Devices) != 1 || m.Delta.Devices[0].UID != uid2 {
		t.Fatalf("got %s %+v, want the delta 5→6 with device two", m.Type, m.Delta)
	}
}

func TestCommandRoundTrip(t *testing.T) {
	e := newEnv(t)
	c, _ := e.connect(t, "cred-1", "gw-1", 5)
	type res struct {
		r   syncproto.Result
		err error
	}
	done := make(chan res, 1)
	go func() {
		r, err := e.srv.Command(context.Background(), "gw-1", syncproto.Command{Kind: syncproto.CommandWrite, Device: uid1, Pin: 1, Value: "9"})
		done <- res{r, err}
	}()
	m := c.recv()
	if m.Type != syncproto.TypeCommand || m.Command.Value != "9" || m.Command.TS == 0 || m.ID == "" {
		t.Fatalf("got %+v, want the command with an id and a ts", m)
	}
	c.send(&syncproto.Message{Type: syncproto.TypeResult, ID: m.ID, Result: &syncproto.Result{Code: syncproto.ResultOK, Value: "9"}})
	got := <-done
	if got.err != nil || got.r.Code != syncproto.ResultOK {
		t.Errorf("Command = %+v, %v", got.r, got.err)
	}
}

// TestCommandWaitsForGateway: a command issued while the gateway is away is
// delivered when it connects; one whose context ends reports it.
func TestCommandWaitsForGateway(t *testing.T) {
	e := newEnv(t)
	done := make(chan error, 1)
	go func() {
		_, err := e.srv.Command(context.Background(), "gw-1", syncproto.Command{Kind: syncproto.CommandWrite, Device: uid1, Pin: 1, Value: "1"})
		done <- err
	}()
	poll.Until(t, "the command to be pending", func() bool {
		e.srv.mu.Lock()
		defer e.srv.mu.Unlock()
		return len(e.srv.pending["gw-1"]) == 1
	})
	c, _ := e.connect(t, "cred-1", "gw-1", 5)
	m := c.recv()
	if m.Type != syncproto.TypeCommand {
		t.Fatalf("got %s, want the pending command", m.Type)
	}
	c.send(&syncproto.Message{Type: syncproto.TypeResult, ID: m.ID, Result: &syncproto.Result{Code: syncproto.ResultOK}})
	if err := <-done; err != nil {
		t.Error(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := e.srv.Command(ctx, "gw-2", syncproto.Command{Kind: syncproto.CommandWrite, Device: uid1, Pin: 1, Value: "1"}); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Command to an absent gateway = %v, want ErrNotConnected", err)
	}
}

func TestDisconnectOnRevoke(t *testing.T) {
	e := newEnv(t)
	c, _ := e.connect(t, "cred-1", "gw-1", 5)
	e.creds.revoke("cred-1")
	e.srv.Disconnect("gw-1")
	m, err := c.tryRecv()
	if err != nil || m.Type != syncproto.TypeError || m.Error.Code != syncproto.CodeUnauthorized {
		t.Fatalf("got %+v, %v; want an unauthorized error", m, err)
	}
	if _, err := c.tryRecv(); err == nil {
		t.Error("connection still open after Disconnect")
	}
	if _, resp, err := e.dial(t, "cred-1"); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("revoked credential: %v, %v; want 401", err, resp)
	}
	poll.Until(t, "the site to show disconnected", func() bool { st, _ := e.srv.Site("gw-1"); return !st.Connected })
}

func TestNewConnectionReplacesOld(t *testing.T) {
	e := newEnv(t)
	c1, _ := e.connect(t, "cred-1", "gw-1", 5)
	c2, _ := e.connect(t, "cred-1", "gw-1", 5)
	m, err := c1.tryRecv()
	if err != nil || m.Type != syncproto.TypeError || m.Error.Code != syncproto.CodeReplaced {
		t.Fatalf("old connection got %+v, %v; want replaced", m, err)
	}
	c2.send(batch(1, 3, uid1))
	if m := c2.recv(); m.Type != syncproto.TypeAck {
		t.Errorf("new connection got %s", m.Type)
	}
}

func TestSiteStatus(t *testing.T) {
	e := newEnv(t)
	c, _ := e.connect(t, "cred-1", "gw-1", 5)
	c.send(&syncproto.Message{Type: syncproto.TypeStatus, Status: &syncproto.Status{Software: "1.2", Backlog: 42, DevicesOnline: 3}})
	poll.Until(t, "status", func() bool { st, _ := e.srv.Site("gw-1"); return st.Backlog == 42 })
	st, _ := e.srv.Site("gw-1")
	if !st.Connected || st.Software != "1.2" || st.DevicesOnline != 3 || st.LastSeen.IsZero() {
		t.Errorf("site %+v", st)
	}
}

func TestBadMessagesClose(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		code syncproto.ErrorCode
	}{
		{"garbage", `{"v":1,"type":"hello"`, syncproto.CodeBadMessage},
		{"future version", `{"v":9,"type":"hello"}`, syncproto.CodeUnsupportedVersion},
		{"telemetry before hello", `{"v":1,"type":"ack","seq":3}`, syncproto.CodeBadMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c, _, err := e.dial(t, "cred-1")
			if err != nil {
				t.Fatal(err)
			}
			if err := c.ws.WriteMessage(1, []byte(tt.raw)); err != nil {
				t.Fatal(err)
			}
			m, err := c.tryRecv()
			if err != nil || m.Type != syncproto.TypeError || m.Error.Code != tt.code {
				t.Fatalf("got %+v, %v; want error %s", m, err, tt.code)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	a := &syncproto.Tenancy{Version: 1,
		Orgs:         []syncproto.Org{{ID: 1, Name: "a"}, {ID: 2, Name: "b"}},
		Owners:       []syncproto.Owner{{ID: 7, Email: "x@y", OrgID: 1}},
		StaticTokens: []syncproto.StaticToken{{ID: "1", QRHash: hash, TemplateID: "T", OrgID: 1, TokenHash: hash, Status: syncproto.StaticUnclaimed}},
	}
	b := &syncproto.Tenancy{Version: 3,
		Orgs:         []syncproto.Org{{ID: 1, Name: "a"}, {ID: 3, Name: "c"}},
		Owners:       []syncproto.Owner{{ID: 7, Email: "new@y", OrgID: 1}},
		StaticTokens: []syncproto.StaticToken{{ID: "1", QRHash: hash, TemplateID: "T", OrgID: 1, TokenHash: hash, Status: syncproto.StaticClaimed, DeviceUID: uid1}},
	}
	want := &syncproto.Delta{From: 1, Version: 3,
		Orgs:         []syncproto.Org{{ID: 3, Name: "c"}},
		DeletedOrgs:  []int64{2},
		Owners:       []syncproto.Owner{{ID: 7, Email: "new@y", OrgID: 1}},
		StaticTokens: b.StaticTokens,
	}
	if d := cmp.Diff(want, diff(a, b)); d != "" {
		t.Errorf("diff (-want +got):\n%s", d)
	}
}

// TestNewEpochStartsOver: a gateway reinstalled under the same id (new
// database, sequence numbers from 1 again) announces a new outbox epoch;
// its telemetry is applied, not skipped as replays of the old epoch's.
func TestNewEpochStartsOver(t *testing.T) {
	e := newEnv(t)
	c, _ := e.connectEpoch(t, "cred-1", "gw-1", 5, 111)
	c.send(batch(1, 5, uid1))
	if m := c.recv(); m.Type != syncproto.TypeAck {
		t.Fatalf("got %s", m.Type)
	}
	c.ws.Close()
	c2, w := e.connectEpoch(t, "cred-1", "gw-1", 5, 222)
	if w.TelemetryApplied != 0 {
		t.Errorf("new epoch welcomed at %d, want 0", w.TelemetryApplied)
	}
	c2.send(batch(1, 3, uid1))
	if m := c2.recv(); m.Type != syncproto.TypeAck || m.Seq != 3 {
		t.Fatalf("got %+v", m)
	}
	if got := len(e.tel.values("gw-1")); got != 8 {
		t.Errorf("%d items stored, want 5 + 3", got)
	}
	c2.ws.Close()
	// Back on the first epoch (say, a second gateway process): its cursor
	// is untouched.
	_, w = e.connectEpoch(t, "cred-1", "gw-1", 5, 111)
	if w.TelemetryApplied != 5 {
		t.Errorf("epoch 111 welcomed at %d, want 5", w.TelemetryApplied)
	}
}

// gatedTenancy holds every tenancy read after the first until released,
// like a store busy when the server shuts down.
type gatedTenancy struct {
	*memTenancy
	calls   atomic.Int32
	entered chan struct{}
	release chan struct{}
}

func (g *gatedTenancy) GatewayTenancy(ctx context.Context, gw string) (syncproto.Tenancy, error) {
	if g.calls.Add(1) > 1 {
		g.entered <- struct{}{}
		<-g.release
	}
	return g.memTenancy.GatewayTenancy(ctx, gw)
}

// The caller closes the stores after Close: nothing of the server may
// still be using them then (a refresh that outlived Close once panicked
// in the cloud's statement cache).
func TestCloseWaitsForRunningWork(t *testing.T) {
	e := newEnv(t)
	g := &gatedTenancy{memTenancy: e.ten, entered: make(chan struct{}), release: make(chan struct{})}
	e.srv.opts.Tenancy = g
	c, _ := e.connect(t, "cred-1", "gw-1", 5)
	c.send(&syncproto.Message{Type: syncproto.TypeStatus, Status: &syncproto.Status{Software: "settled"}})
	poll.Until(t, "initial push", func() bool { st, _ := e.srv.Site("gw-1"); return st.Software == "settled" })

	e.srv.TenancyChanged("gw-1")
	<-g.entered // the refresh is inside the store
	closed := make(chan struct{})
	go func() { e.srv.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a refresh was still reading the tenancy")
	case <-time.After(100 * time.Millisecond):
	}
	close(g.release)
	<-closed

	// After Close nothing new starts: no refresh, no connection.
	before := g.calls.Load()
	e.srv.TenancyChanged()
	if _, resp, err := e.dial(t, "cred-1"); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after Close: err %v, resp %v; want 503", err, resp)
	}
	if got := g.calls.Load(); got != before {
		t.Errorf("%d tenancy reads after Close", got-before)
	}
}

// TestDisplayOnlyToGatewaysAnnouncingIt: a template's display settings
// (alias, step, decimals) reach a gateway that announces
// syncproto.FeatureDisplay; an older gateway, whose decoder refuses unknown
// fields, gets the template without them, in the snapshot and in deltas.
func TestDisplayOnlyToGatewaysAnnouncingIt(t *testing.T) {
	e := newEnv(t)
	two := 2
	step := 0.5
	tmpl := datastream.Template{ID: "TMPL1", Name: "t", Datastreams: []datastream.Datastream{
		{Pin: 1, Name: "v", Type: datastream.Double, Alias: "Voltage", Step: &step, Decimals: &two}}}
	for _, gw := range []string{"gw-1", "gw-2"} {
		e.ten.set(gw, syncproto.Tenancy{Version: 6, Templates: []datastream.Template{tmpl}})
	}
	hello := func(cred, gw string, features ...string) *client {
		c, _, err := e.dial(t, cred)
		if err != nil {
			t.Fatal(err)
		}
		c.send(&syncproto.Message{Type: syncproto.TypeHello, Hello: &syncproto.Hello{Gateway: gw, Software: "test", Features: features}})
		if m := c.recv(); m.Type != syncproto.TypeWelcome {
			t.Fatalf("got %s, want welcome", m.Type)
		}
		return c
	}
	old, cur := hello("cred-1", "gw-1"), hello("cred-2", "gw-2", syncproto.FeatureDisplay)
	for _, tc := range []struct {
		c    *client
		want datastream.Template
	}{{old, tmpl.WithoutDisplay()}, {cur, tmpl}} {
		m := tc.c.recv()
		if m.Type != syncproto.TypeSnapshot {
			t.Fatalf("got %s, want the snapshot", m.Type)
		}
		if diff := cmp.Diff([]datastream.Template{tc.want}, m.Snapshot.Templates); diff != "" {
			t.Errorf("snapshot's templates (-want +got):\n%s", diff)
		}
	}
	if tmpl.Datastreams[0].Alias != "Voltage" {
		t.Fatal("the provider's template was changed")
	}
	// A delta changing the template: still without display for gw-1.
	tmpl.Datastreams[0].Alias = "Volts"
	e.ten.set("gw-1", syncproto.Tenancy{Version: 7, Templates: []datastream.Template{tmpl}})
	e.srv.TenancyChanged("gw-1")
	if m := old.recv(); m.Type != syncproto.TypeDelta || len(m.Delta.Templates) != 0 {
		t.Errorf("an alias change sent to a gateway without the display feature: %+v", m)
	}
}
