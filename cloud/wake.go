package cloud

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"outpost/cloud/internal/gatewaysync"
	"outpost/cloud/internal/siteregistry"
	"outpost/cloud/internal/tenancy"
)

// waker wakes, after a committed change, the gateways whose view it may
// have altered (tenancy.Service.ViewsTouched), here and — through the
// cluster — on every other instance; not every connected gateway. A
// change it cannot attribute wakes them all. Changes made while it
// resolves the previous ones fold into one pass, so a burst of writes
// costs one resolution, not one per write.
type waker struct {
	svc   *tenancy.Service
	gs    func() *gatewaysync.Server // nil until built
	cl    *cluster                   // nil when alone
	log   *slog.Logger
	kick  chan struct{}
	mu    sync.Mutex
	queue tenancy.Change
	dirty bool

	// /metrics: passes that woke the gateways named, passes that woke
	// every gateway (unattributed), and gateways named in all.
	targeted, everyone, named atomic.Int64
}

func newWaker(svc *tenancy.Service, gs func() *gatewaysync.Server, cl *cluster, log *slog.Logger) *waker {
	return &waker{svc: svc, gs: gs, cl: cl, log: log, kick: make(chan struct{}, 1)}
}

// changed queues a change; it does not block.
func (w *waker) changed(c tenancy.Change) {
	if c.Empty() {
		return
	}
	w.mu.Lock()
	w.queue.Add(c)
	w.dirty = true
	w.mu.Unlock()
	signal(w.kick)
}

// run resolves and wakes until ctx ends.
func (w *waker) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
			w.flush(ctx)
		}
	}
}

// flush wakes the gateways of the changes queued so far.
func (w *waker) flush(ctx context.Context) {
	w.mu.Lock()
	c, dirty := w.queue, w.dirty
	w.queue, w.dirty = tenancy.Change{}, false
	w.mu.Unlock()
	if !dirty {
		return
	}
	ids, all, err := w.svc.ViewsTouched(ctx, c)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		w.log.Warn("tenancy change not attributed: waking every gateway", "err", err)
		all = true
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = siteregistry.Key(id)
	}
	switch {
	case all:
		w.everyone.Add(1)
		w.log.Debug("tenancy change: waking every gateway", "change", c)
	default:
		w.targeted.Add(1)
		w.named.Add(int64(len(keys)))
		w.log.Debug("tenancy change: waking the gateways whose view it touched", "gateways", len(keys))
	}
	if gs := w.gs(); gs != nil && (all || len(keys) > 0) {
		gs.TenancyChanged(wakeList(keys, all)...)
	}
	if w.cl != nil {
		w.cl.tenancyChanged(keys, all, c.Tree)
	}
}

// wakeList is TenancyChanged's argument: no id wakes all.
func wakeList(keys []string, all bool) []string {
	if all {
		return nil
	}
	return keys
}
