//go:build linux

package lab

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/internal/usrsctptool"
)

// BenchmarkLab measures, in one run, four ways to carry native SCTP from
// the eNB to the MME across the lab (edge, masquerading NAT, core):
//
//   - "sctpgw": the gateway pair (edge and core carry it over UDP);
//   - "usrsctp relay": the relay a lab engineer would write on usrsctp
//     (internal/usrsctptool/c/relay.c: accepts natively, dials over UDP
//     encapsulation, copies every message with its stream, PPID and flags;
//     its mirror image at the core), in the same namespaces;
//   - "forwarder": no gateway either, a packet forwarder in the relays'
//     places that carries each SCTP packet as it is between a raw socket
//     and UDP (forwarder_linux_test.go): what moving the packets alone
//     costs, the floor under a relay's CPU and latency;
//   - "direct": no gateway: the edge and the core route SCTP as plain IP
//     routers and the NAT lets it through untouched, so the packets cross
//     the same namespaces and veths.
//
// Throughput: usrsctp's tsctp sends 1 KiB, 8 KiB and 100-byte messages from
// enb to a tsctp server in mme for -benchtime (default 5 s) each, native
// SCTP at both ends, Nagle on, 1 MiB socket buffers; the figures are what
// tsctp's server measures (first message to the end). For each relay the
// CPU time of each of its two processes over the transfer (user + system,
// /proc, every thread) divided by the messages, and the packets per second
// each received and sent (sctpgw's SCTP packet counters; for the usrsctp
// relay the IP packets of its namespace, where nothing else runs).
//
// Latency: our stack sends 100-byte messages at 10 k msg/s from enb to an
// echo in mme for 2 s, direct and through each relay; every echo's round
// trip is measured. What a relay pair adds, halved, is what one gateway
// adds to a round trip (each round trip crosses it twice, once each way).
//
// LAB_ROUNDS=N (default 1) repeats the throughput runs N times, the
// contenders in turn within each round, and prints the median; and the
// latency runs, the same way, pooling their round trips.
// LAB_PROFILE_DIR=DIR saves a CPU profile and an execution trace of the
// edge gateway during each of its runs there (edge-1KiB.pprof, .trace,
// edge-latency.*). LAB_SIZES="1 KiB,100 B" picks workloads; "" runs only
// the latency part. LAB_WAYS="sctpgw,direct" picks the ways (a ratio to a
// way left out prints "-"). LAB_SCTP="{sack_freq: 4}" gives both
// gateways' routes SCTP settings to try. LAB_VETH_OFFLOAD=on keeps the
// veths' offloads (see newLab). LAB_GW_ENV="GOMAXPROCS=2 GOGC=400" adds
// to the gateways' environment (and only theirs: the clients run in this
// process).
//
// Per message it also prints, for each relay process, its system calls
// (perf's raw_syscalls:sys_enter, when perf is installed) and context
// switches (/proc), and for sctpgw each gateway's SCTP packets and control
// chunks (SACKs) in and out: figures a loaded machine hardly moves. And
// what the raw SCTP sockets of each namespace dropped (receive buffer
// full), since a drop costs its sender a retransmission and half its
// cwnd. Nothing here
// asserts a speed: the figures, and the load average printed with them, are
// for reading. Needs root, libusrsctp-examples, libusrsctp-dev and cc.
//
//	make bench-lab       # or: go test -run XXX -bench Lab -benchtime 5s ./examples/lab
func BenchmarkLab(b *testing.B) {
	tsctp := usrsctpBin(b, "tsctp")
	shim, err := usrsctptool.NoDebugShim()
	if err != nil {
		b.Skipf("tsctp would run with its debug output on (%v): its figures would measure printf", err)
	}
	relayBin, err := usrsctptool.Relay()
	if err != nil {
		testlab.Missing(b, "the usrsctp relay: %v", err)
		return
	}
	lb := labBench{secs: benchSeconds(5), rounds: 1, sizes: labBenchSizes(), ways: labBenchWays()}
	if n, err := strconv.Atoi(os.Getenv("LAB_ROUNDS")); err == nil && n > 0 {
		lb.rounds = n
	}
	l := newLab(b)
	l.routeDirect()
	lb.runs = l.throughputRounds(b, lb, tsctp, shim, relayBin)
	var edge string
	lb.lat, lb.waits, lb.inside, edge = l.latencyRuns(b, lb.ways, relayBin, lb.rounds)

	lb.offload = "off (captures' default)"
	if os.Getenv("LAB_VETH_OFFLOAD") == "on" {
		lb.offload = "on"
	}
	lb.cpus, lb.load = runtime.NumCPU(), loadAvg()
	fmt.Print(labSummary(lb))
	for _, m := range labMetrics(lb) {
		b.ReportMetric(m.value, m.unit)
	}
	fmt.Print(edge)
}

