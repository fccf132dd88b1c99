package dtlslink

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/udpencap"
)

var loop = netip.MustParseAddr("127.0.0.1")

// loopPair opens two links of one kind on loopback and the path from the
// first to the second.
func loopPair(b *testing.B, dtlsKind bool) (link.Link, link.Link, link.Path) {
	if !dtlsKind {
		// An ephemeral port: 9899 on loopback may be a teammate's test's,
		// and two sockets sharing it would split the datagrams.
		// The socket buffers the DTLS link asks for, so neither side drops
		// what the other keeps.
		srv, err := udpencap.Listen(udpencap.Config{Addr: netip.AddrPortFrom(loop, 0), EphemeralPort: true, ReadBuffer: 4 << 20, WriteBuffer: 4 << 20})
		if err != nil {
			b.Fatal(err)
		}
		cli, err := udpencap.Listen(udpencap.Config{Addr: netip.AddrPortFrom(loop, 0), EphemeralPort: true, ReadBuffer: 4 << 20, WriteBuffer: 4 << 20})
		if err != nil {
			b.Fatal(err)
		}
		return cli, srv, link.Path{Remote: loop, RemotePort: srv.LocalPort()}
	}
	ca := testlab.NewCA(b, "bench")
	port := testlab.FreeUDPPort(b)
	peer := netip.AddrPortFrom(loop, port)
	srv, err := New(Config{Listen: peer, Credentials: creds(b, certFiles(b, ca, "core", ca))})
	if err != nil {
		b.Fatal(err)
	}
	cli, err := New(Config{Peers: map[netip.AddrPort]*Credentials{peer: creds(b, certFiles(b, ca, "edge", ca))}})
	if err != nil {
		b.Fatal(err)
	}
	return cli, srv, link.Path{Remote: loop, RemotePort: port}
}

// transfer is one run: rate and the process's CPU per message (both
// stacks and both links are in this process).
type transfer struct {
	mbps, cpuPerMsg float64 // MB/s, µs
}

// transferRate moves n messages of size one way over one association.
func transferRate(b *testing.B, dtlsKind bool, size, n int) transfer {
	cli, srv, path := loopPair(b, dtlsKind)
	cs, err := stack.New(stack.Config{Links: []link.Link{cli}})
	if err != nil {
		b.Fatal(err)
	}
	defer cs.Close("")
	ss, err := stack.New(stack.Config{Links: []link.Link{srv}})
	if err != nil {
		b.Fatal(err)
	}
	defer ss.Close("")
	opts := stack.Options{NoDelay: true, SendBuffer: 1 << 20, RecvBuffer: 1 << 20}
	ln, err := ss.Listen(portS1AP, opts)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, s := testlab.DialAccept(b, ctx, cs, path, 0, portS1AP, opts, ln)
	msg := make([]byte, size)
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			if _, err := s.RecvMsg(ctx); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	cpu0 := cpuTime()
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := c.SendMsg(ctx, msg, stack.SndInfo{PPID: 60}); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	if t3 := cs.Stats().T3RtxExpireds + ss.Stats().T3RtxExpireds; t3 > 0 {
		b.Logf("dtls=%v %d B: %d T3-rtx timeouts (losses) in the run", dtlsKind, size, t3)
	}
	return transfer{mbps: float64(size*n) / el.Seconds() / 1e6, cpuPerMsg: float64((cpuTime() - cpu0).Microseconds()) / float64(n)}
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// BenchmarkDTLSvsUDP: one association over the DTLS link and over the RFC
// 6951 link on loopback, alternately in the same run (DTLS_BENCH_ROUNDS
// rounds, 3 by default), one-way bulk transfer; prints rates, the
// process's CPU per message (steadier than rates on a shared machine) and
// the ratios, with the load average (goal: DTLS at least 0.8 of UDP).
func BenchmarkDTLSvsUDP(b *testing.B) {
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("DTLS_BENCH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	for _, size := range []int{1024, 8192} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			n := 20000 * 1024 / size
			var udp, dtls []transfer
			for i := 0; i < b.N*rounds; i++ {
				udp = append(udp, transferRate(b, false, size, n))
				dtls = append(dtls, transferRate(b, true, size, n))
			}
			u, d := median(udp), median(dtls)
			b.ReportMetric(u.mbps, "udp-MB/s")
			b.ReportMetric(d.mbps, "dtls-MB/s")
			b.ReportMetric(d.mbps/u.mbps, "dtls/udp")
			b.ReportMetric(d.cpuPerMsg, "dtls-cpu-µs/msg")
			b.ReportMetric(u.cpuPerMsg, "udp-cpu-µs/msg")
			b.Logf("%d-byte messages, median of %d: UDP %.1f MB/s %.1f µs CPU/msg, DTLS %.1f MB/s %.1f µs CPU/msg: rate ratio %.2f, CPU ratio (UDP/DTLS) %.2f; load %s",
				size, len(udp), u.mbps, u.cpuPerMsg, d.mbps, d.cpuPerMsg, d.mbps/u.mbps, u.cpuPerMsg/d.cpuPerMsg, loadAvg())
		})
	}
}

// median takes the median rate and the median CPU per message, each on
// its own.
func median(ts []transfer) transfer {
	r := make([]float64, len(ts))
	c := make([]float64, len(ts))
	for i, t := range ts {
		r[i], c[i] = t.mbps, t.cpuPerMsg
	}
	sort.Float64s(r)
	sort.Float64s(c)
	return transfer{mbps: r[len(r)/2], cpuPerMsg: c[len(c)/2]}
}
