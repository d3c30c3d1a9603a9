package syncproto

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"unicode/utf8"

	"outpost/shared/datastream"
	"outpost/shared/rules"
	"outpost/shared/ulid"
)

// Validate checks m as Decode does: the version, that exactly the body named
// by Type is present, and every field of that body. The error wraps
// ErrUnsupportedVersion or ErrInvalid.
func (m *Message) Validate() error {
	if m.V != ProtocolVersion {
		return fmt.Errorf("%w: %d (want %d)", ErrUnsupportedVersion, m.V, ProtocolVersion)
	}
	if err := m.validate(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalid, m.Type, err)
	}
	return nil
}

func (m *Message) validate() error {
	bodies := 0
	for _, set := range []bool{m.Hello != nil, m.Welcome != nil, m.Snapshot != nil, m.Delta != nil,
		m.Telemetry != nil, m.Command != nil, m.Result != nil, m.Status != nil, m.Error != nil, m.Devices != nil,
		m.Shipments != nil} {
		if set {
			bodies++
		}
	}
	want := 1
	if m.Type == TypeAck {
		want = 0
	}
	if bodies != want {
		return fmt.Errorf("%d bodies, want %d", bodies, want)
	}
	if m.Seq < 0 {
		return fmt.Errorf("negative seq")
	}
	needID := m.Type == TypeCommand || m.Type == TypeResult
	if needID {
		if err := checkName("id", m.ID, true); err != nil {
			return err
		}
	} else if m.ID != "" {
		return fmt.Errorf("id on a %s message", m.Type)
	}
	if m.Seq != 0 && m.Type != TypeTelemetry && m.Type != TypeAck {
		return fmt.Errorf("seq on a %s message", m.Type)
	}
	switch m.Type {
	case TypeHello:
		return m.Hello.validate()
	case TypeWelcome:
		return m.Welcome.validate()
	case TypeSnapshot:
		return m.Snapshot.validate()
	case TypeDelta:
		return m.Delta.validate()
	case TypeTelemetry:
		if m.Telemetry == nil {
			return fmt.Errorf("no telemetry body")
		}
		if err := m.Telemetry.validate(); err != nil {
			return err
		}
		if last := m.Telemetry.Items[len(m.Telemetry.Items)-1].Seq; m.Seq != last {
			return fmt.Errorf("seq %d is not the last item's %d", m.Seq, last)
		}
		return nil
	case TypeAck:
		if m.Seq <= 0 {
			return fmt.Errorf("ack without seq")
		}
		return nil
	case TypeCommand:
		return m.Command.validate()
	case TypeResult:
		return m.Result.validate()
	case TypeStatus:
		return m.Status.validate()
	case TypeError:
		return m.Error.validate()
	case TypeShipments:
		return m.Shipments.validate()
	case TypeDevices:
		return m.Devices.validate()
	default:
		return fmt.Errorf("unknown type %q", m.Type)
	}
}

// A nil body of the right type is caught by the method returning an error
// for a nil receiver, which also covers "type says hello, body is welcome".

func (h *Hello) validate() error {
	if h == nil {
		return fmt.Errorf("no hello body")
	}
	if err := checkName("gateway", h.Gateway, true); err != nil {
		return err
	}
	if err := checkName("software", h.Software, false); err != nil {
		return err
	}
	if h.Epoch < 0 || h.TenancyVersion < 0 || h.TelemetryAcked < 0 || h.Backlog < 0 || h.DevicesOnline < 0 {
		return fmt.Errorf("negative cursor or counter")
	}
	return nil
}

func (w *Welcome) validate() error {
	if w == nil {
		return fmt.Errorf("no welcome body")
	}
	if err := checkName("gateway", w.Gateway, true); err != nil {
		return err
	}
	if w.TelemetryApplied < 0 || w.ServerTime < 0 {
		return fmt.Errorf("negative cursor or time")
	}
	return nil
}

