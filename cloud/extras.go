package cloud

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"outpost/cloud/internal/events"
	"outpost/cloud/internal/livefeed"
	"outpost/cloud/internal/notify"
	"outpost/cloud/internal/platformapi"
	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/webhooks"
	"outpost/shared/syncproto"
)

// wireExtras builds the firmware sites, the notifier, the webhook
// dispatcher and triggers, and the cloud's automation runner on ext.
func (s *Server) wireExtras(cfg Config, ext cloudStore, mailer platformapi.Mailer, lims limits, logger *slog.Logger) error {
	log := logger.With("component", "cloud")
	var err error
	s.firmware, err = newFirmware(cfg, s.svc, ext, s.waker.changed, log)
	if err != nil {
		return err
	}
	notifier := notify.New(ext, mailer, s.svc.Tree, cfg.Mail.NotifyPerHour, cfg.Now, logger)
	s.notifier = notifier
	hookGuard := &webhooks.Guard{}
	for _, p := range cfg.Webhooks.Allow {
		hookGuard.Allow = append(hookGuard.Allow, netip.MustParsePrefix(p)) // Validate parsed it
	}
	s.hooks, err = webhooks.NewDispatcher(webhooks.Options{Store: ext, Guard: hookGuard, Logger: logger,
		Quota: func(perMin int) webhooks.Limiter { return lims.quota("webhook/"+strconv.Itoa(perMin), perMin) },
		Disabled: func(ctx context.Context, w webhooks.Webhook, reason string) {
			s.hookTriggers.reload()
			if _, err := notifier.ToOrg(ctx, tenancy.OrgID(w.OrgID), "Webhook disabled: "+w.Name, reason,
				fmt.Sprintf("Sent because webhook %q (%d) was disabled after consecutive failed deliveries.", w.Name, w.ID)); err != nil {
				log.Error("webhook owner not notified", "webhook", w.ID, "err", err)
			}
		}})
	if err != nil {
		return fmt.Errorf("cloud: %w", err)
	}
	s.hookTriggers = newHookTriggers(ext, s.hooks, s.svc.Tree, log)
	s.eventLog = events.New(ext, s.svc, s.observeCloudItems, s.hookTriggers.pending, cfg.Now)
	s.rules = newCloudRules(ext, s.sites, notifier, s.hooks, s.eventLog, logger)
	s.events = newEventNotifications(ext, notifier, cfg.Events, s.svc.Tree, cfg.Now, log)
	s.events.hooks = s.hookTriggers.notified
	s.sites.PlaceAutomations(ext)
	if s.cluster != nil {
		// Another instance saved an automation or a webhook, or moved a
		// device: this instance's runner and triggers load them again.
		s.cluster.onChange = func() {
			s.rules.reload()
			s.hookTriggers.reload()
		}
	}
	return nil
}

// observeCloudItems hands what the cloud itself recorded on devices (an
// automation's events) to the live feed and to the observers of applied
// telemetry, as a gateway's batch is once applied, and wakes the webhook
// dispatcher (their deliveries were stored with them).
func (s *Server) observeCloudItems(items []syncproto.Item) {
	us := make([]livefeed.Update, len(items))
	for i, it := range items {
		us[i] = livefeed.FromItem(it)
	}
	if s.feedOut != nil {
		s.feedOut.Publish(us)
	}
	s.rules.runner.Observe(items)
	s.hooks.Kick()
	s.events.Observe(items)
}

// leader is a store that instances share and that gives one of them a
// role at a time (cloud/internal/postgres).
type leader interface {
	Lead(ctx context.Context, key int64, every time.Duration, held func(bool)) error
}

// scheduleLeaderKey names the role of running scheduled automations.
const scheduleLeaderKey = 0x6f7574706f737401 // "outpost" 1

// announce tells the other instances sharing the store that webhooks
// changed here (they reload their automations and webhook triggers; no
// gateway view holds webhooks, so none is woken); alone, it does nothing.
func (s *Server) announce() {
	if s.cluster != nil {
		s.cluster.tenancyChanged(nil, false, false)
	}
}

// runExtras runs the webhook dispatcher and triggers and the cloud's
// automations until ctx ends or the returned stop is called (which waits
// for them; calling it again is harmless).
func (s *Server) runExtras(ctx context.Context) (stop func()) {
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if l, ok := s.store.(leader); ok { // instances share the store: one runs the schedules
		var leads atomic.Bool
		s.rules.runner.LeadSchedules(leads.Load)
		wg.Go(func() {
			_ = l.Lead(rctx, scheduleLeaderKey, 5*time.Second, func(held bool) {
				leads.Store(held)
				s.log.Info("scheduled automations", "run here", held)
			})
		})
	}
	wg.Go(func() { _ = s.hooks.Run(rctx) })
	wg.Go(func() { s.hookTriggers.run(rctx) })
	wg.Go(func() { s.events.run(rctx) })
	wg.Go(func() { s.rules.run(rctx) })
	_, shared := s.store.(bus) // PostgreSQL drops whole months for the global bound
	now := s.cfg.Now
	if now == nil {
		now = time.Now
	}
	ret := &historyRetention{store: s.store, global: s.cfg.Store.HistoryRetention, globalByRows: !shared, now: now, log: s.log}
	wg.Go(func() { ret.run(rctx) })
	return func() { cancel(); wg.Wait() }
}
