// Package rules runs, at the site, the automations the cloud placed at this
// gateway (shared/rules): it watches the hub's accepted changes, evaluates
// them with a shared/rules Engine, carries out the actions through the
// hub's command path (the one a person's write from the cloud takes) and
// records every run as a hub record, which reaches the cloud through the
// outbox like any other, once. It needs no cloud: the automations come
// from the link's tenancy cache at start.
package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"outpost/gateway/internal/hub"
	"outpost/shared/datastream"
	model "outpost/shared/rules"
	"outpost/shared/syncproto"
)

// Source is the record source of what automations do.
const Source = "automation"

// Hub is what the runner needs of the hub.
type Hub interface {
	Subscribe(fn func(hub.Update)) (cancel func())
	Device(id int64) (hub.Device, bool)
	DeviceByUID(uid string) (hub.Device, bool)
	Value(deviceID int64, pin int) (hub.PinValue, bool)
	CommandWrite(deviceID int64, pin int, items [][]byte, ts int64, source string) (string, error)
	LogEvent(deviceID int64, code, description string, ts int64, source string) error
	RecordRun(deviceID int64, automation, run string, ts int64) error
}

// Options configure a Runner. Hub is required.
type Options struct {
	Hub    Hub
	Logger *slog.Logger
	// OnRun, if set, sees every run once it is recorded (tests, metrics).
	OnRun func(model.Run)
}

// Stats are the runner's counters.
type Stats struct {
	Automations int    `json:"automations"` // enabled automations loaded
	Runs        uint64 `json:"runs"`        // runs recorded (cut ones included)
	Cut         uint64 `json:"cut"`         // runs cut by loop protection or the chain limit
	Failed      uint64 `json:"failed"`      // runs with an action that failed
}

// Runner runs the site's automations. Create with New (it subscribes to
// the hub for the hub's lifetime), load automations with SetAutomations
// (at any time, before or during Run), run with Run (once).
type Runner struct {
	opts Options
	log  *slog.Logger
	eng  *model.Engine

	// watch holds, per local device id, what the automations watch of it
	// (*model.Watch), so that the hub's subscriber drops at once what no
	// automation can use. A device not in it yet is queued and resolved
	// by the runner; SetAutomations starts a new map.
	watch atomic.Pointer[sync.Map]

	mu     sync.Mutex
	queue  []queued
	chains map[chainKey]int // chain of writes an action is making, by device, pin and time
	signal chan struct{}

	runs, cut, failed atomic.Uint64
}

type queued struct {
	rec   hub.Record
	chain int
}

type chainKey struct {
	dev int64
	pin int
	ts  int64
}

// New returns a Runner with no automations.
func New(opts Options) (*Runner, error) {
	if opts.Hub == nil {
		return nil, errors.New("rules: Hub is required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runner{
		opts:   opts,
		log:    log.With("component", "rules"),
		eng:    model.NewEngine(),
		chains: map[chainKey]int{},
		signal: make(chan struct{}, 1),
	}
	r.watch.Store(new(sync.Map))
	// Subscribed from the start, not from Run: what devices do before Run
	// starts (they connect as the gateway starts) waits in the queue.
	opts.Hub.Subscribe(r.observe)
	return r, nil
}

// SetAutomations replaces the automations (the cloudlink's
// OnAutomations). It does not block.
func (r *Runner) SetAutomations(as []model.Automation) {
	r.eng.Replace(as, time.Now())
	r.watch.Store(new(sync.Map))
	r.log.Info("automations loaded", "enabled", r.eng.Len(), "total", len(as))
}

// Stats returns the counters.
func (r *Runner) Stats() Stats {
	return Stats{Automations: r.eng.Len(), Runs: r.runs.Load(), Cut: r.cut.Load(), Failed: r.failed.Load()}
}

// Run evaluates the hub's changes and the clock until ctx ends, then waits
// for the runs in progress (their waits end with ctx) and returns
// ctx.Err().
func (r *Runner) Run(ctx context.Context) error {
	var work sync.WaitGroup
	defer work.Wait()
	fire := func(f model.Firing) {
		work.Add(1)
		go func() {
			defer work.Done()
			r.execute(ctx, f)
		}()
	}
	work.Add(1)
	go func() {
		defer work.Done()
		_ = r.eng.Run(ctx, values{r.opts.Hub}, fire)
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.signal:
		}
		r.mu.Lock()
		batch := r.queue
		r.queue = nil
		r.mu.Unlock()
		for i := range batch {
			r.handle(&batch[i].rec, batch[i].chain, fire)
		}
	}
}

