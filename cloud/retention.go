package cloud

import (
	"context"
	"log/slog"
	"time"

	"outpost/cloud/internal/tenancy"
)

// retentionStore is what the history retention needs of the store.
type retentionStore interface {
	AllOrgs(ctx context.Context) ([]tenancy.Org, error)
	// DeleteHistoryBefore deletes the raw history older than cutoff of the
	// devices of orgs.
	DeleteHistoryBefore(ctx context.Context, orgs []tenancy.OrgID, cutoff time.Time) (int64, error)
}

// retentionEvery is how often the history retention runs (and once at
// start).
const retentionEvery = time.Hour

// historyRetention deletes the raw datastream history past each
// organization's retention: the shortest HistoryRetentionDays of the org
// and its ancestors, bounded by store.history_retention (global). On
// PostgreSQL the global bound is kept by dropping whole monthly
// partitions (the store's maintenance), so rows are deleted only for the
// organizations with a shorter bound of their own; on SQLite rows are
// deleted for both. Chart rollups stay.
type historyRetention struct {
	store  retentionStore
	global time.Duration
	// globalByRows: the global bound is kept by deleting rows (SQLite).
	globalByRows bool
	now          func() time.Time
	log          *slog.Logger
}

// run applies the retention at start and every retentionEvery until ctx
// ends. Instances sharing a store may all run it: a delete is idempotent.
func (h *historyRetention) run(ctx context.Context) {
	t := time.NewTicker(retentionEvery)
	defer t.Stop()
	for {
		if n, err := h.apply(ctx); err != nil && ctx.Err() == nil {
			h.log.Warn("history retention", "err", err)
		} else if n > 0 {
			h.log.Info("history past its organization's retention deleted", "points", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// apply deletes what is past retention now and returns the points deleted.
func (h *historyRetention) apply(ctx context.Context) (int64, error) {
	orgs, err := h.store.AllOrgs(ctx)
	if err != nil {
		return 0, err
	}
	byID := make(map[tenancy.OrgID]tenancy.Org, len(orgs))
	for _, o := range orgs {
		byID[o.ID] = o
	}
	groups := map[time.Duration][]tenancy.OrgID{} // bound → its orgs
	for _, o := range orgs {
		bound := time.Duration(tenancy.EffectiveRetention(byID, o.ID)) * 24 * time.Hour
		switch {
		case bound == 0 || h.global > 0 && h.global <= bound:
			if h.global == 0 || !h.globalByRows {
				continue // kept forever, or by dropping partitions
			}
			bound = h.global
		}
		groups[bound] = append(groups[bound], o.ID)
	}
	now := h.now()
	var total int64
	for bound, ids := range groups {
		n, err := h.store.DeleteHistoryBefore(ctx, ids, now.Add(-bound))
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