func (t *Tenancy) validate() error {
	if t == nil {
		return fmt.Errorf("no snapshot body")
	}
	if t.Version <= 0 {
		return fmt.Errorf("snapshot version %d", t.Version)
	}
	if err := validateLists(t.Orgs, t.Owners, t.Templates, t.Devices, t.StaticTokens); err != nil {
		return err
	}
	return validateAutomations(t.Automations)
}

// validateAutomations checks each automation against its model (a
// gateway must not load what the engine cannot run) and that ids are
// unique.
func validateAutomations(as []rules.Automation) error {
	if len(as) > MaxListLen {
		return fmt.Errorf("%d automations", len(as))
	}
	seen := make(map[string]bool, len(as))
	for i := range as {
		if err := as[i].Validate(); err != nil {
			return fmt.Errorf("automation %d: %w", i, err)
		}
		if seen[as[i].ID] {
			return fmt.Errorf("automation %s twice", as[i].ID)
		}
		seen[as[i].ID] = true
	}
	return nil
}

func (d *Delta) validate() error {
	if d == nil {
		return fmt.Errorf("no delta body")
	}
	if d.From < 0 || d.Version <= d.From {
		return fmt.Errorf("delta from %d to %d", d.From, d.Version)
	}
	if err := validateLists(d.Orgs, d.Owners, d.Templates, d.Devices, d.StaticTokens); err != nil {
		return err
	}
	if err := validateAutomations(d.Automations); err != nil {
		return err
	}
	if n := len(d.DeletedOrgs) + len(d.DeletedOwners) + len(d.DeletedTemplates) +
		len(d.DeletedDevices) + len(d.DeletedStaticTokens) + len(d.DeletedAutomations); n > MaxListLen {
		return fmt.Errorf("%d deletions", n)
	}
	for _, id := range d.DeletedOrgs {
		if id <= 0 {
			return fmt.Errorf("deleted org id %d", id)
		}
	}
	for _, id := range d.DeletedOwners {
		if id <= 0 {
			return fmt.Errorf("deleted owner id %d", id)
		}
	}
	for _, id := range d.DeletedTemplates {
		if err := checkName("deleted template", id, true); err != nil {
			return err
		}
	}
	for _, uid := range d.DeletedDevices {
		if !ulid.Valid(uid) {
			return fmt.Errorf("deleted device %q: not a ULID", uid)
		}
	}
	for _, id := range d.DeletedStaticTokens {
		if err := checkName("deleted static token", id, true); err != nil {
			return err
		}
	}
	for _, id := range d.DeletedAutomations {
		if !ulid.Valid(id) {
			return fmt.Errorf("deleted automation %q: not a ULID", id)
		}
	}
	return nil
}

