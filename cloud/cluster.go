package cloud

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"outpost/cloud/internal/gatewaysync"
	"outpost/cloud/internal/livefeed"
	"outpost/cloud/internal/tenancy"
	"outpost/shared/syncproto"
)

// bus carries messages between the cloud instances that share one store:
// PostgreSQL's LISTEN/NOTIFY (cloud/internal/postgres). The SQLite store
// has no bus: it serves one instance.
type bus interface {
	Notify(ctx context.Context, channel, payload string) error
	// Listen calls fn per message until ctx ends; resync after every
	// (re)connection, before the first message it delivers.
	Listen(ctx context.Context, channel string, fn func(payload string), resync func()) error
}

// busChannel is the one channel instances talk on.
const busChannel = "outpost_cloud"

// maxBusPayload bounds one message (PostgreSQL's NOTIFY limit is 8,000
// bytes); longer feed batches are split.
const maxBusPayload = 7900

// cluster makes several instances one cloud. Each instance holds the
// websockets of the gateways that reached it; through the bus
//   - a tenancy change made on any instance wakes, on every instance, the
//     gateways whose view it touched (named in the message: the instance
//     that made the change resolved them, see waker) and, when orgs or
//     permissions changed, refreshes the org tree first; a change that
//     could not be attributed wakes them all;
//   - a control write accepted on any instance reaches the gateway
//     wherever it is connected, under one command id (the gateway applies
//     an id once), and its result comes back to the caller's instance;
//   - applied telemetry reaches the live feed of every instance;
//   - a released gateway is disconnected wherever it is connected;
//   - a revocation (a logout, and any audited change: suspend, password
//     reset, role change, a deleted OAuth client) empties every
//     instance's bearer-token cache (an "auth" message), so the token is
//     refused everywhere at once, whatever api.auth_cache_ttl is.
type cluster struct {
	bus  bus
	self string // this instance's id
	log  *slog.Logger
	svc  *tenancy.Service
	gs   *gatewaysync.Server
	hub  *livefeed.Hub
	// onChange is called when another instance changed the tenancy,
	// automations, webhooks or shipments (set before run).
	onChange func()
	// forgetTokens empties this instance's bearer-token cache (set before
	// run; nil: none).
	forgetTokens func()

	tenancy chan struct{}   // an unattributed change to announce: wake all (coalesced)
	revoked chan struct{}   // a revocation to announce (coalesced)
	reload  chan struct{}   // another instance's org tree change to load (coalesced)
	ctl     chan clusterMsg // commands, results, disconnects: sent first
	feed    chan clusterMsg // live updates: dropped when too many queue

	mu      sync.Mutex
	waiting map[string]chan syncproto.Result // command id → the caller waiting here

	wakeMu   sync.Mutex
	wakeAll  bool     // after the reload: wake every gateway
	wakeKeys []string // after the reload: wake these

	sent, received atomic.Int64 // messages (/metrics)
}

// clusterMsg is one bus message.
type clusterMsg struct {
	From    string             `json:"from"`
	Kind    string             `json:"kind"` // tenancy, auth, feed, command, result, disconnect
	To      string             `json:"to,omitempty"`
	Gateway string             `json:"gw,omitempty"`
	ID      string             `json:"id,omitempty"`
	Wait    int64              `json:"wait,omitempty"` // ms a command may take
	Command *syncproto.Command `json:"cmd,omitempty"`
	Result  *syncproto.Result  `json:"res,omitempty"`
	Updates []livefeed.Update  `json:"u,omitempty"`

	// A tenancy message with Targeted wakes the Gateways named (none:
	// none), after reloading the org tree if Tree; without, every gateway
	// after a reload (also what an older instance sends).
	Targeted bool     `json:"tgt,omitempty"`
	Tree     bool     `json:"tree,omitempty"`
	Gateways []string `json:"gws,omitempty"`
}

// newCluster returns the cluster of this instance; set gs before run.
func newCluster(b bus, svc *tenancy.Service, feed *livefeed.Hub, log *slog.Logger) (*cluster, error) {
	self, err := gatewaysync.NewCommandID()
	if err != nil {
		return nil, err
	}
	return &cluster{bus: b, self: self, log: log.With("instance", self), svc: svc, hub: feed,
		tenancy: make(chan struct{}, 1), revoked: make(chan struct{}, 1), reload: make(chan struct{}, 1),
		ctl: make(chan clusterMsg, 256), feed: make(chan clusterMsg, 256),
		waiting: map[string]chan syncproto.Result{}}, nil
}

