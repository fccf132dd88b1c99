//go:build linux

package lab

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// TestE2EBarrage (issue 12): a gateway pair started as the README says
// survives a scripted barrage of malformed and hostile packets on every
// side: the edge's native side (from the eNB's namespace, raw IP), the
// core's UDP side and the edge's UDP side (from the NAT's public side, the
// Internet), and the core's native side (from the MME's namespace). Blind
// packets use made-up tags; where the attacker sits on the path it knows
// the association's tag (read here from `sctpgw status --json`) and the
// packets get past the tag check. Afterwards both daemons are alive, the
// association that was up carries traffic, a new one does too, and every
// kind of drop is counted in `sctpgw status` and logged, rate-limited.
func TestE2EBarrage(t *testing.T) {
	l := newLab(t)
	edge, core := l.gateways(36412)
	opts := stack.Options{NoDelay: true}
	far := serveFar(t, l.nativeStack("mme", mmeAddr), opts, 36412)
	enb := l.nativeStack("enb", enbAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	a, err := dialEdge(ctx, enb, "", 36412, "before", opts)
	if err != nil {
		t.Fatalf("connect through the gateways: %v", err)
	}
	if err := echoOnce(ctx, a, []byte("before the barrage"), stack.SndInfo{PPID: 18}); err != nil {
		t.Fatal(err)
	}
	far.get("before", 5*time.Second)
	ep, cp := onePair(t, edge), onePair(t, core)

	start := time.Now()
	// The edge's native side, from the eNB's namespace; in-association
	// packets as the eNB's association.
	raw := l.rawSender("enb")
	edgeRAN4 := netip.MustParseAddr(edgeRAN)
	n := barrage(t, func(b []byte) { raw.send(t, edgeRAN4, b) }, 36412, ep.Ingress)
	// The core's native side, from the MME's namespace, as the MME.
	raw = l.rawSender("mme")
	n += barrage(t, func(b []byte) { raw.send(t, netip.MustParseAddr(coreCN), b) }, cp.Egress.LocalPort, cp.Egress)
	// The core's UDP side from the Internet, with the public address the
	// edge's packets have beyond the NAT (and another UDP port: RFC 6951
	// 5.4 lets a packet with the right tag move the path to it; the
	// edge's next packet moves it back).
	udp := l.udpSender("nat", natPublic)
	coreUDP := net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(coreWAN), 9899))
	n += barrage(t, func(b []byte) { udp.send(t, coreUDP, b) }, 36412, cp.Ingress)
	// The edge's UDP side: blind only (its one association is the
	// core's, whose address the attacker does not have).
	edgeUDP := net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(edgeWAN), 9899))
	n += barrage(t, func(b []byte) { udp.send(t, edgeUDP, b) }, ep.Egress.LocalPort, gateway.SideStatus{})
	t.Logf("barrage: %d packets in %v", n, time.Since(start).Round(time.Millisecond))

	time.Sleep(500 * time.Millisecond) // the last packets are handled
	for _, g := range []*gw{edge, core} {
		if g.p.exited() {
			t.Fatalf("sctpgw in %s died under the barrage:\n%s", g.role, g.p.out)
		}
	}
	// The association that was up still carries traffic both ways (its
	// first DATA moves the core's path back to the NAT's port).
	for i := range 3 {
		if err := echoOnce(ctx, a, fmt.Appendf(nil, "after the barrage %d", i), stack.SndInfo{Stream: uint16(i % 2), PPID: 18}); err != nil {
			t.Fatalf("the association up before the barrage: %v", err)
		}
	}
	// A new one is set up and carries traffic.
	b, err := dialEdge(ctx, enb, "", 36412, "after", opts)
	if err != nil {
		t.Fatalf("a new association after the barrage: %v", err)
	}
	for i := range 10 {
		if err := echoOnce(ctx, b, fmt.Appendf(nil, "new association %d", i), stack.SndInfo{PPID: 18}); err != nil {
			t.Fatalf("the association set up after the barrage: %v", err)
		}
	}

	// What was dropped is counted where `sctpgw status` shows it, and the
	// logs mention it without a line per packet.
	for _, g := range []*gw{edge, core} {
		d := g.snapshot().Discards
		if d.ChecksumErrors == 0 || d.Malformed == 0 || d.PartialChunks == 0 || d.BundledInit == 0 || d.ReplyItemsCut == 0 {
			t.Errorf("%s: discards %+v, want every kind the barrage provokes counted", g.role, d)
		}
		text, err := g.statusText()
		if err != nil || !strings.Contains(text, "discarded: bad checksum ") {
			t.Errorf("%s: sctpgw status has no discard line (%v):\n%s", g.role, err, text)
		}
		logged := strings.Count(g.p.out.String(), "discarded ")
		if logged == 0 || logged > 60 {
			t.Errorf("%s: %d log lines about discarded packets for a barrage of %d; want some, rate-limited\n%s", g.role, logged, n, g.p.out)
		}
	}
	if !strings.Contains(edge.p.out.String(), "discarded partial chunk from "+enbAddr) {
		t.Errorf("the edge's log does not name the source of the partial chunks:\n%s", edge.p.out)
	}
}

