// Package webhooks calls organizations' webhooks: the model and its
// validation, the outbound guard (only http and https; loopback,
// link-local, private and other non-public addresses refused unless
// allow-listed, checked on the address actually dialled), placeholders,
// basic or bearer auth, an HMAC-SHA256 signature, and a durable delivery
// queue with retries, backoff, a per-webhook rate limit, a delivery log,
// and disablement after consecutive failures.
package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/syncproto"
)

// Limits (Blynk's, BLYNK-PLATFORM.md §4).
const (
	MaxURL          = 1024
	MaxBody         = 5 << 10
	MaxResponse     = 16 << 10
	MaxNameLen      = 80
	DefaultPerMin   = 10 // requests per minute per webhook
	DefaultDisable  = 10 // consecutive failed deliveries before the webhook is disabled
	MaxAttempts     = 8  // attempts of one delivery before it is failed
	SignatureHeader = "X-Outpost-Signature"
	TimestampHeader = "X-Outpost-Timestamp"
)

// Trigger kinds.
const (
	OnDatastream = "datastream" // a value written (Device / Template / Pin filter)
	OnEvent      = "event"      // an event logged (Event filter)
	// OnNotification: an event's notification through the webhook channel
	// (the template's event settings, with their limit period and counter;
	// Event filter).
	OnNotification = "notification"
	OnOnline       = "online"
	OnOffline      = "offline"
	OnCreated      = "device_created"
	OnTransfer     = "device_transferred"
)

// Webhook is one organization's webhook.
type Webhook struct {
	ID      int64  `json:"id"`
	OrgID   int64  `json:"orgId"`
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
	Trigger struct {
		Kind     string `json:"kind"`
		Device   string `json:"device,omitempty"`   // ULID filter
		Template string `json:"template,omitempty"` // template filter
		Pin      *int   `json:"pin,omitempty"`
		Event    string `json:"event,omitempty"`
	} `json:"trigger"`
	Method  string            `json:"method"` // POST, GET, PUT, DELETE
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"` // with placeholders
	Auth    struct {
		Kind     string `json:"kind,omitempty"` // "", basic, bearer
		User     string `json:"user,omitempty"`
		Password string `json:"password,omitempty"`
		Token    string `json:"token,omitempty"`
	} `json:"auth"`
	// Secret signs each request (SignatureHeader); empty: unsigned.
	Secret       string `json:"secret,omitempty"`
	PerMinute    int    `json:"perMinute,omitempty"`    // 0: DefaultPerMin
	DisableAfter int    `json:"disableAfter,omitempty"` // 0: DefaultDisable
}

// ErrInvalid wraps every validation error.
var ErrInvalid = errors.New("webhooks: invalid webhook")

// Validate checks the webhook's fields (not where its URL points: the
// guard does that when it is called).
func (w *Webhook) Validate() error {
	var errs []string
	bad := func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) }
	if n := len([]rune(w.Name)); n == 0 || n > MaxNameLen {
		bad("name must have 1..%d characters", MaxNameLen)
	}
	switch w.Trigger.Kind {
	case OnDatastream, OnEvent, OnNotification, OnOnline, OnOffline, OnCreated, OnTransfer:
	default:
		bad("unknown trigger %q", w.Trigger.Kind)
	}
	switch w.Method {
	case http.MethodPost, http.MethodGet, http.MethodPut, http.MethodDelete:
	default:
		bad("method %q: POST, GET, PUT or DELETE", w.Method)
	}
	if len(w.URL) > MaxURL {
		bad("url longer than %d", MaxURL)
	} else if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		bad("url must be http(s)://host/… without credentials")
	}
	if len(w.Body) > MaxBody {
		bad("body longer than %d bytes", MaxBody)
	}
	for k, v := range w.Headers {
		if len(k) == 0 || len(k) > 100 || strings.ContainsAny(k, ": \r\n") || strings.ContainsAny(v, "\r\n") || len(v) > 1000 {
			bad("header %q", k)
		}
		switch http.CanonicalHeaderKey(k) {
		case "Authorization", SignatureHeader, TimestampHeader, "Host", "Content-Length":
			bad("header %q is set by Outpost", k)
		}
	}
	switch w.Auth.Kind {
	case "", "basic", "bearer":
	default:
		bad("auth %q: basic or bearer", w.Auth.Kind)
	}
	if w.PerMinute < 0 || w.PerMinute > 600 || w.DisableAfter < 0 || w.DisableAfter > 1000 {
		bad("perMinute 0..600, disableAfter 0..1000")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	return nil
}

