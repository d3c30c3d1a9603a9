package cloud

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"outpost/cloud/internal/gatewaysync"
	"outpost/cloud/internal/siteregistry"
	"outpost/cloud/internal/tenancy"
)

// waker wakes, after a committed change, the gateways whose view it may
// have altered (tenancy.Service.ViewsTouched), here and — through the
// cluster — on every other instance; not every connected gateway. A
// change it cannot attribute wakes them all. It resolves on the caller's
// goroutine, after the commit: a few indexed reads (the orgs on the way
// to the root), so that by the time a change returns, the gateways it
// concerns on this instance are woken and the other instances are told.
type waker struct {
	svc *tenancy.Service
	gs  func() *gatewaysync.Server // nil until built
	cl  *cluster                   // nil when alone
	log *slog.Logger

	// /metrics: changes that woke the gateways named, changes that woke
	// every gateway (unattributed), and gateways named in all.
	targeted, everyone, named atomic.Int64
}

func newWaker(svc *tenancy.Service, gs func() *gatewaysync.Server, cl *cluster, log *slog.Logger) *waker {
	return &waker{svc: svc, gs: gs, cl: cl, log: log}
}

// resolveTimeout bounds the reads that attribute one change.
const resolveTimeout = 10 * time.Second

// changed wakes the gateways of a committed change.
func (w *waker) changed(c tenancy.Change) {
	if c.Empty() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	ids, all, err := w.svc.ViewsTouched(ctx, c)
	if err != nil {
		w.log.Warn("tenancy change not attributed: waking every gateway", "err", err)
		all = true
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = siteregistry.Key(id)
	}
	if all {
		w.everyone.Add(1)
		w.log.Info("tenancy change not attributed: waking every gateway", "change", c)
	} else {
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
