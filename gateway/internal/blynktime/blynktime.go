// Package blynktime answers a device's questions about time (Blynk's
// INTERNAL utc/rtc on the binary protocol, get/utc/all/json over MQTT):
// one place resolves the device's time zone and computes the offsets, the
// POSIX rule and the coming offset changes, so that every transport gives
// the same answer; each transport only formats it (PROTOCOL.md §1.11, §2).
// Standard library only; the rule is computed from the zone's transitions,
// not read from the system's TZif files, so it is the same on every box.
package blynktime

import (
	"strconv"
	"time"
)

// MetaTimeZone is the device metadata field naming its IANA time zone.
const MetaTimeZone = "Time Zone"

// Zone resolves a device's time zone: its Time Zone metadata when it names
// a zone, else fallback (the site's zone), else UTC (PROTOCOL.md §2:
// device location, metadata, organization, UTC; Outpost keeps no device
// location).
func Zone(meta string, fallback *time.Location) *time.Location {
	if meta != "" {
		if loc, err := time.LoadLocation(meta); err == nil {
			return loc
		}
	}
	if fallback != nil {
		return fallback
	}
	return time.UTC
}

// Change is an offset change: when, and the offset after it (seconds east).
type Change struct {
	At     time.Time
	Offset int
}

// Answer is what a device is told about time at one instant.
type Answer struct {
	Local  time.Time // the instant in the device's zone
	Name   string    // IANA name ("UTC" when none)
	Rule   string    // POSIX TZ rule, e.g. "CET-1CEST,M3.5.0,M10.5.0/3"
	Offset int       // seconds east of UTC in force, DST included
	DST    int       // the DST part of Offset, seconds
	// Next are the next two offset changes within a year each; a zone
	// without changes has none.
	Next []Change
}

// At answers for now in loc.
func At(now time.Time, loc *time.Location) Answer {
	t := now.In(loc)
	_, off := t.Zone()
	std := stdOffset(t, loc)
	a := Answer{Local: t, Name: loc.String(), Offset: off, DST: off - std}
	from := t
	for range 2 {
		at, ok := nextChange(from, loc)
		if !ok {
			break
		}
		_, o := at.Zone()
		a.Next = append(a.Next, Change{At: at, Offset: o})
		from = at
	}
	a.Rule = posixRule(t, loc, std, a.Next)
	return a
}

// posixRule builds a POSIX TZ string such as "UTC0" or
// "EET-2EEST,M3.5.0/3,M10.5.0/4" from the zone's standard offset and its
// next two changes.
func posixRule(t time.Time, loc *time.Location, std int, next []Change) string {
	stdName, _ := zoneAt(t, loc, std)
	rule := abbr(stdName) + posixOffset(std)
	if len(next) < 2 {
		return rule
	}
	// Order: the change into DST, then the change back.
	toDST, toStd := next[0].At, next[1].At
	if next[0].Offset == std {
		toDST, toStd = toStd, toDST
	}
	dstName, dstOff := toDST.Zone()
	rule += abbr(dstName)
	if dstOff-std != 3600 {
		rule += posixOffset(dstOff)
	}
	// Each change is expressed in the local time in force before it.
	return rule + "," + mRule(toDST, std) + "," + mRule(toStd, dstOff)
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
