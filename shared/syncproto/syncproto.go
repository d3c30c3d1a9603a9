// Package syncproto is the gateway ⇄ cloud sync protocol: the messages a
// gateway and the cloud exchange over one websocket, their JSON encoding and
// the validation both sides apply to every message they receive.
//
// Every message is one JSON object, an envelope
//
//	{"v":1,"type":"telemetry","seq":42,"telemetry":{...}}
//
// whose "type" names exactly one body field. Authority is split (docs/architecture.md):
// the cloud sends tenancy down (a snapshot, then deltas, each carrying the
// tenancy version it brings the gateway to) and commands with ids; the
// gateway sends telemetry up in batches whose items carry the gateway's
// outbox sequence numbers, and the cloud acknowledges "everything up to seq".
// A replayed batch is harmless: the cloud keeps, per gateway, the highest
// sequence number it applied and skips anything at or below it.
//
// JSON was chosen over a binary framing because batches are large (the
// per-message overhead is amortised), the messages are readable in logs and
// golden files, and it needs nothing outside the standard library.
//
// The package does no I/O; the websocket lives in gateway/internal/cloudlink
// and cloud/internal/gatewaysync.
package syncproto

import (
	"slices"
	"strconv"
	"strings"

	"outpost/shared/datastream"
	"outpost/shared/rules"
)

// ProtocolVersion is the envelope version this package speaks. A peer that
// receives another version answers with an Error (CodeUnsupportedVersion)
// and closes.
const ProtocolVersion = 1

// Limits applied by Decode (and Encode, so that nothing is sent that the
// peer would refuse).
const (
	MaxMessageSize = 8 << 20 // bytes of one encoded message
	MaxBatchItems  = 8192    // items of one telemetry batch
	MaxValueLen    = 16384   // bytes of an item's Value (info pairs may exceed one datastream string)
	MaxNameLen     = 256     // names, codes, ids, emails
	MaxListLen     = 100000  // entries of any tenancy list
)

// Type names the body an envelope carries.
type Type string

// Message types. Direction in brackets: ↑ gateway → cloud, ↓ cloud → gateway.
const (
	TypeHello     Type = "hello"     // ↑ first message on every connection
	TypeWelcome   Type = "welcome"   // ↓ answer to hello: the connection is accepted
	TypeSnapshot  Type = "snapshot"  // ↓ the whole tenancy the gateway needs
	TypeDelta     Type = "delta"     // ↓ changes from one tenancy version to the next
	TypeTelemetry Type = "telemetry" // ↑ a batch of outbox items; Seq = the last item's seq
	TypeAck       Type = "ack"       // ↓ telemetry applied up to and including Seq
	TypeCommand   Type = "command"   // ↓ a control write from a person; ID = command id
	TypeResult    Type = "result"    // ↑ outcome of a command; ID = command id
	TypeStatus    Type = "status"    // ↑ site status (backlog, devices online)
	TypeDevices   Type = "devices"   // ↑ devices created on the gateway, merged up into the cloud
	TypeShipments Type = "shipments" // ↓ the firmware shipments for the gateway's devices (the whole list)
	TypeError     Type = "error"     // ↕ fatal: the sender closes after it
)

// Message is the envelope. Exactly the body field named by Type is set
// (Ack has none: its Seq is the acknowledged sequence number).
type Message struct {
	V    int    `json:"v"`
	Type Type   `json:"type"`
	ID   string `json:"id,omitempty"`  // command id (command, result)
	Seq  int64  `json:"seq,omitempty"` // last item seq (telemetry), acknowledged seq (ack)

	Hello     *Hello        `json:"hello,omitempty"`
	Welcome   *Welcome      `json:"welcome,omitempty"`
	Snapshot  *Tenancy      `json:"snapshot,omitempty"`
	Delta     *Delta        `json:"delta,omitempty"`
	Telemetry *Telemetry    `json:"telemetry,omitempty"`
	Command   *Command      `json:"command,omitempty"`
	Result    *Result       `json:"result,omitempty"`
	Status    *Status       `json:"status,omitempty"`
	Devices   *LocalDevices `json:"devices,omitempty"`
	Shipments *Shipments    `json:"shipments,omitempty"`
	Error     *Error        `json:"error,omitempty"`
}