func validateLists(orgs []Org, owners []Owner, tmpls []datastream.Template, devs []Device, sts []StaticToken) error {
	if n := len(orgs) + len(owners) + len(tmpls) + len(devs) + len(sts); n > MaxListLen {
		return fmt.Errorf("%d tenancy entries", n)
	}
	for _, o := range orgs {
		if o.ID <= 0 || o.ParentID < 0 || o.ParentID == o.ID {
			return fmt.Errorf("org %d: bad id or parent", o.ID)
		}
		if err := checkName("org name", o.Name, false); err != nil {
			return err
		}
	}
	for _, o := range owners {
		if o.ID <= 0 || o.OrgID <= 0 {
			return fmt.Errorf("owner %d: bad id or org", o.ID)
		}
		if err := checkName("owner name", o.Name, false); err != nil {
			return err
		}
		if err := checkName("owner email", o.Email, true); err != nil {
			return err
		}
	}
	for i := range tmpls {
		if err := validateTemplate(&tmpls[i]); err != nil {
			return err
		}
	}
	for _, d := range devs {
		if !ulid.Valid(d.UID) {
			return fmt.Errorf("device %q: not a ULID", d.UID)
		}
		if d.ID < 0 || d.OrgID <= 0 || d.OwnerID < 0 {
			return fmt.Errorf("device %s: bad id, org or owner", d.UID)
		}
		if err := checkName("device name", d.Name, false); err != nil {
			return err
		}
		if err := checkName("device template", d.TemplateID, true); err != nil {
			return err
		}
		if !ValidTokenHash(d.TokenHash) {
			return fmt.Errorf("device %s: token hash is not 64 lowercase hex digits", d.UID)
		}
		if len(d.Meta) > MaxMetaFields {
			return fmt.Errorf("device %s: %d metadata values", d.UID, len(d.Meta))
		}
		for _, m := range d.Meta {
			if err := checkName("device metadata name", m.Name, true); err != nil {
				return err
			}
			if len(m.Value) > MaxValueLen || !utf8.ValidString(m.Value) || m.TS <= 0 {
				return fmt.Errorf("device %s: metadata %q: value too long, not UTF-8, or no time", d.UID, m.Name)
			}
		}
	}
	for _, s := range sts {
		if err := checkName("static token", s.ID, true); err != nil {
			return err
		}
		if err := checkName("static token template", s.TemplateID, true); err != nil {
			return err
		}
		if s.OrgID <= 0 {
			return fmt.Errorf("static token %s: bad org", s.ID)
		}
		if !ValidTokenHash(s.TokenHash) {
			return fmt.Errorf("static token %s: bad token hash", s.ID)
		}
		if !ValidTokenHash(s.QRHash) {
			return fmt.Errorf("static token %s: QR hash is not 64 lowercase hex digits", s.ID)
		}
		if s.OwnerID < 0 || s.ClaimedOrgID < 0 {
			return fmt.Errorf("static token %s: bad owner or claimed org", s.ID)
		}
		if s.Status != StaticClaimed && s.Status != StaticUnclaimed {
			return fmt.Errorf("static token %s: status %q", s.ID, s.Status)
		}
		if s.DeviceUID != "" && !ulid.Valid(s.DeviceUID) {
			return fmt.Errorf("static token %s: device %q not a ULID", s.ID, s.DeviceUID)
		}
	}
	return nil
}

// validateTemplate checks what the wire must guarantee of a template: an
// id, pins in range and unique, known types. Value-level rules (ranges,
// defaults) are the datastream package's, applied by whoever stores it.
func validateTemplate(t *datastream.Template) error {
	if err := checkName("template id", t.ID, true); err != nil {
		return err
	}
	if err := checkName("template name", t.Name, false); err != nil {
		return err
	}
	if len(t.Datastreams) > datastream.MaxPin+1 {
		return fmt.Errorf("template %s: %d datastreams", t.ID, len(t.Datastreams))
	}
	var seen [datastream.MaxPin + 1]bool
	for _, ds := range t.Datastreams {
		if ds.Pin < 0 || ds.Pin > datastream.MaxPin {
			return fmt.Errorf("template %s: pin %d", t.ID, ds.Pin)
		}
		if seen[ds.Pin] {
			return fmt.Errorf("template %s: pin %d twice", t.ID, ds.Pin)
		}
		seen[ds.Pin] = true
		switch ds.Type {
		case datastream.Integer, datastream.Double, datastream.String, datastream.Enum,
			datastream.Location, datastream.Boolean:
		default:
			return fmt.Errorf("template %s: pin %d: type %q", t.ID, ds.Pin, ds.Type)
		}
		if err := checkName("datastream name", ds.Name, false); err != nil {
			return err
		}
		if len(ds.Default) > datastream.MaxString || len(ds.Enum) > 1024 {
			return fmt.Errorf("template %s: pin %d: default or enum too long", t.ID, ds.Pin)
		}
	}
	if len(t.Events) > 1024 || len(t.MetaFields) > 1024 {
		return fmt.Errorf("template %s: too many events or meta fields", t.ID)
	}
	for _, e := range t.Events {
		if err := checkName("event code", e.Code, true); err != nil {
			return err
		}
	}
	for _, f := range t.MetaFields {
		if err := checkName("meta field", f.Name, true); err != nil {
			return err
		}
	}
	return nil
}

