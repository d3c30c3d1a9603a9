package broker

import (
	"strings"
	"testing"
)

var topicCases = []struct {
	topic string
	want  uplink
}{
	{"ds/Temperature", uplink{kind: topicDS, name: "Temperature"}},
	{"ds/Set Temperature", uplink{kind: topicDS, name: "Set Temperature"}},
	{"ds/Temperature/erase", uplink{kind: topicDSErase, name: "Temperature"}},
	{"ds/Temperature/timestamped_batch", uplink{kind: topicDSBatch, name: "Temperature"}},
	{"ds/Temperature/prop/label", uplink{kind: topicDSProp, name: "Temperature", prop: "label"}},
	{"ds/Temperature/prop/label/erase", uplink{kind: topicDSPropErase, name: "Temperature", prop: "label"}},
	{"batch_ds", uplink{kind: topicBatchDS}},
	{"event/overheat", uplink{kind: topicEvent, name: "overheat"}},
	{"meta/Serial Number", uplink{kind: topicMeta, name: "Serial Number"}},
	{"get/ds", uplink{kind: topicGetDS}},
	{"get/ds/all", uplink{kind: topicGetDSAll}},
	{"get/meta", uplink{kind: topicGetMeta}},
	{"get/utc/all/json", uplink{kind: topicGetUTC}},
	{"get/loc/all", uplink{kind: topicGetLoc}},
	{"info/mcu", uplink{kind: topicInfoMCU}},
	// refused
	{"", uplink{}},
	{"ds", uplink{}},
	{"ds/", uplink{}},
	{"ds/Temperature/", uplink{}},
	{"ds//erase", uplink{}},
	{"ds/Temperature/other", uplink{}},
	{"ds/Temperature/prop/", uplink{}},
	{"ds/Temperature/prop/a/b", uplink{}},
	{"ds/a+b", uplink{}},
	{"ds/#", uplink{}},
	{"event/", uplink{}},
	{"event/a/b", uplink{}},
	{"meta/", uplink{}},
	{"downlink/ds/x", uplink{}},
	{"get/ds/all/x", uplink{}},
	{"$SYS/broker", uplink{}},
	{"batch_ds/x", uplink{}},
	{"Ds/Temperature", uplink{}},
}

func TestParseTopic(t *testing.T) {
	for _, tc := range topicCases {
		if got := parseTopic(tc.topic); got != tc.want {
			t.Errorf("parseTopic(%q) = %+v, want %+v", tc.topic, got, tc.want)
		}
	}
}

func TestDownlinkFilter(t *testing.T) {
	for f, want := range map[string]bool{
		"downlink/#": true, "downlink/ds/#": true, "downlink/ds/Set Temperature": true,
		"downlink/ping": true, "downlink/": false, "downlink": false, "#": false,
		"downlink/+/x": false, "downlink/+": false, "downlink/#/x": false, "downlink/a#": false,
		"ds/#": false, "$device-1/s/downlink/#": false,
	} {
		if got := downlinkFilter(f); got != want {
			t.Errorf("downlinkFilter(%q) = %v, want %v", f, got, want)
		}
	}
}

// FuzzParseTopic: any topic either is refused or parses into names that
// are non-empty single topic levels and re-assemble into the topic.
func FuzzParseTopic(f *testing.F) {
	for _, tc := range topicCases {
		f.Add(tc.topic)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		u := parseTopic(topic)
		if u.kind == topicInvalid {
			return
		}
		for _, n := range []string{u.name, u.prop} {
			if strings.ContainsAny(n, "/+#\x00") {
				t.Fatalf("%q: name %q is not one level", topic, n)
			}
		}
		var back string
		switch u.kind {
		case topicDS:
			back = "ds/" + u.name
		case topicDSErase:
			back = "ds/" + u.name + "/erase"
		case topicDSBatch:
			back = "ds/" + u.name + "/timestamped_batch"
		case topicDSProp:
			back = "ds/" + u.name + "/prop/" + u.prop
		case topicDSPropErase:
			back = "ds/" + u.name + "/prop/" + u.prop + "/erase"
		case topicEvent:
			back = "event/" + u.name
		case topicMeta:
			back = "meta/" + u.name
		default:
			back = topic
		}
		if back != topic {
			t.Fatalf("parseTopic(%q) = %+v, which is %q", topic, u, back)
		}
		if u.kind <= topicMeta && u.kind != topicBatchDS && u.name == "" {
			t.Fatalf("%q: empty name", topic)
		}
	})
}

func FuzzDownlinkFilter(f *testing.F) {
	for _, s := range []string{"downlink/#", "downlink/+/x", "#", "downlink/a/#", "downlink/a#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		if !downlinkFilter(filter) {
			return
		}
		if !strings.HasPrefix(filter, "downlink/") || strings.Contains(filter, "+") {
			t.Fatalf("accepted %q", filter)
		}
		if i := strings.Index(filter, "#"); i >= 0 && (i != len(filter)-1 || filter[i-1] != '/') {
			t.Fatalf("accepted %q with a non-trailing #", filter)
		}
	})
}
