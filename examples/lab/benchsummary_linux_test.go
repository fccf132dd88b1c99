//go:build linux

package lab

import (
	"fmt"
	"strings"
	"time"
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
}

// median is the median run of way w at size index i, empty for a way
// LAB_WAYS left out.
func (lb labBench) median(w string, i int) relayRun {
	if i >= len(lb.runs[w]) { // a way LAB_WAYS left out
		return relayRun{}
	}
	return medianRun(lb.runs[w][i])
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
				ratioU = fmt.Sprintf("%8.2fx", r.Msgps()/u.Msgps())
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
			fmt.Fprintf(out, "  %-6s %-14s %10.1f %10.0f %8.2fx %9s %9s %9s %11s %11s\n", s.name, w, r.Mbitps(), r.Msgps(),
				r.Msgps()/d.Msgps(), ratioU, cpu(r.edgeCPU), cpu(r.coreCPU), pps(r.edgePkts), pps(r.corePkts))
		}
	}
	fmt.Fprintf(out, "  (µs: CPU per message of each relay process; pkt/s: packets in + out of each; ratios of msgs/s)\n")
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
	fmt.Fprintf(out, "  packets the raw SCTP sockets dropped during the run (receive buffer full), enb / edge / core / mme; sctpgw's Fast Retransmits and T3-rtx expiries, edge / core:\n")
	for i, s := range lb.sizes {
		for _, w := range lb.ways {
			r := lb.median(w, i)
			d := r.drops
			line := fmt.Sprintf("  %-6s %-14s %d / %d / %d / %d", s.name, w, d[0], d[1], d[2], d[3])
			if w == "sctpgw" {
				line += fmt.Sprintf("   fast retransmits %d / %d, T3 expiries %d / %d", r.fastRtx[0], r.fastRtx[1], r.t3[0], r.t3[1])
			}
			fmt.Fprintln(out, line)
		}
	}
	for i, s := range lb.sizes {
		r := lb.median("sctpgw", i)
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
	fmt.Fprintf(out, "  latency, our stack, 100 B echo at 10 k msg/s for 2 s (round trips):\n")
	for _, w := range []string{"direct", "usrsctp relay", "sctpgw"} {
		d := lb.lat[w]
		fmt.Fprintf(out, "    %-14s %6d echoes  p50 %-9v p90 %-9v p99 %-9v p99.9 %-9v max %v\n", w, len(d),
			q(d, .5).Round(time.Microsecond), q(d, .9).Round(time.Microsecond), q(d, .99).Round(time.Microsecond),
			q(d, .999).Round(time.Microsecond), q(d, 1).Round(time.Microsecond))
	}
	for _, w := range []string{"direct", "usrsctp relay", "sctpgw"} {
		fmt.Fprintf(out, "    %-14s waiting for a CPU (run queue, schedstat) per second: relay processes %.0f ms, the clients' and echo's process %.0f ms\n",
			w, lb.waits[w][0]*1e3, lb.waits[w][1]*1e3)
	}
	for _, w := range []string{"usrsctp relay", "sctpgw"} {
		if len(lb.lat[w]) == 0 || len(lb.lat["direct"]) == 0 {
			continue // what a pair adds needs both (LAB_WAYS left one out)
		}
		fmt.Fprintf(out, "    added per gateway (%s, half the pair's): p50 %v, p99 %v\n", w,
			((q(lb.lat[w], .5) - q(lb.lat["direct"], .5)) / 2).Round(time.Microsecond),
			((q(lb.lat[w], .99) - q(lb.lat["direct"], .99)) / 2).Round(time.Microsecond))
	}
}

// labMetric is one figure BenchmarkLab reports with b.ReportMetric.
type labMetric struct {
	value float64
	unit  string
}

// labMetrics is what BenchmarkLab reports to the benchmark framework: the
// first workload's sctpgw rate, its ratios and edge CPU, and the latency
// one gateway adds.
func labMetrics(lb labBench) []labMetric {
	var ms []labMetric
	if len(lb.sizes) > 0 {
		gw1, dir1, u1 := lb.median("sctpgw", 0), lb.median("direct", 0), lb.median("usrsctp relay", 0)
		ms = append(ms,
			labMetric{gw1.Mbitps(), "gw-Mbit/s"},
			labMetric{gw1.Msgps() / dir1.Msgps(), "gw/direct"},
			labMetric{gw1.Msgps() / u1.Msgps(), "gw/usrsctp"},
			labMetric{float64(gw1.edgeCPU.Nanoseconds()) / 1e3 / float64(gw1.Messages), "edge-us/msg"})
	}
	if len(lb.lat["sctpgw"]) > 0 && len(lb.lat["direct"]) > 0 {
		ms = append(ms, labMetric{float64((quantile(lb.lat["sctpgw"], .5)-quantile(lb.lat["direct"], .5))/2) / 1e3, "added-us/gw-p50"})
	}
	return ms
}
