//go:build linux

package lab

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// bucketed is a Prometheus histogram as scraped: cumulative counts at
// increasing upper bounds (seconds), the last +Inf.
type bucketed struct {
	bounds []float64
	cum    []float64
	sum    float64
}

func (h bucketed) count() float64 {
	if len(h.cum) == 0 {
		return 0
	}
	return h.cum[len(h.cum)-1]
}

// since is h less an earlier scrape of the same series.
func (h bucketed) since(earlier bucketed) bucketed { return h.add(earlier, -1) }

// plus is h and g together, g scraped with the same buckets; an empty h
// takes g as it is.
func (h bucketed) plus(g bucketed) bucketed {
	if len(h.cum) == 0 {
		return g
	}
	return h.add(g, 1)
}

// add is h plus k times g, bucket by bucket, in new slices; h as it is when
// g has other buckets (an empty earlier scrape).
func (h bucketed) add(g bucketed, k float64) bucketed {
	if len(g.cum) != len(h.cum) {
		return h
	}
	s := bucketed{bounds: h.bounds, cum: make([]float64, len(h.cum)), sum: h.sum + k*g.sum}
	for i := range h.cum {
		s.cum[i] = h.cum[i] + k*g.cum[i]
	}
	return s
}

// quantile estimates the q-quantile as Prometheus's histogram_quantile
// does: linearly within the bucket that holds it (from 0 in the first),
// the last finite bound when it lies above every bound; zero when empty.
func (h bucketed) quantile(q float64) time.Duration {
	n := h.count()
	if n == 0 {
		return 0
	}
	rank := q * n
	i := 0
	for i < len(h.cum)-1 && h.cum[i] < rank {
		i++
	}
	if math.IsInf(h.bounds[i], 1) {
		if i == 0 {
			return 0 // no finite bound to go by
		}
		return seconds(h.bounds[i-1])
	}
	lo, below := 0.0, 0.0
	if i > 0 {
		lo, below = h.bounds[i-1], h.cum[i-1]
	}
	in := h.cum[i] - below
	if in <= 0 {
		return seconds(h.bounds[i])
	}
	return seconds(lo + (h.bounds[i]-lo)*(rank-below)/in)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// linkDelays is one gateway's delay histograms by link kind: the packets'
// wait from the kernel's receipt to the stack taking them in, the stack's
// handling of each batch read, and the link's writes of each batch sent
// (delayMetrics).
type linkDelays map[string][3]bucketed

var delayMetrics = [3]string{"sctpgw_link_packet_wait_seconds", "sctpgw_link_batch_handling_seconds", "sctpgw_link_write_seconds"}

// parseDelays reads the delay histograms out of a /metrics exposition.
func parseDelays(text []byte) (linkDelays, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return nil, err
	}
	d := linkDelays{}
	for k, name := range delayMetrics {
		f := fams[name]
		if f == nil {
			continue
		}
		for _, m := range f.Metric {
			var kind string
			for _, lp := range m.Label {
				if lp.GetName() == "link" {
					kind = lp.GetValue()
				}
			}
			h := bucketed{sum: m.GetHistogram().GetSampleSum()}
			for _, b := range m.GetHistogram().GetBucket() {
				h.bounds = append(h.bounds, b.GetUpperBound())
				h.cum = append(h.cum, float64(b.GetCumulativeCount()))
			}
			if len(h.bounds) == 0 || !math.IsInf(h.bounds[len(h.bounds)-1], 1) {
				h.bounds = append(h.bounds, math.Inf(1))
				h.cum = append(h.cum, float64(m.GetHistogram().GetSampleCount()))
			}
			e := d[kind]
			e[k] = h
			d[kind] = e
		}
	}
	return d, nil
}

// delays scrapes the gateway's delay histograms; empty when the scrape
// fails.
func (g *gw) delays() linkDelays {
	b, err := g.adminGet("/metrics", 10*time.Second)
	if err != nil {
		return linkDelays{}
	}
	d, err := parseDelays(b)
	if err != nil {
		return linkDelays{}
	}
	return d
}

// plus is d and e together: the same series' observations of two runs
// (a nil d or a kind missing from it takes e's as they are).
func (d linkDelays) plus(e linkDelays) linkDelays {
	out := linkDelays{}
	for k, h := range d {
		out[k] = h
	}
	for k, h := range e {
		a, ok := out[k]
		if !ok {
			out[k] = h
			continue
		}
		for i := range a {
			a[i] = a[i].plus(h[i])
		}
		out[k] = a
	}
	return out
}

// since is d less an earlier scrape.
func (d linkDelays) since(earlier linkDelays) linkDelays {
	out := linkDelays{}
	for k, h := range d {
		e := earlier[k]
		out[k] = [3]bucketed{h[0].since(e[0]), h[1].since(e[1]), h[2].since(e[2])}
	}
	return out
}

