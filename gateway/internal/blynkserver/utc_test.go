package blynkserver

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // zones for the table, whatever the machine has

	"outpost/gateway/internal/blynktime"
)

func TestUTCAnswers(t *testing.T) {
	load := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	winter := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	summer := time.Date(2026, 7, 15, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		loc  *time.Location
		now  time.Time
		what string
		want string
	}{
		{time.UTC, winter, "time", "1768478400000"},
		{time.UTC, winter, "iso", "2026-01-15T12:00:00Z"},
		{time.UTC, winter, "tz", "0\x000"},
		{time.UTC, winter, "tz_name", "UTC"},
		{time.UTC, winter, "tz_rule", "UTC0"},
		{time.UTC, winter, "dst_next", "0\x000\x000\x000"},
		{load("Europe/Berlin"), winter, "iso", "2026-01-15T13:00:00+01:00"},
		{load("Europe/Berlin"), summer, "tz", "120\x0060"},
		{load("Europe/Berlin"), winter, "tz_rule", "CET-1CEST,M3.5.0,M10.5.0/3"},
		{load("Europe/Berlin"), summer, "tz_rule", "CET-1CEST,M3.5.0,M10.5.0/3"},
		// 2026-10-25 01:00 UTC back to +60, 2027-03-28 01:00 UTC to +120.
		{load("Europe/Berlin"), summer, "dst_next", "1792890000\x0060\x001806195600\x00120"},
		{load("America/New_York"), winter, "tz_rule", "EST5EDT,M3.2.0,M11.1.0"},
		{load("Asia/Kolkata"), winter, "tz_rule", "IST-5:30"},
		{load("America/Sao_Paulo"), winter, "tz_rule", "<-03>3"},
	}
	for _, tc := range tests {
		got, ok := utcAnswer(tc.what, blynktime.At(tc.now, tc.loc))
		if !ok || strings.Join(got, "\x00") != tc.want {
			t.Errorf("%s %s at %s = %q, want %q", tc.loc, tc.what, tc.now.Format(time.DateOnly), strings.Join(got, "\x00"), tc.want)
		}
	}
	if _, ok := utcAnswer("bogus", blynktime.At(winter, time.UTC)); ok {
		t.Error("unknown utc request answered")
	}
}
