package syncproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"outpost/shared/datastream"
	"outpost/shared/rules"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	uid1 = "01JD5Z8Q3M4N5P6Q7R8S9T0V1W"
	uid2 = "01JD5Z8Q3M4N5P6Q7R8S9T0V2X"
	hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	// qrHash is the SHA-256 of a QR token: the QR itself is a claim secret.
	qrHash = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
)

func f64(v float64) *float64 { return &v }

const (
	autoID  = "01JD5Z8Q3M4N5P6Q7R8S9T0A01"
	autoID2 = "01JD5Z8Q3M4N5P6Q7R8S9T0A02"
)

func sampleAutomation() rules.Automation {
	return rules.Automation{ID: autoID, Name: "Vent", Enabled: true, OrgID: 11,
		Trigger: rules.Trigger{Kind: rules.TriggerDatastream, Device: uid1, Pin: 0, Op: rules.OpGt, Value: "30"},
		Actions: []rules.Action{{Kind: rules.ActionWrite, Device: uid2, Pin: 1, Value: "1"}}}
}

func sampleTemplate() datastream.Template {
	return datastream.Template{
		ID:   "TMPL0001",
		Name: "Greenhouse",
		Datastreams: []datastream.Datastream{
			{Pin: 0, Name: "Temperature", Type: datastream.Double, Min: f64(-40), Max: f64(85.5), Units: "°C"},
			{Pin: 1, Name: "Fan", Type: datastream.Boolean, Sync: true, Default: "0"},
			{Pin: 2, Name: "Mode", Type: datastream.Enum, Enum: []datastream.EnumItem{{Value: 0, Label: "off"}, {Value: 1, Label: "auto"}}, EnumFallback: 0},
			{Pin: 3, Name: "Position", Type: datastream.Location},
		},
		Events:     []datastream.Event{{Code: "overheat", Name: "Overheat", Type: "critical"}},
		MetaFields: []datastream.MetaField{{ID: 1, Name: "Serial", Default: "n/a"}},
	}
}

// displayTemplate is sampleTemplate with the datastreams' display
// settings, sent only to a gateway announcing FeatureDisplay.
func displayTemplate() datastream.Template {
	t := sampleTemplate()
	two := 2
	t.Datastreams[0].Alias, t.Datastreams[0].Step, t.Datastreams[0].Decimals = "Air temperature", f64(0.5), &two
	return t
}

// TestOlderGatewayDecodes: a message for a gateway that does not announce
// FeatureDisplay (the template WithoutDisplay) is exactly what a gateway
// built before the feature received, and decodes with a decoder that does
// not know the display fields (the golden snapshot of that time); the
// display fields themselves are what such a decoder refuses.
func TestOlderGatewayDecodes(t *testing.T) {
	old := &Message{V: 1, Type: TypeSnapshot, Snapshot: &Tenancy{Version: 43, Templates: []datastream.Template{displayTemplate().WithoutDisplay()}}}
	enc, err := Encode(old)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"alias", "step", "decimals", "features"} {
		if bytes.Contains(enc, []byte(`"`+field+`"`)) {
			t.Errorf("the message for an older gateway carries %q: %s", field, enc)
		}
	}
	// An older gateway's decoder: the datastream without the display fields.
	type oldDatastream struct {
		Pin          int                   `json:"pin"`
		Name         string                `json:"name"`
		Type         datastream.Type       `json:"type"`
		Min          *float64              `json:"min,omitempty"`
		Max          *float64              `json:"max,omitempty"`
		Enum         []datastream.EnumItem `json:"enum,omitempty"`
		EnumFallback int                   `json:"enumFallback,omitempty"`
		Default      string                `json:"default,omitempty"`
		Sync         bool                  `json:"sync,omitempty"`
		Units        string                `json:"units,omitempty"`
	}
	decodeOld := func(b []byte) error {
		var m struct {
			V        int    `json:"v"`
			Type     string `json:"type"`
			Snapshot struct {
				Version   int64 `json:"version"`
				Templates []struct {
					ID          string                 `json:"id"`
					Name        string                 `json:"name"`
					Datastreams []oldDatastream        `json:"datastreams"`
					Events      []datastream.Event     `json:"events"`
					MetaFields  []datastream.MetaField `json:"metaFields"`
				} `json:"templates"`
			} `json:"snapshot"`
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		return dec.Decode(&m)
	}
	if err := decodeOld(enc); err != nil {
		t.Errorf("an older gateway refuses the message sent to it: %v", err)
	}
	withDisplay, err := Encode(samples()["snapshot_display"])
	if err != nil {
		t.Fatal(err)
	}
	if err := decodeOld(withDisplay); err == nil {
		t.Error("an older decoder took the display fields: the feature gate is not needed, or the test decoder is wrong")
	}
}

