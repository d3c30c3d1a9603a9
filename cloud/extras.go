package cloud

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"outpost/cloud/internal/gatewaysync"
	"outpost/cloud/internal/notify"
	"outpost/cloud/internal/platformapi"
	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/webhooks"
)

// wireExtras builds the firmware sites, the notifier, the webhook
// dispatcher and triggers, and the cloud's automation runner on ext.
func (s *Server) wireExtras(cfg Config, ext cloudStore, mailer platformapi.Mailer, syncNow func() *gatewaysync.Server, logger *slog.Logger) error {
	log := logger.With("component", "cloud")
	var err error
	s.firmware, err = newFirmware(cfg, s.svc, ext, func() {
		if gs := syncNow(); gs != nil {
			gs.TenancyChanged()
		}
	}, log)
	if err != nil {
		return err
	}
	notifier := notify.New(ext, mailer, s.svc.Tree, cfg.Mail.NotifyPerHour, cfg.Now, logger)
	hookGuard := &webhooks.Guard{}
	for _, p := range cfg.Webhooks.Allow {
		hookGuard.Allow = append(hookGuard.Allow, netip.MustParsePrefix(p)) // Validate parsed it
	}
	s.hooks, err = webhooks.NewDispatcher(webhooks.Options{Store: ext, Guard: hookGuard, Logger: logger,
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
	s.rules = newCloudRules(ext, s.sites, notifier, s.hooks, logger)
	s.hookTriggers = newHookTriggers(ext, s.hooks, s.svc.Tree, log)
	s.sites.PlaceAutomations(ext)
	return nil
}

// runExtras runs the webhook dispatcher and triggers and the cloud's
// automations until ctx ends or the returned stop is called (which waits
// for them; calling it again is harmless).
func (s *Server) runExtras(ctx context.Context) (stop func()) {
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.hooks.Run(rctx) })
	wg.Go(func() { s.hookTriggers.run(rctx) })
	wg.Go(func() { s.rules.run(rctx) })
	return func() { cancel(); wg.Wait() }
}
