//go:build linux

package lab

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/usrsctptool"
)

// benchSize is one of BenchmarkLab's throughput workloads: tsctp's message
// size and the name the summary and LAB_SIZES give it.
type benchSize struct {
	name string
	size int
}

// labBench is one run of BenchmarkLab as plain values: what it was asked to
// measure, on what machine, and what it measured. labSummary prints it, so
// the printing can be tried without root.
type labBench struct {
	secs, rounds int
	sizes        []benchSize
	ways         []string // the ways measured (LAB_WAYS), in the order they ran
	offload      string   // the veths' tx offloads
	cpus         int
	load         string // load average after the runs

	runs  map[string][][]relayRun    // way -> size index -> rounds
	lat   map[string][]time.Duration // way -> round trips, sorted
	waits map[string][2]float64      // way -> run-queue wait per second: the relay processes, this process
	// inside is what sctpgw's edge and core stacks counted during the
	// latency run (nil when not measured).
	inside [2]linkDelays
}

// median is the median run of way w at size index i, empty for a way
// LAB_WAYS left out.
func (lb labBench) median(w string, i int) relayRun {
	if i >= len(lb.runs[w]) { // a way LAB_WAYS left out
		return relayRun{}
	}
	return medianRun(lb.runs[w][i])
}

// measured reports whether r is a run, not the empty median of a way
// LAB_WAYS left out (tsctpRun fails a run without a result).
func (r relayRun) measured() bool { return r.Seconds > 0 }

// ratio is r's message rate over base's, or "-" when either was not
// measured: a division by the empty run would print NaN.
func ratio(r, base relayRun) string {
	if !r.measured() || !base.measured() {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r.Msgps()/base.Msgps())
}

// labSummary is what BenchmarkLab prints after its runs.
func labSummary(lb labBench) string {
	out := &strings.Builder{}
	lb.writeThroughput(out)
	lb.writePerMessage(out)
	lb.writeLatency(out)
	fmt.Fprintf(out, "  load average after the runs: %s\n", lb.load)
	return out.String()
}

// writeThroughput writes the header and the table of rates, ratios, CPU
// and packets per second.
func (lb labBench) writeThroughput(out *strings.Builder) {
	fmt.Fprintf(out, "\nlab benchmark: tsctp enb -> mme, %d s per run, median of %d; Nagle on at the ends, 1 MiB socket buffers; veth tx offloads %s; %d CPUs; load average %s\n",
		lb.secs, lb.rounds, lb.offload, lb.cpus, lb.load)
	fmt.Fprintf(out, "  %-6s %-14s %10s %10s %9s %9s %9s %9s %11s %11s\n", "size", "", "Mbit/s", "msgs/s", "/direct", "/usrsctp",
		"edge µs", "core µs", "edge pkt/s", "core pkt/s")
	for i, s := range lb.sizes {
		d, u := lb.median("direct", i), lb.median("usrsctp relay", i)
		for _, w := range lb.ways {
			r := lb.median(w, i)
			ratioU := ""
			if w == "sctpgw" {
				ratioU = ratio(r, u)
			}
			cpu := func(d time.Duration) string {
				if w == "direct" {
					return ""
				}
				return fmt.Sprintf("%9.2f", float64(d.Nanoseconds())/1e3/float64(r.Messages))
			}
			pps := func(n uint64) string {
				if w == "direct" {
					return ""
				}
				return fmt.Sprintf("%11.0f", float64(n)/r.Seconds)
			}
			fmt.Fprintf(out, "  %-6s %-14s %10.1f %10.0f %9s %9s %9s %9s %11s %11s\n", s.name, w, r.Mbitps(), r.Msgps(),
				ratio(r, d), ratioU, cpu(r.edgeCPU), cpu(r.coreCPU), pps(r.edgePkts), pps(r.corePkts))
		}
	}
	fmt.Fprintf(out, "  (µs: CPU per message of each relay process; pkt/s: packets in + out of each; ratios of msgs/s)\n")
	for i, s := range lb.sizes {
		g, f := lb.median("sctpgw", i), lb.median("forwarder", i)
		if !g.measured() || !f.measured() {
			continue
		}
		per := func(d time.Duration, r relayRun) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(r.Messages) }
		fmt.Fprintf(out, "  %-6s sctpgw's CPU per message against the packet forwarder's (terminating SCTP against moving its packets): edge %.2fx, core %.2fx\n",
			s.name, per(g.edgeCPU, g)/per(f.edgeCPU, f), per(g.coreCPU, g)/per(f.coreCPU, f))
	}
}