// run listens and sends until ctx ends.
func (c *cluster) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		_ = c.bus.Listen(ctx, busChannel, c.receive, func() {
			// Messages sent while we were not listening are lost: catch up.
			c.forget()
			c.wakeAfterReload(nil, true)
			if c.onChange != nil {
				c.onChange()
			}
		})
	}()
	go func() { defer wg.Done(); c.sender(ctx) }()
	go func() { defer wg.Done(); c.reloader(ctx) }()
	wg.Wait()
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// sender sends queued messages, control messages (commands, results,
// disconnects, tenancy announcements: one for any number of changes made
// meanwhile) before live updates, so that a busy feed delays a control
// write by one message at most.
func (c *cluster) sender(ctx context.Context) {
	for {
		var m clusterMsg
		select {
		case m = <-c.ctl:
		default:
			select {
			case <-ctx.Done():
				return
			case <-c.tenancy:
				m = clusterMsg{Kind: "tenancy"}
			case <-c.revoked:
				m = clusterMsg{Kind: "auth"}
			case m = <-c.ctl:
			case m = <-c.feed:
			}
		}
		c.send(ctx, m)
	}
}

func (c *cluster) send(ctx context.Context, m clusterMsg) {
	m.From = c.self
	b, err := json.Marshal(m)
	if err == nil {
		err = c.bus.Notify(ctx, busChannel, string(b))
	}
	if err != nil && ctx.Err() == nil {
		c.log.Warn("cluster: message not sent", "kind", m.Kind, "err", err)
		return
	}
	c.sent.Add(1)
}

// reloader refreshes the org tree after other instances' changes, then
// wakes the gateways those changes named: their views are read with the
// new tree.
func (c *cluster) reloader(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.reload:
			if err := c.svc.Reload(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("cluster: reloading the org tree", "err", err)
			}
			c.wakeMu.Lock()
			all, keys := c.wakeAll, c.wakeKeys
			c.wakeAll, c.wakeKeys = false, nil
			c.wakeMu.Unlock()
			if all || len(keys) > 0 {
				c.gs.TenancyChanged(wakeList(keys, all)...)
			}
		}
	}
}

// wakeAfterReload queues gateways to wake once the org tree is reloaded.
func (c *cluster) wakeAfterReload(keys []string, all bool) {
	c.wakeMu.Lock()
	c.wakeAll = c.wakeAll || all
	if !c.wakeAll {
		c.wakeKeys = append(c.wakeKeys, keys...)
	} else {
		c.wakeKeys = nil
	}
	c.wakeMu.Unlock()
	signal(c.reload)
}

func (c *cluster) receive(payload string) {
	var m clusterMsg
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		c.log.Warn("cluster: undecodable message", "err", err)
		return
	}
	if m.From == c.self {
		return
	}
	c.received.Add(1)
	switch m.Kind {
	case "auth":
		c.forget()
	case "tenancy":
		switch {
		case !m.Targeted:
			c.wakeAfterReload(nil, true)
		case m.Tree:
			c.wakeAfterReload(m.Gateways, false)
		case len(m.Gateways) > 0:
			c.gs.TenancyChanged(m.Gateways...)
		}
		if c.onChange != nil {
			c.onChange()
		}
	case "feed":
		c.hub.Publish(m.Updates)
	case "disconnect":
		c.gs.Disconnect(m.Gateway)
	case "command":
		if st, ok := c.gs.Site(m.Gateway); ok && st.Connected && m.Command != nil {
			go c.deliver(m)
		}
	case "result":
		if m.To != c.self || m.Result == nil {
			return
		}
		c.mu.Lock()
		ch := c.waiting[m.ID]
		c.mu.Unlock()
		if ch != nil {
			select {
			case ch <- *m.Result:
			default:
			}
		}
	}
}

// deliver runs another instance's command on the gateway connected here
// and sends the result back.
func (c *cluster) deliver(m clusterMsg) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(m.Wait)*time.Millisecond)
	defer cancel()
	r, err := c.gs.CommandID(ctx, m.Gateway, m.ID, *m.Command)
	if err != nil {
		return // the caller times out
	}
	c.queue(clusterMsg{Kind: "result", To: m.From, ID: m.ID, Result: &r})
}

func (c *cluster) queue(m clusterMsg) {
	q := c.ctl
	if m.Kind == "feed" {
		q = c.feed
	}
	select {
	case q <- m:
	default:
		c.log.Warn("cluster: send queue full, message dropped", "kind", m.Kind)
	}
}

// changed announces a change made on this instance that wakes every
// gateway (and reloads the org tree) on the others.
func (c *cluster) changed() { signal(c.tenancy) }

