package telemetry

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestBucketWidth(t *testing.T) {
	for _, c := range []struct {
		span time.Duration
		max  int
		want time.Duration
	}{
		{time.Hour, 1000, 5 * time.Second}, // 720 buckets
		{time.Hour, 3600, time.Second},     // exactly 3,600
		{time.Hour, 60, time.Minute},       // exactly 60, aligned
		{6 * time.Hour, 1000, 30 * time.Second},
		{24 * time.Hour, 1000, 2 * time.Minute},
		{7 * 24 * time.Hour, 1000, 15 * time.Minute},
		{30 * 24 * time.Hour, 1000, time.Hour}, // 720 buckets
		{90 * 24 * time.Hour, 1000, 3 * time.Hour},
		{3 * 365 * 24 * time.Hour, 1000, 2 * 24 * time.Hour},
		{100 * 365 * 24 * time.Hour, 10, 4 * 365 * 24 * time.Hour / (30 * 24) * 30 * 24}, // a multiple of 30 days
	} {
		got := BucketWidth(t0, t0.Add(c.span), c.max)
		if c.span < 50*365*24*time.Hour && got != c.want {
			t.Errorf("%v in %d: width %v, want %v", c.span, c.max, got, c.want)
		}
		f, to := t0.UnixMilli(), t0.Add(c.span).UnixMilli()
		w := got.Milliseconds()
		if n := FloorDiv(to-1, w) - FloorDiv(f, w) + 1; n > int64(c.max) {
			t.Errorf("%v in %d: %d buckets of %v", c.span, c.max, n, got)
		}
	}
	// An unaligned start may need the next width.
	if got := BucketWidth(t0.Add(30*time.Second), t0.Add(time.Hour+30*time.Second), 60); got != 2*time.Minute {
		t.Errorf("unaligned hour in 60: %v, want 2m (61 one-minute buckets)", got)
	}
}

func TestNumber(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"1", true}, {"-2.5", true}, {"1e3", true}, {"", false}, {"0x10", false}, {"NaN", false},
		{"Inf", false}, {"1_000", false}, {"on", false}, {"1\x002", false},
	} {
		if _, ok := Number(c.in); ok != c.ok {
			t.Errorf("Number(%q) ok = %v, want %v", c.in, ok, c.ok)
		}
	}
}

func TestParseInfo(t *testing.T) {
	m := ParseInfo("fw\x001.2\x00build\x00x\x00dangling")
	if len(m) != 2 || m["fw"] != "1.2" || m["build"] != "x" {
		t.Fatalf("ParseInfo = %v", m)
	}
	if ParseInfo("") != nil {
		t.Fatal("empty info is no map")
	}
}
