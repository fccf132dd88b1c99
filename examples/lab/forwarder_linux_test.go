//go:build linux

package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/rawip"
	"github.com/sctpgw/sctpgw/udpencap"
)

// forwarderEnv makes the test binary BenchmarkLab's packet forwarder (see
// TestMain) instead of running tests.
const forwarderEnv = "SGWL_FORWARDER"

// The packet forwarder is what moving the packets alone costs in a relay's
// place, with sctpgw's own links and nothing else: it carries each SCTP
// packet as it is between a native link (rawip) and a UDP link
// (udpencap, with GSO and GRO, as the gateway opens it), one goroutine per
// link reading a batch and writing it to the other at once, on one P as
// `sctpgw run`. No SCTP stack: the association runs end to end through it,
// and it keeps no state but the peer it last heard. Set beside sctpgw's
// figures, measured in the same run, it tells what terminating SCTP twice
// (engine, reassembly, the relay, SACKs of its own) adds to the cost of the
// packets' way through the kernel.
//
// spec is "LOCAL,RAWPEER,UDPPEER": native packets to LOCAL (any port) go
// by UDP from port 9899 to UDPPEER, or to the last UDP sender when it is
// empty; datagrams arriving on port 9899 go natively to RAWPEER, or to the
// last native sender when it is empty.
func forwarderMain(spec string) int {
	f := strings.Split(spec, ",")
	if len(f) != 3 {
		fmt.Println("forwarder: spec", spec)
		return 2
	}
	local := netip.MustParseAddr(f[0])
	all := make([]uint16, 0, 65535)
	for p := 1; p <= 65535; p++ {
		all = append(all, uint16(p))
	}
	nl, err := rawip.Listen(rawip.Config{Addrs: []netip.Addr{local}, Ports: all, RecvBuffer: 4 << 20, SendBuffer: 4 << 20})
	if err != nil {
		fmt.Println("forwarder:", err)
		return 1
	}
	ul, err := udpencap.Listen(udpencap.Config{Addr: netip.MustParseAddrPort("0.0.0.0:9899"), ReadBuffer: 4 << 20, WriteBuffer: 4 << 20, GSO: true, GRO: true})
	if err != nil {
		fmt.Println("forwarder:", err)
		return 1
	}
	var rawPeer, udpPeer atomic.Pointer[link.Path]
	if f[1] != "" {
		rawPeer.Store(&link.Path{Local: local, Remote: netip.MustParseAddr(f[1])})
	}
	if f[2] != "" {
		ap := netip.MustParseAddrPort(f[2])
		udpPeer.Store(&link.Path{Remote: ap.Addr(), RemotePort: ap.Port()})
	}
	// Only toward UDP does a packet grow, by the UDP and IPv4 headers.
	go forward(nl, ul, &rawPeer, &udpPeer, func(p link.Path) link.Path { return link.Path{Local: local, Remote: p.Remote} }, forwarderMTU-28)
	go forward(ul, nl, &udpPeer, &rawPeer, func(p link.Path) link.Path { return link.Path{Remote: p.Remote, RemotePort: p.RemotePort} }, forwarderMTU-20)
	fmt.Println("forwarder listening")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	return 0
}

// forward reads batches from in and writes each to out, to the path in
// to; the sender heard last becomes back, where the other direction sends
// (reply makes its path from a received one). A packet larger than fits
// (bytes of SCTP packet the MTU leaves room for on out) goes in IP
// fragments.
func forward(in, out link.Link, back, to *atomic.Pointer[link.Path], reply func(link.Path) link.Path, fits int) {
	pkts := make([]link.Packet, 64)
	for i := range pkts {
		pkts[i].Buf = make([]byte, 0, link.MaxPacket)
	}
	for {
		for i := range pkts {
			pkts[i].Buf = pkts[i].Buf[:cap(pkts[i].Buf)]
		}
		n, err := in.ReadBatch(pkts)
		if err != nil && n == 0 {
			if errors.Is(err, link.ErrClosed) {
				return
			}
			// As the stack does: note it, wait a little, go on.
			fmt.Println("forwarder: read:", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		k := 0
		for i := range pkts[:n] {
			if pkts[i].Notice != link.NoticeNone {
				continue
			}
			if r := reply(pkts[i].Path); back.Load() == nil || *back.Load() != r {
				back.Store(&r) // allocates only when the sender changes
			}
			pkts[k], pkts[i] = pkts[i], pkts[k]
			k++
		}
		dst := to.Load()
		if dst == nil || k == 0 {
			continue
		}
		// The ends do not know of the tunnel: a full-size packet (8 KiB
		// messages) no longer fits the lab's MTU with the UDP header
		// added, and is sent in IP fragments rather than refused (DF is
		// set on every other packet), as a plain tunnel would. At 8 KiB
		// the forwarder is no floor: it fragments.
		for i := range pkts[:k] {
			pkts[i].Path = *dst
			pkts[i].Fragment = len(pkts[i].Buf) > fits
		}
		for b := pkts[:k]; len(b) > 0; {
			m, err := out.WriteBatch(b)
			if err == nil {
				break
			}
			b = b[min(max(m, 0)+1, len(b)):] // skip the refused one
		}
	}
}

// forwarderMTU is the lab's veth MTU.
const forwarderMTU = 1500

// forwarderPair starts the packet forwarder at the edge (packets for
// edgeRAN to the core by UDP, back to the eNB that sent) and at the core
// (datagrams raw to the MME, the MME's packets back to the edge's NATed
// address).
func (l *lab) forwarderPair() *relayPair {
	l.tb.Helper()
	rp := &relayPair{}
	rp.edge = l.start("edge", 30*time.Minute, []string{forwarderEnv + "=" + edgeRAN + ",," + coreWAN + ":9899", "GOMAXPROCS=1"}, os.Args[0])
	rp.core = l.start("core", 30*time.Minute, []string{forwarderEnv + "=" + coreCN + "," + mmeAddr + ",", "GOMAXPROCS=1"}, os.Args[0])
	for _, p := range []*proc{rp.edge, rp.core} {
		testlab.WaitFor(l.tb, 10*time.Second, "the packet forwarder to listen", func() bool {
			return strings.Contains(p.out.String(), "listening") || p.exited()
		})
		if p.exited() {
			l.tb.Fatalf("%s ended:\n%s", p.name, p.out)
		}
	}
	return rp
}
