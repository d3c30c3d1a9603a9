package cloudlink

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"outpost/gateway/internal/hub"
	"outpost/shared/syncproto"
)

// Errors ending a session. Run logs them and reconnects.
var (
	ErrUnauthorized = errors.New("cloudlink: the cloud refused the gateway credential")
	// ErrRevoked (which also matches ErrUnauthorized) means the cloud does
	// not know the credential any more (HTTP 401: released or revoked), as
	// opposed to a known gateway not claimed yet (HTTP 403).
	ErrRevoked = errors.New("cloudlink: the cloud does not know the gateway credential (released or revoked)")
	// ErrUnclaimed (which also matches ErrUnauthorized): the cloud knows
	// the gateway, but nobody has claimed it into an organization yet
	// (HTTP 403). The normal state of a new site until the installer does.
	ErrUnclaimed = errors.New("cloudlink: the gateway is not claimed into an organization yet")
	ErrResync    = errors.New("cloudlink: tenancy delta does not follow the local version")
	ErrPeer      = errors.New("cloudlink: the cloud closed the session with an error")
)

// session is one websocket connection. The goroutine that runs session
// writes telemetry; a reader goroutine applies what the cloud sends.
type session struct {
	l    *Link
	conn *websocket.Conn

	writeMu sync.Mutex

	ackSeq  atomic.Int64  // highest seq the cloud acknowledged
	ackWake chan struct{} // ackSeq moved

	announced map[string]bool // device UIDs announced or found known; drain goroutine only
}

// batch is a telemetry message waiting for its ack: ackKey is its last
// item's seq (what the cloud acknowledges), upTo the last outbox seq it
// covers (entries skipped after the last item included).
type batch struct{ ackKey, upTo int64 }

func (l *Link) session(ctx context.Context) (welcomed bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	dialer := websocket.Dialer{
		TLSClientConfig:  l.opts.TLS,
		HandshakeTimeout: min(10*time.Second, l.opts.IdleTimeout),
		ReadBufferSize:   4096,
		WriteBufferSize:  32 << 10,
		NetDialContext:   l.opts.NetDial,
	}
	hdr := http.Header{"Authorization": {"Bearer " + l.opts.Credential}}
	conn, resp, err := dialer.DialContext(ctx, l.u.String(), hdr)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return false, fmt.Errorf("%w: %w (HTTP %d)", ErrUnauthorized, ErrRevoked, resp.StatusCode)
		}
		if resp != nil && resp.StatusCode == http.StatusForbidden {
			return false, fmt.Errorf("%w: %w (HTTP %d)", ErrUnauthorized, ErrUnclaimed, resp.StatusCode)
		}
		return false, fmt.Errorf("cloudlink: dial: %w", err)
	}
	defer conn.Close()
	// Closing the socket is what unblocks a read in progress.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	conn.SetReadLimit(syncproto.MaxMessageSize)
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(l.opts.IdleTimeout))
	})

	s := &session{l: l, conn: conn, ackWake: make(chan struct{}, 1), announced: map[string]bool{}}

	version, err := l.opts.Store.Cursor(ctx, CursorTenancy)
	if err != nil {
		return false, fmt.Errorf("cloudlink: tenancy cursor: %w", err)
	}
	l.tenancy.Store(version)
	epoch, err := outboxEpoch(ctx, l.opts.Store)
	if err != nil {
		return false, err
	}
	st := l.status(ctx).Status
	err = s.send(&syncproto.Message{Type: syncproto.TypeHello, Hello: &syncproto.Hello{
		Gateway:        l.opts.GatewayID,
		Epoch:          epoch,
		Software:       l.opts.Software,
		TenancyVersion: version,
		TelemetryAcked: l.acked.Load(),
		Backlog:        st.Backlog,
		DevicesOnline:  st.DevicesOnline,
		Features:       []string{syncproto.FeatureDisplay}, // templates may carry alias, step, decimals
	}})
	if err != nil {
		return false, err
	}
	m, err := s.read()
	if err != nil {
		return false, err
	}
	if m.Type != syncproto.TypeWelcome {
		return false, s.peerError(m)
	}
	// What the cloud already applied need not be sent again, even if the
	// gateway crashed before it recorded the ack.
	acked := m.Welcome.TelemetryApplied
	if acked > 0 {
		if err := l.opts.Store.AckOutbox(ctx, acked); err != nil {
			return true, fmt.Errorf("cloudlink: ack outbox: %w", err)
		}
		l.acked.Store(acked)
	}
	l.connects.Add(1)
	l.since.Store(time.Now().UnixMilli())
	l.connected.Store(true)
	l.log.Info("cloud link up", "url", l.u.Redacted(), "tenancy_version", version, "cloud_applied", acked)

	// Local devices first: the cloud must know them before their
	// telemetry. A device the cloud had, absent from the snapshot waiting
	// in the socket, is known (durably) and so not announced.
	if err := s.announceLocal(ctx, nil); err != nil {
		return true, err
	}

	readDone := make(chan struct{})
	var readErr error
	go func() {
		defer close(readDone)
		readErr = s.readLoop(ctx)
	}()
	err = s.drain(ctx, acked, readDone)
	cancel()
	<-readDone
	if errors.Is(err, errReaderDone) {
		err = readErr
	}
	return true, err
}

