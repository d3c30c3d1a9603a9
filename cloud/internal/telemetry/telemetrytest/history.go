package telemetrytest

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"outpost/shared/syncproto"
)

// testHistoryOrder: History pages newest first by timestamp, ties in the
// order the points were applied (newest applied first), whatever order
// the timestamps arrived in; the cursor is the ID of a page's last point,
// and a cursor of another pin's point gives an empty page, not another
// pin's history.
func testHistoryOrder(t *testing.T, newStore func(t *testing.T) Store) {
	st := NewSite(t, newStore(t))
	ctx := context.Background()
	base := T0.UnixMilli()
	var seq int64
	// Applied a, b, c, d, e, f; a device clock that went backwards (b),
	// then ties (c, d at +2000 and e, f at +4000, split across batches).
	ApplyPoints(t, st, 5, []Point{{base + 3000, "a"}, {base + 1000, "b"}, {base + 2000, "c"}, {base + 2000, "d"}, {base + 4000, "e"}}, &seq)
	ApplyPoints(t, st, 5, []Point{{base + 4000, "f"}}, &seq)
	ApplyPoints(t, st, 6, []Point{{base + 9000, "other pin"}}, &seq)
	want := []string{"f", "e", "a", "d", "c", "b"}
	for _, size := range []int{1, 2, 4, 6, 10} {
		var got []string
		before, pages := int64(0), 0
		for {
			pts, next, err := st.S.History(ctx, st.Mine.UID, 5, before, size)
			must(t, err)
			pages++
			for i, p := range pts {
				got = append(got, p.Value)
				if p.Pin != 5 || (i > 0 && (p.TS.After(pts[i-1].TS) || p.TS.Equal(pts[i-1].TS) && p.ID > pts[i-1].ID)) {
					t.Fatalf("page size %d: point %+v after %+v", size, p, pts[i-1])
				}
			}
			if next == 0 {
				break
			}
			if next != pts[len(pts)-1].ID || pages > 10 {
				t.Fatalf("page size %d: next %d after %+v", size, next, pts)
			}
			before = next
		}
		if !slices.Equal(got, want) {
			t.Errorf("page size %d: history %v, want %v", size, got, want)
		}
	}
	other, _, err := st.S.History(ctx, st.Mine.UID, 6, 0, 10)
	must(t, err)
	if len(other) != 1 {
		t.Fatalf("pin 6 history %+v", other)
	}
	if pts, next, err := st.S.History(ctx, st.Mine.UID, 5, other[0].ID, 10); err != nil || len(pts) != 0 || next != 0 {
		t.Fatalf("a cursor of another pin: %+v next %d, %v; want an empty page", pts, next, err)
	}
}

// testHistoryKeepsValues: history gives back each written value byte for
// byte, whatever it holds (nothing, NUL, bytes that are not UTF-8, a long
// text, numbers in any notation), and aggregates the numeric ones.
func testHistoryKeepsValues(t *testing.T, newStore func(t *testing.T) Store) {
	st := NewSite(t, newStore(t))
	ctx := context.Background()
	base := T0.UnixMilli()
	vals := []string{"", "a\x00b", "\xff\xfe\x00", strings.Repeat("long ", 2000), "-0.5", "1e300", "12", "0x10", " 7"}
	var pts []Point
	for i, v := range vals {
		pts = append(pts, Point{base + int64(i), v})
	}
	var seq int64
	ApplyPoints(t, st, 3, pts, &seq)
	got, _, err := st.S.History(ctx, st.Mine.UID, 3, 0, 100)
	must(t, err)
	if len(got) != len(vals) {
		t.Fatalf("%d points, want %d", len(got), len(vals))
	}
	for i, p := range got {
		want := pts[len(pts)-1-i]
		if p.Value != want.Val || p.TS.UnixMilli() != want.TS {
			t.Errorf("point %d: %q at %d, want %q at %d", i, p.Value, p.TS.UnixMilli(), want.Val, want.TS)
		}
	}
	sr, err := st.S.Aggregate(ctx, st.Mine.UID, 3, time.UnixMilli(base), time.UnixMilli(base+100), 1)
	must(t, err)
	if len(sr.Buckets) != 1 || sr.Buckets[0].Count != 3 || sr.Buckets[0].Min != -0.5 || sr.Buckets[0].Max != 1e300 ||
		sr.Buckets[0].Last != 12 {
		t.Fatalf("aggregate of the numeric values: %+v", sr.Buckets)
	}
}