// labBenchSizes is BenchmarkLab's throughput workloads, those LAB_SIZES
// names when it is set.
func labBenchSizes() []benchSize {
	sizes := []benchSize{{"1 KiB", 1024}, {"8 KiB", 8192}, {"100 B", 100}}
	if env, ok := os.LookupEnv("LAB_SIZES"); ok { // e.g. "1 KiB,100 B"; "" runs the latency part only
		all := sizes
		sizes = sizes[:0:0]
		for _, s := range all {
			if slices.Contains(strings.Split(env, ","), s.name) {
				sizes = append(sizes, s)
			}
		}
	}
	return sizes
}

// labBenchWays is the ways BenchmarkLab measures, those LAB_WAYS names
// when it is set.
func labBenchWays() []string {
	ways := []string{"sctpgw", "usrsctp relay", "forwarder", "direct"}
	if env, ok := os.LookupEnv("LAB_WAYS"); ok { // e.g. "sctpgw": ratios to the other ways print "-"
		ways = slices.DeleteFunc(ways, func(w string) bool { return !slices.Contains(strings.Split(env, ","), w) })
	}
	return ways
}

// startWay starts the relay pair of way w: sctpgw's, the usrsctp relay's
// (relayBin), the packet forwarder, or nil for "direct".
func (l *lab) startWay(w, relayBin string) *relayPair {
	switch w {
	case "sctpgw":
		return l.sctpgwPair()
	case "usrsctp relay":
		return l.usrsctpPair(relayBin)
	case "forwarder":
		return l.forwarderPair()
	}
	return nil
}

// throughputRounds runs lb.rounds rounds of tsctp transfers, each of
// lb.secs seconds: in each round every way of lb.ways in turn, each size
// of lb.sizes through one pair. It returns the runs by way, then by size
// index.
func (l *lab) throughputRounds(b *testing.B, lb labBench, tsctp, shim, relayBin string) map[string][][]relayRun {
	runs := map[string][][]relayRun{}
	for _, w := range lb.ways {
		runs[w] = make([][]relayRun, len(lb.sizes))
	}
	for range lb.rounds {
		for _, w := range lb.ways {
			rp := l.startWay(w, relayBin)
			for i, s := range lb.sizes {
				dst := mmeAddr
				if rp != nil {
					dst = edgeRAN
				}
				var prof chan struct{}
				if dir := os.Getenv("LAB_PROFILE_DIR"); dir != "" && rp != nil && rp.edgeGW != nil {
					prof = rp.edgeGW.profile(b, dir, strings.ReplaceAll(s.name, " ", ""), lb.secs)
				}
				runs[w][i] = append(runs[w][i], l.tsctpRun(b, tsctp, shim, dst, s.size, lb.secs, rp))
				if prof != nil {
					<-prof
				}
			}
			rp.stop()
		}
	}
	return runs
}

