package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"outpost/shared/syncproto"
)

// BenchmarkAggregate30Days charts one datastream holding 30 days of one
// value per second (2,592,000 points) over the console's ranges, at most
// 1,000 buckets each. The fixture is written into the benchmark's temp
// dir once per run.
func BenchmarkAggregate30Days(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "history.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const pin, points = 1, 30 * 24 * 3600
	end := time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)
	start := end.Add(-points * time.Second)
	// The fixture goes through Apply, as a gateway's telemetry would: one
	// value per second in batches of 1,000, history and rollups.
	t0 := time.Now()
	site := newSiteIn(b, s)
	items := make([]syncproto.Item, 1000)
	seq := int64(0)
	for i := 0; i < points; i += len(items) {
		for j := range items {
			seq++
			v := float64((i+j)%3600) / 10
			items[j] = syncproto.Item{Seq: seq, Kind: syncproto.KindWrite, Device: site.mine.UID, Pin: pin,
				Value: strconv.FormatFloat(v, 'f', -1, 64), TS: start.UnixMilli() + int64(i+j)*1000}
		}
		if err := s.Apply(ctx, site.gw, 1, items, seq); err != nil {
			b.Fatal(err)
		}
	}
	uid := site.mine.UID
	el := time.Since(t0)
	b.Logf("fixture: %d points through Apply in %v (%.0f points/s)", points, el.Round(time.Second), points/el.Seconds())
	for _, r := range []struct {
		name string
		span time.Duration
	}{
		{"30d", 30 * 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"1d", 24 * time.Hour}, {"6h", 6 * time.Hour}, {"1h", time.Hour},
	} {
		b.Run(r.name, func(b *testing.B) {
			from := end.Add(-r.span)
			var sr Series
			timed(b, func() error {
				var err error
				sr, err = s.Aggregate(ctx, uid, pin, from, end, 1000)
				if err == nil && (len(sr.Buckets) == 0 || len(sr.Buckets) > 1000) {
					err = fmt.Errorf("%d buckets", len(sr.Buckets))
				}
				return err
			})
			var n int64
			for _, bk := range sr.Buckets {
				n += bk.Count
			}
			if n != int64(r.span/time.Second) {
				b.Fatalf("%d points aggregated, want %d", n, int64(r.span/time.Second))
			}
			b.ReportMetric(float64(len(sr.Buckets)), "buckets")
		})
	}
}
