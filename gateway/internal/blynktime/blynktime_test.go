package blynktime

import (
	"testing"
	"time"
	_ "time/tzdata" // zones for the tables, whatever the machine has
)

func load(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestZone(t *testing.T) {
	site := time.FixedZone("site", 3600)
	tests := []struct {
		meta     string
		fallback *time.Location
		want     string
	}{
		{"Europe/Berlin", site, "Europe/Berlin"},
		{"Europe/Berlin", nil, "Europe/Berlin"},
		{"", site, "site"},
		{"Mars/Olympus_Mons", site, "site"}, // not a zone: the site's
		{"", nil, "UTC"},
		{"Mars/Olympus_Mons", nil, "UTC"},
	}
	for _, tt := range tests {
		if got := Zone(tt.meta, tt.fallback).String(); got != tt.want {
			t.Errorf("Zone(%q, %v) = %s, want %s", tt.meta, tt.fallback, got, tt.want)
		}
	}
}

// TestAt: the POSIX rule computed from the transitions equals the zone's
// TZif footer (as of tzdata 2025) or, where the footer says it otherwise,
// means the same (Dublin's negative DST, Santiago's "Saturday 24:00").
func TestAt(t *testing.T) {
	dec := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	jul := time.Date(2026, 7, 15, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		zone        string
		now         time.Time
		rule        string
		offset, dst int // minutes
		next        int // changes found
	}{
		{"UTC", dec, "UTC0", 0, 0, 0},
		{"Europe/Berlin", dec, "CET-1CEST,M3.5.0,M10.5.0/3", 60, 0, 2},
		{"Europe/Berlin", jul, "CET-1CEST,M3.5.0,M10.5.0/3", 120, 60, 2},
		{"Europe/London", jul, "GMT0BST,M3.5.0/1,M10.5.0", 60, 60, 2},
		{"Europe/Dublin", dec, "GMT0IST,M3.5.0/1,M10.5.0", 0, 0, 2}, // footer IST-1GMT0,M10.5.0,M3.5.0/1
		{"Europe/Kyiv", dec, "EET-2EEST,M3.5.0/3,M10.5.0/4", 120, 0, 2},
		{"America/New_York", dec, "EST5EDT,M3.2.0,M11.1.0", -300, 0, 2},
		{"America/St_Johns", dec, "NST3:30NDT,M3.2.0,M11.1.0", -210, 0, 2},
		{"America/Sao_Paulo", dec, "<-03>3", -180, 0, 0},
		{"America/Santiago", dec, "<-04>4<-03>,M9.1.0/0,M4.1.0/0", -180, 60, 2}, // footer M9.1.6/24,M4.1.6/24
		{"Asia/Kolkata", dec, "IST-5:30", 330, 0, 0},
		{"Asia/Kathmandu", dec, "<+0545>-5:45", 345, 0, 0},
		{"Australia/Sydney", dec, "AEST-10AEDT,M10.1.0,M4.1.0/3", 660, 60, 2},
		{"Australia/Lord_Howe", dec, "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", 660, 30, 2},
		{"Pacific/Chatham", dec, "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45", 825, 60, 2},
		{"Etc/GMT+5", dec, "<-05>5", -300, 0, 0},
	}
	for _, tt := range tests {
		a := At(tt.now, load(t, tt.zone))
		if a.Name != tt.zone || a.Rule != tt.rule || a.Offset/60 != tt.offset || a.DST/60 != tt.dst || len(a.Next) != tt.next {
			t.Errorf("%s at %s: %s %q offset %d dst %d, %d changes; want %q %d %d, %d changes",
				tt.zone, tt.now.Format(time.DateOnly), a.Name, a.Rule, a.Offset/60, a.DST/60, len(a.Next), tt.rule, tt.offset, tt.dst, tt.next)
		}
		if !a.Local.Equal(tt.now) || a.Local.Location().String() != tt.zone {
			t.Errorf("%s: local time %v", tt.zone, a.Local)
		}
		for i, c := range a.Next {
			if _, before := c.At.Add(-time.Second).Zone(); before == c.Offset {
				t.Errorf("%s: change %d at %v is not where the offset changes", tt.zone, i, c.At)
			}
		}
	}
}