// latencyRuns measures the round trips of 100-byte echoes at 10 k msg/s
// for 2 s through each of ways (direct first, sctpgw last), rounds times,
// the ways interleaved within each round as the throughput runs are; the
// round trips of every round pooled. With them the run-queue wait per
// second meanwhile of the relay processes and of this process (the mean of
// the rounds), and inside what sctpgw's edge and core counted meanwhile
// (their stacks' delay histograms, summed over the rounds). sctpgw's pair
// of the last round is left running; edge is a line on its edge gateway's
// counters after the runs.
func (l *lab) latencyRuns(b *testing.B, ways []string, relayBin string, rounds int) (lat map[string][]time.Duration, waits map[string][2]float64, inside [2]linkDelays, edge string) {
	lat, waits = map[string][]time.Duration{}, map[string][2]float64{}
	for round := range rounds {
		last := round == rounds-1
		for _, w := range []string{"direct", "usrsctp relay", "forwarder", "sctpgw"} {
			if !slices.Contains(ways, w) {
				continue
			}
			rp := l.startWay(w, relayBin)
			var prof chan struct{}
			if dir := os.Getenv("LAB_PROFILE_DIR"); dir != "" && last && rp != nil && rp.edgeGW != nil {
				prof = rp.edgeGW.profile(b, dir, "latency", 2)
			}
			var inside0 [2]linkDelays
			if rp != nil && rp.edgeGW != nil {
				inside0 = [2]linkDelays{rp.edgeGW.delays(), rp.coreGW.delays()}
			}
			wait0, t0 := rp.runDelay(), time.Now()
			self0 := runDelay(os.Getpid(), 0)
			lat[w] = append(lat[w], l.latency(b, w, rp, 10_000, 2*time.Second)...)
			ws := waits[w]
			ws[0] += float64(rp.runDelay()-wait0) / float64(time.Since(t0)) / float64(rounds)
			ws[1] += float64(runDelay(os.Getpid(), 0)-self0) / float64(time.Since(t0)) / float64(rounds)
			waits[w] = ws
			if inside0[0] != nil {
				inside = [2]linkDelays{inside[0].plus(rp.edgeGW.delays().since(inside0[0])), inside[1].plus(rp.coreGW.delays().since(inside0[1]))}
			}
			if prof != nil {
				<-prof
			}
			if w != "sctpgw" || !last {
				rp.stop()
			} else {
				s := rp.edgeGW.snapshot()
				edge = fmt.Sprintf("  sctpgw edge after the runs: pairs opened %d failed %d, SctpT3RtxExpireds %d\n",
					s.Gateway.PairsOpened, s.Gateway.PairsFailed, s.SNMP["SctpT3RtxExpireds"])
			}
		}
	}
	for w := range lat {
		slices.Sort(lat[w])
	}
	return lat, waits, inside, edge
}

const (
	benchTsctpPort = 5001  // tsctp's default
	benchPingPort  = 36412 // our stack's echo
)

// benchSeconds is -benchtime in whole seconds when it is a duration, else
// def.
func benchSeconds(def int) int {
	if f := flag.Lookup("test.benchtime"); f != nil {
		if d, err := time.ParseDuration(f.Value.String()); err == nil && d >= time.Second {
			return int(d / time.Second)
		}
	}
	return def
}

