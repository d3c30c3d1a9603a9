// Package telemetry holds what the cloud's telemetry stores (SQLite and
// PostgreSQL) share: the values they return and the rules both apply, so
// that a store answers the same whichever one the cloud runs on. No I/O.
package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"outpost/shared/syncproto"
)

// PinValue is a device's latest value on one pin.
type PinValue struct {
	Pin   int
	Value string // items NUL-joined
	TS    time.Time
}

// DeviceStatus is a device's connection state as its gateway reported it.
type DeviceStatus struct {
	Gateway   string
	Online    bool
	Transport string
	LastSeen  time.Time // newest report (write, event, online, …) of the device; zero if none
	Info      map[string]string
}

// ParseInfo decodes a device's info item (NUL-separated key, value pairs).
func ParseInfo(info string) map[string]string {
	if info == "" {
		return nil
	}
	m := map[string]string{}
	kv := strings.Split(info, "\x00")
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// HistoryPoint is one stored datastream value.
type HistoryPoint struct {
	ID    int64
	Pin   int
	Value string
	TS    time.Time
}

// TimelineEntry is one event, clear or connection change of a device.
type TimelineEntry struct {
	ID          int64
	Kind        string // event, clear, online, offline
	Code        string
	Description string
	TS          time.Time
	// Source is what logged it: the device's transport as its gateway
	// reported it, or "automation:<id>" for an event a cloud automation
	// logged ("" for entries stored before sources were kept).
	Source string
	// ResolvedAt is when an event was resolved (zero: open); ResolvedBy
	// who resolved it ("device" for the device's resolveEvent, "user:<id>"
	// for a person), with the person's Comment.
	ResolvedAt time.Time
	ResolvedBy string
	Comment    string
}

// AuditResolve is the audit action of a person resolving a device's event
// (object: the device); its After is ResolveAudit's.
const AuditResolve = "device.event.resolve"

// ResolveAudit is what a resolution's audit entry records: the event, its
// code and time, and the comment.
func ResolveAudit(e TimelineEntry) json.RawMessage {
	b, err := json.Marshal(struct {
		Event   int64     `json:"event"`
		Code    string    `json:"code"`
		At      time.Time `json:"eventAt"`
		Comment string    `json:"comment,omitempty"`
	}{e.ID, e.Code, e.TS.UTC(), e.Comment})
	if err != nil { // a struct of plain fields cannot fail
		return nil
	}
	return b
}

// Open tells whether an entry is an event not resolved yet. Whether it
// must be resolved is its template's business (critical events).
func (e *TimelineEntry) Open() bool {
	return e.Kind == string(syncproto.KindEvent) && e.ResolvedAt.IsZero()
}

// MaxComment bounds a resolution's comment (bytes).
const MaxComment = 1000

// Errors of ResolveEvent.
var (
	ErrNoEvent  = errors.New("telemetry: no such event of this device (of these codes)")
	ErrResolved = errors.New("telemetry: the event is already resolved")
)

// Bucket aggregates the numeric values of one time bucket. Buckets without
// values are not returned, so a chart shows gaps as gaps.
type Bucket struct {
	Start time.Time
	Count int64
	Avg   float64
	Min   float64
	Max   float64
	Last  float64 // the value with the newest timestamp: steps for booleans and enums
}

// Series is an aggregated range: buckets of Width, aligned to multiples
// of Width since the Unix epoch (UTC), covering [From, To) widened to
// whole buckets.
type Series struct {
	Width   time.Duration
	From    time.Time // start of the first bucket
	To      time.Time // end of the last bucket
	Buckets []Bucket
}

// MaxBuckets bounds Aggregate's maxBuckets.
const MaxBuckets = 5000

// bucketWidths are the widths a chart may use, shortest first; after the
// last, widths grow by whole multiples of it.
var bucketWidths = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 30 * 24 * time.Hour,
}

// BucketWidth is the shortest width of bucketWidths (or a multiple of the
// longest) that covers [from, to) with at most maxBuckets aligned buckets.
func BucketWidth(from, to time.Time, maxBuckets int) time.Duration {
	f, t := from.UnixMilli(), to.UnixMilli()
	fits := func(w int64) bool { return FloorDiv(t-1, w)-FloorDiv(f, w)+1 <= int64(maxBuckets) }
	for _, w := range bucketWidths {
		if fits(w.Milliseconds()) {
			return w
		}
	}
	last := bucketWidths[len(bucketWidths)-1]
	for k := time.Duration(2); ; k++ {
		if fits((k * last).Milliseconds()) {
			return k * last
		}
	}
}