func TestHelloHas(t *testing.T) {
	if !samples()["hello_display"].Hello.Has(FeatureDisplay) {
		t.Error("hello_display does not have FeatureDisplay")
	}
	if samples()["hello"].Hello.Has(FeatureDisplay) || (*Hello)(nil).Has(FeatureDisplay) {
		t.Error("a hello without features has FeatureDisplay")
	}
}

// samples are one message of each type (and the shapes worth pinning); each
// has a golden file testdata/<name>.json.
func samples() map[string]*Message {
	return map[string]*Message{
		"hello":            {V: 1, Type: TypeHello, Hello: &Hello{Gateway: "gw-7", Epoch: 8361930143, Software: "0.3.1", TenancyVersion: 41, TelemetryAcked: 1200, Backlog: 17, DevicesOnline: 3}},
		"hello_display":    {V: 1, Type: TypeHello, Hello: &Hello{Gateway: "gw-7", Software: "0.4.0", TenancyVersion: 41, Features: []string{FeatureDisplay}}},
		"snapshot_display": {V: 1, Type: TypeSnapshot, Snapshot: &Tenancy{Version: 43, Templates: []datastream.Template{displayTemplate()}}},
		"hello_first":      {V: 1, Type: TypeHello, Hello: &Hello{Gateway: "gw-7", Software: "0.3.1"}},
		"welcome":          {V: 1, Type: TypeWelcome, Welcome: &Welcome{Gateway: "gw-7", TelemetryApplied: 1190, ServerTime: 1764000000000}},
		"snapshot": {V: 1, Type: TypeSnapshot, Snapshot: &Tenancy{
			Version:   42,
			Orgs:      []Org{{ID: 10, Name: "Acme Farms"}, {ID: 11, Name: "North site", ParentID: 10}},
			Owners:    []Owner{{ID: 100, Name: "Ann", Email: "ann@acme.example", OrgID: 11}},
			Templates: []datastream.Template{sampleTemplate()},
			Devices: []Device{
				{UID: uid1, ID: 5001, Name: "Greenhouse 1", TemplateID: "TMPL0001", OrgID: 11, OwnerID: 100, TokenHash: hash,
					Meta: []MetaValue{{Name: "Serial Number", Value: "SN-0042", TS: 1764720000000}}},
				{UID: uid2, Name: "Greenhouse 2", TemplateID: "TMPL0001", OrgID: 11, TokenHash: hash},
			},
			StaticTokens: []StaticToken{{ID: "7", QRHash: qrHash, TemplateID: "TMPL0001", OrgID: 10, TokenHash: hash, Status: StaticUnclaimed, DeviceUID: uid2}},
		}},
		"snapshot_empty":       {V: 1, Type: TypeSnapshot, Snapshot: &Tenancy{Version: 1}},
		"snapshot_automations": {V: 1, Type: TypeSnapshot, Snapshot: &Tenancy{Version: 45, Automations: []rules.Automation{sampleAutomation()}}},
		"delta_automations": {V: 1, Type: TypeDelta, Delta: &Delta{From: 45, Version: 46,
			Automations: []rules.Automation{sampleAutomation()}, DeletedAutomations: []string{autoID2}}},
		"telemetry_run": {V: 1, Type: TypeTelemetry, Seq: 12, Telemetry: &Telemetry{Items: []Item{
			{Seq: 12, Kind: KindRun, Device: uid1, Name: autoID, TS: 1764000000700, Source: "automation",
				Value: `{"automation":"` + autoID + `","name":"Vent","at":1764000000700,"trigger":"datastream","device":"` + uid1 + `","value":"31","chain":1,"results":[{"action":0,"kind":"write","at":1764000000702}]}`},
		}}},
		"delta": {V: 1, Type: TypeDelta, Delta: &Delta{
			From: 42, Version: 44,
			Devices:             []Device{{UID: uid2, ID: 5002, Name: "Greenhouse 2", TemplateID: "TMPL0001", OrgID: 11, OwnerID: 100, TokenHash: hash}},
			StaticTokens:        []StaticToken{{ID: "7", QRHash: qrHash, TemplateID: "TMPL0001", OrgID: 10, TokenHash: hash, Status: StaticClaimed, DeviceUID: uid2, OwnerID: 100, ClaimedOrgID: 11}},
			DeletedDevices:      []string{uid1},
			DeletedOwners:       []int64{101},
			DeletedOrgs:         []int64{12},
			DeletedTemplates:    []string{"TMPL0009"},
			DeletedStaticTokens: []string{"6"},
		}},
		"telemetry": {V: 1, Type: TypeTelemetry, Seq: 1207, Telemetry: &Telemetry{Items: []Item{
			{Seq: 1201, Kind: KindOnline, Device: uid1, Name: "tcp", TS: 1764000000000, Source: "tcp"},
			{Seq: 1202, Kind: KindWrite, Device: uid1, Pin: 0, Value: "21.5", TS: 1764000000100, Source: "tcp"},
			{Seq: 1203, Kind: KindWrite, Device: uid1, Pin: 3, Value: "24.1\x0056.9", TS: 1764000000200, Source: "tcp"},
			{Seq: 1204, Kind: KindEvent, Device: uid1, Name: "overheat", Value: "42 °C", TS: 1764000000300, Source: "tcp"},
			{Seq: 1205, Kind: KindInfo, Device: uid1, Value: "mcu\x001.2.3\x00h-beat\x0045", TS: 1764000000400, Source: "tcp"},
			{Seq: 1206, Kind: KindMeta, Device: uid2, Name: "Serial", Value: "SN-1", TS: 1764000000500, Source: "http"},
			{Seq: 1207, Kind: KindOffline, Device: uid1, TS: 1764000000600, Source: "tcp"},
		}}},
		"telemetry_other_kinds": {V: 1, Type: TypeTelemetry, Seq: 9, Telemetry: &Telemetry{Items: []Item{
			{Seq: 3, Kind: KindErase, Device: uid1, Pin: 7, TS: 1, Source: "http"},
			{Seq: 5, Kind: KindClear, Device: uid1, Name: "overheat", Value: "all", TS: 2, Source: "mqtt"},
			{Seq: 9, Kind: KindProperty, Device: uid2, Pin: 1, Name: "color", Value: "#D3435C", TS: 3, Source: "tcp"},
		}}},
		"ack":          {V: 1, Type: TypeAck, Seq: 1207},
		"command":      {V: 1, Type: TypeCommand, ID: "cmd-01JD60", Command: &Command{Kind: CommandWrite, Device: uid1, Pin: 1, Value: "1", TS: 1764000001000, Actor: "ann@acme.example"}},
		"result_ok":    {V: 1, Type: TypeResult, ID: "cmd-01JD60", Result: &Result{Code: ResultOK, Value: "1"}},
		"result_stale": {V: 1, Type: TypeResult, ID: "cmd-01JD61", Result: &Result{Code: ResultStale, Message: "device wrote a newer value"}},
		"status":       {V: 1, Type: TypeStatus, Status: &Status{Software: "0.3.1", Backlog: 0, DevicesOnline: 2}},
		"devices": {V: 1, Type: TypeDevices, Devices: &LocalDevices{
			Templates: []datastream.Template{sampleTemplate()},
			Devices: []LocalDevice{
				{UID: uid1, Name: "Pump house", TemplateID: "TMPL0001", TokenHash: hash, CreatedAt: 1764000000000},
				{UID: uid2, Name: "Cold room", TemplateID: "TMPL0001", TokenHash: hash, CreatedAt: 1764000000500},
			},
		}},
		"shipments": {V: 1, Type: TypeShipments, Shipments: &Shipments{Items: []Shipment{{
			ID: "3", Name: "pump 1.4", TemplateID: "TMPL0001", Devices: []string{uid1, uid2}, Window: "night", Rule: "lower_version",
			Attempts: 3, UserControlled: true, Approved: []string{uid2},
			Firmware: Firmware{SHA256: hash, MD5: "0123456789abcdef0123456789abcdef", Size: 1572864, Version: "1.4.0", Type: "TMPL0001", Build: "Dec  3 2026 03:00:00"},
		}}}},
		"telemetry_ota": {V: 1, Type: TypeTelemetry, Seq: 12, Telemetry: &Telemetry{Items: []Item{
			{Seq: 12, Kind: KindOTA, Device: uid1, Name: "3", Value: EncodeOTA(OTAStatus{Status: "success", Attempts: 1, Version: "1.4.0"}), TS: 4, Source: "tcp"},
		}}},
		"error_replaced": {V: 1, Type: TypeError, Error: &Error{Code: CodeReplaced, Message: "another connection of this gateway took over"}},
	}
}

