package blynkserver

import (
	"strconv"
	"time"
)

// utcAnswer returns the values of an INTERNAL "utc\0<what>" answer
// (PROTOCOL.md §1.11) for the gateway's time zone:
//
//	time     → unix ms
//	iso      → ISO-8601 local time with offset
//	tz       → offset minutes, DST part of it in minutes
//	tz_name  → IANA name
//	tz_rule  → POSIX TZ rule
//	dst_next → the next two changes: unix s, offset minutes after it, twice
//	           (0 and the current offset when the zone has none)
func utcAnswer(what string, now time.Time, loc *time.Location) ([]string, bool) {
	t := now.In(loc)
	_, off := t.Zone()
	std := stdOffset(t, loc)
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	switch what {
	case "time":
		return []string{itoa(t.UnixMilli())}, true
	case "iso":
		return []string{t.Format("2006-01-02T15:04:05Z07:00")}, true
	case "tz":
		return []string{itoa(int64(off / 60)), itoa(int64((off - std) / 60))}, true
	case "tz_name":
		return []string{loc.String()}, true
	case "tz_rule":
		return []string{posixRule(t, loc)}, true
	case "dst_next":
		var out []string
		from := t
		for range 2 {
			at, ok := nextChange(from, loc)
			if !ok {
				out = append(out, "0", itoa(int64(off/60)))
				continue
			}
			_, o := at.Zone()
			out = append(out, itoa(at.Unix()), itoa(int64(o/60)))
			from = at
		}
		return out, true
	}
	return nil, false
}

// stdOffset is the zone's standard (non-DST) offset around t: the smaller
// of its January and July offsets.
func stdOffset(t time.Time, loc *time.Location) int {
	_, jan := time.Date(t.Year(), 1, 1, 12, 0, 0, 0, loc).Zone()
	_, jul := time.Date(t.Year(), 7, 1, 12, 0, 0, 0, loc).Zone()
	return min(jan, jul)
}

// nextChange finds the next offset change within a year after t, to the
// second: daily steps, then bisection.
func nextChange(t time.Time, loc *time.Location) (time.Time, bool) {
	_, off := t.In(loc).Zone()
	lo := t
	for range 367 {
		hi := lo.Add(24 * time.Hour)
		if _, o := hi.In(loc).Zone(); o != off {
			for hi.Sub(lo) > time.Second {
				mid := lo.Add(hi.Sub(lo) / 2)
				if _, o := mid.In(loc).Zone(); o != off {
					hi = mid
				} else {
					lo = mid
				}
			}
			return hi.Truncate(time.Second).In(loc), true
		}
		lo = hi
	}
	return time.Time{}, false
}

// posixRule builds a POSIX TZ string such as "UTC0" or
// "EET-2EEST,M3.5.0/3,M10.5.0/4" from the zone's next two changes.
func posixRule(t time.Time, loc *time.Location) string {
	std := stdOffset(t, loc)
	stdName, _ := zoneAt(t, loc, std)
	rule := abbr(stdName) + posixOffset(std)
	first, ok1 := nextChange(t, loc)
	second, ok2 := nextChange(first, loc)
	if !ok1 || !ok2 {
		return rule
	}
	// Order: the change into DST, then the change back.
	toDST, toStd := first, second
	if _, o := first.Zone(); o == std {
		toDST, toStd = second, first
	}
	dstName, dstOff := toDST.Zone()
	rule += abbr(dstName)
	if dstOff-std != 3600 {
		rule += posixOffset(dstOff)
	}
	// Each change is expressed in the local time in force before it.
	return rule + "," + mRule(toDST, std) + "," + mRule(toStd, dstOff)
}

func zoneAt(t time.Time, loc *time.Location, off int) (string, bool) {
	for _, m := range []time.Month{1, 7} {
		name, o := time.Date(t.Year(), m, 1, 12, 0, 0, 0, loc).Zone()
		if o == off {
			return name, true
		}
	}
	name, _ := t.Zone()
	return name, false
}

// abbr quotes zone names that are not plain letters ("+03" → "<+03>").
func abbr(name string) string {
	for _, c := range name {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return "<" + name + ">"
		}
	}
	if len(name) < 3 {
		return "<" + name + ">"
	}
	return name
}

// posixOffset writes an offset east of UTC the POSIX way (west positive).
func posixOffset(off int) string {
	off = -off
	s := ""
	if off < 0 {
		s, off = "-", -off
	}
	s += strconv.Itoa(off / 3600)
	if m := off % 3600 / 60; m != 0 || off%60 != 0 {
		s += ":" + twoDigits(m)
		if sec := off % 60; sec != 0 {
			s += ":" + twoDigits(sec)
		}
	}
	return s
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// mRule writes "Mm.w.d/h" for a change at, given the offset before it.
func mRule(at time.Time, before int) string {
	local := at.UTC().Add(time.Duration(before) * time.Second)
	week := (local.Day()-1)/7 + 1
	if local.Day()+7 > daysIn(local.Month(), local.Year()) {
		week = 5
	}
	s := "M" + strconv.Itoa(int(local.Month())) + "." + strconv.Itoa(week) + "." + strconv.Itoa(int(local.Weekday()))
	secs := local.Hour()*3600 + local.Minute()*60 + local.Second()
	if secs != 2*3600 {
		s += "/" + strconv.Itoa(secs/3600)
		if m := secs % 3600 / 60; m != 0 {
			s += ":" + twoDigits(m)
		}
	}
	return s
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
