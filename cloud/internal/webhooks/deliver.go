package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"outpost/cloud/internal/ratelimit"
)

// Delivery states.
const (
	Waiting = "waiting" // queued or waiting for a retry
	OK      = "ok"
	Failed  = "failed" // out of attempts, or its webhook is disabled
)

// DeliveryHeader names the delivery id on every request: deliveries are
// at least once (a crash between the answer and its record resends), so
// a receiver drops an id it has seen.
const DeliveryHeader = "X-Outpost-Delivery"

// Delivery is one queued call of a webhook and its log.
type Delivery struct {
	ID        int64
	WebhookID int64
	Event     Event
	State     string
	Attempts  int
	NextAt    time.Time
	Code      int   // HTTP status of the last attempt, 0 if none
	LatencyMS int64 // of the last attempt
	Error     string
}

// Attempt is the outcome of one attempt, recorded with the delivery's new
// state and the webhook's consecutive failures in one transaction.
type Attempt struct {
	State     string
	NextAt    time.Time
	Code      int
	LatencyMS int64
	Error     string
	Tried     bool // a request was made (it counts as an attempt)
	Failed    bool // counts towards the webhook's consecutive failures (a success resets them)
	DisableAt int  // consecutive failures at which the store disables the webhook
}

// Store is the durable queue (cloud/internal/sqlite and cloud/internal/postgres).
type Store interface {
	GetWebhook(ctx context.Context, id int64) (Webhook, int, error) // the webhook and its consecutive failures
	EnqueueDelivery(ctx context.Context, webhookID int64, e Event, at time.Time) (int64, error)
	DueDeliveries(ctx context.Context, now time.Time, limit int) ([]Delivery, error)
	// FinishAttempt records an attempt; disabled reports that it disabled
	// the webhook (its failures reached a.DisableAt).
	FinishAttempt(ctx context.Context, d Delivery, a Attempt) (disabled bool, err error)
}

// Options configure a Dispatcher. Store and Guard are required.
type Options struct {
	Store   Store
	Guard   *Guard
	Timeout time.Duration // per request; 0: 10 s
	Workers int           // concurrent requests; 0: 32
	Now     func() time.Time
	Logger  *slog.Logger
	// Disabled is told when a webhook is disabled (its owner is notified).
	Disabled func(ctx context.Context, w Webhook, reason string)
	// Quota returns the limiter of a per-webhook rate of perMinute (nil:
	// in this process's memory, ratelimit.Keyed). Instances sharing a
	// store pass one kept there, so a webhook's rate holds across them.
	Quota func(perMinute int) Limiter
}

// Limiter is a per-key quota (ratelimit.Keyed, ratelimit.Shared).
type Limiter interface{ Allow(key string) bool }

// Dispatcher sends queued deliveries.
type Dispatcher struct {
	o      Options
	client *http.Client
	log    *slog.Logger
	kick   chan struct{}

	mu       sync.Mutex
	limiters map[int]Limiter // by per-minute rate
	inflight map[int64]bool
}

