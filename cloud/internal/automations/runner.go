package automations

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"outpost/shared/rules"
	"outpost/shared/syncproto"
)

// RunnerStore is what the cloud's evaluator needs of persistence.
type RunnerStore interface {
	AllAutomations(ctx context.Context) ([]rules.Automation, error)
	GetAutomation(ctx context.Context, id string) (rules.Automation, error)
	SaveRun(ctx context.Context, r rules.Run) error
}

// Cloud is what the evaluator needs of the rest of the cloud: where a
// device is served, its latest values, and a control write through the
// same command path as a person's (Platform API → gateway).
type Cloud interface {
	// SiteOf names the gateway serving a device ("" when none).
	SiteOf(ctx context.Context, device string) (string, error)
	rules.Values
	Write(ctx context.Context, automation, device string, pin int, value string) error
	// Notify tells the people of org (notify: members, Admins above,
	// hourly caps); why says what caused it.
	Notify(ctx context.Context, org int64, subject, body, why string) error
	// Webhook queues a call of the org's webhook id for the firing.
	Webhook(ctx context.Context, org int64, id string, f *rules.Firing) error
	// LogEvent logs an event on a device in the automation's name, as
	// the device would (the code must be one of its template's events).
	LogEvent(ctx context.Context, automation, device, code, description string) error
}

// Runner evaluates, in the cloud, the automations that no single site can
// run (their devices sit on several sites, or they call a webhook), on the
// telemetry the gateways send and on the clock.
type Runner struct {
	store RunnerStore
	cloud Cloud
	log   *slog.Logger
	eng   *rules.Engine

	// leads tells whether this instance runs scheduled automations (nil:
	// it does). Instances sharing a store each hold every automation; a
	// schedule must fire on one of them only.
	leads func() bool

	mu       sync.Mutex
	queue    []rules.Input
	manual   []rules.Firing // "run now" of people, run by Run
	siteRuns []string       // run JSON of site runs, for their notify actions
	signal   chan struct{}
}

// NewRunner returns a runner; call Reload before Run and after every
// change of automations or of where devices are served.
func NewRunner(store RunnerStore, cloud Cloud, log *slog.Logger) *Runner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{store: store, cloud: cloud, log: log.With("component", "automations"), eng: rules.NewEngine(),
		signal: make(chan struct{}, 1)}
}

// LeadSchedules makes the runner fire scheduled automations only while
// leads reports true (call before Run). Automations triggered by telemetry
// fire on the instance that applied it, so they need no leader.
func (r *Runner) LeadSchedules(leads func() bool) { r.leads = leads }

// Reload loads the automations the cloud runs.
func (r *Runner) Reload(ctx context.Context) error {
	all, err := r.store.AllAutomations(ctx)
	if err != nil {
		return err
	}
	sites := map[string]string{}
	var lookupErr error
	siteOf := func(uid string) string {
		s, ok := sites[uid]
		if !ok {
			s, err = r.cloud.SiteOf(ctx, uid)
			if err != nil && lookupErr == nil {
				lookupErr = err
			}
			sites[uid] = s
		}
		return s
	}
	var mine []rules.Automation
	for i := range all {
		if _, atSite := rules.Place(&all[i], siteOf); !atSite {
			mine = append(mine, all[i])
		}
	}
	if lookupErr != nil {
		return fmt.Errorf("automations: where devices are served: %w", lookupErr)
	}
	r.eng.Replace(mine, time.Now())
	return nil
}

// Len is the number of enabled automations the cloud runs.
func (r *Runner) Len() int { return r.eng.Len() }

// Observe queues applied telemetry items (it does not block). With no
// automation in the cloud, only site runs (their notifications) are kept.
func (r *Runner) Observe(items []syncproto.Item) {
	idle := r.eng.Len() == 0
	now := time.Now()
	r.mu.Lock()
	for _, it := range items {
		if idle && it.Kind != syncproto.KindRun {
			continue
		}
		in := rules.Input{Device: it.Device, At: now}
		switch it.Kind {
		case syncproto.KindWrite:
			in.Kind, in.Pin, in.Value = rules.InputWrite, it.Pin, it.Value
		case syncproto.KindOnline:
			in.Kind = rules.InputOnline
		case syncproto.KindOffline:
			in.Kind = rules.InputOffline
		case syncproto.KindEvent:
			in.Kind, in.Event, in.Value = rules.InputEvent, it.Name, it.Value
		case syncproto.KindRun:
			r.siteRuns = append(r.siteRuns, it.Value)
			continue
		default:
			continue
		}
		r.queue = append(r.queue, in)
	}
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// Run evaluates until ctx ends; runs in progress end with it.
func (r *Runner) Run(ctx context.Context) error {
	var work sync.WaitGroup
	defer work.Wait()
	fire := func(f rules.Firing) {
		work.Add(1)
		go func() {
			defer work.Done()
			run := rules.Execute(ctx, f, actuator{r})
			if err := r.store.SaveRun(context.WithoutCancel(ctx), run); err != nil {
				r.log.Error("automation run not recorded", "automation", run.Automation, "err", err)
			}
			if run.Cut != "" {
				r.log.Warn("automation cut", "automation", run.Automation, "why", run.Cut)
			}
		}()
	}
	work.Add(1)
	go func() {
		defer work.Done()
		_ = r.eng.Run(ctx, r.cloud, func(f rules.Firing) {
			if f.Trigger == rules.TriggerSchedule && r.leads != nil && !r.leads() {
				return // another instance runs the schedules
			}
			fire(f)
		})
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.signal:
		}
		r.mu.Lock()
		batch, runs, manual := r.queue, r.siteRuns, r.manual
		r.queue, r.siteRuns, r.manual = nil, nil, nil
		r.mu.Unlock()
		for _, f := range manual {
			// A datastream trigger's device and value are the
			// datastream's latest, so that {trigger_value} in the
			// actions reads what the device reports now.
			if t := f.Automation.Trigger; t.Kind == rules.TriggerDatastream && t.Device != "" {
				f.Device, f.Pin = t.Device, t.Pin
				f.Value, _ = r.cloud.Value(t.Device, t.Pin)
			}
			fire(f)
		}
		for _, doc := range runs {
			r.siteNotify(ctx, doc)
		}
		for _, in := range batch {
			for _, f := range r.eng.Observe(in, r.cloud) {
				fire(f)
			}
		}
	}
}

