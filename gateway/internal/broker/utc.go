package broker

import (
	"encoding/json"

	"outpost/gateway/internal/blynktime"
)

// utcJSON formats blynktime's answer as the downlink/utc/all/json payload
// (PROTOCOL.md §2): offsets in minutes, tz_offset the one in force (DST
// included) and dst_offset its DST part, as the binary protocol's "tz".
func utcJSON(a blynktime.Answer) []byte {
	out, _ := json.Marshal(struct {
		TZName    string `json:"tz_name"`
		TZRule    string `json:"tz_rule"`
		TZOffset  int    `json:"tz_offset"`
		DSTOffset int    `json:"dst_offset"`
		Time      int64  `json:"time"`
		ISO8601   string `json:"iso8601"`
	}{
		TZName:    a.Name,
		TZRule:    a.Rule,
		TZOffset:  a.Offset / 60,
		DSTOffset: a.DST / 60,
		Time:      a.Local.UnixMilli(),
		ISO8601:   a.Local.Format("2006-01-02T15:04:05.000Z07:00"),
	})
	return out
}