// NewDispatcher returns a dispatcher.
func NewDispatcher(o Options) (*Dispatcher, error) {
	if o.Store == nil || o.Guard == nil {
		return nil, errors.New("webhooks: Store and Guard are required")
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 32
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	tr := &http.Transport{DialContext: o.Guard.DialContext, MaxIdleConnsPerHost: o.Workers, ForceAttemptHTTP2: true,
		TLSHandshakeTimeout: o.Timeout, ResponseHeaderTimeout: o.Timeout}
	return &Dispatcher{o: o, log: o.Logger.With("component", "webhooks"), kick: make(chan struct{}, 1),
		client: &http.Client{Transport: tr, Timeout: o.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		limiters: map[int]Limiter{}, inflight: map[int64]bool{}}, nil
}

// Enqueue stores a delivery of e for each webhook and wakes the
// dispatcher; it returns once they are durable.
func (d *Dispatcher) Enqueue(ctx context.Context, hooks []Webhook, e Event) error {
	for i := range hooks {
		if _, err := d.o.Store.EnqueueDelivery(ctx, hooks[i].ID, e, d.o.Now()); err != nil {
			return err
		}
	}
	d.Kick()
	return nil
}

// Workers is how many requests may be in flight at once.
func (d *Dispatcher) Workers() int { return d.o.Workers }

// Kick wakes the dispatcher (new deliveries are due).
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run sends due deliveries until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	sem := make(chan struct{}, d.o.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		// The query runs under mu: an attempt records its outcome before
		// it leaves inflight (under mu), so a row read here is either
		// fresh or still in flight, never a stale copy of a finished one.
		d.mu.Lock()
		due, err := d.o.Store.DueDeliveries(ctx, d.o.Now(), 4*d.o.Workers)
		var claimed []Delivery
		for _, dl := range due {
			if !d.inflight[dl.ID] {
				d.inflight[dl.ID] = true
				claimed = append(claimed, dl)
			}
		}
		d.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			d.log.Error("delivery queue unreadable", "err", err)
		}
		started := 0
		for _, dl := range claimed {
			started++
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				d.mu.Lock()
				clear(d.inflight)
				d.mu.Unlock()
				return ctx.Err()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				d.attempt(ctx, dl)
				d.mu.Lock()
				delete(d.inflight, dl.ID)
				d.mu.Unlock()
				d.Kick()
			}()
		}
		if started > 0 {
			continue
		}
		t := time.NewTimer(250 * time.Millisecond) // retries fall due without a kick
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-d.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

func (d *Dispatcher) limiter(perMin int) Limiter {
	d.mu.Lock()
	defer d.mu.Unlock()
	l := d.limiters[perMin]
	if l == nil {
		if d.o.Quota != nil {
			l = d.o.Quota(perMin)
		} else {
			l = ratelimit.NewKeyed(perMin, d.o.Now)
		}
		d.limiters[perMin] = l
	}
	return l
}

func (d *Dispatcher) attempt(ctx context.Context, dl Delivery) {
	w, _, err := d.o.Store.GetWebhook(ctx, dl.WebhookID)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("webhook of a delivery unreadable", "delivery", dl.ID, "err", err)
		}
		return
	}
	now := d.o.Now()
	if !w.Enabled {
		d.finish(ctx, w, dl, Attempt{State: Failed, NextAt: now, Error: "webhook disabled"})
		return
	}
	perMin := w.PerMinute
	if perMin == 0 {
		perMin = DefaultPerMin
	}
	if !d.limiter(perMin).Allow(strconv.FormatInt(w.ID, 10)) {
		// Over the rate: wait, without spending an attempt.
		d.finish(ctx, w, dl, Attempt{State: Waiting, NextAt: now.Add(time.Minute / time.Duration(perMin)),
			Code: dl.Code, LatencyMS: dl.LatencyMS, Error: "rate limited"})
		return
	}
	code, latency, err := d.send(ctx, &w, &dl.Event, strconv.FormatInt(dl.ID, 10))
	if ctx.Err() != nil {
		return // shutting down: the delivery stays due and is sent again
	}
	a := Attempt{Code: code, LatencyMS: latency.Milliseconds(), State: OK, NextAt: now, Tried: true}
	if err != nil || code < 200 || code > 299 {
		a.Failed = true
		if err != nil {
			a.Error = err.Error()
		} else {
			a.Error = http.StatusText(code)
		}
		if dl.Attempts+1 >= MaxAttempts {
			a.State = Failed
		} else {
			a.State, a.NextAt = Waiting, now.Add(Backoff(dl.Attempts+1))
		}
		a.DisableAt = w.DisableAfter
		if a.DisableAt == 0 {
			a.DisableAt = DefaultDisable
		}
	}
	if d.finish(ctx, w, dl, a) {
		d.log.Warn("webhook disabled", "webhook", w.ID, "failures", a.DisableAt, "last", a.Error)
		if d.o.Disabled != nil {
			d.o.Disabled(ctx, w, fmt.Sprintf("%d consecutive failed deliveries, the last: %s", a.DisableAt, a.Error))
		}
	}
}

