//go:build linux

package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/udpencap"
)

// benchManyPort is the SCTP port of the many-associations benchmark.
const benchManyPort = 36422

// BenchmarkLabManyAssocs measures one gateway, the edge, relaying many
// associations at once from clients on our own stack: 100 associations in
// enb send 100-byte, then 1 KiB messages as fast as the stack takes them
// to the edge, which carries them over UDP to a sink of ours (our stack on
// a UDP link in the nat namespace, one hop away, reading and dropping
// every message). No core: the figure is one gateway's. It prints the
// messages per second the sink received, the SCTP packets per second in
// and out of the edge, and the edge's CPU per message and per
// packet, over -benchtime after a second of warm-up, with the load
// average. The clients and the sink run in the benchmark's own process on
// the same two cores. LAB_MANY_SIZES=1024 runs one size (to profile it);
// LAB_MANY_SCTP="{sack_freq: 4}" gives the edge's route SCTP settings.
func BenchmarkLabManyAssocs(b *testing.B) {
	const assocs = 100
	secs := benchSeconds(5)
	l := newLab(b)
	edge := l.edgeToSink(benchManyPort)
	var got atomic.Int64
	l.udpSink(b, "nat", natInside, benchManyPort, &got)
	enb := l.nativeStack("enb", enbAddr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(4*secs+120)*time.Second)
	defer cancel()
	opts := stack.Options{InitMsg: engine.InitMsg{OutStreams: 4, MaxInStreams: 4}}
	as := make([]*stack.Assoc, assocs)
	for i := range as {
		a, err := dialEdge(ctx, enb, enbAddr, benchManyPort, fmt.Sprintf("many-%d", i), opts)
		if err != nil {
			b.Fatalf("association %d: %v", i, err)
		}
		as[i] = a
	}
	out := fmt.Sprintf("\nlab benchmark, many associations: %d associations from our stack in enb -> edge -> UDP sink, %d s per run; %d CPUs\n",
		assocs, secs, runtime.NumCPU())
	out += fmt.Sprintf("  %-6s %10s %12s %12s %13s %13s %9s  %s\n", "size", "msgs/s", "edge pkt/s", "edge CPU %", "edge µs/msg", "edge µs/pkt", "pkts/msg", "load average")
	sizes := []int{100, 1024}
	if env := os.Getenv("LAB_MANY_SIZES"); env != "" { // e.g. "1024" to profile one
		sizes = sizes[:0]
		for _, f := range strings.Split(env, ",") {
			if n, err := strconv.Atoi(f); err == nil && n > 0 && n <= 64<<10 {
				sizes = append(sizes, n)
			}
		}
	}
	notes := ""
	for _, size := range sizes {
		var stop atomic.Bool
		var wg sync.WaitGroup
		msg := make([]byte, size)
		for _, a := range as {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					if err := a.SendMsg(ctx, msg, stack.SndInfo{PPID: 18}); err != nil {
						return
					}
				}
			}()
		}
		time.Sleep(time.Second) // warm-up: windows, queues and cwnd
		s0 := edge.snapshot()
		cpu0, n0, t0 := treeCPU(edge.p.cmd.Process.Pid, 4), got.Load(), time.Now()
		time.Sleep(time.Duration(secs) * time.Second)
		cpu1, n1, t1 := treeCPU(edge.p.cmd.Process.Pid, 4), got.Load(), time.Now()
		s1 := edge.snapshot()
		d := func(k string) float64 { return float64(s1.SNMP[k] - s0.SNMP[k]) }
		pk0, pk1 := uint64(0), uint64(d("SctpInSCTPPacks")+d("SctpOutSCTPPacks"))
		stop.Store(true)
		wg.Wait()
		wall := t1.Sub(t0).Seconds()
		msgs, pkts := float64(n1-n0), float64(pk1-pk0)
		if msgs == 0 {
			b.Fatalf("%d-byte messages: nothing reached the sink", size)
		}
		cpu := float64((cpu1 - cpu0).Nanoseconds()) / 1e3
		out += fmt.Sprintf("  %-6d %10.0f %12.0f %11.0f%% %13.2f %13.2f %9.2f  %s\n", size, msgs/wall, pkts/wall,
			cpu/1e4/wall, cpu/msgs, cpu/pkts, pkts/msgs, loadAvg())
		notes += fmt.Sprintf("  %-6d per message: %.2f packets in, %.2f out, %.2f control chunks in, %.2f out; T3 expiries %.0f\n", size,
			d("SctpInSCTPPacks")/msgs, d("SctpOutSCTPPacks")/msgs, d("SctpInCtrlChunks")/msgs, d("SctpOutCtrlChunks")/msgs, d("SctpT3RtxExpireds"))
		b.ReportMetric(msgs/wall, fmt.Sprintf("msgs/s-%dB", size))
		b.ReportMetric(pkts/wall, fmt.Sprintf("edge-pkts/s-%dB", size))
		// Let what is queued drain before the next size.
		time.Sleep(500 * time.Millisecond)
	}
	fmt.Print(out + notes + "  (pkt/s: SCTP packets in + out of the edge (its counters); CPU: the edge's process, user + system)\n")
}

// edgeToSink starts sctpgw at the edge with one route: native SCTP on
// edgeRAN:port, carried over UDP to the sink's 9899 in the nat namespace.
func (l *lab) edgeToSink(port int) *gw {
	l.tb.Helper()
	dir := l.tb.TempDir()
	sctp := ""
	if s := os.Getenv("LAB_MANY_SCTP"); s != "" { // e.g. "{sack_freq: 4}", to try a setting
		sctp = ", sctp: " + s
	}
	cfg := fmt.Sprintf("udp: {listen: \"0.0.0.0:9899\"}\nlog: {level: warn}\nroutes:\n"+
		"  - {name: many, listen: \"sctp://%s:%d\", forward: \"udp://%s:9899/%d\"%s}\n", edgeRAN, port, natInside, port, sctp)
	f := filepath.Join(dir, "edge.yaml")
	if err := os.WriteFile(f, []byte(cfg), 0o644); err != nil {
		l.tb.Fatal(err)
	}
	return l.startGateway("edge", edgeAdmin, "--config", f, "--pprof")
}

// udpSink is our stack on a UDP link at addr:9899 in role's namespace,
// accepting on port and counting every message it reads into got.
func (l *lab) udpSink(tb testing.TB, role, addr string, port uint16, got *atomic.Int64) *stack.Stack {
	tb.Helper()
	var ul *udpencap.Link
	err := l.inNS(role, func() (err error) {
		ul, err = udpencap.Listen(udpencap.Config{Addr: netip.AddrPortFrom(netip.MustParseAddr(addr), 9899),
			ReadBuffer: 16 << 20, WriteBuffer: 4 << 20, GSO: true, GRO: true})
		return err
	})
	if err != nil {
		tb.Fatalf("UDP link in %s: %v", role, err)
	}
	st, err := stack.New(stack.Config{Links: []link.Link{ul}})
	if err != nil {
		ul.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close("lab: test over") })
	ln, err := st.Listen(port, stack.Options{InitMsg: engine.InitMsg{OutStreams: 4, MaxInStreams: 65535}})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	go func() {
		for {
			a, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			go func() {
				for {
					if _, err := a.RecvMsg(ctx); err != nil {
						return
					}
					got.Add(1)
				}
			}()
		}
	}()
	return st
}