// routeDirect makes the lab a routed path with no gateway for SCTP: the
// edge and the core forward IP, the core routes the eNB's subnets back
// through the NAT, and the NAT lets SCTP through without masquerading it
// (an SCTP NAT would leave the addresses listed in INIT unchanged). The
// gateways still work meanwhile: they serve their own addresses.
func (l *lab) routeDirect() {
	l.tb.Helper()
	for _, r := range []string{"edge", "core"} {
		l.in(r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	}
	for _, n := range []string{"198.18.1.0/24", "198.18.3.0/24"} {
		l.in("core", "ip", "route", "add", n, "via", natPublic)
	}
	l.in("nat", "nft", "insert", "rule", "ip", "sgwlab", "post", "meta", "l4proto", "sctp", "accept")
}

// relayPair is the edge and core processes of one way to relay: sctpgw's
// pair or the usrsctp relay's. A nil *relayPair is "direct".
type relayPair struct {
	edge, core     *proc
	edgeGW, coreGW *gw // sctpgw's only
}

// sctpgwPair starts sctpgw at the edge and the core, one route per
// benchmark port.
func (l *lab) sctpgwPair() *relayPair {
	e, c := l.gatewaysMulti(benchTsctpPort, benchPingPort)
	return &relayPair{edge: e.p, core: c.p, edgeGW: e, coreGW: c}
}

// usrsctpPair starts the usrsctp relay at the edge and the core for the
// tsctp port and the echo port.
func (l *lab) usrsctpPair(bin string) *relayPair {
	l.tb.Helper()
	rp := &relayPair{}
	ports := []string{"-p", strconv.Itoa(benchTsctpPort), "-p", strconv.Itoa(benchPingPort)}
	rp.edge = l.start("edge", 30*time.Minute, nil, append([]string{bin, "-u", "9899", "-l", edgeRAN, "-d", coreWAN, "-e", "9899"}, ports...)...)
	rp.core = l.start("core", 30*time.Minute, nil, append([]string{bin, "-u", "9899", "-l", coreWAN, "-d", mmeAddr}, ports...)...)
	for _, p := range []*proc{rp.edge, rp.core} {
		testlab.WaitFor(l.tb, 10*time.Second, "the usrsctp relay to listen", func() bool {
			return strings.Contains(p.out.String(), "listening") || p.exited()
		})
		if p.exited() {
			l.tb.Fatalf("%s ended:\n%s", p.name, p.out)
		}
	}
	return rp
}

// packets is the packets each of the pair received and sent: sctpgw's
// SCTP packet counters, or the IP packets of the usrsctp relay's namespace
// (where it is the only thing that sends or receives, one datagram per
// packet).
func (rp *relayPair) packets(l *lab) [2]uint64 {
	if rp.edgeGW != nil {
		return [2]uint64{rp.edgeGW.sctpPackets(), rp.coreGW.sctpPackets()}
	}
	return [2]uint64{l.ipPackets("edge"), l.ipPackets("core")}
}

// stop ends both processes (nothing for direct).
func (rp *relayPair) stop() {
	if rp == nil {
		return
	}
	rp.edge.kill()
	rp.core.kill()
}

// runDelay is the time the pair's processes have spent runnable but
// waiting for a CPU (0 for direct).
func (rp *relayPair) runDelay() time.Duration {
	if rp == nil {
		return 0
	}
	return runDelay(rp.edge.cmd.Process.Pid, 4) + runDelay(rp.core.cmd.Process.Pid, 4)
}

// runDelay sums the run-queue wait (the second field of
// /proc/PID/task/TID/schedstat, in ns) of every thread of pid and of its
// descendants, depth levels down: the latency a loaded machine adds, which
// no profile inside the process shows.
func runDelay(pid, depth int) time.Duration {
	var d time.Duration
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if f := strings.Fields(string(b)); err == nil && len(f) >= 2 {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			d += time.Duration(v)
		}
	}
	if depth > 0 {
		kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		for _, k := range strings.Fields(string(kids)) {
			if c, err := strconv.Atoi(k); err == nil {
				d += runDelay(c, depth-1)
			}
		}
	}
	return d
}