func (d *Dispatcher) finish(ctx context.Context, w Webhook, dl Delivery, a Attempt) (disabled bool) {
	disabled, err := d.o.Store.FinishAttempt(ctx, dl, a)
	if err != nil && ctx.Err() == nil {
		d.log.Error("delivery not recorded", "webhook", w.ID, "delivery", dl.ID, "err", err)
	}
	return disabled
}

// send makes one request of delivery id.
func (d *Dispatcher) send(ctx context.Context, w *Webhook, e *Event, id string) (int, time.Duration, error) {
	body := []byte(Expand(w.Body, e))
	var rd io.Reader
	if w.Method != http.MethodGet && len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, w.Method, Expand(w.URL, e), rd)
	if err != nil {
		return 0, 0, err
	}
	for k, v := range w.Headers {
		req.Header.Set(k, Expand(v, e))
	}
	if rd != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	switch w.Auth.Kind {
	case "basic":
		req.SetBasicAuth(w.Auth.User, w.Auth.Password)
	case "bearer":
		req.Header.Set("Authorization", "Bearer "+w.Auth.Token)
	}
	req.Header.Set(DeliveryHeader, id)
	if w.Secret != "" {
		ts := d.o.Now().Unix()
		req.Header.Set(TimestampHeader, strconv.FormatInt(ts, 10))
		req.Header.Set(SignatureHeader, Sign(w.Secret, ts, body))
	}
	start := time.Now()
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, time.Since(start), err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponse))
	resp.Body.Close()
	return resp.StatusCode, time.Since(start), nil
}

// TestResult is the outcome of a test send.
type TestResult struct {
	Code      int    `json:"code"`      // HTTP status, 0 if none
	LatencyMS int64  `json:"latencyMs"` // of the request
	Error     string `json:"error,omitempty"`
}

// TestDeliveryPrefix starts the delivery id of a test send (a real
// delivery's id is a number).
const TestDeliveryPrefix = "test-"

// TestSend sends one request of w now, with sample values, through the
// same guard, auth and signature as a delivery. It is not queued, not
// logged and not retried, and does not count towards the webhook's
// failures; it does count towards its rate (so a button cannot flood a
// receiver). Refusals and failures are in the result, not the error.
func (d *Dispatcher) TestSend(ctx context.Context, w Webhook) TestResult {
	perMin := w.PerMinute
	if perMin == 0 {
		perMin = DefaultPerMin
	}
	if !d.limiter(perMin).Allow(strconv.FormatInt(w.ID, 10)) {
		return TestResult{Error: fmt.Sprintf("not sent: the webhook's rate (%d a minute) is used up; try again in a minute", perMin)}
	}
	now := d.o.Now()
	e := SampleEvent(&w, now)
	code, latency, err := d.send(ctx, &w, &e, TestDeliveryPrefix+strconv.FormatInt(now.UnixNano(), 10))
	r := TestResult{Code: code, LatencyMS: latency.Milliseconds()}
	switch {
	case err != nil:
		r.Error = err.Error()
	case code < 200 || code > 299:
		r.Error = http.StatusText(code)
	}
	return r
}

// SampleEvent is the event of a test send: the trigger's filters where
// set, sample values elsewhere.
func SampleEvent(w *Webhook, at time.Time) Event {
	t := &w.Trigger
	e := Event{Kind: t.Kind, Device: t.Device, DeviceName: "Test device", Template: t.Template, Value: "42", EventCode: t.Event, At: at.UTC()}
	if e.Device == "" {
		e.Device = "01JD5Z8Q3M4N5P6Q7R8S9T0TST"
	}
	if e.Template == "" {
		e.Template = "TMPLtest"
	}
	if t.Pin != nil {
		e.Pin = *t.Pin
	}
	if (e.Kind == OnEvent || e.Kind == OnNotification) && e.EventCode == "" {
		e.EventCode = "test"
	}
	if e.Kind == OnEvent || e.Kind == OnNotification {
		e.Description = "A test of this webhook"
	}
	if e.Kind == OnNotification {
		e.EventName, e.EventType = "Test event", "warning"
	}
	return e
}