// onePair is the gateway's only pair.
func onePair(t *testing.T, g *gw) gateway.PairStatus {
	t.Helper()
	s := g.snapshot()
	if len(s.Pairs) != 1 {
		t.Fatalf("%s: %d pairs, want 1", g.role, len(s.Pairs))
	}
	return s.Pairs[0]
}

// barrage sends the hostile packets of issue 12 with send, to SCTP port
// dst. Blind packets come from random ports with random tags. When side is
// an association (LocalTag set), the in-association packets come from its
// peer's port with its tag, as from an attacker on the path. It returns
// how many packets it sent.
func barrage(t *testing.T, send func([]byte), dst uint16, side gateway.SideStatus) int {
	t.Helper()
	r := rand.New(rand.NewPCG(12, uint64(dst)))
	n := 0
	pkt := func(src uint16, tag uint32, chunks ...wire.Chunk) []byte {
		return wire.AppendPacket(nil, wire.CommonHeader{SrcPort: src, DstPort: dst, VerificationTag: tag}, chunks...)
	}
	out := func(b []byte) {
		send(b)
		n++
		if n%64 == 0 {
			time.Sleep(time.Millisecond) // socket buffers, not the gateway, would drop a burst
		}
	}
	port := func() uint16 { return uint16(1024 + r.IntN(60000)) }
	hb := &wire.Heartbeat{Info: []byte("barrage")}
	ini := func(unknown int) *wire.Init {
		i := &wire.Init{InitFields: wire.InitFields{InitiateTag: r.Uint32() | 1, ARwnd: 65536, OutStreams: 10, InStreams: 10, InitialTSN: r.Uint32()}}
		for range unknown {
			i.Params = append(i.Params, wire.RawParam{Type: 0xFFFF})
		}
		return i
	}
	withTail := func(b []byte, tail ...byte) []byte {
		b = append(b, tail...)
		wire.SetChecksum(b)
		return b
	}

	// Defect 1: the 32 KB INIT with 8,180 reportable unknown parameters
	// (IP-fragmented); defect 3: 171 of them, a 716-byte INIT.
	for range 3 {
		out(pkt(port(), 0, ini(8180)))
		out(pkt(port(), 0, ini(171)))
	}
	// Defect 5: INIT bundled behind and before another chunk.
	out(pkt(port(), 0, hb, ini(0)))
	out(pkt(port(), 0, ini(0), hb))
	// Defect 4, blind: a HEARTBEAT and a chunk running past the end.
	out(withTail(pkt(port(), r.Uint32(), hb), byte(wire.TypeHeartbeat), 0, 0x02, 0))
	// Truncated packets, a bad CRC, chunk lengths 0, 1, 3, 0xFFFF.
	for _, size := range []int{0, 1, 4, 11, 12, 13, 15} {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		out(b)
	}
	bad := pkt(port(), r.Uint32(), hb)
	bad[8] ^= 0xA5
	out(bad)
	for _, l := range []uint16{0, 1, 3, 0xFFFF} {
		b := wire.AppendHeader(nil, wire.CommonHeader{SrcPort: port(), DstPort: dst, VerificationTag: r.Uint32()})
		b = binary.BigEndian.AppendUint16(append(b, byte(wire.TypeData), 0), l)
		out(withTail(b, 1, 2, 3, 4))
	}
	// INIT with 0 streams; garbage; INIT and COOKIE ECHO floods; blind
	// DATA, ABORT, SHUTDOWN with wrong tags.
	zero := ini(0)
	zero.OutStreams = 0
	out(pkt(port(), 0, zero))
	for range 1000 {
		g := make([]byte, 1+r.IntN(300))
		for i := range g {
			g[i] = byte(r.Uint32())
		}
		if r.IntN(2) == 0 && len(g) >= 12 {
			binary.BigEndian.PutUint16(g[2:4], dst)
			wire.SetChecksum(g)
		}
		out(g)
	}
	for range 300 {
		out(pkt(port(), 0, ini(0)))
		out(pkt(port(), r.Uint32(), &wire.CookieEcho{Cookie: make([]byte, 20+r.IntN(200))}))
		out(pkt(port(), r.Uint32(), &wire.Data{TSN: r.Uint32(), Beginning: true, Ending: true, Payload: []byte("blind")}))
		out(pkt(port(), r.Uint32(), &wire.Abort{}))
		out(pkt(port(), r.Uint32(), &wire.Shutdown{CumTSNAck: r.Uint32()}))
	}
	if side.LocalTag == 0 {
		return n
	}
	// On the path: the association's ports and tag.
	src, tag := side.RemotePort, side.LocalTag
	// Defect 2: 8,200 reportable unknown chunks in one packet.
	unknown := wire.AppendHeader(nil, wire.CommonHeader{SrcPort: src, DstPort: dst, VerificationTag: tag})
	for range 8200 {
		unknown = wire.RawChunk{Type: 0xFA}.AppendTo(unknown)
	}
	wire.FinishPacket(unknown, 0)
	for range 3 {
		out(unknown)
		// Defect 4: the HEARTBEAT must be answered, the partial chunk
		// dropped alone.
		out(withTail(pkt(src, tag, hb), 0xFA, 0, 0x10, 0))
		// Defect 5 with the right tag: discarded whole.
		out(pkt(src, tag, hb, ini(0)))
		// HEARTBEATs whose ACKs would not fit one packet together.
		big := &wire.Heartbeat{Info: make([]byte, 1200)}
		out(pkt(src, tag, big, big, big, big))
		// DATA far outside the window on streams nobody has.
		var ds []wire.Chunk
		for i := range 200 {
			ds = append(ds, &wire.Data{TSN: r.Uint32() + uint32(i), StreamID: 60000, Beginning: true, Ending: true, Payload: []byte{1}})
		}
		out(pkt(src, tag, ds...))
	}
	return n
}

