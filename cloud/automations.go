package cloud

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"outpost/cloud/internal/automations"
	"outpost/cloud/internal/events"
	"outpost/cloud/internal/notify"
	"outpost/cloud/internal/siteregistry"
	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/webhooks"
	"outpost/shared/rules"
)

// SaveAutomation stores an automation in the organization of its first
// device (every device it names must exist) and brings the gateways up to date. It is what the Platform API's
// automation routes will call (pending, with their permission checks); a
// test and the demo use it meanwhile.
func (s *Server) SaveAutomation(ctx context.Context, a rules.Automation) error {
	devs := a.Devices()
	if len(devs) == 0 {
		return fmt.Errorf("cloud: automation %s names no device", a.ID)
	}
	d, err := s.store.GetDeviceByUID(ctx, devs[0])
	if err != nil {
		return fmt.Errorf("cloud: automation %s: %w", a.ID, err)
	}
	for _, uid := range devs[1:] {
		if _, err := s.store.GetDeviceByUID(ctx, uid); err != nil {
			return fmt.Errorf("cloud: automation %s: device %s: %w", a.ID, uid, err)
		}
	}
	if err := s.store.SaveAutomation(ctx, d.OrgID, a, tenancy.Actor{}, time.Now()); err != nil {
		return fmt.Errorf("cloud: %w", err)
	}
	s.waker.changed(tenancy.Change{Orgs: []tenancy.OrgID{d.OrgID}})
	s.rules.reload()
	return nil
}

// SaveWebhook stores a webhook of the organization orgID (w.ID 0
// creates it). The Platform API's webhook routes will call it (pending);
// a test and the demo use it meanwhile.
func (s *Server) SaveWebhook(ctx context.Context, w *webhooks.Webhook) error {
	if err := s.store.SaveWebhook(ctx, w); err != nil {
		return err
	}
	s.hookTriggers.load(ctx) // in force when SaveWebhook returns
	s.announce()             // and on the other instances once they reload
	return nil
}

// Webhook is an organization's webhook (cloud/internal/webhooks).
type Webhook = webhooks.Webhook

// SaveWebhookForDevice stores a webhook in the organization of a device
// (a test's and the demo's way in, until the webhook routes exist).
func (s *Server) SaveWebhookForDevice(ctx context.Context, uid string, w *Webhook) error {
	d, err := s.store.GetDeviceByUID(ctx, uid)
	if err != nil {
		return err
	}
	w.OrgID = int64(d.OrgID)
	return s.SaveWebhook(ctx, w)
}

// WebhookDeliveries is a webhook's delivery log, newest first.
func (s *Server) WebhookDeliveries(ctx context.Context, id int64, limit int) ([]webhooks.Delivery, error) {
	return s.store.Deliveries(ctx, id, limit)
}

// CloudAutomations is how many enabled automations the cloud runs itself
// (the ones no single site can run).
func (s *Server) CloudAutomations() int { return s.rules.runner.Len() }

// AutomationRuns returns the runs recorded for an automation (at its site
// or in the cloud), newest first.
func (s *Server) AutomationRuns(ctx context.Context, id string, limit int) ([]rules.Run, error) {
	return s.store.AutomationRuns(ctx, id, limit)
}

// cloudRules runs, in the cloud, the automations no single site can run,
// and reloads them when automations or devices change.
type cloudRules struct {
	runner *automations.Runner
	kick   chan struct{}
	log    *slog.Logger
}

func newCloudRules(store cloudStore, st *siteregistry.Registry, n *notify.Service, hooks *webhooks.Dispatcher, evs *events.Service, log *slog.Logger) *cloudRules {
	return &cloudRules{runner: automations.NewRunner(store, ruleCloud{store: store, sites: st, notify: n, hooks: hooks, events: evs}, log),
		kick: make(chan struct{}, 1), log: log}
}

// reload asks for the automations to be loaded again (coalesced).
func (c *cloudRules) reload() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *cloudRules) run(ctx context.Context) {
	load := func() {
		if err := c.runner.Reload(ctx); err != nil && ctx.Err() == nil {
			c.log.Error("cloud automations not loaded", "err", err)
		}
	}
	load()
	done := make(chan struct{})
	go func() { defer close(done); _ = c.runner.Run(ctx) }()
	for {
		select {
		case <-ctx.Done():
			<-done
			return
		case <-c.kick:
			load()
		}
	}
}

// ruleCloud is automations.Cloud over the store and the sites.
type ruleCloud struct {
	store  cloudStore
	sites  *siteregistry.Registry
	notify *notify.Service
	hooks  *webhooks.Dispatcher
	events *events.Service
}

// LogEvent logs an event on a device in the cloud only: it is recorded on
// the device's timeline and notifies, calls webhooks and triggers
// automations like one the device logged, but does not go through the
// device's gateway (docs/automations.md).
func (r ruleCloud) LogEvent(ctx context.Context, automation, uid, code, description string) error {
	_, err := r.events.Log(ctx, automation, uid, code, description)
	return err
}

// Webhook queues a delivery of one of the org's webhooks, with the
// firing's values as the placeholders.
func (r ruleCloud) Webhook(ctx context.Context, org int64, id string, f *rules.Firing) error {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook id %q: %w", id, err)
	}
	w, _, err := r.store.GetWebhook(ctx, n)
	if err != nil || w.OrgID != org {
		return fmt.Errorf("webhook %s: not found in the automation's organization", id)
	}
	e := webhooks.Event{Kind: string(f.Trigger), Device: f.Device, Pin: f.Pin, Value: f.Value, At: f.At}
	if f.Device != "" {
		if d, err := r.store.GetDeviceByUID(ctx, f.Device); err == nil {
			e.DeviceName, e.Template = d.Name, string(d.TemplateID)
		}
	}
	return r.hooks.Enqueue(ctx, []webhooks.Webhook{w}, e)
}

func (r ruleCloud) Notify(ctx context.Context, org int64, subject, body, why string) error {
	if subject == "" {
		subject = "Outpost notification"
	}
	_, err := r.notify.ToOrg(ctx, tenancy.OrgID(org), subject, body, why)
	return err
}

func (r ruleCloud) SiteOf(ctx context.Context, uid string) (string, error) {
	d, err := r.store.GetDeviceByUID(ctx, uid)
	if tenancy.CodeOf(err) == tenancy.NotFound {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	g, err := r.sites.ServingGateway(ctx, d.OrgID)
	if tenancy.CodeOf(err) == tenancy.NotFound {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return siteregistry.Key(g), nil
}

func (r ruleCloud) Value(uid string, pin int) (string, bool) {
	vals, err := r.store.DeviceValues(context.Background(), uid)
	if err != nil {
		return "", false
	}
	for _, v := range vals {
		if v.Pin == pin {
			return v.Value, true
		}
	}
	return "", false
}

// Write is a control write through the command path a person's write
// takes, in the automation's name.
func (r ruleCloud) Write(ctx context.Context, automation, uid string, pin int, value string) error {
	d, err := r.store.GetDeviceByUID(ctx, uid)
	if err != nil {
		return err
	}
	return r.sites.Write(ctx, tenancy.Actor{ClientID: "automation:" + automation, OrgID: d.OrgID}, d, pin, value)
}