// Hello opens a connection. Its cursors tell the cloud where to resume:
// deltas after TenancyVersion (or a snapshot if it cannot), and telemetry the
// gateway already knows is acknowledged.
//
// Epoch names the gateway's outbox sequence: it is drawn at random when the
// gateway's database is created, and the cloud keeps its applied cursor per
// (gateway, epoch). A gateway reinstalled under the same id starts its
// sequence numbers again at 1 in a new epoch, and is not mistaken for
// replays. 0 means the gateway keeps no epoch.
type Hello struct {
	Gateway        string `json:"gateway"`         // gateway id given at claim
	Epoch          int64  `json:"epoch,omitempty"` // outbox epoch, see above
	Software       string `json:"software"`        // gateway build version
	TenancyVersion int64  `json:"tenancyVersion"`  // last tenancy version applied; 0 = none
	TelemetryAcked int64  `json:"telemetryAcked"`  // highest seq the gateway saw acknowledged
	Backlog        int64  `json:"backlog"`         // outbox entries not yet acknowledged
	DevicesOnline  int    `json:"devicesOnline"`
	// Features are what the gateway understands beyond version 1's first
	// release (FeatureDisplay, ...). The cloud sends a field added later
	// only to a gateway announcing it: an older gateway's decoder refuses
	// unknown fields.
	Features []string `json:"features,omitempty"`
}

// Features a gateway may announce in its Hello.
const (
	// FeatureDisplay: templates may carry the datastreams' display settings
	// (alias, step, decimals); without it the cloud sends them without
	// (datastream.Template.WithoutDisplay).
	FeatureDisplay = "display"
)

// Has reports whether the hello announces feature f.
func (h *Hello) Has(f string) bool { return h != nil && slices.Contains(h.Features, f) }

// Welcome accepts a connection. TelemetryApplied is the highest seq the cloud
// has applied for this gateway's epoch, so a gateway that crashed before
// recording an ack does not resend what the cloud already holds.
type Welcome struct {
	Gateway          string `json:"gateway"`
	TelemetryApplied int64  `json:"telemetryApplied"`
	ServerTime       int64  `json:"serverTime"` // ms since epoch
}

// Org is an organization of the gateway's subtree.
type Org struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	ParentID int64  `json:"parentId,omitempty"` // 0 for the top of the subtree sent
}

// Owner is a user owning devices served by the gateway.
type Owner struct {
	ID    int64  `json:"id"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email"`
	OrgID int64  `json:"orgId"`
}

// Device is a device registered in the cloud and served by the gateway. The
// token itself never leaves the cloud: the gateway authenticates devices by
// the SHA-256 of their token.
type Device struct {
	UID        string `json:"uid"`          // ULID, the id both sides share
	ID         int64  `json:"id,omitempty"` // cloud id (Platform API deviceId)
	Name       string `json:"name"`
	TemplateID string `json:"templateId"`
	OrgID      int64  `json:"orgId"`
	OwnerID    int64  `json:"ownerId,omitempty"`
	TokenHash  string `json:"tokenHash"` // lowercase hex SHA-256 of the auth token
	// Meta is the metadata people set on the device in the cloud, by name.
	// The gateway applies a value unless it holds a newer one for that
	// field (the device set it after TS), and then delivers it to the
	// device as the device's own setting would be.
	Meta []MetaValue `json:"meta,omitempty"`
}

// MaxMetaFields bounds a device's metadata values.
const MaxMetaFields = 1024

// MetaValue is one metadata field's value as a person set it.
type MetaValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	TS    int64  `json:"ts"` // when it was set, ms since epoch
}

// Static token statuses (TENANCY.md §8).
const (
	StaticUnclaimed = "UNCLAIMED"
	StaticClaimed   = "CLAIMED"
)

// StaticToken lets a device flashed with a static auth token connect through
// the gateway before and after it is claimed (TENANCY.md §8). The QR token
// is the claim secret: only its hash travels, so a gateway can recognise a
// QR an installer scans without being able to claim anything itself.
type StaticToken struct {
	ID           string `json:"id"`     // the cloud's static token id, decimal
	QRHash       string `json:"qrHash"` // lowercase hex SHA-256 of the "sqr_…" QR token
	TemplateID   string `json:"templateId"`
	OrgID        int64  `json:"orgId"`     // creating org
	TokenHash    string `json:"tokenHash"` // hex SHA-256 of the flashed auth token
	Status       string `json:"status"`
	DeviceUID    string `json:"deviceUid,omitempty"`    // the device it provisions
	OwnerID      int64  `json:"ownerId,omitempty"`      // claimer, 0 while unclaimed
	ClaimedOrgID int64  `json:"claimedOrgId,omitempty"` // 0 while unclaimed
}

