package sqlite

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"outpost/gateway/internal/hub"
)

// BenchmarkAggregateHour charts one pin over an hour (360 buckets of 10 s)
// on a site whose 100 devices wrote one pin every second for that hour
// (360,000 entries of history): what the installer page's chart costs.
func BenchmarkAggregateHour(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "gw.db")
	s, err := Open(ctx, Options{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.SaveTemplate(ctx, testTemplate()); err != nil {
		b.Fatal(err)
	}
	var ids []int64
	for i := range 100 {
		ids = append(ids, testDevice(s, b, "d"+strconv.Itoa(i)).ID)
	}
	start := time.UnixMilli(1_700_000_000_000)
	for sec := range 3600 {
		for i, id := range ids {
			ts := start.Add(time.Duration(sec)*time.Second + time.Duration(i)*time.Millisecond).UnixMilli()
			s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: id, Pin: 0, Value: strconv.Itoa(sec % 100), TS: ts})
		}
	}
	// Closing brings the latest values (and what goes with them) up to date.
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	if s, err = Open(ctx, Options{Path: path}); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	for range b.N {
		bs, _, err := s.Aggregate(ctx, ids[50], 0, start, start.Add(time.Hour), 360)
		if err != nil || len(bs) != 360 || bs[0].Count != 10 {
			b.Fatalf("Aggregate = %d buckets (first %+v), %v; want 360 of 10 writes", len(bs), bs[0], err)
		}
	}
}