// errReaderDone tells session that drain stopped because the reader did.
var errReaderDone = errors.New("cloudlink: reader stopped")

// outboxEpoch returns the database's outbox epoch, drawing it on first use.
func outboxEpoch(ctx context.Context, cs CursorStore) (int64, error) {
	e, err := cs.Cursor(ctx, CursorEpoch)
	if err != nil {
		return 0, fmt.Errorf("cloudlink: epoch cursor: %w", err)
	}
	if e > 0 {
		return e, nil
	}
	e = rand.Int64N(1<<53) + 1 // positive, and exact in any JSON reader
	if err := cs.SetCursor(ctx, CursorEpoch, e); err != nil {
		return 0, fmt.Errorf("cloudlink: save epoch: %w", err)
	}
	return e, nil
}

// drain sends the outbox oldest-first, keeping at most MaxInFlight batches
// unacknowledged, and deletes what the cloud acknowledged. It returns when
// the session ends.
func (s *session) drain(ctx context.Context, acked int64, readDone <-chan struct{}) error {
	l := s.l
	sentUpTo := acked
	var inflight []batch
	items := make([]syncproto.Item, 0, l.opts.BatchSize)
	poll := time.NewTicker(l.opts.PollInterval)
	defer poll.Stop()
	status := time.NewTicker(l.opts.StatusEvery)
	defer status.Stop()
	ping := time.NewTicker(l.opts.IdleTimeout / 3)
	defer ping.Stop()

	// Acknowledged entries are deleted by a goroutine of their own: the
	// DELETE waits for the store's writer, and sending must not. Deletes
	// coalesce to the latest acknowledged seq.
	var deleteUpTo atomic.Int64
	deleteReq := make(chan struct{}, 1)
	deleteErr := make(chan error, 1)
	var deleter sync.WaitGroup
	defer deleter.Wait()
	dctx, stopDeleter := context.WithCancel(ctx)
	defer stopDeleter()
	deleter.Go(func() {
		var deleted int64
		for {
			select {
			case <-dctx.Done():
				return
			case <-deleteReq:
			}
			upTo := deleteUpTo.Load()
			if upTo <= deleted {
				continue
			}
			if err := l.opts.Store.AckOutbox(dctx, upTo); err != nil {
				if dctx.Err() == nil {
					deleteErr <- fmt.Errorf("cloudlink: ack outbox: %w", err)
				}
				return
			}
			deleted = upTo
		}
	})
	ack := func(upTo int64) error {
		if upTo <= acked {
			return nil
		}
		acked = upTo
		l.acked.Store(upTo)
		l.lastAck.Store(time.Now().UnixMilli())
		deleteUpTo.Store(upTo)
		select {
		case deleteReq <- struct{}{}:
		default:
		}
		return nil
	}
	for {
		if a := s.ackSeq.Load(); len(inflight) > 0 && a >= inflight[0].ackKey {
			upTo := int64(0)
			for len(inflight) > 0 && inflight[0].ackKey <= a {
				upTo = inflight[0].upTo
				inflight = inflight[1:]
			}
			if err := ack(upTo); err != nil {
				return err
			}
		}
		if len(inflight) < l.opts.MaxInFlight {
			entries, err := l.opts.Store.Outbox(ctx, sentUpTo, l.opts.BatchSize)
			if err != nil {
				return fmt.Errorf("cloudlink: read outbox: %w", err)
			}
			if len(entries) > 0 {
				items = s.convert(items[:0], entries)
				last := entries[len(entries)-1].Seq
				switch {
				case len(items) > 0:
					if err := s.announceItems(ctx, items); err != nil {
						return err
					}
					n, err := s.sendBatch(items)
					if err != nil {
						return err
					}
					ackKey := items[n-1].Seq
					if n < len(items) {
						// The rest did not fit in one message: it is read
						// again after what was sent.
						last = ackKey
					}
					l.sent.Add(uint64(n))
					inflight = append(inflight, batch{ackKey: ackKey, upTo: last})
				case len(inflight) > 0:
					// Only entries of deleted devices: they go with the
					// previous batch's ack.
					inflight[len(inflight)-1].upTo = last
				default:
					if err := ack(last); err != nil {
						return err
					}
				}
				sentUpTo = last
				continue
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-readDone:
			return errReaderDone
		case err := <-deleteErr:
			return err
		case <-s.ackWake:
		case <-l.wake:
		case <-poll.C:
		case <-ping.C:
			s.writeMu.Lock()
			err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(l.opts.IdleTimeout))
			s.writeMu.Unlock()
			if err != nil {
				return fmt.Errorf("cloudlink: ping: %w", err)
			}
		case <-status.C:
			if err := s.announceLocal(ctx, nil); err != nil {
				return err
			}
			if err := s.send(l.status(ctx)); err != nil {
				return err
			}
		}
	}
}