// Tenancy is the snapshot: everything the gateway needs, at Version. A
// gateway that applies it replaces what it had (anything absent is deleted).
type Tenancy struct {
	Version      int64                 `json:"version"`
	Orgs         []Org                 `json:"orgs,omitempty"`
	Owners       []Owner               `json:"owners,omitempty"`
	Templates    []datastream.Template `json:"templates,omitempty"`
	Devices      []Device              `json:"devices,omitempty"`
	StaticTokens []StaticToken         `json:"staticTokens,omitempty"`
	// Automations are the enabled and disabled automations placed at this
	// gateway: every device they read or write is served here and they
	// call no webhook (rules.Place). They run at the site, cloud or not.
	Automations []rules.Automation `json:"automations,omitempty"`
}

// Delta brings a gateway from tenancy version From to Version. A gateway
// whose version is not From ignores it and reconnects, which makes the cloud
// send a snapshot or the right deltas. Upserts replace by key; deletions
// name keys. Deletions apply after upserts.
type Delta struct {
	From    int64 `json:"from"`
	Version int64 `json:"version"`

	Orgs         []Org                 `json:"orgs,omitempty"`
	Owners       []Owner               `json:"owners,omitempty"`
	Templates    []datastream.Template `json:"templates,omitempty"`
	Devices      []Device              `json:"devices,omitempty"`
	StaticTokens []StaticToken         `json:"staticTokens,omitempty"`
	Automations  []rules.Automation    `json:"automations,omitempty"`

	DeletedOrgs         []int64  `json:"deletedOrgs,omitempty"`
	DeletedOwners       []int64  `json:"deletedOwners,omitempty"`
	DeletedTemplates    []string `json:"deletedTemplates,omitempty"`
	DeletedDevices      []string `json:"deletedDevices,omitempty"` // UIDs
	DeletedStaticTokens []string `json:"deletedStaticTokens,omitempty"`
	DeletedAutomations  []string `json:"deletedAutomations,omitempty"`
}

// Kind tells what a telemetry item carries. They mirror the gateway's
// outbox records.
type Kind string

// Telemetry item kinds.
const (
	KindWrite    Kind = "write"    // datastream value: latest + history point (Pin, Value)
	KindErase    Kind = "erase"    // datastream value erased (Pin)
	KindEvent    Kind = "event"    // event logged (Name = code, Value = description)
	KindClear    Kind = "clear"    // event cleared (Name = code, Value "all" = every open one)
	KindInfo     Kind = "info"     // device info (Value = NUL-joined key/value pairs)
	KindProperty Kind = "property" // widget property (Pin, Name, Value)
	KindMeta     Kind = "meta"     // metadata field (Name, Value)
	KindOnline   Kind = "online"   // device connected (Name = transport)
	KindOffline  Kind = "offline"  // device disconnected
	// KindOTA is a device's progress in a firmware shipment: Name = the
	// shipment id (decimal), Value = OTAStatus encoded by EncodeOTA.
	KindOTA Kind = "ota"
	// KindRun is an automation's run at the site (Name = automation id,
	// Value = the JSON of its rules.Run); Device is a device of the
	// automation. Like every item it is applied once.
	KindRun Kind = "run"
)

// Item is one outbox entry of the gateway. Seq numbers are the gateway's
// outbox sequence: strictly increasing, not necessarily contiguous (history
// may be thinned when the outbox is full).
type Item struct {
	Seq    int64  `json:"s"`
	Kind   Kind   `json:"k"`
	Device string `json:"d"` // device UID
	Pin    int    `json:"p,omitempty"`
	Name   string `json:"n,omitempty"`
	Value  string `json:"v,omitempty"`
	TS     int64  `json:"t"`             // ms since epoch
	Source string `json:"src,omitempty"` // transport that produced it
}

// Telemetry is a batch of items in ascending Seq order. The envelope's Seq
// equals the last item's Seq.
type Telemetry struct {
	Items []Item `json:"items"`
}

// CommandKind tells what a command asks.
type CommandKind string

// Command kinds.
const (
	CommandWrite CommandKind = "write" // a datastream write addressed to the device
)

// Command is a control write from a person, delivered at least once; the
// gateway applies each ID once. TS is when the person issued it: a device
// value newer than TS wins and the command reports ResultStale.
type Command struct {
	Kind   CommandKind `json:"kind"`
	Device string      `json:"device"` // UID
	Pin    int         `json:"pin"`
	Value  string      `json:"value"` // canonical (items NUL-joined)
	TS     int64       `json:"ts"`
	Actor  string      `json:"actor,omitempty"` // who issued it, for the device's action log
}

// ResultCode is the outcome of a command.
type ResultCode string

// Result codes.
const (
	ResultOK       ResultCode = "ok"        // applied; Value is the canonical value stored
	ResultStale    ResultCode = "stale"     // a newer device value exists; not applied
	ResultNoDevice ResultCode = "no_device" // the gateway does not serve this device
	ResultInvalid  ResultCode = "invalid"   // refused by the template (type, arity, pin)
	ResultFailed   ResultCode = "failed"    // anything else; Message says why
)

