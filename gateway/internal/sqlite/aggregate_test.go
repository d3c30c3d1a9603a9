package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outpost/gateway/internal/hub"
)

// TestAggregate: buckets of the value writes of one pin, with avg, min,
// max, the last value by time and the count; other pins, other devices and
// writes outside the range do not count.
func TestAggregate(t *testing.T) {
	ctx := context.Background()
	s := openWithTemplate(t, filepath.Join(t.TempDir(), "gw.db"), Options{})
	d, other := testDevice(s, t, "one"), testDevice(s, t, "two")
	base := time.UnixMilli(1_700_000_000_000)
	w := func(dev int64, pin int, at time.Duration, v string) {
		s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: dev, Pin: pin, Value: v, TS: base.Add(at).UnixMilli()})
	}
	// Bucket 0 (0..10 s): 1, 5, 3 (3 is the latest even though appended first).
	w(d.ID, 0, 9*time.Second, "3")
	w(d.ID, 0, 1*time.Second, "1")
	w(d.ID, 0, 2*time.Second, "5")
	// Bucket 2 (20..30 s): 10. Bucket 1 stays empty: a gap.
	w(d.ID, 0, 25*time.Second, "10")
	w(d.ID, 1, 3*time.Second, "99")     // other pin
	w(other.ID, 0, 3*time.Second, "99") // other device
	w(d.ID, 0, 100*time.Second, "99")   // after the range
	w(d.ID, 0, -time.Second, "99")      // before it
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	bs, width, err := s.Aggregate(ctx, d.ID, 0, base, base.Add(100*time.Second), 10)
	if err != nil {
		t.Fatal(err)
	}
	if width != 10*time.Second {
		t.Errorf("width = %v, want 10s", width)
	}
	want := []Bucket{
		{Start: base, Avg: 3, Min: 1, Max: 5, Last: 3, Count: 3},
		{Start: base.Add(20 * time.Second), Avg: 10, Min: 10, Max: 10, Last: 10, Count: 1},
	}
	if len(bs) != len(want) {
		t.Fatalf("buckets = %+v, want %+v", bs, want)
	}
	for i := range want {
		if !bs[i].Start.Equal(want[i].Start) || bs[i].Avg != want[i].Avg || bs[i].Min != want[i].Min ||
			bs[i].Max != want[i].Max || bs[i].Last != want[i].Last || bs[i].Count != want[i].Count {
			t.Errorf("bucket %d = %+v, want %+v", i, bs[i], want[i])
		}
	}
	// Buckets are at least a second wide however many are asked for.
	if _, width, _ := s.Aggregate(ctx, d.ID, 0, base, base.Add(time.Minute), 1000); width != time.Second {
		t.Errorf("width of a minute in 1000 buckets = %v, want 1s", width)
	}
	// The index serves the query.
	var detail string
	var a, b int
	rows, err := s.db.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT count(*) FROM outbox WHERE kind = 1 AND device = ? AND pin = ? AND ts >= ? AND ts < ?`, d.ID, 0, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var d string
		rows.Scan(&a, &b, &d, &d)
		detail += d
	}
	rows.Close()
	if detail == "" || !strings.Contains(detail, "outbox_history_ts") {
		t.Errorf("query plan %q does not use outbox_history_ts", detail)
	}
}