// testHugeValues: values near the largest float, in batches of their own
// landing in one minute, are stored and aggregated; the rollups' sums
// saturate instead of failing the apply (which would stop the gateway's
// whole stream), and a later ordinary value applies.
func testHugeValues(t *testing.T, newStore func(t *testing.T) Store) {
	st := NewSite(t, newStore(t))
	ctx := context.Background()
	base := T0.UnixMilli()
	var seq int64
	for i, v := range []string{"1.7e308", "1.7e308", "-1.7e308", "-1.7e308", "1.7e308", "5"} {
		ApplyPoints(t, st, 3, []Point{{base + int64(i), v}}, &seq)
	}
	got, _, err := st.S.History(ctx, st.Mine.UID, 3, 0, 100)
	must(t, err)
	if len(got) != 6 || got[0].Value != "5" {
		t.Fatalf("history %+v, want the 6 values, newest 5", got)
	}
	sr, err := st.S.Aggregate(ctx, st.Mine.UID, 3, time.UnixMilli(base), time.UnixMilli(base+100), 1)
	must(t, err)
	if len(sr.Buckets) != 1 || sr.Buckets[0].Count != 6 || sr.Buckets[0].Max != 1.7e308 || sr.Buckets[0].Min != -1.7e308 ||
		sr.Buckets[0].Last != 5 {
		t.Fatalf("aggregate %+v", sr.Buckets)
	}
	// An hour's bucket: from the rollups where a store keeps them.
	hour := time.UnixMilli(base).Truncate(time.Hour)
	sr, err = st.S.Aggregate(ctx, st.Mine.UID, 3, hour, hour.Add(time.Hour), 1)
	must(t, err)
	if len(sr.Buckets) != 1 || sr.Buckets[0].Count != 6 || sr.Buckets[0].Max != 1.7e308 || sr.Buckets[0].Last != 5 {
		t.Fatalf("hourly aggregate %+v", sr.Buckets)
	}
}

// testHistoryOrderOfLargeBatch: one Apply of more than a thousand writes
// of one timestamp, erases between them, pages back in the reverse of
// item order (ties are in the order applied), with distinct ids.
func testHistoryOrderOfLargeBatch(t *testing.T, newStore func(t *testing.T) Store) {
	st := NewSite(t, newStore(t))
	ctx := context.Background()
	ts := T0.UnixMilli()
	var items []syncproto.Item
	var want []string
	for i := range 2500 {
		it := syncproto.Item{Seq: int64(i + 1), Kind: syncproto.KindWrite, Device: st.Mine.UID, Pin: 4, Value: strconv.Itoa(i), TS: ts}
		if i%900 == 899 {
			it.Kind, it.Value = syncproto.KindErase, ""
		} else {
			want = append(want, it.Value)
		}
		items = append(items, it)
	}
	slices.Reverse(want)
	must(t, st.S.Apply(ctx, st.GW, 1, items, int64(len(items))))
	var got []string
	seen := map[int64]bool{}
	for before := int64(0); ; {
		pts, next, err := st.S.History(ctx, st.Mine.UID, 4, before, 700)
		must(t, err)
		for _, p := range pts {
			if seen[p.ID] {
				t.Fatalf("id %d twice", p.ID)
			}
			seen[p.ID] = true
			got = append(got, p.Value)
		}
		if next == 0 {
			break
		}
		before = next
	}
	if !slices.Equal(got, want) {
		t.Fatalf("history of %d points (want %d) not in reverse item order: starts %v", len(got), len(want), got[:min(5, len(got))])
	}
}
