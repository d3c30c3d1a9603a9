package rules_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"outpost/gateway/internal/blynkserver"
	"outpost/gateway/internal/hub"
	"outpost/gateway/internal/rules"
	"outpost/gateway/internal/sqlite"
	"outpost/internal/poll"
	"outpost/shared/blynk"
	"outpost/shared/datastream"
	"outpost/shared/devicesim"
	model "outpost/shared/rules"
)

const (
	tokA   = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	tokB   = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	autoID = "01JD5Z8Q3M4N5P6Q7R8S9T0A01"
	loopID = "01JD5Z8Q3M4N5P6Q7R8S9T0A02"
)

// site is a gateway without a cloud: a real SQLite store, the hub, the
// Blynk TCP server on 127.0.0.1 and the automation runner.
type site struct {
	store  *sqlite.Store
	hub    *hub.Hub
	addr   string
	a, b   hub.Device
	runner *rules.Runner

	mu   sync.Mutex
	runs []model.Run
}

func newSite(t *testing.T) *site {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "gw.db")})
	if err != nil {
		t.Fatal(err)
	}
	h := hub.New(hub.Options{Store: st})
	if err := h.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.SaveTemplate(ctx, datastream.Template{ID: "TMPLRULE", Name: "Rule", Datastreams: []datastream.Datastream{
		{Pin: 0, Name: "Temperature", Type: datastream.Double},
		{Pin: 1, Name: "Fan", Type: datastream.Integer},
	}, Events: []datastream.Event{{Code: "hot", Name: "Hot", Type: "warning"}}}); err != nil {
		t.Fatal(err)
	}
	s := &site{store: st, hub: h}
	if s.a, err = h.AddDeviceWithToken(ctx, "TMPLRULE", "A", tokA); err != nil {
		t.Fatal(err)
	}
	if s.b, err = h.AddDeviceWithToken(ctx, "TMPLRULE", "B", tokB); err != nil {
		t.Fatal(err)
	}
	srv := blynkserver.New(blynkserver.Options{Hub: h, Logger: slog.New(slog.DiscardHandler)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.runner, err = rules.New(rules.Options{Hub: h, OnRun: func(r model.Run) {
		s.mu.Lock()
		s.runs = append(s.runs, r)
		s.mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = srv.Serve(ctx, ln, "tcp") }()
	go func() { defer wg.Done(); _ = s.runner.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		ln.Close()
		wg.Wait()
		st.Close()
	})
	return s
}

func (s *site) dial(t *testing.T, token string) *devicesim.Device {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := devicesim.Dial(ctx, s.addr, devicesim.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// outboxRuns reads the run records waiting for the cloud.
func (s *site) outboxRuns(t *testing.T) []model.Run {
	t.Helper()
	if err := s.hub.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	es, err := s.store.Outbox(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []model.Run
	for _, e := range es {
		if e.Record.Kind != hub.KindRun {
			continue
		}
		var r model.Run
		if err := json.Unmarshal([]byte(e.Record.Value), &r); err != nil {
			t.Fatal(err)
		}
		if e.Record.Name != r.Automation {
			t.Fatalf("run record named %q holds a run of %q", e.Record.Name, r.Automation)
		}
		out = append(out, r)
	}
	return out
}

// A threshold on device A's temperature switches device B's fan: the write
// reaches B's real Blynk TCP connection, with no cloud at all, and the run
// is an outbox record waiting for the cloud.
func TestThresholdWritesAnotherDevice(t *testing.T) {
	s := newSite(t)
	s.runner.SetAutomations([]model.Automation{{
		ID: autoID, Name: "Fan on when hot", Enabled: true,
		Trigger: model.Trigger{Kind: model.TriggerDatastream, Device: s.a.UID, Pin: 0, Op: model.OpGt, Value: "30"},
		Actions: []model.Action{
			{Kind: model.ActionWrite, Device: s.b.UID, Pin: 1, Value: "1"},
			{Kind: model.ActionLogEvent, Device: s.a.UID, Event: "hot", Text: "{trigger_value} °C"},
		},
	}})
	devA, devB := s.dial(t, tokA), s.dial(t, tokB)
	for _, v := range []float64{25, 31.5, 33} {
		if _, err := devA.VirtualWrite(0, v); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in, err := devB.Expect(ctx, func(in devicesim.Incoming) bool { return in.Op == blynk.OpVirtualWrite && in.Pin == 1 })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(in.Values, []string{"1"}) {
		t.Fatalf("B got V1 %q, want [1]", in.Values)
	}
	poll.Until(t, "one run recorded", func() bool { return len(s.outboxRuns(t)) >= 1 })
	runs := s.outboxRuns(t)
	if len(runs) != 1 {
		t.Fatalf("%d runs, want 1 (31.5 crossed the threshold, 33 did not cross it again)", len(runs))
	}
	r := runs[0]
	if r.Automation != autoID || r.Device != s.a.UID || r.Value != "31.5" || !r.OK() || len(r.Results) != 2 {
		t.Fatalf("run %+v", r)
	}
	if v, ok := s.hub.Value(s.b.ID, 1); !ok || v.Value != "1" {
		t.Fatalf("B's V1 in the hub = %+v", v)
	}
	// The event went through the hub too, with the placeholder expanded.
	es, err := s.store.Outbox(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range es {
		if e.Record.Kind == hub.KindEvent && e.Record.Name == "hot" && e.Record.Value == "31.5 °C" && e.Record.Source == rules.Source {
			found = true
		}
	}
	if !found {
		t.Fatal("the logged event is not in the outbox")
	}
}

// Two automations that write each other's trigger pin at the site: the
// chain is cut, and the cut is a recorded run.
func TestLoopIsCutAtTheSite(t *testing.T) {
	s := newSite(t)
	s.runner.SetAutomations([]model.Automation{
		{ID: autoID, Name: "A to B", Enabled: true,
			Trigger: model.Trigger{Kind: model.TriggerDatastream, Device: s.a.UID, Pin: 1, Op: model.OpChanged},
			Actions: []model.Action{{Kind: model.ActionWrite, Device: s.b.UID, Pin: 1, Value: "{trigger_value}"}}},
		{ID: loopID, Name: "B to A plus one", Enabled: true,
			Trigger: model.Trigger{Kind: model.TriggerDatastream, Device: s.b.UID, Pin: 1, Op: model.OpAny},
			Actions: []model.Action{{Kind: model.ActionWrite, Device: s.a.UID, Pin: 1, Value: "{trigger_value}1"}}},
	})
	devA := s.dial(t, tokA)
	if _, err := devA.VirtualWrite(1, 0); err != nil { // seeds "changed"
		t.Fatal(err)
	}
	if _, err := devA.VirtualWrite(1, 1); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "a cut run", func() bool {
		for _, r := range s.outboxRuns(t) {
			if r.Cut != "" {
				return true
			}
		}
		return false
	})
	st := s.runner.Stats()
	if st.Cut == 0 || st.Runs > 2*model.MaxChain+2 {
		t.Fatalf("stats %+v: want a cut before the chain grows past %d runs", st, model.MaxChain)
	}
	if want := fmt.Sprint(st.Runs); fmt.Sprint(len(s.outboxRuns(t))) != want {
		t.Fatalf("outbox holds %d runs, the runner recorded %s", len(s.outboxRuns(t)), want)
	}
}