func (l *LocalDevices) validate() error {
	if l == nil {
		return fmt.Errorf("no devices body")
	}
	if len(l.Devices) == 0 || len(l.Devices)+len(l.Templates) > MaxListLen {
		return fmt.Errorf("%d devices and %d templates", len(l.Devices), len(l.Templates))
	}
	for i := range l.Templates {
		if err := validateTemplate(&l.Templates[i]); err != nil {
			return err
		}
	}
	for _, d := range l.Devices {
		if !ulid.Valid(d.UID) {
			return fmt.Errorf("device %q: not a ULID", d.UID)
		}
		if err := checkName("device name", d.Name, true); err != nil {
			return err
		}
		if err := checkName("device template", d.TemplateID, true); err != nil {
			return err
		}
		if !ValidTokenHash(d.TokenHash) {
			return fmt.Errorf("device %s: token hash is not 64 lowercase hex digits", d.UID)
		}
		if d.CreatedAt < 0 {
			return fmt.Errorf("device %s: negative createdAt", d.UID)
		}
	}
	return nil
}

func (t *Telemetry) validate() error {
	if t == nil {
		return fmt.Errorf("no telemetry body")
	}
	if len(t.Items) == 0 || len(t.Items) > MaxBatchItems {
		return fmt.Errorf("%d items (want 1..%d)", len(t.Items), MaxBatchItems)
	}
	var prev int64
	for i := range t.Items {
		it := &t.Items[i]
		if it.Seq <= prev {
			return fmt.Errorf("item %d: seq %d not above %d", i, it.Seq, prev)
		}
		prev = it.Seq
		if err := it.validate(); err != nil {
			return fmt.Errorf("item %d (seq %d): %w", i, it.Seq, err)
		}
	}
	return nil
}

func (it *Item) validate() error {
	if !ulid.Valid(it.Device) {
		return fmt.Errorf("device %q: not a ULID", it.Device)
	}
	if it.TS < 0 {
		return fmt.Errorf("negative ts")
	}
	if it.Pin < 0 || it.Pin > datastream.MaxPin {
		return fmt.Errorf("pin %d", it.Pin)
	}
	if len(it.Value) > MaxValueLen || !utf8.ValidString(it.Value) {
		return fmt.Errorf("value too long or not UTF-8")
	}
	if err := checkName("name", it.Name, false); err != nil {
		return err
	}
	if err := checkName("source", it.Source, false); err != nil {
		return err
	}
	switch it.Kind {
	case KindWrite, KindErase, KindInfo, KindOnline, KindOffline:
	case KindOTA:
		if _, err := strconv.ParseInt(it.Name, 10, 64); err != nil {
			return fmt.Errorf("ota item: shipment id %q", it.Name)
		}
		if _, ok := DecodeOTA(it.Value); !ok {
			return fmt.Errorf("ota item: malformed status")
		}
	case KindRun:
		if !ulid.Valid(it.Name) {
			return fmt.Errorf("run of automation %q: not a ULID", it.Name)
		}
	case KindEvent, KindClear, KindProperty, KindMeta:
		if it.Name == "" {
			return fmt.Errorf("%s without a name", it.Kind)
		}
	default:
		return fmt.Errorf("kind %q", it.Kind)
	}
	return nil
}

func (c *Command) validate() error {
	if c == nil {
		return fmt.Errorf("no command body")
	}
	if c.Kind != CommandWrite {
		return fmt.Errorf("command kind %q", c.Kind)
	}
	if !ulid.Valid(c.Device) {
		return fmt.Errorf("device %q: not a ULID", c.Device)
	}
	if c.Pin < 0 || c.Pin > datastream.MaxPin {
		return fmt.Errorf("pin %d", c.Pin)
	}
	if c.TS < 0 {
		return fmt.Errorf("negative ts")
	}
	if len(c.Value) > MaxValueLen || !utf8.ValidString(c.Value) {
		return fmt.Errorf("value too long or not UTF-8")
	}
	return checkName("actor", c.Actor, false)
}

