package postgres

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"outpost/cloud/internal/telemetry/telemetrytest"
	"outpost/shared/syncproto"
)

// History goes to its month's partition (the default one outside the
// prepared months); retention drops whole months and keeps the rest.
func TestHistoryPartitions(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	st := telemetrytest.NewSite(t, s)
	now := time.Date(2031, 5, 17, 12, 0, 0, 0, time.UTC)
	if err := s.EnsurePartitions(ctx, now); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsurePartitions(ctx, now); err != nil { // again: nothing to do
		t.Fatal(err)
	}
	at := func(y int, m time.Month) int64 { return time.Date(y, m, 3, 0, 0, 0, 0, time.UTC).UnixMilli() }
	items := []syncproto.Item{
		{Seq: 1, Kind: syncproto.KindWrite, Device: st.Mine.UID, Pin: 1, Value: "april", TS: at(2031, 4)},
		{Seq: 2, Kind: syncproto.KindWrite, Device: st.Mine.UID, Pin: 1, Value: "may", TS: at(2031, 5)},
		{Seq: 3, Kind: syncproto.KindWrite, Device: st.Mine.UID, Pin: 1, Value: "july", TS: at(2031, 7)},
		{Seq: 4, Kind: syncproto.KindWrite, Device: st.Mine.UID, Pin: 1, Value: "far past", TS: 1000},
	}
	if err := s.Apply(ctx, st.GW, 1, items, 4); err != nil {
		t.Fatal(err)
	}
	where := func(value string) string {
		var p string
		if err := s.pool.QueryRow(ctx, `SELECT tableoid::regclass::text FROM device_history WHERE value = $1`, []byte(value)).Scan(&p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for v, want := range map[string]string{"april": "device_history_203104", "may": "device_history_203105",
		"july": "device_history_203107", "far past": "device_history_default"} {
		if got := where(v); got != want {
			t.Errorf("%q in %s, want %s", v, got, want)
		}
	}
	dropped, err := s.DropHistoryBefore(ctx, time.Date(2031, 5, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	// Open prepared the months around the real now too: all before 2031.
	if !slices.Contains(dropped, "device_history_203104") || slices.ContainsFunc(dropped, func(p string) bool {
		return p >= "device_history_203105"
	}) {
		t.Fatalf("dropped %v, want April 2031's partition and none after it", dropped)
	}
	hist, _, err := s.History(ctx, st.Mine.UID, 1, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, h := range hist {
		vals = append(vals, h.Value)
	}
	// Newest first by timestamp (History's order), across partitions.
	if !slices.Equal(vals, []string{"july", "may", "far past"}) {
		t.Fatalf("history after retention %v", vals)
	}
}

// Two instances applying one gateway's batches at once (a gateway that
// reconnected to B while A still applies its last batch) store each item
// once: the cursor row is locked for the whole Apply.
func TestConcurrentApplyAcrossInstances(t *testing.T) {
	ctx := context.Background()
	dsn := migratedDSN(t)
	a, err := Open(ctx, dsn, Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, dsn, Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	st := telemetrytest.NewSite(t, a)
	const batches, size = 20, 50
	var all []syncproto.Item
	for i := range batches * size {
		all = append(all, syncproto.Item{Seq: int64(i + 1), Kind: syncproto.KindWrite, Device: st.Mine.UID, Pin: 1,
			Value: fmt.Sprint(i), TS: int64(1000 + i)})
	}
	// Each instance replays the outbox from the start, in growing batches
	// (what a reconnecting gateway sends), at the same time as the other.
	errc := make(chan error, 2)
	for _, s := range []*Store{a, b} {
		go func() {
			for k := 1; k <= batches; k++ {
				if err := s.Apply(ctx, st.GW, 1, all[:k*size], int64(k*size)); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	var n, distinct int
	if err := a.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT value) FROM device_history`).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != len(all) || distinct != len(all) {
		t.Fatalf("%d history rows (%d distinct) for %d items", n, distinct, len(all))
	}
}

// The partitions summarized are those of the UTC month, whatever the
// machine's zone: late on the last day of a month west of Greenwich it is
// already the next month in UTC.
func TestReceivingPartitionsAreUTCMonths(t *testing.T) {
	west := time.FixedZone("UTC-8", -8*3600)
	east := time.FixedZone("UTC+10", 10*3600)
	for _, tc := range []struct {
		now  time.Time
		want []string
	}{
		{time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC), []string{"device_history_202612", "device_history_202611", "device_history_default"}},
		{time.Date(2026, 12, 31, 20, 0, 0, 0, west), []string{"device_history_202701", "device_history_202612", "device_history_default"}},
		{time.Date(2027, 1, 1, 5, 0, 0, 0, east), []string{"device_history_202612", "device_history_202611", "device_history_default"}},
	} {
		if got := receivingPartitions(tc.now); !slices.Equal(got, tc.want) {
			t.Errorf("at %v: %v, want %v", tc.now, got, tc.want)
		}
	}
}
