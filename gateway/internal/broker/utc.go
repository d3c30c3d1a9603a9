package broker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// utcJSON builds the downlink/utc/all/json payload (PROTOCOL.md §2). tz is
// the device's "Time Zone" metadata (an IANA name); unknown or empty → UTC.
func utcJSON(now time.Time, tz string) []byte {
	loc := time.UTC
	if tz != "" {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		}
	}
	t := now.In(loc)
	_, offset := t.Zone()
	// Standard offset: the zone's offset in January or July, whichever is
	// smaller (the other one includes DST where DST exists).
	_, jan := time.Date(t.Year(), 1, 1, 0, 0, 0, 0, loc).Zone()
	_, jul := time.Date(t.Year(), 7, 1, 0, 0, 0, 0, loc).Zone()
	std := min(jan, jul)
	name := loc.String()
	out, _ := json.Marshal(struct {
		TZName    string `json:"tz_name"`
		TZRule    string `json:"tz_rule"`
		TZOffset  int    `json:"tz_offset"`
		DSTOffset int    `json:"dst_offset"`
		Time      int64  `json:"time"`
		ISO8601   string `json:"iso8601"`
	}{
		TZName:    name,
		TZRule:    posixRule(loc, t),
		TZOffset:  std / 60,
		DSTOffset: (offset - std) / 60,
		Time:      now.UnixMilli(),
		ISO8601:   t.Format("2006-01-02T15:04:05.000Z07:00"),
	})
	return out
}

// posixRule returns the POSIX TZ string of loc ("CET-1CEST,M3.5.0,M10.5.0/3"),
// which Blynk sends as tz_rule: the footer of the zone's TZif file when the
// system has it, else the fixed offset now in force.
func posixRule(loc *time.Location, t time.Time) string {
	if loc == time.UTC {
		return "UTC0"
	}
	if b, err := os.ReadFile(filepath.Join("/usr/share/zoneinfo", filepath.Clean("/"+loc.String()))); err == nil {
		b = bytes.TrimRight(b, "\n")
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 && bytes.HasPrefix(b, []byte("TZif")) {
			return string(b[i+1:])
		}
	}
	abbr, off := t.Zone()
	sign := "-" // POSIX offsets are west-positive
	if off < 0 {
		sign, off = "", -off
	}
	return fmt.Sprintf("<%s>%s%d:%02d", abbr, sign, off/3600, off%3600/60)
}
