package latency

import (
	"slices"
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 {
		t.Fatal("empty histogram has a median")
	}
	for i := 1; i <= 1000; i++ {
		h.Record(int64(i) * int64(time.Millisecond))
	}
	h.Record(-5) // a clock step back counts as zero
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}} {
		got := time.Duration(h.Quantile(tc.q))
		if d := got - tc.want; d < -tc.want/16 || d > tc.want/16 {
			t.Errorf("quantile(%v) = %v, want %v ± 6.25%%", tc.q, got, tc.want)
		}
	}
	for v := uint64(0); v < 1<<20; v = v*3/2 + 1 {
		i := histBucket(v)
		if lo := histLow(i); lo > v || (i+1 < histBuckets && histLow(i+1) <= v) {
			t.Fatalf("value %d in bucket %d [%d, %d)", v, i, lo, histLow(i+1))
		}
	}
	if histBucket(1<<63) >= histBuckets {
		t.Fatal("largest value out of range")
	}
}

// TestCumulative: the histogram counts values below each bound,
// cumulatively, and every value in the total.
func TestCumulative(t *testing.T) {
	var h Histogram
	for _, ns := range []int64{500, 2_000_000, 3_000_000, 40_000_000} {
		h.Record(ns)
	}
	counts, total, sum := h.Cumulative([]uint64{1000, 5_000_000, 100_000_000})
	if want := []uint64{1, 3, 4}; !slices.Equal(counts, want) || total != 4 {
		t.Errorf("cumulative = %v / %d, want %v / 4", counts, total, want)
	}
	if exact := uint64(45_000_500); sum < exact*9/10 || sum > exact*11/10 {
		t.Errorf("sum = %d, want about %d", sum, exact)
	}
}

// TestAdd: a histogram added to another counts in its quantiles.
func TestAdd(t *testing.T) {
	var a, b Histogram
	for i := 1; i <= 99; i++ {
		a.Record(int64(i) * int64(time.Millisecond))
	}
	b.Record(int64(time.Hour))
	a.Add(&b)
	if got := time.Duration(a.Quantile(1)); got < 56*time.Minute || got > 64*time.Minute {
		t.Errorf("maximum after Add = %v, want about 1h", got)
	}
	if got := time.Duration(a.Quantile(0.5)); got < 47*time.Millisecond || got > 53*time.Millisecond {
		t.Errorf("median after Add = %v, want about 50ms", got)
	}
}
