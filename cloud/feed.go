package cloud

import (
	"context"
	"sync/atomic"

	"outpost/cloud/internal/livefeed"
	"outpost/shared/syncproto"
)

// telemetryApplier is the store side of the gateways' telemetry: Apply
// that reports what it stored.
type telemetryApplier interface {
	Applied(ctx context.Context, gatewayID string, epoch int64) (int64, error)
	ApplyItems(ctx context.Context, gatewayID string, epoch int64, items []syncproto.Item, upTo int64) ([]syncproto.Item, error)
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
	applied   *atomic.Int64 // items stored (nil: not counted)
}

func (t feedTelemetry) Applied(ctx context.Context, gatewayID string, epoch int64) (int64, error) {
	return t.store.Applied(ctx, gatewayID, epoch)
}

func (t feedTelemetry) Apply(ctx context.Context, gatewayID string, epoch int64, items []syncproto.Item, upTo int64) error {
	applied, err := t.store.ApplyItems(ctx, gatewayID, epoch, items, upTo)
	if err != nil || len(applied) == 0 {
		return err
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
