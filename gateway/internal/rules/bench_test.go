package rules_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"outpost/gateway/internal/hub"
	"outpost/gateway/internal/hub/hubtest"
	"outpost/gateway/internal/rules"
	"outpost/shared/datastream"
	model "outpost/shared/rules"
)

// conn is a device connection that reports each delivery's arrival.
type conn struct{ got chan time.Time }

func (c conn) Transport() string { return "bench" }
func (c conn) Deliver(hub.Delivery) {
	select {
	case c.got <- time.Now():
	default:
	}
}
func (c conn) Close() {}

// BenchmarkTriggerToAction measures, at the site, the time from device A's
// write crossing a threshold to the automation's write arriving at device
// B's connection (the hub's delivery to the transport), with 10,000 other
// automations loaded. It reports the p50 and p99 (target p99 ≤ 10 ms).
// Between samples it waits out the automation's 1 ms loop protection.
func BenchmarkTriggerToAction(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := hub.New(hub.Options{Store: &hubtest.CountStore{}})
	if err := h.Load(ctx); err != nil {
		b.Fatal(err)
	}
	if err := h.SaveTemplate(ctx, datastream.Template{ID: "TMPLRULE", Name: "Rule", Datastreams: []datastream.Datastream{
		{Pin: 0, Name: "Temperature", Type: datastream.Double}, {Pin: 1, Name: "Fan", Type: datastream.Integer},
	}}); err != nil {
		b.Fatal(err)
	}
	a, _, err := h.AddDevice(ctx, "TMPLRULE", "A")
	if err != nil {
		b.Fatal(err)
	}
	dst, _, err := h.AddDevice(ctx, "TMPLRULE", "B")
	if err != nil {
		b.Fatal(err)
	}
	c := conn{got: make(chan time.Time, 1)}
	defer h.Attach(dst.ID, c)()
	r, err := rules.New(rules.Options{Hub: h})
	if err != nil {
		b.Fatal(err)
	}
	autos := []model.Automation{{ID: autoID, Name: "fan", Enabled: true, MinIntervalMS: 1,
		Trigger: model.Trigger{Kind: model.TriggerDatastream, Device: a.UID, Pin: 0, Op: model.OpGt, Value: "30"},
		Actions: []model.Action{{Kind: model.ActionWrite, Device: dst.UID, Pin: 1, Value: "1"}}}}
	for i := range 10000 {
		id := []byte(loopID)
		for j, k := 21, i; j < 26; j, k = j+1, k/32 {
			id[j] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"[k%32]
		}
		autos = append(autos, model.Automation{ID: string(id), Name: "other", Enabled: true,
			Trigger: model.Trigger{Kind: model.TriggerDatastream, Device: dst.UID, Pin: 0, Op: model.OpGt, Value: "30"},
			Actions: []model.Action{{Kind: model.ActionNotify, Text: "x"}}})
	}
	r.SetAutomations(autos)
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	lat := make([]time.Duration, 0, b.N)
	for i := 0; b.Loop(); i++ {
		if _, err := h.DeviceWrite(a.ID, 0, [][]byte{[]byte("25")}, 0, "bench"); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := h.DeviceWrite(a.ID, 0, [][]byte{[]byte("35")}, 0, "bench"); err != nil {
			b.Fatal(err)
		}
		select {
		case at := <-c.got:
			lat = append(lat, at.Sub(start))
		case <-time.After(5 * time.Second):
			b.Fatalf("sample %d: no action within 5s", i)
		}
		b.StopTimer()
		time.Sleep(2 * time.Millisecond) // the loop protection interval
		b.StartTimer()
	}
	cancel()
	<-done
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkWriteNoMatch is a device write to a pin no automation watches,
// with 10,000 automations loaded, with and without the runner: the
// difference is what automations add to a write (target ≤ 1 µs). The
// runner's share that runs off the write path (evaluation) is included,
// as the runner drains its queue on the other core.
func BenchmarkWriteNoMatch(b *testing.B) {
	for _, withRunner := range []bool{false, true} {
		name := "without-runner"
		if withRunner {
			name = "with-runner"
		}
		b.Run(name, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			h := hub.New(hub.Options{Store: &hubtest.CountStore{}})
			if err := h.Load(ctx); err != nil {
				b.Fatal(err)
			}
			if err := h.SaveTemplate(ctx, datastream.Template{ID: "TMPLRULE", Name: "Rule", Datastreams: []datastream.Datastream{
				{Pin: 0, Name: "Temperature", Type: datastream.Double}, {Pin: 2, Name: "Other", Type: datastream.Double},
			}}); err != nil {
				b.Fatal(err)
			}
			a, _, err := h.AddDevice(ctx, "TMPLRULE", "A")
			if err != nil {
				b.Fatal(err)
			}
			done := make(chan struct{})
			if withRunner {
				r, err := rules.New(rules.Options{Hub: h})
				if err != nil {
					b.Fatal(err)
				}
				var autos []model.Automation
				for i := range 10000 {
					id := []byte(loopID)
					for j, k := 21, i; j < 26; j, k = j+1, k/32 {
						id[j] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"[k%32]
					}
					autos = append(autos, model.Automation{ID: string(id), Name: "other", Enabled: true,
						Trigger: model.Trigger{Kind: model.TriggerDatastream, Device: a.UID, Pin: 0, Op: model.OpGt, Value: "30"},
						Actions: []model.Action{{Kind: model.ActionNotify, Text: "x"}}})
				}
				r.SetAutomations(autos)
				go func() { defer close(done); _ = r.Run(ctx) }()
			} else {
				close(done)
			}
			val := [][]byte{[]byte("21.5")}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.DeviceWrite(a.ID, 2, val, 0, "bench"); err != nil {
					b.Fatal(err)
				}
			}
			cancel()
			<-done
		})
	}
}
