package gateway

import (
	"encoding/json"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/link/memlink"
)

// TestLinkStatusDelaysByIndex: each link reports the delays the stack
// counted at that link's own index, whatever the order of the stack's
// list, and a link the stack has no delays for reports none.
func TestLinkStatusDelaysByIndex(t *testing.T) {
	native, _ := memlink.Pair(link.Native, netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"))
	udp, _ := memlink.Pair(link.UDP, netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.1.2"))
	dtls, _ := memlink.Pair(link.UDP, netip.MustParseAddr("198.18.2.1"), netip.MustParseAddr("198.18.2.2"))
	// Counts that tell the indexes apart: 1+i waits, 10+i batches, 20+i
	// writes at index i.
	delays := make([]stack.LinkDelays, 2)
	for i := range delays {
		delays[i].Waited.Count = uint64(1 + i)
		delays[i].Handled.Count = uint64(10 + i)
		delays[i].Written.Count = uint64(20 + i)
	}
	// The UDP link first in the stack's list, the native one second; the
	// third link at an index the stack does not have.
	got := linkStatusesOf([3]link.Link{native, udp, dtls}, linkIndex{native: 1, udp: 0, dtls: 2}, delays)
	if len(got) != 3 {
		t.Fatalf("%d statuses, want 3", len(got))
	}
	for k, want := range [][3]uint64{{2, 11, 21}, {1, 10, 20}, {0, 0, 0}} {
		s := got[k]
		if c := [3]uint64{s.Waited.Count, s.Handled.Count, s.Written.Count}; c != want {
			t.Errorf("status %d (%s): counts %v, want %v", k, s.Kind, c, want)
		}
	}
	// Absent links are left out.
	if got := linkStatusesOf([3]link.Link{nil, udp, nil}, linkIndex{native: -1, udp: 0, dtls: -1}, delays); len(got) != 1 || got[0].Handled.Count != 10 {
		t.Errorf("udp only: %+v", got)
	}
}

// TestDelaySummary: `sctpgw status` shows each link's delays as p50 and
// p99 bucket bounds, through the JSON the daemon serves; a link that
// carried nothing shows none, and a p99 above the last bound shows as such.
func TestDelaySummary(t *testing.T) {
	var s LinkStatus
	s.Kind = "udp"
	s.Waited, s.Handled, s.Written = NewHistogram(DelayBuckets), NewHistogram(DelayBuckets), NewHistogram(DelayBuckets)
	if delaySummary(&s) != nil {
		t.Fatal("a summary of nothing")
	}
	// 98 waits of 20 µs, two of 3 s; handling 8 µs; writes 2 ms.
	for range 98 {
		s.Waited.Observe(20 * time.Microsecond)
	}
	s.Waited.Observe(3 * time.Second)
	s.Waited.Observe(3 * time.Second)
	for range 10 {
		s.Handled.Observe(8 * time.Microsecond)
		s.Written.Observe(2 * time.Millisecond)
	}
	s.Delays = delaySummary(&s)
	b, err := json.Marshal(Snapshot{Links: []LinkStatus{s}})
	if err != nil {
		t.Fatal(err)
	}
	var back Snapshot
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	text := FormatSnapshot(back)
	want := "  time in the gateway since start, p50 / p99 (bucket bounds): packet wait <= 25µs / > 1s (100 packets timed), batch handling <= 10µs / <= 10µs, writes <= 2.5ms / <= 2.5ms\n"
	if !strings.Contains(text, want) {
		t.Errorf("status lacks\n%q:\n%s", want, text)
	}
}

// TestHistogramQuantile: a quantile is the upper bound of the bucket of the
// ceil(q*n)-th observation, as histogram_quantile ranks it; above the last
// bound it is +Inf; with nothing observed there is none.
func TestHistogramQuantile(t *testing.T) {
	h := NewHistogram(DelayBuckets)
	if _, ok := h.Quantile(.5); ok {
		t.Fatal("a quantile of nothing")
	}
	// Waits of 0, 7 µs, 300 µs, 3 ms and 2 s: the third is the median.
	for _, d := range []time.Duration{0, 7 * time.Microsecond, 300 * time.Microsecond, 3 * time.Millisecond, 2 * time.Second} {
		h.Observe(d)
	}
	for _, c := range []struct {
		q    float64
		want float64
	}{{.2, 0.00001}, {.4, 0.00001}, {.5, 0.0005}, {.8, 0.005}, {.99, math.Inf(1)}} {
		if got, ok := h.Quantile(c.q); !ok || got != c.want {
			t.Errorf("q %v: %v, want %v", c.q, got, c.want)
		}
	}
}