// relayRun is one tsctp measurement and what the relay processes spent on
// it.
type relayRun struct {
	usrsctptool.TsctpResult
	edgeCPU, coreCPU   time.Duration
	edgePkts, corePkts uint64 // packets in + out of each
	// sctpgw only: heap allocations and GC cycles of each gateway during
	// the run (Go runtime counters from /metrics).
	allocs, gcs [2]float64
	// Of each relay process: system calls (-1: perf missing) and context
	// switches during the run.
	syscalls [2]float64
	ctxsw    [2]uint64
	// sctpgw only, of each gateway: SCTP packets in and out, control
	// chunks (SACKs, mostly) in and out.
	pktsIn, pktsOut, ctrlIn, ctrlOut [2]uint64
	// sctpgw only, of each gateway: Fast Retransmit events and T3-rtx
	// expiries. An expiry stalls the association for RTO.Min (1 s) in
	// this lab, where the round trip is well under a millisecond.
	fastRtx, t3 [2]uint64
	// tlp is the tail loss probes each sent (a lost tail found in about
	// two round trips instead of a T3-rtx stall).
	tlp [2]uint64
	// drops is what the raw SCTP sockets of enb, edge, core and mme
	// dropped during the run (receive buffers overrun).
	drops [4]uint64
}

// medianRun is the run with the median message rate.
func medianRun(rs []relayRun) relayRun {
	if len(rs) == 0 { // a way LAB_WAYS left out
		return relayRun{}
	}
	s := append([]relayRun(nil), rs...)
	sort.Slice(s, func(i, j int) bool { return s[i].Msgps() < s[j].Msgps() })
	return s[len(s)/2]
}

// tsctpRun runs a tsctp server in mme and a client in enb sending
// size-byte messages to dst for secs seconds, native SCTP (-E 0), and
// returns what the server measured, with rp's CPU time and packets.
func (l *lab) tsctpRun(b *testing.B, bin, shim, dst string, size, secs int, rp *relayPair) relayRun {
	b.Helper()
	var before [2]time.Duration
	var pktsBefore [2]uint64
	var rtBefore [2]map[string]float64
	if rp != nil {
		before = [2]time.Duration{treeCPU(rp.edge.cmd.Process.Pid, 4), treeCPU(rp.core.cmd.Process.Pid, 4)}
		pktsBefore = rp.packets(l)
		if rp.edgeGW != nil {
			rtBefore = [2]map[string]float64{rp.edgeGW.runtimeStats(), rp.coreGW.runtimeStats()}
		}
	}
	drops0 := l.rawDrops()
	var sc [2]*syscallCounter
	var ctx0 [2]map[string]uint64
	var snmp0 [2]map[string]uint64
	if rp != nil {
		for i, p := range []*proc{rp.edge, rp.core} {
			sc[i], ctx0[i] = countSyscalls(p.cmd.Process.Pid), ctxSwitches(p.cmd.Process.Pid)
		}
		if rp.edgeGW != nil {
			snmp0 = [2]map[string]uint64{rp.edgeGW.snapshot().SNMP, rp.coreGW.snapshot().SNMP}
		}
	}
	env := []string{"LD_PRELOAD=" + shim}
	port := strconv.Itoa(benchTsctpPort)
	srv := l.start("mme", time.Duration(secs+60)*time.Second, env, bin, "-E", "0", "-p", port, "-R", "1048576")
	defer srv.kill()
	testlab.WaitFor(b, 10*time.Second, "tsctp's server to open its raw socket", func() bool { return l.rawSCTPOpen("mme") })
	cli := l.start("enb", time.Duration(secs+60)*time.Second, env, bin, "-E", "0", "-p", port,
		"-l", strconv.Itoa(size), "-T", strconv.Itoa(secs), "-S", "1048576", dst)
	defer cli.kill()
	if !cli.wait(time.Duration(secs+45) * time.Second) {
		b.Fatalf("tsctp client to %s still running %d s after its %d s run:\n%s", dst, 45, secs, tailLines(cli.out.String(), 20))
	}
	var res usrsctptool.TsctpResult
	testlab.WaitFor(b, 15*time.Second, "tsctp's server to print its result for "+dst, func() bool {
		var ok bool
		res, ok = usrsctptool.ParseTsctp(srv.out.String())
		return ok || srv.exited()
	})
	if res.Seconds == 0 || res.FirstLen != size {
		b.Fatalf("tsctp to %s, %d-byte messages: no result; server:\n%s\nclient:\n%s", dst, size,
			tailLines(srv.out.String(), 20), tailLines(cli.out.String(), 20))
	}
	r := relayRun{TsctpResult: res}
	for i, d := range l.rawDrops() {
		r.drops[i] = d - min(drops0[i], d) // tsctp's sockets are new: they start at zero
	}
	if rp != nil {
		for i, p := range []*proc{rp.edge, rp.core} {
			r.syscalls[i], r.ctxsw[i] = sc[i].stop(), ctxSwitchesSince(ctxSwitches(p.cmd.Process.Pid), ctx0[i])
		}
		if rp.edgeGW != nil {
			for i, g := range []*gw{rp.edgeGW, rp.coreGW} {
				m := g.snapshot().SNMP
				d := func(k string) uint64 { return m[k] - snmp0[i][k] }
				r.pktsIn[i], r.pktsOut[i] = d("SctpInSCTPPacks"), d("SctpOutSCTPPacks")
				r.ctrlIn[i], r.ctrlOut[i] = d("SctpInCtrlChunks"), d("SctpOutCtrlChunks")
				r.fastRtx[i], r.t3[i] = d("SctpFastRetransmits"), d("SctpT3RtxExpireds")
			}
		}
		r.edgeCPU = treeCPU(rp.edge.cmd.Process.Pid, 4) - before[0]
		r.coreCPU = treeCPU(rp.core.cmd.Process.Pid, 4) - before[1]
		pkts := rp.packets(l)
		r.edgePkts, r.corePkts = pkts[0]-pktsBefore[0], pkts[1]-pktsBefore[1]
		if rp.edgeGW != nil {
			for i, g := range []*gw{rp.edgeGW, rp.coreGW} {
				after := g.runtimeStats()
				r.allocs[i] = after["go_memstats_mallocs_total"] - rtBefore[i]["go_memstats_mallocs_total"]
				r.gcs[i] = after["go_gc_duration_seconds_count"] - rtBefore[i]["go_gc_duration_seconds_count"]
				const probes = "sctpgw_sctp_tail_loss_probes_total"
				r.tlp[i] = uint64(after[probes] - rtBefore[i][probes])
			}
		}
	}
	srv.kill()
	return r
}

