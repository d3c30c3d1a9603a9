package hub

import (
	"context"
	"errors"

	"outpost/shared/datastream"
)

// Device is a device known to this gateway.
type Device struct {
	ID         int64  // local integer id
	UID        string // ULID, stable across gateway and cloud (docs/architecture.md "IDs")
	Name       string
	TemplateID string
	TokenHash  [32]byte // SHA-256 of the token; the token itself is never stored
	CreatedAt  int64    // ms since epoch
}

// Kind tells what a Record carries.
type Kind uint8

// Record kinds written through Store.Append.
const (
	KindWrite    Kind = iota + 1 // a datastream value: latest + history + outbox
	KindErase                    // a datastream value erased: latest + outbox
	KindEvent                    // EVENT_LOG: events + outbox
	KindClear                    // EVENT_CLEAR (Value "all" clears every open one): events + outbox
	KindInfo                     // device info pairs (Value: NUL-joined key/value list): device_info + outbox
	KindProperty                 // widget property (Name = property, Value canonical): properties + outbox
	KindMeta                     // metadata field (Name = field, Value): meta + outbox
	KindOnline                   // device connected (Name = transport): outbox
	KindOffline                  // device disconnected or timed out: outbox
	KindOTA                      // firmware shipment progress (Name = shipment id, Value = syncproto.EncodeOTA): outbox
	KindRun                      // an automation's run (Name = automation id, Value = rules.Run JSON): outbox
)

// Record is one durable change. The hub fills it; the store persists it in a
// group-committed transaction and adds it to the outbox for the cloud sync.
type Record struct {
	Kind     Kind
	DeviceID int64
	Pin      int    // KindWrite, KindErase, KindProperty
	Name     string // event code, property or meta field name, transport
	Value    string // canonical value (datastream package), description, info pairs
	TS       int64  // device/server timestamp, ms since epoch
	Source   string // "tcp", "tls", "mqtt", "http", "cloud", "serial", "gpio", "local"
	// Enqueued is the wall-clock time (UnixNano) at which the hub accepted
	// the record; the store uses it to measure write→committed latency.
	Enqueued int64
}

// OutboxEntry is one committed record waiting for the cloud, with its
// outbox sequence number and the UID of its device (kept after the device
// is deleted, so that its last records still reach the cloud).
// Record.Enqueued is zero.
type OutboxEntry struct {
	Seq    int64
	UID    string
	Record Record
}

// PinValue is the latest value of one pin of one device.
type PinValue struct {
	DeviceID int64
	Pin      int
	Value    string // canonical
	TS       int64
}

// Snapshot is what the hub loads at start.
type Snapshot struct {
	Templates  []datastream.Template
	Devices    []Device
	Values     []PinValue
	Meta       []MetaValue
	Properties []PropertyValue
}

// MetaValue is a stored metadata field value.
type MetaValue struct {
	DeviceID int64
	Name     string
	Value    string
	TS       int64 // when it was set, ms since epoch
}

// PropertyValue is a stored widget property.
type PropertyValue struct {
	DeviceID int64
	Pin      int
	Name     string
	Value    string
}

// Store is what the hub needs of persistence (implemented by
// gateway/internal/sqlite).
type Store interface {
	// Load reads everything the hub keeps in memory.
	Load(ctx context.Context) (Snapshot, error)
	// Append queues a record for the next group commit. It does not wait for
	// the commit; it blocks only when the commit queue is full
	// (back-pressure, never loss). Safe for concurrent use.
	Append(r Record)
	// SaveTemplate creates or replaces a template.
	SaveTemplate(ctx context.Context, t datastream.Template) error
	// CreateDevice inserts a device and returns it with its ID set.
	CreateDevice(ctx context.Context, d Device) (Device, error)
	// UpdateDevice changes the name, template and token hash of the device
	// with d.ID (a device the cloud changed, UpsertDevice).
	UpdateDevice(ctx context.Context, d Device) error
	// DeleteDevice removes a device and its data.
	DeleteDevice(ctx context.Context, id int64) error
	// Flush waits until everything appended before the call is committed;
	// the next commit then starts without waiting for a window. It must
	// not report success for a record Append dropped.
	Flush(ctx context.Context) error
}

// Conn is a live device connection of some transport, as the hub sees it.
// Implemented by blynkserver sessions, broker clients and bridges.
type Conn interface {
	// Transport names the transport ("tcp", "tls", "mqtt", "serial", …).
	Transport() string
	// Deliver hands a write addressed to the device to the connection. It
	// must not block: a transport queues it (and drops with a log line and a
	// counter when the device cannot keep up).
	Deliver(d Delivery)
	// Close disconnects the device (token revoked, device deleted, replaced).
	Close()
}

// DeliveryKind tells what a Delivery carries.
type DeliveryKind uint8

// Deliveries the hub sends to connections.
const (
	DeliverWrite    DeliveryKind = iota + 1 // a datastream value for Pin (BLYNK_WRITE / downlink/ds/<name>)
	DeliverMeta                             // a metadata value (downlink/meta/<name>)
	DeliverProperty                         // a widget property change
	// DeliverOTA offers a firmware update: Name is the download URL, Value
	// the downlink/ota/json object ({url,size,type,ver,build}).
	DeliverOTA
)

// Delivery is a downlink message for one device.
type Delivery struct {
	Kind  DeliveryKind
	Pin   int
	Name  string // datastream name (for MQTT), meta field or property name
	Value string // canonical value (items NUL-joined)
	TS    int64
}

// Errors of the hub. Transports map them to their own codes (Blynk status,
// MQTT reason code, HTTP body) in one table each.
var (
	ErrInvalidToken = errors.New("hub: invalid token")
	ErrNoDevice     = errors.New("hub: no such device")
	ErrNoTemplate   = errors.New("hub: no such template")
	ErrNoEvent      = errors.New("hub: no event with this code in the template")
	ErrNoMeta       = errors.New("hub: no metadata field with this name")
	ErrBadProperty  = errors.New("hub: unknown widget property or no value")
	ErrRateLimited  = errors.New("hub: rate limit exceeded")
	ErrClosed       = errors.New("hub: closed")
	ErrStale        = errors.New("hub: the device has a newer value")
)