func (l *Link) status(ctx context.Context) *syncproto.Message {
	st := &syncproto.Status{Software: l.opts.Software, DevicesOnline: l.opts.Hub.Stats().Online}
	if n, err := l.opts.Store.OutboxLen(ctx); err == nil {
		st.Backlog = n
	}
	return &syncproto.Message{Type: syncproto.TypeStatus, Status: st}
}

// convert turns outbox entries into wire items. An entry names its device
// by UID (the store keeps it after a deletion); a store that does not is
// helped by the hub, and entries of devices neither knows are counted and
// logged, not sent.
func (s *session) convert(items []syncproto.Item, entries []Entry) []syncproto.Item {
	l := s.l
	var skipped int
	for _, e := range entries {
		kind, ok := wireKind(e.Record.Kind)
		uid := e.UID
		if uid == "" {
			if dev, known := l.opts.Hub.Device(e.Record.DeviceID); known {
				uid = dev.UID
			}
		}
		if !ok || uid == "" {
			skipped++
			continue
		}
		items = append(items, syncproto.Item{
			Seq:    e.Seq,
			Kind:   kind,
			Device: uid,
			Pin:    e.Record.Pin,
			Name:   e.Record.Name,
			Value:  e.Record.Value,
			TS:     e.Record.TS,
			Source: e.Record.Source,
		})
	}
	if skipped > 0 {
		l.skipped.Add(uint64(skipped))
		l.log.Warn("outbox entries not sent: device deleted or record kind unknown", "count", skipped)
	}
	return items
}

func wireKind(k hub.Kind) (syncproto.Kind, bool) {
	switch k {
	case hub.KindWrite:
		return syncproto.KindWrite, true
	case hub.KindErase:
		return syncproto.KindErase, true
	case hub.KindEvent:
		return syncproto.KindEvent, true
	case hub.KindClear:
		return syncproto.KindClear, true
	case hub.KindInfo:
		return syncproto.KindInfo, true
	case hub.KindProperty:
		return syncproto.KindProperty, true
	case hub.KindMeta:
		return syncproto.KindMeta, true
	case hub.KindOnline:
		return syncproto.KindOnline, true
	case hub.KindOffline:
		return syncproto.KindOffline, true
	case hub.KindOTA:
		return syncproto.KindOTA, true
	case hub.KindRun:
		return syncproto.KindRun, true
	}
	return "", false
}