// Event is what happened, with the values of the placeholders.
type Event struct {
	Kind       string `json:"kind"`
	Device     string `json:"device,omitempty"` // ULID
	DeviceName string `json:"deviceName,omitempty"`
	Template   string `json:"template,omitempty"`
	Pin        int    `json:"pin,omitempty"`
	Value      string `json:"value,omitempty"`
	EventCode  string `json:"eventCode,omitempty"`
	// EventName, EventType and Description: of a notification (and the
	// description of a logged event).
	EventName   string    `json:"eventName,omitempty"`
	EventType   string    `json:"eventType,omitempty"`
	Description string    `json:"description,omitempty"`
	At          time.Time `json:"at"`
}

// Pending is a delivery to queue: the webhook to call and the event.
type Pending struct {
	WebhookID int64
	Event     Event
	At        time.Time // queued at (its first attempt is due then)
}

// PendingFunc computes the deliveries of the items a telemetry apply is
// about to store (new items, not replays); the store inserts them in the
// apply's transaction, so the items and their deliveries are stored
// together or not at all. devices reads in that transaction (reading
// through another connection while it holds one could starve a pool). It
// must only read: an error fails the apply.
type PendingFunc func(ctx context.Context, devices DeviceReader, applied []syncproto.Item) ([]Pending, error)

// AuditActions are the audited actions that call webhooks: a device
// created (device.create, and static_token.claim: a claimed device is new
// to its claimer's organization) or transferred (device.transfer, and
// org.transfer for every device of the moved subtree).
var AuditActions = []string{"device.create", "static_token.claim", "device.transfer", "org.transfer"}

// AuditBatch bounds the audit entries one DeliverAudit run reads.
const AuditBatch = 500

// AuditReader reads what the deliveries of audit entries need, in the
// transaction that inserts them: organizations (to walk up to the root)
// and the devices of a transferred organization's subtree.
type AuditReader interface {
	GetOrg(ctx context.Context, id tenancy.OrgID) (tenancy.Org, error)
	ListDevices(ctx context.Context, f tenancy.DeviceFilter) (tenancy.List[tenancy.Device], error)
}

// AuditPendingFunc computes the deliveries of committed audit entries
// (of AuditActions, in id order). The store calls it in the transaction
// that moves its audit cursor past them and inserts what it returns: the
// deliveries of an entry are inserted once, whatever crashes or how many
// instances run it. It must only read, through r: an error leaves both
// the cursor and the queue as they were.
type AuditPendingFunc func(ctx context.Context, r AuditReader, entries []tenancy.AuditEntry) ([]Pending, error)

// DeviceReader reads a device by its UID.
type DeviceReader interface {
	GetDeviceByUID(ctx context.Context, uid string) (tenancy.Device, error)
}

// Matches reports whether the webhook wants the event.
func (w *Webhook) Matches(e *Event) bool {
	t := &w.Trigger
	if !w.Enabled || t.Kind != e.Kind || (t.Device != "" && t.Device != e.Device) || (t.Template != "" && t.Template != e.Template) {
		return false
	}
	if t.Kind == OnDatastream && t.Pin != nil && *t.Pin != e.Pin {
		return false
	}
	return (t.Kind != OnEvent && t.Kind != OnNotification) || t.Event == "" || t.Event == e.EventCode
}

// Expand fills the placeholders of s: {device_id}, {device_name},
// {device_templateId}, {device_pin}, {datastream_pin}, {datastream_value},
// {device_pinValue}, {event_code}, {event_name}, {event_type},
// {event_description}, {timestamp_unix} (ms),
// {timestamp_iso} / {timestamp_iso8601}. Unknown ones stay.
func Expand(s string, e *Event) string {
	if !strings.Contains(s, "{") {
		return s
	}
	r := strings.NewReplacer(
		"{device_id}", e.Device, "{device_name}", e.DeviceName, "{device_templateId}", e.Template,
		"{device_pin}", "V"+strconv.Itoa(e.Pin), "{datastream_pin}", "V"+strconv.Itoa(e.Pin),
		"{datastream_value}", e.Value, "{device_pinValue}", e.Value, "{event_code}", e.EventCode,
		"{event_name}", e.EventName, "{event_type}", e.EventType, "{event_description}", e.Description,
		"{timestamp_unix}", strconv.FormatInt(e.At.UnixMilli(), 10),
		"{timestamp_iso}", e.At.UTC().Format(time.RFC3339Nano), "{timestamp_iso8601}", e.At.UTC().Format(time.RFC3339Nano),
	)
	return r.Replace(s)
}

// Sign returns the signature header value of a request body sent at ts
// (Unix seconds): "sha256=" and the hex HMAC-SHA256, with the secret, of
// ts, ".", and the body. A receiver recomputes it and refuses an old ts.
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Backoff is the wait before attempt n+1 after n failed attempts: 2^(n-1)
// seconds, at most an hour.
func Backoff(n int) time.Duration {
	if n < 1 {
		return 0
	}
	if n > 12 {
		return time.Hour
	}
	return min(time.Duration(1<<(n-1))*time.Second, time.Hour)
}