// writePerMessage writes what each relay process did per message (system
// calls, context switches, sctpgw's packets and control chunks), what the
// raw sockets dropped, and sctpgw's allocations and GC cycles.
func (lb labBench) writePerMessage(out *strings.Builder) {
	fmt.Fprintf(out, "  per message, of each relay process (edge / core): system calls, context switches; sctpgw's SCTP packets in and out, control chunks in and out\n")
	for i, s := range lb.sizes {
		for _, w := range lb.ways {
			if w == "direct" {
				continue
			}
			r := lb.median(w, i)
			m := float64(max(r.Messages, 1))
			sys := "n/a (no perf)"
			if r.syscalls[0] >= 0 && r.syscalls[1] >= 0 {
				sys = fmt.Sprintf("%.2f / %.2f", r.syscalls[0]/m, r.syscalls[1]/m)
			}
			line := fmt.Sprintf("  %-6s %-14s syscalls %-13s ctxsw %.2f / %.2f", s.name, w, sys, float64(r.ctxsw[0])/m, float64(r.ctxsw[1])/m)
			if w == "sctpgw" {
				line += fmt.Sprintf("  packets in %.2f / %.2f out %.2f / %.2f  ctrl in %.2f / %.2f out %.2f / %.2f",
					float64(r.pktsIn[0])/m, float64(r.pktsIn[1])/m, float64(r.pktsOut[0])/m, float64(r.pktsOut[1])/m,
					float64(r.ctrlIn[0])/m, float64(r.ctrlIn[1])/m, float64(r.ctrlOut[0])/m, float64(r.ctrlOut[1])/m)
			}
			fmt.Fprintln(out, line)
		}
	}
	fmt.Fprintf(out, "  packets the raw SCTP sockets dropped during the run (receive buffer full), enb / edge / core / mme; sctpgw's Fast Retransmits, T3-rtx expiries and tail loss probes, edge / core:\n")
	for i, s := range lb.sizes {
		for _, w := range lb.ways {
			r := lb.median(w, i)
			d := r.drops
			line := fmt.Sprintf("  %-6s %-14s %d / %d / %d / %d", s.name, w, d[0], d[1], d[2], d[3])
			if w == "sctpgw" {
				line += fmt.Sprintf("   fast retransmits %d / %d, T3 expiries %d / %d, probes %d / %d",
					r.fastRtx[0], r.fastRtx[1], r.t3[0], r.t3[1], r.tlp[0], r.tlp[1])
			}
			fmt.Fprintln(out, line)
		}
	}
	for i, s := range lb.sizes {
		r := lb.median("sctpgw", i)
		if !r.measured() {
			continue // LAB_WAYS left sctpgw out
		}
		fmt.Fprintf(out, "  sctpgw %-6s heap allocations per message: edge %.2f, core %.2f; GC cycles during the run: edge %.0f, core %.0f\n",
			s.name, r.allocs[0]/float64(r.Messages), r.allocs[1]/float64(r.Messages), r.gcs[0], r.gcs[1])
	}
}

// quantile is the f-quantile of the sorted d, 0 when d is empty.
func quantile(d []time.Duration, f float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(f*float64(len(d))))]
}

