// Package latency provides a latency histogram: fixed memory, no
// allocation per value, quantiles within 6.25 %. The store keeps one for
// Append → committed, the broker one for publish → PUBACK.
package latency

import "math/bits"

// Histogram is a log-linear latency histogram in nanoseconds: exact below
// 16 ns, then 16 sub-buckets per power of two (≤ 6.25 % relative error),
// covering the whole int64 range in fixed memory without allocation.
type Histogram struct {
	counts [histBuckets]uint64
	total  uint64
}

const (
	histSubBits = 4
	histSub     = 1 << histSubBits
	histBuckets = histSub + (64-histSubBits)*histSub
)

func histBucket(v uint64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1
	return histSub + shift*histSub + int(v>>uint(shift)) - histSub
}

// histLow returns the smallest value of bucket i.
func histLow(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	shift := (i - histSub) / histSub
	top := uint64(histSub + (i-histSub)%histSub)
	return top << uint(shift)
}

func (h *Histogram) Record(ns int64) {
	if ns < 0 {
		ns = 0 // wall clock stepped back
	}
	h.counts[histBucket(uint64(ns))]++
	h.total++
}

// Quantile returns the middle of the bucket holding quantile q (0 < q ≤ 1),
// or 0 when nothing was recorded.
func (h *Histogram) Quantile(q float64) uint64 {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i, n := range h.counts {
		seen += n
		if seen >= rank {
			lo := histLow(i)
			if i+1 < histBuckets {
				return lo + (histLow(i+1)-lo)/2
			}
			return lo
		}
	}
	return 0
}

// Cumulative counts the recorded values at or below each bound (ns,
// ascending), Prometheus-style, and estimates their sum from each bucket's
// middle. A bucket straddling a bound counts below it when its low end is.
func (h *Histogram) Cumulative(bounds []uint64) (counts []uint64, total, sum uint64) {
	counts = make([]uint64, len(bounds))
	for i, n := range h.counts {
		if n == 0 {
			continue
		}
		lo := histLow(i)
		mid := lo
		if i+1 < histBuckets {
			mid = lo + (histLow(i+1)-lo)/2
		}
		sum += n * mid
		for j, b := range bounds {
			if lo <= b {
				counts[j] += n
			}
		}
	}
	return counts, h.total, sum
}

// Add adds o's counts to h.
func (h *Histogram) Add(o *Histogram) {
	for i, n := range o.counts {
		h.counts[i] += n
	}
	h.total += o.total
}