// writeInside writes what the gateways' stacks counted during the sctpgw
// latency run: per gateway and link, the packets' wait, the batches'
// handling and the link's writes. A message relayed at once spends about
// the wait and handling of the link it came on and the write of the link
// it leaves on in a gateway.
func writeInside(out *strings.Builder, inside [2]linkDelays) {
	if inside[0] == nil {
		return
	}
	fmt.Fprintf(out, "    inside each sctpgw gateway during its run (its stack's histograms, p50 / p99 within buckets): a packet's wait from the kernel's receipt to the stack taking it in, the stack's handling of a batch read, the link's write of a batch sent\n")
	for i, role := range []string{"edge", "core"} {
		kinds := make([]string, 0, len(inside[i]))
		for k := range inside[i] {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		for _, k := range kinds {
			w, h, wr := inside[i][k][0], inside[i][k][1], inside[i][k][2]
			us := func(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/1e3) }
			fmt.Fprintf(out, "      %-4s %-6s wait %s / %s µs (%.0f packets), handling %s / %s µs (%.0f batches), write %s / %s µs (%.0f batches)\n", role, k,
				us(w.quantile(.5)), us(w.quantile(.99)), w.count(), us(h.quantile(.5)), us(h.quantile(.99)), h.count(),
				us(wr.quantile(.5)), us(wr.quantile(.99)), wr.count())
		}
	}
}

// TestDelayQuantiles: quantiles from scraped buckets interpolate as
// Prometheus does, a difference of two scrapes holds what came between,
// and the exposition parses into the three histograms per link.
func TestDelayQuantiles(t *testing.T) {
	text := []byte(`# TYPE sctpgw_link_packet_wait_seconds histogram
sctpgw_link_packet_wait_seconds_bucket{link="udp",le="1e-05"} 10
sctpgw_link_packet_wait_seconds_bucket{link="udp",le="2.5e-05"} 60
sctpgw_link_packet_wait_seconds_bucket{link="udp",le="5e-05"} 99
sctpgw_link_packet_wait_seconds_bucket{link="udp",le="+Inf"} 100
sctpgw_link_packet_wait_seconds_sum{link="udp"} 0.003
sctpgw_link_packet_wait_seconds_count{link="udp"} 100
# TYPE sctpgw_link_batch_handling_seconds histogram
sctpgw_link_batch_handling_seconds_bucket{link="udp",le="1e-05"} 0
sctpgw_link_batch_handling_seconds_bucket{link="udp",le="2.5e-05"} 4
sctpgw_link_batch_handling_seconds_bucket{link="udp",le="5e-05"} 4
sctpgw_link_batch_handling_seconds_bucket{link="udp",le="+Inf"} 4
sctpgw_link_batch_handling_seconds_sum{link="udp"} 0.0001
sctpgw_link_batch_handling_seconds_count{link="udp"} 4
# TYPE sctpgw_link_write_seconds histogram
sctpgw_link_write_seconds_bucket{link="udp",le="1e-05"} 0
sctpgw_link_write_seconds_bucket{link="udp",le="2.5e-05"} 0
sctpgw_link_write_seconds_bucket{link="udp",le="5e-05"} 2
sctpgw_link_write_seconds_bucket{link="udp",le="+Inf"} 2
sctpgw_link_write_seconds_sum{link="udp"} 0.00008
sctpgw_link_write_seconds_count{link="udp"} 2
`)
	d, err := parseDelays(text)
	if err != nil {
		t.Fatal(err)
	}
	w, h := d["udp"][0], d["udp"][1]
	for _, c := range []struct {
		got, want time.Duration
	}{
		{w.quantile(.05), 5 * time.Microsecond},            // half of the first bucket's 10, from 0
		{w.quantile(.5), 22 * time.Microsecond},            // 40 of the 50 in (10, 25]
		{w.quantile(.99), 50 * time.Microsecond},           // the last of (25, 50]
		{w.quantile(1), 50 * time.Microsecond},             // above every bound: the last finite one
		{h.quantile(.5), 17500 * time.Nanosecond},          // 2 of the 4 in (10, 25]
		{bucketed{}.quantile(.5), 0},                       // nothing observed
		{w.since(w).quantile(.5), 0},                       // nothing between two equal scrapes
		{h.since(bucketed{}).quantile(.5), h.quantile(.5)}, // an empty earlier scrape takes nothing away
	} {
		if d := c.got - c.want; d < -time.Nanosecond || d > time.Nanosecond {
			t.Errorf("quantile %v, want %v", c.got, c.want)
		}
	}
	// Two runs pooled: twice the counts, the same quantiles.
	two := linkDelays(nil).plus(d).plus(d)
	if w2 := two["udp"][0]; w2.count() != 200 || w2.quantile(.5) != w.quantile(.5) || w2.sum != 2*w.sum {
		t.Errorf("pooled: count %v, p50 %v, sum %v; want 200, %v, %v", w2.count(), w2.quantile(.5), w2.sum, w.quantile(.5), 2*w.sum)
	}
	var out strings.Builder
	writeInside(&out, [2]linkDelays{d, d})
	if !strings.Contains(out.String(), "edge udp    wait 22 / 50 µs (100 packets), handling 18 / 25 µs (4 batches), write 38 / 50 µs (2 batches)") {
		t.Errorf("summary:\n%s", out.String())
	}
}