// writeLatency writes the round trips of each way, the run-queue waits
// during them, and what a gateway adds.
func (lb labBench) writeLatency(out *strings.Builder) {
	q := quantile
	fmt.Fprintf(out, "  latency, our stack, 100 B echo at 10 k msg/s for 2 s, %d round(s) pooled (round trips):\n", lb.rounds)
	for _, w := range []string{"direct", "usrsctp relay", "forwarder", "sctpgw"} {
		d := lb.lat[w]
		fmt.Fprintf(out, "    %-14s %6d echoes  p50 %-9v p90 %-9v p99 %-9v p99.9 %-9v max %v\n", w, len(d),
			q(d, .5).Round(time.Microsecond), q(d, .9).Round(time.Microsecond), q(d, .99).Round(time.Microsecond),
			q(d, .999).Round(time.Microsecond), q(d, 1).Round(time.Microsecond))
	}
	for _, w := range []string{"direct", "usrsctp relay", "forwarder", "sctpgw"} {
		fmt.Fprintf(out, "    %-14s waiting for a CPU (run queue, schedstat) per second: relay processes %.0f ms, the clients' and echo's process %.0f ms\n",
			w, lb.waits[w][0]*1e3, lb.waits[w][1]*1e3)
	}
	for _, w := range []string{"usrsctp relay", "forwarder", "sctpgw"} {
		if len(lb.lat[w]) == 0 || len(lb.lat["direct"]) == 0 {
			continue // what a pair adds needs both (LAB_WAYS left one out)
		}
		fmt.Fprintf(out, "    added per gateway (%s, half the pair's): p50 %v, p99 %v\n", w,
			((q(lb.lat[w], .5) - q(lb.lat["direct"], .5)) / 2).Round(time.Microsecond),
			((q(lb.lat[w], .99) - q(lb.lat["direct"], .99)) / 2).Round(time.Microsecond))
	}
	if len(lb.lat["sctpgw"]) > 0 && len(lb.lat["forwarder"]) > 0 {
		fmt.Fprintf(out, "    added per gateway, sctpgw's less the packet forwarder's: p50 %v, p99 %v\n",
			((q(lb.lat["sctpgw"], .5) - q(lb.lat["forwarder"], .5)) / 2).Round(time.Microsecond),
			((q(lb.lat["sctpgw"], .99) - q(lb.lat["forwarder"], .99)) / 2).Round(time.Microsecond))
	}
	writeInside(out, lb.inside)
}

// labMetric is one figure BenchmarkLab reports with b.ReportMetric.
type labMetric struct {
	value float64
	unit  string
}

// labMetrics is what BenchmarkLab reports to the benchmark framework: the
// first workload's sctpgw rate, its ratios and edge CPU, and the latency
// one gateway adds; each only when the ways it needs were measured.
func labMetrics(lb labBench) []labMetric {
	var ms []labMetric
	if gw1 := lb.median("sctpgw", 0); len(lb.sizes) > 0 && gw1.measured() {
		ms = append(ms, labMetric{gw1.Mbitps(), "gw-Mbit/s"})
		if dir1 := lb.median("direct", 0); dir1.measured() {
			ms = append(ms, labMetric{gw1.Msgps() / dir1.Msgps(), "gw/direct"})
		}
		if u1 := lb.median("usrsctp relay", 0); u1.measured() {
			ms = append(ms, labMetric{gw1.Msgps() / u1.Msgps(), "gw/usrsctp"})
		}
		ms = append(ms, labMetric{float64(gw1.edgeCPU.Nanoseconds()) / 1e3 / float64(gw1.Messages), "edge-us/msg"})
	}
	if len(lb.lat["sctpgw"]) > 0 && len(lb.lat["direct"]) > 0 {
		ms = append(ms, labMetric{float64((quantile(lb.lat["sctpgw"], .5)-quantile(lb.lat["direct"], .5))/2) / 1e3, "added-us/gw-p50"})
	}
	return ms
}