func (r *Result) validate() error {
	if r == nil {
		return fmt.Errorf("no result body")
	}
	switch r.Code {
	case ResultOK, ResultStale, ResultNoDevice, ResultInvalid, ResultFailed:
	default:
		return fmt.Errorf("result code %q", r.Code)
	}
	if len(r.Value) > MaxValueLen || !utf8.ValidString(r.Value) || len(r.Message) > MaxValueLen {
		return fmt.Errorf("value or message too long")
	}
	return nil
}

func (s *Status) validate() error {
	if s == nil {
		return fmt.Errorf("no status body")
	}
	if s.Backlog < 0 || s.DevicesOnline < 0 {
		return fmt.Errorf("negative counter")
	}
	return checkName("software", s.Software, false)
}

func (e *Error) validate() error {
	if e == nil {
		return fmt.Errorf("no error body")
	}
	if err := checkName("code", string(e.Code), true); err != nil {
		return err
	}
	if len(e.Message) > MaxValueLen {
		return fmt.Errorf("message too long")
	}
	return nil
}

func checkName(what, s string, required bool) error {
	if required && s == "" {
		return fmt.Errorf("%s missing", what)
	}
	if len(s) > MaxNameLen || !utf8.ValidString(s) {
		return fmt.Errorf("%s too long or not UTF-8", what)
	}
	return nil
}

// ValidTokenHash reports whether s is a SHA-256 in lowercase hex.
func ValidTokenHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// TokenHashHex formats a SHA-256 token hash as the wire carries it.
func TokenHashHex(h [32]byte) string { return hex.EncodeToString(h[:]) }

// ParseTokenHash reads a token hash in wire form.
func ParseTokenHash(s string) ([32]byte, error) {
	var h [32]byte
	if !ValidTokenHash(s) {
		return h, fmt.Errorf("%w: token hash %q", ErrInvalid, s)
	}
	_, err := hex.Decode(h[:], []byte(s))
	return h, err
}

func (l *Shipments) validate() error {
	if l == nil {
		return fmt.Errorf("no shipments body")
	}
	if len(l.Items) > MaxListLen {
		return fmt.Errorf("%d shipments", len(l.Items))
	}
	for i := range l.Items {
		sh := &l.Items[i]
		if _, err := strconv.ParseInt(sh.ID, 10, 64); err != nil {
			return fmt.Errorf("shipment %d: id %q", i, sh.ID)
		}
		for _, f := range []struct{ n, v string }{{"name", sh.Name}, {"templateId", sh.TemplateID}, {"window", sh.Window},
			{"rule", sh.Rule}, {"version", sh.Firmware.Version}, {"type", sh.Firmware.Type}, {"build", sh.Firmware.Build}} {
			if err := checkName(f.n, f.v, false); err != nil {
				return fmt.Errorf("shipment %s: %w", sh.ID, err)
			}
		}
		if sh.Attempts < 1 {
			return fmt.Errorf("shipment %s: attempts %d", sh.ID, sh.Attempts)
		}
		if len(sh.Devices) > MaxListLen || len(sh.Approved) > MaxListLen {
			return fmt.Errorf("shipment %s: too many devices", sh.ID)
		}
		for _, l := range [][]string{sh.Devices, sh.Approved} {
			for _, uid := range l {
				if !ulid.Valid(uid) {
					return fmt.Errorf("shipment %s: device %q: not a ULID", sh.ID, uid)
				}
			}
		}
		if b, err := hex.DecodeString(sh.Firmware.SHA256); err != nil || len(b) != 32 {
			return fmt.Errorf("shipment %s: sha256", sh.ID)
		}
		if b, err := hex.DecodeString(sh.Firmware.MD5); err != nil || len(b) != 16 {
			return fmt.Errorf("shipment %s: md5", sh.ID)
		}
		if sh.Firmware.Size <= 0 {
			return fmt.Errorf("shipment %s: size %d", sh.ID, sh.Firmware.Size)
		}
	}
	return nil
}