func sortedNames(m map[string]*Message) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TestGolden pins the wire encoding of every message type: what Encode
// produces is what the golden file holds, and the golden file decodes back
// to the same message. Run with -update after a deliberate change.
func TestGolden(t *testing.T) {
	for _, name := range sortedNames(samples()) {
		t.Run(name, func(t *testing.T) {
			m := samples()[name]
			enc, err := Encode(m)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, enc, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			path := filepath.Join("testdata", name+".json")
			if *update {
				if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), pretty.String()); diff != "" {
				t.Errorf("encoding differs from %s (-golden +got):\n%s", path, diff)
			}
			got, err := Decode(want)
			if err != nil {
				t.Fatalf("Decode(golden): %v", err)
			}
			if diff := cmp.Diff(m, got); diff != "" {
				t.Errorf("golden decodes to another message (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRoundTrip: decode(encode(x)) == x for every sample.
func TestRoundTrip(t *testing.T) {
	for name, m := range samples() {
		enc, err := Encode(m)
		if err != nil {
			t.Fatalf("%s: Encode: %v", name, err)
		}
		got, err := Decode(enc)
		if err != nil {
			t.Fatalf("%s: Decode: %v", name, err)
		}
		if diff := cmp.Diff(m, got); diff != "" {
			t.Errorf("%s: round trip (-want +got):\n%s", name, diff)
		}
	}
}

func TestEncodeSetsVersion(t *testing.T) {
	m := &Message{Type: TypeAck, Seq: 3}
	b, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `{"v":1,`) {
		t.Errorf("encoding %s does not start with the version", b)
	}
}

func TestDecodeRejects(t *testing.T) {
	tel := func(items string) string {
		return `{"v":1,"type":"telemetry","seq":2,"telemetry":{"items":[` + items + `]}}`
	}
	it := func(seq int, extra string) string {
		return `{"s":` + strconv.Itoa(seq) + `,"k":"write","d":"` + uid1 + `","t":1` + extra + `}`
	}
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", ``, ErrMalformed},
		{"not json", `hello`, ErrMalformed},
		{"array", `[1]`, ErrMalformed},
		{"trailing data", `{"v":1,"type":"ack","seq":1} {}`, ErrMalformed},
		{"unknown field", `{"v":1,"type":"ack","seq":1,"x":1}`, ErrMalformed},
		{"unknown body field", `{"v":1,"type":"status","status":{"software":"a","backlog":0,"devicesOnline":0,"extra":1}}`, ErrMalformed},
		{"wrong field type", `{"v":1,"type":"ack","seq":"1"}`, ErrMalformed},
		{"version 2", `{"v":2,"type":"ack","seq":1}`, ErrUnsupportedVersion},
		{"version 2 with new fields", `{"v":2,"type":"ack","seq":1,"future":true}`, ErrUnsupportedVersion},
		{"no version", `{"type":"ack","seq":1}`, ErrUnsupportedVersion},
		{"unknown type", `{"v":1,"type":"nope","status":{"software":"a"}}`, ErrInvalid},
		{"ack without seq", `{"v":1,"type":"ack"}`, ErrInvalid},
		{"invalid automation", `{"v":1,"type":"snapshot","snapshot":{"version":1,"automations":[{"id":"` + autoID + `","name":"x","enabled":true,"trigger":{"kind":"online","device":"nope"},"actions":[{"kind":"notify","text":"x"}]}]}}`, ErrInvalid},
		{"run without automation id", tel(`{"s":1,"k":"run","d":"` + uid1 + `","n":"x","t":1}`), ErrInvalid},
		{"ack with body", `{"v":1,"type":"ack","seq":1,"status":{"software":""}}`, ErrInvalid},
		{"type and body differ", `{"v":1,"type":"hello","status":{"software":""}}`, ErrInvalid},
		{"two bodies", `{"v":1,"type":"status","status":{},"error":{"code":"x"}}`, ErrInvalid},
		{"hello without gateway", `{"v":1,"type":"hello","hello":{"gateway":"","software":"","tenancyVersion":0,"telemetryAcked":0,"backlog":0,"devicesOnline":0}}`, ErrInvalid},
		{"negative cursor", `{"v":1,"type":"hello","hello":{"gateway":"g","tenancyVersion":-1}}`, ErrInvalid},
		{"id on status", `{"v":1,"type":"status","id":"x","status":{}}`, ErrInvalid},
		{"seq on status", `{"v":1,"type":"status","seq":4,"status":{}}`, ErrInvalid},
		{"command without id", `{"v":1,"type":"command","command":{"kind":"write","device":"` + uid1 + `","pin":1,"value":"1","ts":1}}`, ErrInvalid},
		{"command bad kind", `{"v":1,"type":"command","id":"c","command":{"kind":"reboot","device":"` + uid1 + `","pin":1,"value":"1","ts":1}}`, ErrInvalid},
		{"command pin 256", `{"v":1,"type":"command","id":"c","command":{"kind":"write","device":"` + uid1 + `","pin":256,"value":"1","ts":1}}`, ErrInvalid},
		{"command lowercase uid", `{"v":1,"type":"command","id":"c","command":{"kind":"write","device":"` + strings.ToLower(uid1) + `","pin":1,"value":"1","ts":1}}`, ErrInvalid},
		{"result unknown code", `{"v":1,"type":"result","id":"c","result":{"code":"maybe"}}`, ErrInvalid},
		{"empty batch", `{"v":1,"type":"telemetry","seq":1,"telemetry":{"items":[]}}`, ErrInvalid},
		{"seq not last item", tel(it(1, "") + "," + it(3, "")), ErrInvalid},
		{"seqs not ascending", tel(it(2, "") + "," + it(2, "")), ErrInvalid},
		{"seq zero", `{"v":1,"type":"telemetry","telemetry":{"items":[` + it(0, "") + `]}}`, ErrInvalid},
		{"unknown kind", tel(`{"s":2,"k":"reboot","d":"` + uid1 + `","t":1}`), ErrInvalid},
		{"event without code", tel(`{"s":2,"k":"event","d":"` + uid1 + `","t":1}`), ErrInvalid},
		{"bad device", tel(`{"s":2,"k":"write","d":"dev1","t":1}`), ErrInvalid},
		{"pin out of range", tel(it(2, `,"p":300`)), ErrInvalid},
		{"negative ts", `{"v":1,"type":"telemetry","seq":2,"telemetry":{"items":[{"s":2,"k":"write","d":"` + uid1 + `","t":-5}]}}`, ErrInvalid},
		{"snapshot version 0", `{"v":1,"type":"snapshot","snapshot":{"version":0}}`, ErrInvalid},
		{"delta backwards", `{"v":1,"type":"delta","delta":{"from":5,"version":5}}`, ErrInvalid},
		{"device bad hash", `{"v":1,"type":"snapshot","snapshot":{"version":1,"devices":[{"uid":"` + uid1 + `","name":"a","templateId":"T","orgId":1,"tokenHash":"ABC"}]}}`, ErrInvalid},
		{"device meta without name", `{"v":1,"type":"snapshot","snapshot":{"version":1,"devices":[{"uid":"` + uid1 + `","name":"a","templateId":"T","orgId":1,"tokenHash":"` + hash + `","meta":[{"name":"","value":"x","ts":1}]}]}}`, ErrInvalid},
		{"device meta without time", `{"v":1,"type":"snapshot","snapshot":{"version":1,"devices":[{"uid":"` + uid1 + `","name":"a","templateId":"T","orgId":1,"tokenHash":"` + hash + `","meta":[{"name":"Serial","value":"x","ts":0}]}]}}`, ErrInvalid},
		{"template duplicate pin", `{"v":1,"type":"snapshot","snapshot":{"version":1,"templates":[{"id":"T","name":"t","datastreams":[{"pin":1,"name":"a","type":"integer"},{"pin":1,"name":"b","type":"integer"}]}]}}`, ErrInvalid},
		{"template bad type", `{"v":1,"type":"snapshot","snapshot":{"version":1,"templates":[{"id":"T","name":"t","datastreams":[{"pin":1,"name":"a","type":"blob"}]}]}}`, ErrInvalid},
		{"static token bad status", `{"v":1,"type":"snapshot","snapshot":{"version":1,"staticTokens":[{"id":"1","qrHash":"` + qrHash + `","templateId":"T","orgId":1,"tokenHash":"` + hash + `","status":"LOST"}]}}`, ErrInvalid},
		{"static token without QR hash", `{"v":1,"type":"snapshot","snapshot":{"version":1,"staticTokens":[{"id":"1","templateId":"T","orgId":1,"tokenHash":"` + hash + `","status":"UNCLAIMED"}]}}`, ErrInvalid},
		{"static token QR in clear", `{"v":1,"type":"snapshot","snapshot":{"version":1,"staticTokens":[{"id":"1","qrHash":"sqr_abc","templateId":"T","orgId":1,"tokenHash":"` + hash + `","status":"UNCLAIMED"}]}}`, ErrInvalid},
		{"org own parent", `{"v":1,"type":"snapshot","snapshot":{"version":1,"orgs":[{"id":3,"name":"x","parentId":3}]}}`, ErrInvalid},
		{"delta deletes bad uid", `{"v":1,"type":"delta","delta":{"from":1,"version":2,"deletedDevices":["x"]}}`, ErrInvalid},
		{"devices empty", `{"v":1,"type":"devices","devices":{"devices":[]}}`, ErrInvalid},
		{"devices bad uid", `{"v":1,"type":"devices","devices":{"devices":[{"uid":"x","name":"a","templateId":"T","tokenHash":"` + hash + `","createdAt":1}]}}`, ErrInvalid},
		{"devices no name", `{"v":1,"type":"devices","devices":{"devices":[{"uid":"` + uid1 + `","name":"","templateId":"T","tokenHash":"` + hash + `","createdAt":1}]}}`, ErrInvalid},
		{"devices bad hash", `{"v":1,"type":"devices","devices":{"devices":[{"uid":"` + uid1 + `","name":"a","templateId":"T","tokenHash":"ab","createdAt":1}]}}`, ErrInvalid},
		{"devices bad template", `{"v":1,"type":"devices","devices":{"templates":[{"id":"","name":"t"}],"devices":[{"uid":"` + uid1 + `","name":"a","templateId":"T","tokenHash":"` + hash + `","createdAt":1}]}}`, ErrInvalid},
		{"error without code", `{"v":1,"type":"error","error":{"code":""}}`, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode([]byte(tt.in))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode(%s) = %+v, %v; want %v", tt.in, m, err, tt.want)
			}
			if m != nil {
				t.Errorf("a refused message was returned: %+v", m)
			}
		})
	}
}

func TestSizeLimits(t *testing.T) {
	big := make([]byte, MaxMessageSize+1)
	if _, err := Decode(big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Decode of %d bytes: %v, want ErrTooLarge", len(big), err)
	}
	items := make([]Item, MaxBatchItems+1)
	for i := range items {
		items[i] = Item{Seq: int64(i + 1), Kind: KindWrite, Device: uid1, Value: "1", TS: 1}
	}
	m := &Message{Type: TypeTelemetry, Seq: int64(len(items)), Telemetry: &Telemetry{Items: items}}
	if _, err := Encode(m); !errors.Is(err, ErrInvalid) {
		t.Errorf("Encode of %d items: %v, want ErrInvalid", len(items), err)
	}
	m.Telemetry.Items = items[:MaxBatchItems]
	m.Seq = MaxBatchItems
	if _, err := Encode(m); err != nil {
		t.Errorf("Encode of %d items: %v", MaxBatchItems, err)
	}
	long := &Message{Type: TypeCommand, ID: "c", Command: &Command{Kind: CommandWrite, Device: uid1, Value: strings.Repeat("x", MaxValueLen+1)}}
	if _, err := Encode(long); !errors.Is(err, ErrInvalid) {
		t.Errorf("Encode of a %d-byte value: %v, want ErrInvalid", MaxValueLen+1, err)
	}
}

func TestTokenHash(t *testing.T) {
	h, err := ParseTokenHash(hash)
	if err != nil {
		t.Fatal(err)
	}
	if got := TokenHashHex(h); got != hash {
		t.Errorf("TokenHashHex(ParseTokenHash(%s)) = %s", hash, got)
	}
	for _, bad := range []string{"", "abc", strings.ToUpper(hash), hash[:63] + "g"} {
		if _, err := ParseTokenHash(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseTokenHash(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

// FuzzDecode: Decode never panics, and whatever it accepts encodes and
// decodes back to the same message.
func FuzzDecode(f *testing.F) {
	for _, name := range sortedNames(samples()) {
		b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"v":1,"type":"ack","seq":1}`))
	f.Add([]byte(`{"v":2,"type":"ack","seq":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			if m != nil {
				t.Fatalf("message returned with error %v", err)
			}
			return
		}
		enc, err := Encode(m)
		if err != nil {
			t.Fatalf("accepted message does not encode: %v", err)
		}
		m2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded message refused: %v\n%s", err, enc)
		}
		if diff := cmp.Diff(m, m2, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip differs (-first +second):\n%s", diff)
		}
	})
}