// TestLabSummaryWayLeftOut prints the summary of runs where LAB_WAYS left
// one way out: no ratio or metric may come out as NaN or Inf (a division
// by the empty run of the way not measured), and the figures of the ways
// measured are printed. Needs neither root nor namespaces.
func TestLabSummaryWayLeftOut(t *testing.T) {
	// msgs messages in 5 s, of 1 KiB: msgs/5 msgs/s, msgs*1024*8/5e6 Mbit/s;
	// 17 and 16 µs of CPU per message at the edge and the core.
	run := func(msgs int) relayRun {
		r := relayRun{TsctpResult: usrsctptool.TsctpResult{FirstLen: 1024, Messages: msgs, Bytes: int64(msgs) * 1024, Seconds: 5}}
		r.edgeCPU, r.coreCPU = time.Duration(msgs)*17*time.Microsecond, time.Duration(msgs)*16*time.Microsecond
		r.edgePkts, r.corePkts = uint64(msgs)*3, uint64(msgs)*4
		r.allocs, r.gcs = [2]float64{float64(msgs) * 1.5, float64(msgs) * 2}, [2]float64{3, 4}
		r.syscalls = [2]float64{float64(msgs), float64(msgs)}
		return r
	}
	msgs := map[string]int{"sctpgw": 50_000, "usrsctp relay": 25_000, "forwarder": 80_000, "direct": 100_000}
	echoes := func(p50 time.Duration) []time.Duration {
		d := make([]time.Duration, 100)
		for i := range d {
			d[i] = p50 + time.Duration(i-50)*time.Microsecond
		}
		return d
	}
	p50 := map[string]time.Duration{"sctpgw": 900 * time.Microsecond, "usrsctp relay": 1100 * time.Microsecond,
		"forwarder": 600 * time.Microsecond, "direct": 500 * time.Microsecond}
	for _, tc := range []struct {
		ways []string
		want [][]string // the fields of lines the summary must have
	}{
		{[]string{"sctpgw", "direct"}, [][]string{
			{"1", "KiB", "sctpgw", "81.9", "10000", "0.50x", "-", "17.00", "16.00", "30000", "40000"},
			{"1", "KiB", "direct", "163.8", "20000", "1.00x"},
			{"sctpgw", "1", "KiB", "heap", "allocations", "per", "message:", "edge", "1.50,", "core", "2.00;", "GC", "cycles", "during", "the", "run:", "edge", "3,", "core", "4"},
			{"added", "per", "gateway", "(sctpgw,", "half", "the", "pair's):", "p50", "200µs,", "p99", "200µs"},
		}},
		{[]string{"sctpgw", "usrsctp relay"}, [][]string{
			{"1", "KiB", "sctpgw", "81.9", "10000", "-", "2.00x", "17.00", "16.00", "30000", "40000"},
			{"1", "KiB", "usrsctp", "relay", "41.0", "5000", "-", "17.00", "16.00", "15000", "20000"},
		}},
		{[]string{"usrsctp relay", "direct"}, [][]string{
			{"1", "KiB", "usrsctp", "relay", "41.0", "5000", "0.25x", "17.00", "16.00", "15000", "20000"},
			{"1", "KiB", "direct", "163.8", "20000", "1.00x"},
			{"added", "per", "gateway", "(usrsctp", "relay,", "half", "the", "pair's):", "p50", "300µs,", "p99", "300µs"},
		}},
		{[]string{"sctpgw", "forwarder"}, [][]string{
			{"1", "KiB", "forwarder", "131.1", "16000", "-", "5.00", "6.00", "48000", "64000"},
			{"1", "KiB", "sctpgw's", "CPU", "per", "message", "against", "the", "packet", "forwarder's", "(terminating", "SCTP", "against", "moving", "its", "packets):", "edge", "3.40x,", "core", "2.67x"},
			{"added", "per", "gateway,", "sctpgw's", "less", "the", "packet", "forwarder's:", "p50", "150µs,", "p99", "150µs"},
		}},
	} {
		lb := labBench{secs: 5, rounds: 1, sizes: []benchSize{{"1 KiB", 1024}}, ways: tc.ways, offload: "on", cpus: 2, load: "1.00 1.00 1.00",
			runs: map[string][][]relayRun{}, lat: map[string][]time.Duration{}, waits: map[string][2]float64{}}
		for _, w := range tc.ways {
			r := run(msgs[w])
			if w == "forwarder" { // 5 and 6 µs per message
				r.edgeCPU, r.coreCPU = time.Duration(msgs[w])*5*time.Microsecond, time.Duration(msgs[w])*6*time.Microsecond
			}
			lb.runs[w] = [][]relayRun{{r}}
			lb.lat[w] = echoes(p50[w])
			lb.waits[w] = [2]float64{0.01, 0.002}
		}
		out := labSummary(lb)
		if strings.Contains(out, "NaN") || strings.Contains(out, "Inf") {
			t.Errorf("ways %q: the summary has a NaN or Inf:\n%s", tc.ways, out)
		}
		lines := map[string]bool{}
		for _, l := range strings.Split(out, "\n") {
			lines[strings.Join(strings.Fields(l), " ")] = true
		}
		for _, f := range tc.want {
			if !lines[strings.Join(f, " ")] {
				t.Errorf("ways %q: no line %q in the summary:\n%s", tc.ways, strings.Join(f, " "), out)
			}
		}
		for _, m := range labMetrics(lb) {
			if math.IsNaN(m.value) || math.IsInf(m.value, 0) {
				t.Errorf("ways %q: metric %s is %v", tc.ways, m.unit, m.value)
			}
		}
	}
}
