//go:build linux

package lab

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/internal/usrsctptool"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
)

// BenchmarkLab measures the gateway pair in the lab against the same
// traffic with no gateway at all, in one run, and prints both and their
// ratio:
//
//   - throughput: usrsctp's tsctp sends 1 KiB, 8 KiB and 100-byte messages
//     from enb to a tsctp server in mme for -benchtime (default 5 s) each,
//     native SCTP at both ends; once through edge, NAT and core (the
//     gateways carry it over UDP), once "direct": the edge and the core
//     route it as plain IP routers and the NAT lets SCTP through untouched,
//     so the packets cross the same namespaces and veths;
//   - latency: our stack pings (echo of a 100-byte message, one at a time,
//     one every 2 ms) from enb to mme, direct and through the gateways; the
//     round trip a gateway adds is half the difference (each round trip
//     crosses both gateways once each way).
//
// The usrsctp figures are what tsctp's server measures (first message to
// the end). Nothing here asserts a speed; the figures are for reading.
// Needs root and libusrsctp-examples, and a C compiler for the shim that
// keeps tsctp's debug output off (without it the figures would measure
// printf, so the benchmark skips).
//
//	make bench-lab       # or: go test -run XXX -bench Lab -benchtime 5s ./examples/lab
func BenchmarkLab(b *testing.B) {
	tsctp := usrsctpBin(b, "tsctp")
	shim, err := usrsctptool.NoDebugShim()
	if err != nil {
		b.Skipf("tsctp would run with its debug output on (%v): its figures would measure printf", err)
	}
	secs := benchSeconds(5)
	l := newLab(b)
	l.routeDirect()
	edge, core := l.gatewaysMulti(benchTsctpPort, benchPingPort)

	type row struct {
		name       string
		size       int
		direct, gw tsctpRun
	}
	rows := []*row{{name: "1 KiB", size: 1024}, {name: "8 KiB", size: 8192}, {name: "100 B", size: 100}}
	for _, r := range rows {
		r.direct = l.tsctpRun(b, tsctp, shim, mmeAddr, r.size, secs)
		r.gw = l.tsctpRun(b, tsctp, shim, edgeRAN, r.size, secs, edge, core)
	}
	direct, viaGW := l.pingRTTs(b, 1000)

	out := &strings.Builder{}
	fmt.Fprintf(out, "\nlab benchmark: tsctp enb -> mme, %d s per run, Nagle on, 1 MiB socket buffers; %d CPUs\n",
		secs, runtime.NumCPU())
	fmt.Fprintf(out, "  %-6s %14s %14s %8s %14s %14s %8s\n", "size", "direct Mbit/s", "gw Mbit/s", "ratio", "direct msgs/s", "gw msgs/s", "ratio")
	for _, r := range rows {
		fmt.Fprintf(out, "  %-6s %14.1f %14.1f %7.2fx %14.0f %14.0f %7.2fx\n", r.name,
			r.direct.Mbitps(), r.gw.Mbitps(), r.gw.Mbitps()/r.direct.Mbitps(),
			r.direct.Msgps(), r.gw.Msgps(), r.gw.Msgps()/r.direct.Msgps())
	}
	fmt.Fprintf(out, "  CPU per message (µs): %-6s %17s %17s %17s\n", "size", "tsctp ends, direct", "tsctp ends, gw", "edge+core")
	for _, r := range rows {
		fmt.Fprintf(out, "                       %-6s %17.2f %17.2f %17.2f\n", r.name,
			cpuPerMsg(r.direct.endpointsCPU, r.direct.TsctpResult), cpuPerMsg(r.gw.endpointsCPU, r.gw.TsctpResult), cpuPerMsg(r.gw.gatewaysCPU, r.gw.TsctpResult))
	}
	p := func(d []time.Duration, q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	fmt.Fprintf(out, "  ping (our stack, 100 B echo, 1 every 2 ms, %d samples each)\n", len(direct))
	for _, c := range []struct {
		name string
		d    []time.Duration
	}{{"direct", direct}, {"through the gateways", viaGW}} {
		fmt.Fprintf(out, "    %-21s p50 %-10v p90 %-10v p99 %-10v max %v\n", c.name,
			p(c.d, .5).Round(time.Microsecond), p(c.d, .9).Round(time.Microsecond), p(c.d, .99).Round(time.Microsecond), c.d[len(c.d)-1].Round(time.Microsecond))
	}
	fmt.Fprintf(out, "  added round trip per gateway: p50 %v, p99 %v\n",
		((p(viaGW, .5) - p(direct, .5)) / 2).Round(time.Microsecond), ((p(viaGW, .99) - p(direct, .99)) / 2).Round(time.Microsecond))
	s := edge.snapshot()
	fmt.Fprintf(out, "  edge after the runs: pairs opened %d failed %d, SctpT3RtxExpireds %d\n",
		s.Gateway.PairsOpened, s.Gateway.PairsFailed, s.SNMP["SctpT3RtxExpireds"])
	fmt.Print(out.String())

	b.ReportMetric(rows[0].gw.Mbitps(), "gw-1KiB-Mbit/s")
	b.ReportMetric(rows[0].gw.Mbitps()/rows[0].direct.Mbitps(), "gw/direct-1KiB")
	b.ReportMetric(rows[2].gw.Msgps(), "gw-100B-msgs/s")
	b.ReportMetric(rows[2].gw.Msgps()/rows[2].direct.Msgps(), "gw/direct-100B")
	b.ReportMetric(float64((p(viaGW, .5)-p(direct, .5))/2)/1e3, "added-us/gw-p50")
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

// tsctpRun runs a tsctp server in mme and a client in enb sending
// size-byte messages to dst for secs seconds, native SCTP (-E 0), and
// returns what the server measured.
func (l *lab) tsctpRun(b *testing.B, bin, shim, dst string, size, secs int, gws ...*gw) tsctpRun {
	b.Helper()
	gwBefore := gatewaysCPU(gws)
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
	gwCPU := gatewaysCPU(gws) - gwBefore
	srv.kill()
	return tsctpRun{res, procCPU(srv) + procCPU(cli), gwCPU}
}

// tsctpRun is one tsctp measurement and the CPU time it cost: both tsctp
// processes, and the gateways' processes during it.
type tsctpRun struct {
	usrsctptool.TsctpResult
	endpointsCPU, gatewaysCPU time.Duration
}

// cpuPerMsg is CPU microseconds per message received.
func cpuPerMsg(d time.Duration, r usrsctptool.TsctpResult) float64 {
	return float64(d.Microseconds()) / float64(r.Messages)
}

// procCPU is the user and system time of an ended process and the children
// it waited for (timeout(1) waits for the program it runs).
func procCPU(p *proc) time.Duration {
	if p.cmd.ProcessState == nil {
		return 0
	}
	return p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()
}

// gatewaysCPU is the CPU time the gateways' processes have used so far.
func gatewaysCPU(gws []*gw) time.Duration {
	var d time.Duration
	for _, g := range gws {
		d += treeCPU(g.p.cmd.Process.Pid, 4)
	}
	return d
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

// pingRTTs measures n round trips of a 100-byte echo, one every 2 ms,
// direct to the MME and through the gateways; each result is sorted.
func (l *lab) pingRTTs(b *testing.B, n int) (direct, viaGW []time.Duration) {
	b.Helper()
	opts := stack.Options{NoDelay: true, InitMsg: engine.InitMsg{OutStreams: 4, MaxInStreams: 4}}
	serveFar(b, l.nativeStack("mme", mmeAddr), opts, benchPingPort)
	enb := l.nativeStack("enb", enbAddr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(n)*20*time.Millisecond+30*time.Second)
	defer cancel()
	msg := make([]byte, 100)
	run := func(to, label string) []time.Duration {
		a, err := dialHello(ctx, enb, enbAddr, to, benchPingPort, label, opts)
		if err != nil {
			b.Fatalf("ping %s: %v", label, err)
		}
		rtts := make([]time.Duration, 0, n)
		for i := range n + 50 {
			start := time.Now()
			if err := echoOnce(ctx, a, msg, stack.SndInfo{PPID: 18}); err != nil {
				b.Fatalf("ping %s, echo %d: %v", label, i, err)
			}
			if i >= 50 { // the first ones warm up caches and cwnd
				rtts = append(rtts, time.Since(start))
			}
			time.Sleep(2 * time.Millisecond)
		}
		if err := a.Shutdown(ctx); err != nil {
			b.Fatalf("ping %s: shutdown: %v", label, err)
		}
		slices.Sort(rtts)
		return rtts
	}
	return run(mmeAddr, "ping-direct"), run(edgeRAN, "ping-gw")
}

// tailLines is the last n lines of s.
func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
