package sqlite

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"outpost/shared/syncproto"
)

// BenchmarkApply measures datastream updates/s through Apply into a real
// database file: batches of 4,000 writes (the cloud link's batch size) of
// one served device on 10 pins, each batch one transaction, as gatewaysync
// applies them.
func BenchmarkApply(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "cloud.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	st := newSiteIn(b, s)
	const n = 4000
	items := make([]syncproto.Item, n)
	seq := int64(0)
	b.ReportAllocs()
	for b.Loop() {
		for i := range items {
			seq++
			items[i] = syncproto.Item{Seq: seq, Kind: syncproto.KindWrite, Device: st.mine.UID, Pin: int(seq % 10),
				Value: strconv.FormatInt(seq, 10), TS: 1764000000000 + seq, Source: "tcp"}
		}
		if err := s.Apply(ctx, st.gw, 1, items, seq); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "updates/s")
}
