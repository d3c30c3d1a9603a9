package rules

import (
	"math"
	"slices"
	"time"
)

// Next returns the first time of the schedule strictly after t, or the
// zero time when there is none within a year (the sun neither rises nor
// sets there on the chosen weekdays, or the schedule is invalid).
func (s *Schedule) Next(t time.Time) time.Time {
	loc, err := loadTZ(s.TZ)
	if err != nil {
		return time.Time{}
	}
	at, clock := parseClock(s.At)
	if !clock && s.Sun != Sunrise && s.Sun != Sunset {
		return time.Time{}
	}
	lt := t.In(loc)
	y, m, d := lt.Date()
	// Start a day early: a sunrise plus offset, or a day whose local
	// midnight lies after t in UTC, may still be ahead.
	for i := -1; i <= 370; i++ {
		day := time.Date(y, m, d+i, 12, 0, 0, 0, loc)
		if !weekday(s.Weekdays, day.Weekday()) {
			continue
		}
		var c time.Time
		if clock {
			c = time.Date(day.Year(), day.Month(), day.Day(), at/60, at%60, 0, 0, loc)
			// A time in a daylight-saving gap (02:30 on the night the
			// clocks skip 02:00-03:00) fires when the gap ends.
			if local := c.Hour()*60 + c.Minute(); local < at && c.Day() == day.Day() {
				c = c.Add(time.Duration(at-local) * time.Minute)
			}
		} else {
			rise, set, ok := SunTimes(day.Year(), day.Month(), day.Day(), s.Lat, s.Lon)
			if !ok {
				continue
			}
			c = rise
			if s.Sun == Sunset {
				c = set
			}
			c = c.Add(time.Duration(s.OffsetMin) * time.Minute).Truncate(time.Second)
		}
		if c.After(t) {
			return c.In(loc)
		}
	}
	return time.Time{}
}

func weekday(days []time.Weekday, d time.Weekday) bool {
	return len(days) == 0 || slices.Contains(days, d)
}

// SunTimes computes sunrise and sunset (UTC) on a civil date at a
// location, by the sunrise equation (solar disc's upper edge, standard
// refraction; within a couple of minutes outside the polar circles). ok is
// false on a day of midnight sun or polar night.
func SunTimes(year int, month time.Month, day int, lat, lon float64) (rise, set time.Time, ok bool) {
	const rad = math.Pi / 180
	noon := time.Date(year, month, day, 12, 0, 0, 0, time.UTC)
	jd := float64(noon.Unix())/86400 + 2440587.5
	n := math.Round(jd - 2451545.0 + 0.0008)
	jstar := n - lon/360
	M := math.Mod(357.5291+0.98560028*jstar, 360)
	C := 1.9148*math.Sin(M*rad) + 0.0200*math.Sin(2*M*rad) + 0.0003*math.Sin(3*M*rad)
	lambda := math.Mod(M+C+180+102.9372, 360)
	transit := 2451545.0 + jstar + 0.0053*math.Sin(M*rad) - 0.0069*math.Sin(2*lambda*rad)
	sinDecl := math.Sin(lambda*rad) * math.Sin(23.4397*rad)
	cosDecl := math.Cos(math.Asin(sinDecl))
	cosW := (math.Sin(-0.833*rad) - math.Sin(lat*rad)*sinDecl) / (math.Cos(lat*rad) * cosDecl)
	if cosW < -1 || cosW > 1 || math.IsNaN(cosW) {
		return time.Time{}, time.Time{}, false
	}
	w := math.Acos(cosW) / rad
	toTime := func(j float64) time.Time {
		ms := (j - 2440587.5) * 86400e3
		return time.UnixMilli(int64(math.Round(ms))).UTC()
	}
	return toTime(transit - w/360), toTime(transit + w/360), true
}

// Contains reports whether t falls inside the window.
func (w *Window) Contains(t time.Time) bool {
	loc, err := loadTZ(w.TZ)
	if err != nil {
		return false
	}
	from, ok1 := parseClock(w.From)
	to, ok2 := parseClock(w.To)
	if !ok1 || !ok2 {
		return false
	}
	lt := t.In(loc)
	now := lt.Hour()*60 + lt.Minute()
	if from < to {
		return now >= from && now < to && weekday(w.Weekdays, lt.Weekday())
	}
	// Spans midnight: the evening part belongs to today, the morning part
	// to the window that started yesterday.
	if now >= from {
		return weekday(w.Weekdays, lt.Weekday())
	}
	if now < to {
		return weekday(w.Weekdays, (lt.Weekday()+6)%7)
	}
	return false
}
