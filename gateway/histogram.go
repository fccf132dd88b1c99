package gateway

import (
	"math"
	"slices"
	"time"
)

// SetupBuckets are the upper bounds, in seconds, of the pair setup time
// histogram: from sub-millisecond (a core beside its MME) to the 60 s an
// INIT may be retransmitted for.
var SetupBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Histogram counts durations in fixed buckets, as a Prometheus histogram
// does, without a per-observation label or allocation.
type Histogram struct {
	Bounds []float64 // upper bounds in seconds, increasing
	Counts []uint64  // observations per bucket; the last is above every bound
	Sum    float64   // seconds
	Count  uint64
}

// NewHistogram makes an empty histogram with bounds.
func NewHistogram(bounds []float64) Histogram {
	return Histogram{Bounds: bounds, Counts: make([]uint64, len(bounds)+1)}
}

// Observe counts d.
func (h *Histogram) Observe(d time.Duration) {
	s := d.Seconds()
	i, _ := slices.BinarySearch(h.Bounds, s)
	h.Counts[i]++
	h.Sum += s
	h.Count++
}

// Cumulative returns the count at or below each bound.
func (h *Histogram) Cumulative() map[float64]uint64 {
	m := make(map[float64]uint64, len(h.Bounds))
	var n uint64
	for i, b := range h.Bounds {
		n += h.Counts[i]
		m[b] = n
	}
	return m
}

// Quantile is the upper bound, in seconds, of the bucket that holds the
// q-quantile (0 < q <= 1), the ceil(q*count)-th observation as Prometheus's
// histogram_quantile takes it: an upper bound to a bucket's precision,
// +Inf above the last bound; false with no observation.
func (h *Histogram) Quantile(q float64) (float64, bool) {
	if h.Count == 0 {
		return 0, false
	}
	rank := min(max(uint64(math.Ceil(q*float64(h.Count))), 1), h.Count)
	var n uint64
	for i, b := range h.Bounds {
		if n += h.Counts[i]; n >= rank {
			return b, true
		}
	}
	return math.Inf(1), true
}

// Copy returns a histogram that does not share h's counts.
func (h *Histogram) Copy() Histogram {
	c := *h
	c.Counts = slices.Clone(h.Counts)
	return c
}