// rawSender sends raw SCTP packets (IP protocol 132) from a namespace; the
// kernel adds the IP header, with the namespace's source address, and
// fragments what exceeds the MTU.
type rawSender struct{ fd int }

func (l *lab) rawSender(role string) *rawSender {
	l.tb.Helper()
	s := &rawSender{fd: -1}
	err := l.inNS(role, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_SCTP)
		if err != nil {
			return err
		}
		s.fd = fd
		return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DONT)
	})
	if s.fd >= 0 {
		l.tb.Cleanup(func() { unix.Close(s.fd) })
	}
	if err != nil {
		l.tb.Fatalf("raw socket in %s: %v", role, err)
	}
	return s
}

func (s *rawSender) send(t *testing.T, to netip.Addr, b []byte) {
	for i := 0; ; i++ {
		err := unix.Sendto(s.fd, b, 0, &unix.SockaddrInet4{Addr: to.As4()})
		if err == nil {
			return
		}
		if err != unix.ENOBUFS && err != unix.EAGAIN || i == 100 {
			t.Fatalf("raw send of %d bytes to %v: %v", len(b), to, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// udpSender sends datagrams from a namespace, from addr and a port of the
// kernel's choosing, fragmenting what exceeds the MTU.
type udpSender struct{ c *net.UDPConn }

func (l *lab) udpSender(role, addr string) *udpSender {
	l.tb.Helper()
	s := &udpSender{}
	err := l.inNS(role, func() (err error) {
		s.c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(addr)})
		if err != nil {
			return err
		}
		rc, err := s.c.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DONT)
		}); err != nil {
			return err
		}
		return serr
	})
	if err != nil {
		l.tb.Fatalf("UDP socket in %s: %v", role, err)
	}
	l.tb.Cleanup(func() { s.c.Close() })
	return s
}

func (s *udpSender) send(t *testing.T, to *net.UDPAddr, b []byte) {
	if len(b) == 0 {
		b = []byte{0} // an empty datagram says nothing; send one byte
	}
	for i := 0; ; i++ {
		_, err := s.c.WriteToUDP(b, to)
		if err == nil {
			return
		}
		if i == 100 {
			t.Fatalf("UDP send of %d bytes to %v: %v", len(b), to, err)
		}
		time.Sleep(time.Millisecond)
	}
}
