package console

import (
	"context"
	"time"

	"outpost/cloud/internal/livefeed"
	"outpost/cloud/internal/telemetry"
	"outpost/cloud/internal/tenancy"
	"outpost/shared/webui"
)

// Live is what gateways reported of devices and sites, and the path of
// control writes: the cloud wires it to its telemetry store and the
// gateway sync endpoint, the same write path as the Platform API's.
// Errors are tenancy-coded.
type Live interface {
	DeviceState(ctx context.Context, uid string) (DeviceState, error)
	// Timeline pages a device's entries of one kind ("" all) newest first;
	// before is the keyset cursor (the last ID of the previous page).
	Timeline(ctx context.Context, uid, kind string, before int64, limit int) (events []Event, next int64, err error)
	// Write sends a control write to the device's gateway and returns once
	// the gateway applied it: Conflict means a newer value from the device
	// won (stale), Unavailable that the gateway did not answer.
	Write(ctx context.Context, a tenancy.Actor, d tenancy.Device, pin int, value string) error
	Site(ctx context.Context, g tenancy.Gateway) (SiteStatus, error)
	// GatewayReleased is called after a release: the site's link must end.
	GatewayReleased(id tenancy.GatewayID)
}

// DeviceStatus is a device's connection state.
type DeviceStatus struct {
	Online   bool
	LastSeen time.Time
	Gateway  tenancy.GatewayID // the gateway that reported it (0: none)
}

// DeviceState is a device's latest reported state.
type DeviceState struct {
	DeviceStatus
	Values map[int]Value     // by pin
	Info   map[string]string // what the device reported about itself (fw, build, h-beat…)
	// Meta is the metadata the device's gateway reported, by name: set by
	// the device, or a person's value the gateway applied.
	Meta map[string]Value
}

// Value is a pin's latest value (items NUL-joined) and its time.
type Value struct {
	Value string
	TS    time.Time
}

// Event is one timeline entry: an event, a clear, online or offline,
// with an event's source and resolution.
type Event = telemetry.TimelineEntry

// Events are a device's open events and their resolution by people
// (cloud/internal/events' Service). Errors are tenancy-coded.
type Events interface {
	// Open returns the device's open critical events, newest first.
	Open(ctx context.Context, d tenancy.Device, t tenancy.Template) ([]Event, error)
	// OpenCounts counts the open critical events of devices, by UID.
	OpenCounts(ctx context.Context, devs []tenancy.Device) (map[string]int, error)
	// Resolve resolves one open critical or warning event of a device
	// (permission-checked).
	Resolve(ctx context.Context, a tenancy.Actor, device tenancy.DeviceID, id int64, comment string) (Event, error)
}

// SiteStatus is what the cloud knows of a gateway's site.
type SiteStatus struct {
	Connected     bool
	LastSeen      time.Time
	Software      string
	Backlog       int64
	DevicesOnline int
}

// History serves a datastream's past: aggregated for charts, raw for
// export.
type History interface {
	// Aggregate splits [from, to) into at most maxBuckets equal buckets
	// and returns the non-empty ones in time order with their width.
	Aggregate(ctx context.Context, uid string, pin int, from, to time.Time, maxBuckets int) (buckets []Bucket, width time.Duration, err error)
	// Export calls each for every raw value in [from, to), oldest first.
	Export(ctx context.Context, uid string, pin int, from, to time.Time, each func(ts time.Time, value string) error) error
}

// Bucket is one aggregated stretch of a numeric datastream.
type Bucket = webui.Bucket

// Feed delivers the changes of devices as the cloud applies them
// (cloud/internal/livefeed's Hub). The console subscribes only to a device
// the user may see, once per open device page.
type Feed interface {
	Subscribe(devices ...string) *livefeed.Subscription
}