// readLoop applies what the cloud sends until the connection fails.
func (s *session) readLoop(ctx context.Context) error {
	for {
		m, err := s.read()
		if err != nil {
			return err
		}
		switch m.Type {
		case syncproto.TypeAck:
			for {
				cur := s.ackSeq.Load()
				if m.Seq <= cur || s.ackSeq.CompareAndSwap(cur, m.Seq) {
					break
				}
			}
			select {
			case s.ackWake <- struct{}{}:
			default:
			}
		case syncproto.TypeSnapshot:
			if err := s.l.applySnapshot(ctx, m.Snapshot); err != nil {
				return err
			}
		case syncproto.TypeDelta:
			if err := s.l.applyDelta(ctx, m.Delta); err != nil {
				return err
			}
		case syncproto.TypeShipments:
			if s.l.opts.Shipments != nil {
				if err := s.l.opts.Shipments.ApplyShipments(ctx, *m.Shipments); err != nil {
					return err
				}
			}
		case syncproto.TypeCommand:
			res := s.l.execute(m.ID, m.Command)
			err := s.send(&syncproto.Message{Type: syncproto.TypeResult, ID: m.ID, Result: &res})
			if err != nil {
				return err
			}
		default:
			return s.peerError(m)
		}
	}
}

func (s *session) peerError(m *syncproto.Message) error {
	if m.Type == syncproto.TypeError {
		if m.Error.Code == syncproto.CodeUnauthorized {
			return fmt.Errorf("%w: %w: %s", ErrUnauthorized, ErrRevoked, m.Error.Message)
		}
		return fmt.Errorf("%w: %s: %s", ErrPeer, m.Error.Code, m.Error.Message)
	}
	return fmt.Errorf("%w: unexpected %s message", ErrPeer, m.Type)
}

func (s *session) read() (*syncproto.Message, error) {
	if err := s.conn.SetReadDeadline(time.Now().Add(s.l.opts.IdleTimeout)); err != nil {
		return nil, err
	}
	typ, data, err := s.conn.ReadMessage()
	if err != nil {
		return nil, fmt.Errorf("cloudlink: read: %w", err)
	}
	if typ != websocket.TextMessage {
		return nil, fmt.Errorf("cloudlink: %w: binary frame", syncproto.ErrMalformed)
	}
	m, err := syncproto.Decode(data)
	if err != nil {
		// A malformed message is a bug on one side: say so and reconnect.
		s.sendError(syncproto.CodeBadMessage, err.Error())
		return nil, fmt.Errorf("cloudlink: %w", err)
	}
	return m, nil
}

// sendBatch sends the longest prefix of items (halving from all of them)
// whose message fits syncproto.MaxMessageSize, and returns its length: a
// batch of large values must not wedge the drain by being refused for
// ever. One item always fits (MaxValueLen is far below the limit).
func (s *session) sendBatch(items []syncproto.Item) (int, error) {
	for n := len(items); ; n = (n + 1) / 2 {
		m := &syncproto.Message{Type: syncproto.TypeTelemetry, Seq: items[n-1].Seq,
			Telemetry: &syncproto.Telemetry{Items: items[:n]}}
		b, err := syncproto.Encode(m)
		if errors.Is(err, syncproto.ErrTooLarge) && n > 1 {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("cloudlink: encode %s: %w", m.Type, err)
		}
		return n, s.write(b)
	}
}

func (s *session) send(m *syncproto.Message) error {
	b, err := syncproto.Encode(m)
	if err != nil {
		return fmt.Errorf("cloudlink: encode %s: %w", m.Type, err)
	}
	return s.write(b)
}

func (s *session) write(b []byte) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.conn.SetWriteDeadline(time.Now().Add(s.l.opts.IdleTimeout)); err != nil {
		return err
	}
	if err := s.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("cloudlink: write: %w", err)
	}
	return nil
}

func (s *session) sendError(code syncproto.ErrorCode, msg string) {
	if len(msg) > 512 {
		msg = msg[:512]
	}
	_ = s.send(&syncproto.Message{Type: syncproto.TypeError, Error: &syncproto.Error{Code: code, Message: msg}})
}