// FloorDiv divides rounding toward negative infinity.
func FloorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Range checks an aggregation request and returns its bucket width and
// the bucket-aligned bounds [lo, hi) in milliseconds.
func Range(from, to time.Time, maxBuckets int) (width time.Duration, lo, hi int64, err error) {
	if !to.After(from) {
		return 0, 0, 0, errors.New("aggregate: the range is empty (to must be after from)")
	}
	if maxBuckets < 1 || maxBuckets > MaxBuckets {
		return 0, 0, 0, fmt.Errorf("aggregate: maxBuckets must be 1 to %d", MaxBuckets)
	}
	width = BucketWidth(from, to, maxBuckets)
	w := width.Milliseconds()
	lo = FloorDiv(from.UnixMilli(), w) * w
	hi = (FloorDiv(to.UnixMilli()-1, w) + 1) * w
	return width, lo, hi, nil
}

// Number parses a datastream value as a chartable number: a finite
// decimal (no hex, no underscores, no NaN/Inf).
func Number(v string) (float64, bool) {
	if v == "" || len(v) > 64 || strings.ContainsAny(v, "xXpP_nNiI") {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	return f, err == nil
}

// IsReport tells whether an item is the device itself speaking: it came
// online, or wrote, logged, cleared or described something over one of its
// transports (the HTTP device API included, as in Blynk). Going offline is
// the gateway noticing silence, an erase is not data, and items with
// source "cloud" are what people did through the Platform API. A device's
// first report activates it; its newest is its last seen.
func IsReport(it *syncproto.Item) bool {
	switch it.Kind {
	case syncproto.KindOffline, syncproto.KindErase, syncproto.KindOTA, syncproto.KindRun:
		return false // the gateway's observation (an OTA status is its judgment, a run an automation's), not the device speaking
	}
	// "automation": what an automation at the site did, not the device.
	return it.Source != "cloud" && it.Source != "automation" && it.TS > 0
}

// MetaValue is a metadata field's value as the device's gateway reported
// it (set by the device, or a person's value the gateway applied), and
// when.
type MetaValue struct {
	Value string
	TS    time.Time
}

// Store is a store of the telemetry gateways send: it applies their
// batches exactly once per gateway and epoch, and reads back values,
// statuses, history, timelines and chart series.
// cloud/internal/sqlite and cloud/internal/postgres implement it and pass
// telemetrytest.
type Store interface {
	Applied(ctx context.Context, gatewayID string, epoch int64) (int64, error)
	ApplyItems(ctx context.Context, gatewayID string, epoch int64, items []syncproto.Item, upTo int64) ([]syncproto.Item, error)
	DeviceValues(ctx context.Context, uid string) ([]PinValue, error)
	DeviceStatus(ctx context.Context, uid string) (DeviceStatus, bool, error)
	ReportedMeta(ctx context.Context, uid string) (map[string]MetaValue, error)
	History(ctx context.Context, uid string, pin int, before int64, limit int) ([]HistoryPoint, int64, error)
	Timeline(ctx context.Context, uid string, before int64, limit int) ([]TimelineEntry, int64, error)
	TimelineOfKind(ctx context.Context, uid, kind string, before int64, limit int) ([]TimelineEntry, int64, error)
	// LogEvent records an event the cloud logged on a device (an
	// automation's "log event"): a timeline entry like a device's, that is
	// not the device reporting (it moves neither last_seen nor activation).
	LogEvent(ctx context.Context, uid, code, description, source string, at time.Time) (TimelineEntry, error)
	// ResolveEvent resolves one open event of the device whose code is
	// one of codes (ErrNoEvent when id is not such an event of uid,
	// ErrResolved when it is resolved already).
	ResolveEvent(ctx context.Context, uid string, id int64, codes []string, by, comment string, at time.Time) (TimelineEntry, error)
	// OpenEvents returns the device's open events of the codes, newest
	// first, at most limit.
	OpenEvents(ctx context.Context, uid string, codes []string, limit int) ([]TimelineEntry, error)
	// OpenEventCounts counts the open events of the devices by device and
	// code, among the codes given.
	OpenEventCounts(ctx context.Context, uids, codes []string) (map[string]map[string]int, error)
	GatewayLastSeen(ctx context.Context, gatewayID string) (time.Time, error)
	DevicesOnline(ctx context.Context, gatewayID string) (int, error)
	Aggregate(ctx context.Context, uid string, pin int, from, to time.Time, maxBuckets int) (Series, error)
	ExportHistory(ctx context.Context, uid string, pin int, from, to time.Time, fn func([]HistoryPoint) error) error
}