// adminGet fetches path from the gateway's admin endpoint, which listens
// on 127.0.0.1 inside its namespace: the connection is opened from a
// thread in that namespace (an HTTP client would dial from another
// goroutine), with a plain HTTP/1.0 request.
func (g *gw) adminGet(path string, timeout time.Duration) ([]byte, error) {
	var body []byte
	err := g.l.inNS(g.role, func() error {
		c, err := net.DialTimeout("tcp", g.admin, 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(timeout))
		fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: sctpgw\r\n\r\n", path)
		resp, err := io.ReadAll(c)
		if err != nil {
			return err
		}
		head, b, ok := bytes.Cut(resp, []byte("\r\n\r\n"))
		if !ok || !bytes.HasPrefix(head, []byte("HTTP/1.0 200")) && !bytes.HasPrefix(head, []byte("HTTP/1.1 200")) {
			return fmt.Errorf("GET %s: %.100q", path, head)
		}
		body = b
		return nil
	})
	return body, err
}

// saveHeapProfile writes the gateway's heap profile (its admin endpoint's
// /debug/pprof/heap, served with --pprof) to dir/file.
func (g *gw) saveHeapProfile(b *testing.B, dir, file string) {
	body, err := g.adminGet("/debug/pprof/heap", 30*time.Second)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, file), body, 0o644)
	}
	if err != nil {
		b.Logf("heap profile %s: %v", file, err)
	}
}

