//go:build linux

package lab

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/usrsctptool"
)

// BenchmarkLabDTLS measures the gateway pair over the encrypted tunnel
// (dtls://, certificates, AES-128-GCM) against the same pair over plain
// RFC 6951 UDP, in one run, in the namespace lab (edge, masquerading NAT,
// core): usrsctp's tsctp sends 1 KiB and 8 KiB messages from enb to a tsctp
// server in mme for -benchtime (default 5 s) each, native SCTP at both
// ends, as BenchmarkLab does. It prints, per size and tunnel, the rate
// tsctp's server measured, the DTLS/UDP ratio (the goal is at least 0.8),
// and each gateway's CPU per message (user + system of every thread, the
// steadier figure on a shared machine), with the load average.
// LAB_ROUNDS=N (default 1) alternates the two N times and prints medians.
// It asserts nothing. Needs root, libusrsctp-examples, libusrsctp-dev and
// cc.
func BenchmarkLabDTLS(b *testing.B) {
	tsctp := usrsctpBin(b, "tsctp")
	shim, err := usrsctptool.NoDebugShim()
	if err != nil {
		b.Skipf("tsctp would run with its debug output on (%v): its figures would measure printf", err)
	}
	secs := benchSeconds(5)
	rounds := 1
	if n, err := strconv.Atoi(os.Getenv("LAB_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	l := newLab(b)
	sizes := []struct {
		name string
		size int
	}{{"1 KiB", 1024}, {"8 KiB", 8192}}
	ways := []string{"udp", "dtls"}
	runs := map[string][][]relayRun{}
	for _, w := range ways {
		runs[w] = make([][]relayRun, len(sizes))
	}
	load := loadAvg()
	for range rounds {
		for _, w := range ways {
			var e, c *gw
			if w == "dtls" {
				e, c = l.gatewaysDTLS(benchTsctpPort)
			} else {
				e, c = l.gateways(benchTsctpPort)
			}
			rp := &relayPair{edge: e.p, core: c.p, edgeGW: e, coreGW: c}
			for i, s := range sizes {
				runs[w][i] = append(runs[w][i], l.tsctpRun(b, tsctp, shim, edgeRAN, s.size, secs, rp))
			}
			rp.stop()
		}
	}
	out := &strings.Builder{}
	fmt.Fprintf(out, "\nlab benchmark, the pair over DTLS against the pair over UDP: tsctp enb -> mme, %d s per run, median of %d; %d CPUs; load average before %s, after %s\n",
		secs, rounds, runtime.NumCPU(), load, loadAvg())
	fmt.Fprintf(out, "  %-6s %-5s %10s %10s %10s %9s %9s\n", "size", "", "Mbit/s", "msgs/s", "dtls/udp", "edge µs", "core µs")
	for i, s := range sizes {
		u := medianRun(runs["udp"][i])
		for _, w := range ways {
			r := medianRun(runs[w][i])
			cpu := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(r.Messages) }
			ratio := ""
			if w == "dtls" {
				ratio = fmt.Sprintf("%9.2fx", r.Msgps()/u.Msgps())
				b.ReportMetric(r.Msgps()/u.Msgps(), "dtls/udp-"+strings.ReplaceAll(s.name, " ", ""))
			}
			fmt.Fprintf(out, "  %-6s %-5s %10.1f %10.0f %10s %9.2f %9.2f\n", s.name, w, r.Mbitps(), r.Msgps(), ratio, cpu(r.edgeCPU), cpu(r.coreCPU))
		}
	}
	fmt.Fprintf(out, "  (µs: CPU per message of each gateway process; ratio of msgs/s; goal >= 0.8x)\n")
	fmt.Print(out.String())
}
