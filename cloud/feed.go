package cloud

import (
	"context"
	"sync/atomic"

	"outpost/cloud/internal/livefeed"
	"outpost/cloud/internal/webhooks"
	"outpost/shared/syncproto"
)

// telemetryApplier is the store side of the gateways' telemetry: Apply
// that reports what it stored.
type telemetryApplier interface {
	Applied(ctx context.Context, gatewayID string, epoch int64) (int64, error)
	// ApplyItemsDelivering stores the batch and, in the same transaction,
	// the webhook deliveries pending returns for what it stores.
	ApplyItemsDelivering(ctx context.Context, gatewayID string, epoch int64, items []syncproto.Item, upTo int64, pending webhooks.PendingFunc) ([]syncproto.Item, error)
}

// publisher takes applied telemetry changes to whoever shows them live.
type publisher interface {
	Publish([]livefeed.Update)
}

// feedTelemetry is the telemetry store gatewaysync applies batches to: it
// stores each batch and, once committed, publishes what was stored (not
// replays, not devices the gateway does not serve) to the live feed.
type feedTelemetry struct {
	store telemetryApplier
	feed  publisher
	// observers see what was applied too: the cloud's automations and the
	// webhooks' triggers.
	observers []interface{ Observe([]syncproto.Item) }
	// hooks computes the webhook deliveries of a batch, stored with it;
	// kick wakes their dispatcher once committed (both nil: none).
	hooks   webhooks.PendingFunc
	kick    func()
	applied *atomic.Int64 // items stored (nil: not counted)
}

func (t feedTelemetry) Applied(ctx context.Context, gatewayID string, epoch int64) (int64, error) {
	return t.store.Applied(ctx, gatewayID, epoch)
}

func (t feedTelemetry) Apply(ctx context.Context, gatewayID string, epoch int64, items []syncproto.Item, upTo int64) error {
	queued := false
	pending := t.hooks
	if pending != nil {
		pending = func(ctx context.Context, devices webhooks.DeviceReader, applied []syncproto.Item) ([]webhooks.Pending, error) {
			ps, err := t.hooks(ctx, devices, applied)
			queued = len(ps) > 0
			return ps, err
		}
	}
	applied, err := t.store.ApplyItemsDelivering(ctx, gatewayID, epoch, items, upTo, pending)
	if err != nil || len(applied) == 0 {
		return err
	}
	if queued && t.kick != nil {
		t.kick()
	}
	if t.applied != nil {
		t.applied.Add(int64(len(applied)))
	}
	us := make([]livefeed.Update, len(applied))
	for i, it := range applied {
		us[i] = livefeed.FromItem(it)
	}
	t.feed.Publish(us)
	for _, o := range t.observers {
		o.Observe(applied)
	}
	return nil
}

// LiveFeed is the feed applied telemetry is published to: subscribe to
// device UIDs to follow them live.
func (s *Server) LiveFeed() *livefeed.Hub { return s.feed }