// Result answers a Command (envelope ID = the command's ID).
type Result struct {
	Code    ResultCode `json:"code"`
	Value   string     `json:"value,omitempty"`
	Message string     `json:"message,omitempty"`
}

// Status is the site status a gateway reports from time to time.
type Status struct {
	Software      string `json:"software"`
	Backlog       int64  `json:"backlog"`
	DevicesOnline int    `json:"devicesOnline"`
}

// LocalDevices announces devices created on the gateway (its config, its
// CLI, the installer API) — possibly while offline — with the templates they
// use, so that the cloud, the authority for tenancy, can adopt them. The
// cloud creates each UID it does not know in the gateway's org with that
// token hash and leaves a UID it knows (or deleted) as it has it, so a
// replay changes nothing; a template it does not know is created in the
// root of the gateway's tree. What it adopted comes back down in the next
// delta. The gateway sends it before any telemetry of those devices on the
// same connection.
type LocalDevices struct {
	Templates []datastream.Template `json:"templates,omitempty"`
	Devices   []LocalDevice         `json:"devices"`
}

// LocalDevice is one device created on the gateway.
type LocalDevice struct {
	UID        string `json:"uid"` // ULID drawn by the gateway
	Name       string `json:"name"`
	TemplateID string `json:"templateId"`
	TokenHash  string `json:"tokenHash"` // lowercase hex SHA-256 of the auth token
	CreatedAt  int64  `json:"createdAt"` // ms since epoch
}

// ErrorCode says why a peer is closing.
type ErrorCode string

// Error codes.
const (
	CodeUnsupportedVersion ErrorCode = "unsupported_version"
	CodeUnauthorized       ErrorCode = "unauthorized" // unknown or revoked credential
	CodeReplaced           ErrorCode = "replaced"     // a newer connection of the same gateway took over
	CodeBadMessage         ErrorCode = "bad_message"
	CodeInternal           ErrorCode = "internal"
)

// Error is sent just before the sender closes the connection.
type Error struct {
	Code    ErrorCode `json:"code"`
	Message string    `json:"message,omitempty"`
}

// Shipments is every live or paused firmware shipment that targets the
// gateway's devices; it replaces what the gateway had (a shipment absent
// from it was cancelled or no longer concerns the site). It is sent after
// the tenancy on every connection and again whenever it changes.
type Shipments struct {
	Items []Shipment `json:"items"`
}

// Shipment is one firmware shipment as a gateway runs it.
type Shipment struct {
	ID         string `json:"id"` // the cloud's shipment id, decimal
	Name       string `json:"name"`
	TemplateID string `json:"templateId"`
	// Devices are the targeted devices' UIDs; empty = every device of
	// the template, including devices added later.
	Devices        []string `json:"devices,omitempty"`
	Window         string   `json:"window"` // any, night, morning, afternoon, evening (device's timezone)
	Rule           string   `json:"rule"`   // lower_version, other_build
	Attempts       int      `json:"attempts"`
	UserControlled bool     `json:"userControlled,omitempty"`
	Approved       []string `json:"approved,omitempty"` // UIDs the owner approved (user-controlled)
	Paused         bool     `json:"paused,omitempty"`
	Firmware       Firmware `json:"firmware"`
}

// Firmware describes an image the gateway fetches from the cloud by its
// SHA-256 (GET /api/v1/gateway/firmware/<sha256 hex>, with Range).
type Firmware struct {
	SHA256  string `json:"sha256"` // lowercase hex
	MD5     string `json:"md5"`    // lowercase hex
	Size    int64  `json:"size"`
	Version string `json:"version"`
	Type    string `json:"type"`
	Build   string `json:"build"`
}

// OTAStatus is what a KindOTA item carries.
type OTAStatus struct {
	Status   string // a status of cloud/internal/ota (request_sent, success, rollback, …)
	Attempts int    // downloads in the current 24 h
	Version  string // the version the device last reported
	Detail   string
}

// EncodeOTA joins an OTAStatus with NULs for an item's Value.
func EncodeOTA(s OTAStatus) string {
	return s.Status + "\x00" + strconv.Itoa(s.Attempts) + "\x00" + s.Version + "\x00" + s.Detail
}

// DecodeOTA splits an item's Value; ok is false for a malformed one.
func DecodeOTA(v string) (s OTAStatus, ok bool) {
	parts := strings.SplitN(v, "\x00", 4)
	if len(parts) != 4 || parts[0] == "" {
		return s, false
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil || n < 0 {
		return s, false
	}
	return OTAStatus{Status: parts[0], Attempts: n, Version: parts[2], Detail: parts[3]}, true
}
