//go:build linux

package rawip

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// Lab addresses: 198.18.0.0/15 (RFC 2544) and its IPv6 counterpart
// 2001:2::/48 (RFC 5180), both set aside for benchmarking, inside network
// namespaces this test creates and deletes.
var (
	addrA  = netip.MustParseAddr("198.18.0.1")
	addrB  = netip.MustParseAddr("198.18.0.2")
	addrA6 = netip.MustParseAddr("2001:2::1")
	addrB6 = netip.MustParseAddr("2001:2::2")
)

var nsSeq atomic.Uint32

// needRoot skips tests that need network namespaces and raw sockets.
func needRoot(tb testing.TB) {
	tb.Helper()
	testlab.NeedRoot(tb, "the test creates network namespaces (CAP_SYS_ADMIN, CAP_NET_ADMIN) and opens raw SCTP sockets (CAP_NET_RAW)")
	testlab.NeedTool(tb, "ip")
}

// lab is two network namespaces joined by a veth pair: A (va) and B (vb).
type lab struct {
	a, b string // namespace names
}

// newLab creates the namespaces; they are deleted when the test ends, even
// on failure. Names carry the pid so concurrent test runs do not collide.
func newLab(tb testing.TB) *lab {
	tb.Helper()
	needRoot(tb)
	n := nsSeq.Add(1)
	l := &lab{
		a: fmt.Sprintf("sgwr-%d-%d-a", os.Getpid(), n),
		b: fmt.Sprintf("sgwr-%d-%d-b", os.Getpid(), n),
	}
	for _, ns := range []string{l.a, l.b} {
		testlab.Cmd(tb, true, "ip", "netns", "add", ns)
		tb.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	testlab.Cmd(tb, true, "ip", "-n", l.a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", l.b)
	for _, c := range []struct{ ns, dev, v4, v6 string }{
		{l.a, "va", "198.18.0.1/24", "2001:2::1/64"},
		{l.b, "vb", "198.18.0.2/24", "2001:2::2/64"},
	} {
		testlab.Cmd(tb, true, "ip", "-n", c.ns, "addr", "add", c.v4, "dev", c.dev)
		testlab.Cmd(tb, true, "ip", "-n", c.ns, "-6", "addr", "add", c.v6, "dev", c.dev, "nodad")
		testlab.Cmd(tb, true, "ip", "-n", c.ns, "link", "set", "lo", "up")
		testlab.Cmd(tb, true, "ip", "-n", c.ns, "link", "set", c.dev, "up")
	}
	return l
}

// listenIn opens a link inside namespace ns, closed when the test ends.
func listenIn(tb testing.TB, ns string, cfg Config) *Link {
	tb.Helper()
	var l *Link
	err := testlab.InNS(ns, func() (err error) {
		l, err = Listen(cfg)
		return err
	})
	if err != nil {
		tb.Fatalf("Listen in %s: %v", ns, err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

// watchdog closes l if the test is still running after d, so a ReadBatch
// waiting for a packet that never comes fails instead of hanging.
func watchdog(tb testing.TB, l *Link, d time.Duration) {
	t := time.AfterFunc(d, func() { l.Close() })
	tb.Cleanup(func() { t.Stop() })
}

func newBufs(n int) []link.Packet {
	pkts := make([]link.Packet, n)
	for i := range pkts {
		pkts[i].Buf = make([]byte, link.MaxPacket)
	}
	return pkts
}

// dataPacket builds an SCTP packet with one DATA chunk whose payload tells
// packets apart.
func dataPacket(src, dst uint16, tag uint32, tsn uint32, payload []byte) []byte {
	return wire.AppendPacket(nil, wire.CommonHeader{SrcPort: src, DstPort: dst, VerificationTag: tag},
		&wire.Data{TSN: tsn, StreamID: 1, PPID: 46, Beginning: true, Ending: true, Payload: payload})
}

func send(tb testing.TB, l *Link, path link.Path, bufs ...[]byte) {
	tb.Helper()
	pkts := make([]link.Packet, len(bufs))
	for i, b := range bufs {
		pkts[i] = link.Packet{Path: path, Buf: b}
	}
	n, err := l.WriteBatch(pkts)
	if err != nil || n != len(pkts) {
		tb.Fatalf("WriteBatch on %v: sent %d of %d: %v", path, n, len(pkts), err)
	}
}

// readOne reads until one packet is delivered and returns it, copied.
func readOne(tb testing.TB, l *Link) link.Packet {
	tb.Helper()
	pkts := newBufs(1)
	n, err := l.ReadBatch(pkts)
	if err != nil || n != 1 {
		tb.Fatalf("ReadBatch: %d, %v", n, err)
	}
	p := pkts[0]
	p.Buf = bytes.Clone(p.Buf)
	return p
}

type netipAddr = netip.Addr

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// initPacket is an INIT such as a client would send to port dst.
func initPacket(src, dst uint16, itag uint32) []byte {
	return wire.AppendPacket(nil, wire.CommonHeader{SrcPort: src, DstPort: dst},
		&wire.Init{InitFields: wire.InitFields{InitiateTag: itag, ARwnd: 106496, OutStreams: 10, InStreams: 10, InitialTSN: itag}})
}
