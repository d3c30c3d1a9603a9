package broker

import "strings"

// topicKind is what an uplink topic asks for (PROTOCOL.md §2).
type topicKind uint8

const (
	topicInvalid     topicKind = iota
	topicDS                    // ds/<name>: value, items NUL-separated
	topicDSErase               // ds/<name>/erase
	topicDSBatch               // ds/<name>/timestamped_batch: [[ts, value], …]
	topicDSProp                // ds/<name>/prop/<property>
	topicDSPropErase           // ds/<name>/prop/<property>/erase
	topicBatchDS               // batch_ds: {name: value, …}
	topicEvent                 // event/<code>
	topicMeta                  // meta/<field name>
	topicGetDS                 // get/ds: comma-separated names
	topicGetDSAll              // get/ds/all
	topicGetMeta               // get/meta: comma-separated names
	topicGetUTC                // get/utc/all/json
	topicGetLoc                // get/loc/all
	topicInfoMCU               // info/mcu: JSON
)

// uplink is a parsed uplink topic.
type uplink struct {
	kind topicKind
	name string // datastream name, event code or meta field name
	prop string // property name (topicDSProp, topicDSPropErase)
}

// parseTopic classifies a topic a device published to. Anything that is
// not an uplink topic of the Blynk MQTT API is topicInvalid, which the ACL
// refuses. Names may contain spaces but not '/', NUL or wildcards, and
// are never empty.
func parseTopic(t string) uplink {
	switch t {
	case "batch_ds":
		return uplink{kind: topicBatchDS}
	case "get/ds":
		return uplink{kind: topicGetDS}
	case "get/ds/all":
		return uplink{kind: topicGetDSAll}
	case "get/meta":
		return uplink{kind: topicGetMeta}
	case "get/utc/all/json":
		return uplink{kind: topicGetUTC}
	case "get/loc/all":
		return uplink{kind: topicGetLoc}
	case "info/mcu":
		return uplink{kind: topicInfoMCU}
	}
	if rest, ok := strings.CutPrefix(t, "event/"); ok {
		if validName(rest) {
			return uplink{kind: topicEvent, name: rest}
		}
		return uplink{}
	}
	if rest, ok := strings.CutPrefix(t, "meta/"); ok {
		if validName(rest) {
			return uplink{kind: topicMeta, name: rest}
		}
		return uplink{}
	}
	rest, ok := strings.CutPrefix(t, "ds/")
	if !ok {
		return uplink{}
	}
	name, tail, _ := strings.Cut(rest, "/")
	if !validName(name) {
		return uplink{}
	}
	switch tail {
	case "":
		if strings.HasSuffix(rest, "/") {
			return uplink{}
		}
		return uplink{kind: topicDS, name: name}
	case "erase":
		return uplink{kind: topicDSErase, name: name}
	case "timestamped_batch":
		return uplink{kind: topicDSBatch, name: name}
	}
	prop, ok := strings.CutPrefix(tail, "prop/")
	if !ok {
		return uplink{}
	}
	kind := topicDSProp
	if p, ok := strings.CutSuffix(prop, "/erase"); ok {
		prop, kind = p, topicDSPropErase
	}
	if !validName(prop) {
		return uplink{}
	}
	return uplink{kind: kind, name: name, prop: prop}
}

// validName reports whether s can be one topic level naming a datastream,
// event, meta field or property.
func validName(s string) bool {
	// A byte loop: strings.ContainsAny builds its character set on every
	// call, and this runs twice per publish (ACL and OnPublish).
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '/', '+', '#', 0:
			return false
		}
	}
	return s != ""
}

// downlinkFilter reports whether a device may subscribe to filter: only
// under downlink/, with no '+' and at most a trailing '#' level.
func downlinkFilter(filter string) bool {
	rest, ok := strings.CutPrefix(filter, "downlink/")
	if !ok || rest == "" || strings.ContainsAny(rest, "+\x00") {
		return false
	}
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		return i == len(rest)-1 && (i == 0 || rest[i-1] == '/')
	}
	return true
}

// splitNames splits a get/ds or get/meta payload ("Brightness, Color") into
// names, dropping empty entries and surrounding spaces.
func splitNames(payload []byte) []string {
	var names []string
	for n := range strings.SplitSeq(string(payload), ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	return names
}