// siteNotify sends the notifications of a run made at a site: the site
// cannot mail, so its notify actions succeed there and are carried out
// here when the run arrives (once: telemetry is applied once).
func (r *Runner) siteNotify(ctx context.Context, doc string) {
	var run rules.Run
	if err := json.Unmarshal([]byte(doc), &run); err != nil || run.Cut != "" {
		return
	}
	var a rules.Automation
	loaded := false
	for _, res := range run.Results {
		if res.Kind != rules.ActionNotify || res.Error != "" {
			continue
		}
		if !loaded {
			var err error
			if a, err = r.store.GetAutomation(ctx, run.Automation); err != nil {
				r.log.Warn("site run's notification not sent: automation gone", "automation", run.Automation, "err", err)
				return
			}
			loaded = true
		}
		if res.Action >= len(a.Actions) || a.Actions[res.Action].Kind != rules.ActionNotify {
			continue // the automation changed since the run
		}
		f := rules.Firing{Automation: &a, At: time.UnixMilli(run.At), Trigger: run.Trigger, Device: run.Device, Pin: run.Pin,
			Value: run.Value, Chain: run.Chain}
		ac := a.Actions[res.Action]
		if err := r.cloud.Notify(ctx, a.OrgID, rules.Expand(ac.Subject, &f), rules.Expand(ac.Text, &f), why(&f)); err != nil {
			r.log.Error("site run's notification not sent", "automation", a.ID, "err", err)
		}
	}
}

// why says what caused a notification.
func why(f *rules.Firing) string {
	if f.Trigger == rules.TriggerManual {
		return fmt.Sprintf("Sent by automation %q (%s), run at %s by a person's \"Run now\".", f.Automation.Name, f.Automation.ID,
			f.At.UTC().Format(time.RFC3339))
	}
	s := fmt.Sprintf("Sent by automation %q (%s), triggered at %s by %s", f.Automation.Name, f.Automation.ID,
		f.At.UTC().Format(time.RFC3339), f.Trigger)
	if f.Device != "" {
		s += fmt.Sprintf(" on device %s", f.Device)
		if f.Trigger == rules.TriggerDatastream {
			s += fmt.Sprintf(" V%d = %s", f.Pin, f.Value)
		}
	}
	return s + "."
}

type actuator struct{ r *Runner }

func (a actuator) Write(ctx context.Context, f *rules.Firing, device string, pin int, value string) error {
	return a.r.cloud.Write(ctx, f.Automation.ID, device, pin, value)
}

func (a actuator) LogEvent(ctx context.Context, f *rules.Firing, device, code, description string) error {
	return a.r.cloud.LogEvent(ctx, f.Automation.ID, device, code, description)
}
func (a actuator) Notify(ctx context.Context, f *rules.Firing, subject, text string) error {
	return a.r.cloud.Notify(ctx, f.Automation.OrgID, subject, text, why(f))
}

func (a actuator) Webhook(ctx context.Context, f *rules.Firing, id string) error {
	return a.r.cloud.Webhook(ctx, f.Automation.OrgID, id, f)
}

// RunNow queues one run of a's actions in the cloud, whatever its trigger
// and conditions and wherever it normally runs ("run now": a person's
// request, not subject to loop protection); Run carries it out and records
// it like every run, with trigger rules.TriggerManual.
func (r *Runner) RunNow(a rules.Automation, at time.Time) {
	r.mu.Lock()
	r.manual = append(r.manual, rules.Firing{Automation: &a, At: at, Trigger: rules.TriggerManual})
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// Where tells where a runs: the site serving all of its devices, or the
// cloud ("" and false).
func (r *Runner) Where(ctx context.Context, a *rules.Automation) (site string, atSite bool, err error) {
	site, atSite = rules.Place(a, func(uid string) string {
		s, e := r.cloud.SiteOf(ctx, uid)
		if e != nil && err == nil {
			err = e
		}
		return s
	})
	if err != nil {
		return "", false, fmt.Errorf("automations: where devices are served: %w", err)
	}
	return site, atSite, nil
}