// revoke announces credentials revoked on this instance.
func (c *cluster) revoke() { signal(c.revoked) }

func (c *cluster) forget() {
	if c.forgetTokens != nil {
		c.forgetTokens()
	}
}

// tenancyChanged announces a tenancy change made on this instance: the
// gateways whose view it touched (keys; every one if all) and whether the
// org tree changed. The keys go in as many messages as the bus's size
// limit needs; if the send queue is full, every gateway is woken instead.
func (c *cluster) tenancyChanged(keys []string, all, tree bool) {
	if all {
		c.changed()
		return
	}
	const overhead = 200 // the rest of the message
	// Every part says whether the tree changed: each one's gateways read
	// their view after the reload (which coalesces).
	for first := true; first || len(keys) > 0; first = false {
		n, size := 0, overhead
		for n < len(keys) && size+len(keys[n])+3 <= maxBusPayload {
			size += len(keys[n]) + 3
			n++
		}
		m := clusterMsg{Kind: "tenancy", Targeted: true, Tree: tree, Gateways: keys[:n]}
		keys = keys[n:]
		select {
		case c.ctl <- m:
		default:
			c.log.Warn("cluster: send queue full, waking every gateway instead")
			c.changed()
			return
		}
	}
}

// publish forwards applied telemetry to the other instances' live feeds,
// in messages within the bus's size limit (an update too large for one
// message is not forwarded: the page shows it on its next reload).
func (c *cluster) publish(us []livefeed.Update) {
	size := func(us []livefeed.Update) int {
		b, _ := json.Marshal(clusterMsg{From: c.self, Kind: "feed", Updates: us})
		return len(b)
	}
	for len(us) > 0 {
		n := len(us)
		for n > 1 && size(us[:n]) > maxBusPayload {
			n = (n + 1) / 2
		}
		if size(us[:n]) <= maxBusPayload {
			c.queue(clusterMsg{Kind: "feed", Updates: us[:n]})
		}
		us = us[n:]
	}
}

// clusterFeed publishes applied telemetry to this instance's live feed
// and the other instances'.
type clusterFeed struct {
	local *livefeed.Hub
	c     *cluster
}

func (f clusterFeed) Publish(us []livefeed.Update) {
	f.local.Publish(us)
	f.c.publish(us)
}

// disconnect closes a released gateway's connection on every instance.
func (c *cluster) disconnect(gatewayID string) {
	c.gs.Disconnect(gatewayID)
	c.queue(clusterMsg{Kind: "disconnect", Gateway: gatewayID})
}

// command sends a command to a gateway connected to any instance and
// waits for its result: here if the gateway is (or gets) connected here,
// through the instance that holds it otherwise.
func (c *cluster) command(ctx context.Context, gatewayID string, cmd syncproto.Command) (syncproto.Result, error) {
	id, err := gatewaysync.NewCommandID()
	if err != nil {
		return syncproto.Result{}, err
	}
	remote := make(chan syncproto.Result, 1)
	c.mu.Lock()
	c.waiting[id] = remote
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiting, id)
		c.mu.Unlock()
	}()
	wait := time.Minute
	if d, ok := ctx.Deadline(); ok {
		wait = time.Until(d)
	}
	cmd.TS = cmp.Or(cmd.TS, time.Now().UnixMilli()) // one timestamp, whichever instance delivers
	c.queue(clusterMsg{Kind: "command", Gateway: gatewayID, ID: id, Wait: wait.Milliseconds(), Command: &cmd})
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type out struct {
		r   syncproto.Result
		err error
	}
	local := make(chan out, 1)
	go func() {
		r, err := c.gs.CommandID(lctx, gatewayID, id, cmd)
		local <- out{r, err}
	}()
	select {
	case o := <-local:
		if o.err != nil {
			select { // a remote result may have raced the deadline
			case r := <-remote:
				return r, nil
			default:
			}
		}
		return o.r, o.err
	case r := <-remote:
		return r, nil
	}
}

// clusterSync is the sync endpoint as the site registry sees it when
// instances share the store: commands and disconnects reach a gateway
// wherever it is connected; a site's state is this instance's view.
type clusterSync struct{ c *cluster }

func (s clusterSync) Command(ctx context.Context, gatewayID string, cmd syncproto.Command) (syncproto.Result, error) {
	return s.c.command(ctx, gatewayID, cmd)
}

func (s clusterSync) Disconnect(gatewayID string) { s.c.disconnect(gatewayID) }

func (s clusterSync) Site(gatewayID string) (gatewaysync.Site, bool) { return s.c.gs.Site(gatewayID) }
