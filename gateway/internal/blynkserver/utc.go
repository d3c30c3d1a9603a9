package blynkserver

import (
	"strconv"

	"outpost/gateway/internal/blynktime"
)

// utcAnswer formats blynktime's answer as the values of an INTERNAL
// "utc\0<what>" reply (PROTOCOL.md §1.11):
//
//	time     → unix ms
//	iso      → ISO-8601 local time with offset
//	tz       → offset minutes in force, the DST part of it in minutes
//	tz_name  → IANA name
//	tz_rule  → POSIX TZ rule
//	dst_next → the next two changes: unix s, offset minutes after it, twice
//	           (0 and the current offset when the zone has none)
func utcAnswer(what string, a blynktime.Answer) ([]string, bool) {
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	switch what {
	case "time":
		return []string{itoa(a.Local.UnixMilli())}, true
	case "iso":
		return []string{a.Local.Format("2006-01-02T15:04:05Z07:00")}, true
	case "tz":
		return []string{itoa(int64(a.Offset / 60)), itoa(int64(a.DST / 60))}, true
	case "tz_name":
		return []string{a.Name}, true
	case "tz_rule":
		return []string{a.Rule}, true
	case "dst_next":
		var out []string
		for i := range 2 {
			if i < len(a.Next) {
				out = append(out, itoa(a.Next[i].At.Unix()), itoa(int64(a.Next[i].Offset/60)))
			} else {
				out = append(out, "0", itoa(int64(a.Offset/60)))
			}
		}
		return out, true
	}
	return nil, false
}