// observe is the hub subscriber: it runs under the device's lock, so it
// only queues (the queue grows while the runner catches up; the hub's
// writers never wait for automations).
func (r *Runner) observe(u hub.Update) {
	rec := &u.Record
	switch rec.Kind {
	case hub.KindWrite, hub.KindOnline, hub.KindOffline, hub.KindEvent:
	default:
		return
	}
	chain := 0
	if rec.Kind == hub.KindWrite && rec.Source == Source {
		// An action's write: this runs inside its CommandWrite call.
		k := chainKey{rec.DeviceID, rec.Pin, rec.TS}
		r.mu.Lock()
		chain = r.chains[k]
		delete(r.chains, k)
		r.mu.Unlock()
	}
	if w, ok := r.watch.Load().Load(rec.DeviceID); ok {
		w := w.(*model.Watch)
		if rec.Kind == hub.KindWrite && !w.Pin(rec.Pin) || rec.Kind != hub.KindWrite && !w.Other {
			return
		}
	}
	r.mu.Lock()
	r.queue = append(r.queue, queued{*rec, chain})
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

func (r *Runner) handle(rec *hub.Record, chain int, fire func(model.Firing)) {
	d, ok := r.opts.Hub.Device(rec.DeviceID)
	if !ok {
		return
	}
	if m := r.watch.Load(); m != nil {
		if _, known := m.Load(rec.DeviceID); !known {
			w := r.eng.Watched(d.UID)
			m.Store(rec.DeviceID, &w)
		}
	}
	in := model.Input{Device: d.UID, At: time.Now(), Chain: chain}
	switch rec.Kind {
	case hub.KindWrite:
		in.Kind, in.Pin, in.Value = model.InputWrite, rec.Pin, rec.Value
	case hub.KindOnline:
		in.Kind = model.InputOnline
	case hub.KindOffline:
		in.Kind = model.InputOffline
	case hub.KindEvent:
		in.Kind, in.Event, in.Value = model.InputEvent, rec.Name, rec.Value
	}
	for _, f := range r.eng.Observe(in, values{r.opts.Hub}) {
		fire(f)
	}
}

// maxRunJSON keeps a run record inside one telemetry item.
const maxRunJSON = syncproto.MaxValueLen

func (r *Runner) execute(ctx context.Context, f model.Firing) {
	run := model.Execute(ctx, f, actuator{r})
	a := f.Automation
	host := f.Device
	if host == "" {
		if ds := a.Devices(); len(ds) > 0 {
			host = ds[0]
		}
	}
	d, ok := r.opts.Hub.DeviceByUID(host)
	if !ok {
		r.log.Warn("automation run not recorded: its device is gone", "automation", a.ID, "device", host)
		return
	}
	b, err := json.Marshal(run)
	for i := 0; err == nil && len(b) > maxRunJSON && i < len(run.Results); i++ {
		run.Results[i].Error = truncate(run.Results[i].Error, 64)
		b, err = json.Marshal(run)
	}
	if err != nil || len(b) > maxRunJSON {
		r.log.Error("automation run not recorded: too large", "automation", a.ID, "err", err)
		return
	}
	if err := r.opts.Hub.RecordRun(d.ID, a.ID, string(b), run.At); err != nil {
		r.log.Warn("automation run not recorded", "automation", a.ID, "err", err)
		return
	}
	r.runs.Add(1)
	switch {
	case run.Cut != "":
		r.cut.Add(1)
		r.log.Warn("automation cut", "automation", a.ID, "name", a.Name, "why", run.Cut)
	case !run.OK():
		r.failed.Add(1)
		r.log.Warn("automation action failed", "automation", a.ID, "name", a.Name, "results", run.Results)
	}
	if r.opts.OnRun != nil {
		r.opts.OnRun(run)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// values reads the hub's latest values for conditions.
type values struct{ h Hub }

func (v values) Value(uid string, pin int) (string, bool) {
	d, ok := v.h.DeviceByUID(uid)
	if !ok {
		return "", false
	}
	pv, ok := v.h.Value(d.ID, pin)
	return pv.Value, ok
}

// actuator carries out actions on the hub.
type actuator struct{ r *Runner }

// ErrCloudOnly is the result of an action only the cloud can run; the
// cloud does not place such automations at a site.
var ErrCloudOnly = errors.New("rules: webhooks run in the cloud")

func (a actuator) device(uid string) (hub.Device, error) {
	d, ok := a.r.opts.Hub.DeviceByUID(uid)
	if !ok {
		return d, fmt.Errorf("device %s: %w", uid, hub.ErrNoDevice)
	}
	return d, nil
}

func (a actuator) Write(_ context.Context, f *model.Firing, uid string, pin int, value string) error {
	d, err := a.device(uid)
	if err != nil {
		return err
	}
	ts := time.Now().UnixMilli()
	k := chainKey{d.ID, pin, ts}
	a.r.mu.Lock()
	a.r.chains[k] = f.Chain
	a.r.mu.Unlock()
	_, err = a.r.opts.Hub.CommandWrite(d.ID, pin, datastream.SplitValue(value), ts, Source)
	a.r.mu.Lock()
	delete(a.r.chains, k) // observe took it, unless nothing was written
	a.r.mu.Unlock()
	return err
}

func (a actuator) LogEvent(_ context.Context, _ *model.Firing, uid, code, description string) error {
	d, err := a.device(uid)
	if err != nil {
		return err
	}
	return a.r.opts.Hub.LogEvent(d.ID, code, description, 0, Source)
}

// Notify at the site is recorded in the run; the cloud sends the
// notification when the run reaches it.
func (a actuator) Notify(context.Context, *model.Firing, string, string) error { return nil }

func (a actuator) Webhook(context.Context, *model.Firing, string) error { return ErrCloudOnly }