// profile takes, in the background, a CPU profile and then an execution
// trace of the gateway during a run of secs seconds starting now, into dir
// as edge-NAME.pprof and edge-NAME.trace; the channel closes when done.
func (g *gw) profile(b *testing.B, dir, name string, secs int) chan struct{} {
	done := make(chan struct{})
	cpu := max(secs/2, 1)
	go func() {
		defer close(done)
		todo := []struct{ path, file string }{
			{fmt.Sprintf("/debug/pprof/profile?seconds=%d", cpu), "edge-" + name + ".pprof"},
			{"/debug/pprof/trace?seconds=1", "edge-" + name + ".trace"},
		}
		if secs <= 2 {
			// A short run (the latency one): the trace alone, early.
			todo = todo[1:]
			time.Sleep(300 * time.Millisecond)
		} else {
			time.Sleep(time.Second) // tsctp connects and ramps up
		}
		for _, p := range todo {
			body, err := g.adminGet(p.path, time.Duration(cpu+10)*time.Second)
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, p.file), body, 0o644)
			}
			if err != nil {
				b.Logf("profile %s: %v", p.file, err)
			}
		}
	}()
	return done
}

// runtimeStats is the Go runtime's counters of the gateway from /metrics
// (go_memstats_*, go_gc_*) and its tail loss probe count, by name; empty
// when the scrape fails. The scrape allocates too (a few thousand
// allocations), which the per-message figure of a multi-second run hardly
// feels.
func (g *gw) runtimeStats() map[string]float64 {
	m := map[string]float64{}
	b, err := g.adminGet("/metrics", 10*time.Second)
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "go_") && !strings.HasPrefix(line, "sctpgw_sctp_tail_loss_probes") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if v, err := strconv.ParseFloat(val, 64); ok && err == nil {
			m[name] = v
		}
	}
	return m
}

// sctpPackets is the SCTP packets the gateway received and sent, from its
// counters: what crossed the wire, however many went per system call or
// per GSO super-datagram (which the namespace's IP counters count once).
func (g *gw) sctpPackets() uint64 {
	s := g.snapshot()
	return s.SNMP["SctpInSCTPPacks"] + s.SNMP["SctpOutSCTPPacks"]
}

// ipPackets is the IP packets role's namespace delivered locally and sent
// (Ip InDelivers + OutRequests in /proc/net/snmp).
func (l *lab) ipPackets(role string) uint64 {
	out := testlab.Cmd(l.tb, false, "ip", "netns", "exec", l.ns[role], "cat", "/proc/net/snmp")
	lines := strings.Split(out, "\n")
	for i := 0; i+1 < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "Ip: ") || !strings.HasPrefix(lines[i+1], "Ip: ") {
			continue
		}
		names, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		var n uint64
		for j := range min(len(names), len(vals)) {
			if names[j] == "InDelivers" || names[j] == "OutRequests" {
				v, _ := strconv.ParseUint(vals[j], 10, 64)
				n += v
			}
		}
		return n
	}
	return 0
}

// treeCPU sums utime and stime of pid and its descendants, depth levels
// down, from /proc (in clock ticks of 10 ms: USER_HZ is 100 on Linux).
func treeCPU(pid, depth int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14, stime 15.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	var d time.Duration
	if len(f) > 12 {
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		d = time.Duration(u+st) * 10 * time.Millisecond
	}
	if depth == 0 {
		return d
	}
	kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, k := range strings.Fields(string(kids)) {
		if c, err := strconv.Atoi(k); err == nil {
			d += treeCPU(c, depth-1)
		}
	}
	return d
}

// rawSCTPOpen reports whether some process in role's namespace has a raw
// socket of protocol 132 (usrsctp in native mode listens on one).
func (l *lab) rawSCTPOpen(role string) bool {
	out := testlab.Cmd(l.tb, false, "ip", "netns", "exec", l.ns[role], "cat", "/proc/net/raw")
	for _, line := range strings.Split(out, "\n")[1:] {
		f := strings.Fields(line)
		// sl local_address rem_address st ...; the local "port" of a raw
		// socket is its protocol, in hex: 132 is 0084.
		if len(f) > 2 && strings.HasSuffix(f[1], ":0084") {
			return true
		}
	}
	return false
}

// tailLines is the last n lines of s.
func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
