package engine_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// Replies to hostile input (issue 12): nothing a peer sends makes a reply
// grow beyond one packet at the path MTU, and what is cut is counted.

// maxUDPPacket is the largest SCTP packet on a UDP path over IPv4 at the
// default PathMTU: 1500 less the IP and UDP headers.
const maxUDPPacket = engine.DefaultPathMTU - 20 - 8

// reportInit is an INIT carrying n unknown parameters of type 0xFFFF (skip
// and report, RFC 9260 3.2.1), 4 bytes each.
func reportInit(tag uint32, n int) *wire.Init {
	ini := &wire.Init{InitFields: wire.InitFields{InitiateTag: tag, ARwnd: 65536, OutStreams: 2, InStreams: 2, InitialTSN: 1}}
	for i := 0; i < n; i++ {
		ini.Params = append(ini.Params, wire.RawParam{Type: 0xFFFF})
	}
	return ini
}

// sendRaw hands buf to the host as received on p and returns what it sends
// in answer, each packet checked to parse and to fit maxPkt.
func sendRaw(t *testing.T, p probe, buf []byte, maxPkt int) []wire.Packet {
	t.Helper()
	p.nd.Host.ReleaseOutgoing()
	p.nd.Host.HandlePacket(0, p.from, buf, p.nd.Net.Now())
	var out []wire.Packet
	for _, o := range p.nd.Host.Outgoing() {
		if len(o.Buf) > maxPkt {
			t.Errorf("host sent a %d-byte packet on a path that carries %d", len(o.Buf), maxPkt)
		}
		var pk wire.Packet
		if err := pk.Unmarshal(append([]byte(nil), o.Buf...)); err != nil {
			t.Fatalf("host sent a bad packet: %v", err)
		}
		out = append(out, pk)
	}
	p.nd.Host.ReleaseOutgoing()
	return out
}

func countUnrecognized(t *testing.T, c wire.RawChunk) int {
	t.Helper()
	var ia wire.InitAck
	if err := ia.Unmarshal(c); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range ia.Params {
		if p.ParamType() == wire.ParamUnrecognized {
			n++
		}
	}
	if ia.Param(wire.ParamStateCookie) == nil {
		t.Fatal("INIT ACK without a State Cookie")
	}
	return n
}

// Defect 1: an INIT with ~8,180 reportable unknown parameters (a 32 KB,
// IP-fragmented INIT) made the INIT ACK overflow a 16-bit length and
// panicked the listener. Defect 3: 171 of them (a 716-byte INIT) made an
// INIT ACK of 1,504 bytes that no 1500-byte path carries. The INIT ACK
// now reports what fits the path MTU and counts the rest.
func TestInitAckReportsBoundedToPathMTU(t *testing.T) {
	for _, n := range []int{8180, 171} {
		l := newLab(t, 1201, link.UDP, engine.Config{})
		p := probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr, RemotePort: 40001}}
		buf := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: 4000, DstPort: serverPort}, reportInit(0x77, n))
		out := sendRaw(t, p, buf, maxUDPPacket)
		if len(out) != 1 || len(out[0].Chunks) != 1 || out[0].Chunks[0].Type != wire.TypeInitAck {
			t.Fatalf("%d parameters: got %s, want one INIT ACK", n, chunkTypes(out))
		}
		reported := countUnrecognized(t, out[0].Chunks[0])
		cut := l.sn.Host.Stats().ReportItemsCut
		if reported == 0 || reported+int(cut) != n {
			t.Fatalf("%d parameters: %d reported, %d counted as cut", n, reported, cut)
		}
	}
}

// Defect 1, dialling side: an INIT ACK with thousands of reportable unknown
// parameters made the ERROR bundled with our COOKIE ECHO overflow. The
// COOKIE ECHO packet now carries what fits and the handshake goes on.
func TestCookieEchoErrorBoundedToPathMTU(t *testing.T) {
	l := newLab(t, 1202, link.UDP, engine.Config{})
	// The client dials a server that is not there: we answer its INIT.
	l.sn.Down = true
	a, _ := l.dial(engine.Config{})
	ltag, _ := a.Tags()
	ia := &wire.InitAck{InitFields: wire.InitFields{InitiateTag: 0x55, ARwnd: 65536, OutStreams: 2, InStreams: 2, InitialTSN: 9}}
	ia.Params = append(ia.Params, &wire.StateCookieParam{Cookie: []byte("cookie-of-the-far-server")})
	for i := 0; i < 8180; i++ {
		ia.Params = append(ia.Params, wire.RawParam{Type: 0xFFFF})
	}
	p := probe{nd: l.cn, from: link.Path{Local: l.cn.Addr, Remote: l.sn.Addr, RemotePort: 9899}}
	buf := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: serverPort, DstPort: a.LocalPort(), VerificationTag: ltag}, ia)
	out := sendRaw(t, p, buf, maxUDPPacket)
	if len(out) != 1 || len(out[0].Chunks) != 2 || out[0].Chunks[0].Type != wire.TypeCookieEcho || out[0].Chunks[1].Type != wire.TypeError {
		t.Fatalf("got %s, want COOKIE ECHO with ERROR", chunkTypes(out))
	}
	var e wire.ErrorChunk
	if err := e.Unmarshal(out[0].Chunks[1]); err != nil {
		t.Fatal(err)
	}
	cut := l.cn.Host.Stats().ReportItemsCut
	if len(e.Causes) == 0 || len(e.Causes)+int(cut) != 8180 {
		t.Fatalf("%d causes reported, %d counted as cut", len(e.Causes), cut)
	}
	if a.State() != engine.StateCookieEchoed {
		t.Fatalf("state %v, want COOKIE-ECHOED", a.State())
	}
}

// Defect 2: a packet with the right tag and ~8,200 unknown chunks of a
// "skip and report" type made one ERROR cause each, all in one ERROR chunk,
// and panicked. The ERROR now fits one packet; the association lives on.
func TestUnknownChunkErrorBoundedToPathMTU(t *testing.T) {
	l := newLab(t, 1203, link.UDP, engine.Config{})
	a, _ := l.up(engine.Config{})
	sl, _ := l.srv.assoc.Tags()
	p := probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr, RemotePort: 40001}}
	const n = 8200
	buf := wire.AppendHeader(nil, wire.CommonHeader{SrcPort: a.LocalPort(), DstPort: serverPort, VerificationTag: sl})
	for i := 0; i < n; i++ {
		buf = wire.RawChunk{Type: 0xFA}.AppendTo(buf)
	}
	buf = (&wire.Heartbeat{Info: []byte("after")}).AppendTo(buf)
	wire.FinishPacket(buf, 0)
	out := sendRaw(t, p, buf, maxUDPPacket)
	causes, hbAck := 0, false
	for _, pk := range out {
		for _, c := range pk.Chunks {
			switch c.Type {
			case wire.TypeError:
				var e wire.ErrorChunk
				if err := e.Unmarshal(c); err != nil {
					t.Fatal(err)
				}
				causes += len(e.Causes)
			case wire.TypeHeartbeatAck:
				hbAck = true
			}
		}
	}
	cut := l.sn.Host.Stats().ReportItemsCut
	if causes == 0 || causes+int(cut) != n || !hbAck {
		t.Fatalf("%d causes, %d cut, HEARTBEAT ACK %v: %s", causes, cut, hbAck, chunkTypes(out))
	}
	if l.srv.assoc.State() != engine.StateEstablished {
		t.Fatalf("server state %v", l.srv.assoc.State())
	}
}

// Many HEARTBEATs in one packet: their HEARTBEAT ACKs together fit one
// packet, and one whose info alone would not fit the path is not answered.
func TestHeartbeatAcksBoundedToPathMTU(t *testing.T) {
	l := newLab(t, 1204, link.UDP, engine.Config{})
	a, _ := l.up(engine.Config{})
	sl, _ := l.srv.assoc.Tags()
	p := probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr, RemotePort: 40001}}
	hb := &wire.Heartbeat{Info: make([]byte, 1000)}
	huge := &wire.Heartbeat{Info: make([]byte, 4000)}
	buf := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: a.LocalPort(), DstPort: serverPort, VerificationTag: sl},
		hb, hb, hb, huge, hb)
	out := sendRaw(t, p, buf, maxUDPPacket)
	acks := 0
	for _, pk := range out {
		for _, c := range pk.Chunks {
			if c.Type == wire.TypeHeartbeatAck {
				acks++
			}
		}
	}
	if cut := l.sn.Host.Stats().ReportItemsCut; acks != 1 || cut != 4 {
		t.Fatalf("%d HEARTBEAT ACKs, %d cut; want 1 and 4: %s", acks, cut, chunkTypes(out))
	}
}

// An INIT for an existing association listing thousands of new addresses
// is refused (RFC 9260 5.2.2) with an ABORT that lists what fits.
func TestRestartAddressListBounded(t *testing.T) {
	l := newLab(t, 1205, link.Native, engine.Config{})
	a, _ := l.up(engine.Config{})
	p := probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr}}
	ini := reportInit(0x99, 0)
	for i := 0; i < 8000; i++ {
		var v [4]byte
		binary.BigEndian.PutUint32(v[:], 0xC6130000+uint32(i)) // 198.19.x.y
		ini.Params = append(ini.Params, wire.RawParam{Type: wire.ParamIPv4Address, Value: v[:]})
	}
	buf := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: a.LocalPort(), DstPort: serverPort}, ini)
	out := sendRaw(t, p, buf, engine.DefaultPathMTU-20)
	if len(out) != 1 || out[0].Chunks[0].Type != wire.TypeAbort {
		t.Fatalf("got %s, want an ABORT", chunkTypes(out))
	}
	if l.sn.Host.Stats().ReportItemsCut == 0 {
		t.Fatal("no cut counted")
	}
}

// cumAckOf sends one message from a and returns the cumulative TSN the
// server's SACK acknowledges: the TSN a crafted DATA chunk must follow.
func cumAckOf(t *testing.T, l *lab, a *engine.Association) uint32 {
	t.Helper()
	var cum uint32
	found := false
	l.net.Trace = func(_ time.Time, from, _ *sim.Node, pkt []byte) {
		var pk wire.Packet
		if from != l.sn || pk.Unmarshal(pkt) != nil {
			return
		}
		for _, c := range pk.Chunks {
			var s wire.Sack
			if c.Type == wire.TypeSack && s.Unmarshal(c) == nil {
				cum, found = s.CumTSNAck, true
			}
		}
	}
	defer func() { l.net.Trace = nil }()
	if err := a.Send(l.net.Now(), []byte("x"), engine.SndInfo{}); err != nil {
		t.Fatal(err)
	}
	if !l.net.RunUntil(func() bool { return found }, time.Minute) {
		t.Fatal("no SACK")
	}
	return cum
}

// DATA on streams the receiver does not have, hundreds in one packet: one
// Invalid Stream cause each (6.5), in one ERROR that fits the path.
func TestInvalidStreamErrorsBounded(t *testing.T) {
	l := newLab(t, 1206, link.UDP, engine.Config{InitMsg: engine.InitMsg{MaxInStreams: 2}})
	a, _ := l.up(engine.Config{})
	cum := cumAckOf(t, l, a)
	sl, _ := l.srv.assoc.Tags()
	p := probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr, RemotePort: 40001}}
	const n = 400
	var chunks []wire.Chunk
	for i := 0; i < n; i++ {
		chunks = append(chunks, &wire.Data{TSN: cum + 1 + uint32(i), StreamID: 100, Beginning: true, Ending: true, Payload: []byte{1}})
	}
	buf := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: a.LocalPort(), DstPort: serverPort, VerificationTag: sl}, chunks...)
	out := sendRaw(t, p, buf, maxUDPPacket)
	causes := 0
	for _, pk := range out {
		for _, c := range pk.Chunks {
			var e wire.ErrorChunk
			if c.Type == wire.TypeError && e.Unmarshal(c) == nil {
				causes += len(e.Causes)
			}
		}
	}
	if cut := l.sn.Host.Stats().ReportItemsCut; causes == 0 || causes+int(cut) != n {
		t.Fatalf("%d causes, %d cut: %s", causes, cut, chunkTypes(out))
	}
}

// Defect 4: a HEARTBEAT followed by a chunk whose length runs past the end
// of the packet got no HEARTBEAT ACK: the whole packet was dropped. RFC
// 9260 6.10: the chunks before a partial chunk are processed, only the
// partial chunk is dropped.
func TestPartialChunkDropsOnlyItself(t *testing.T) {
	l := newLab(t, 1207, link.UDP, engine.Config{})
	a, _ := l.up(engine.Config{})
	sl, _ := l.srv.assoc.Tags()
	p := probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr, RemotePort: 40001}}
	for _, tail := range [][]byte{
		{byte(wire.TypeHeartbeat), 0, 0x02, 0x00, 0, 1, 0, 8}, // length 512, 8 bytes left
		{0xFA, 0, 0, 1},       // length below the header
		{0, 0, 0},             // three bytes: no chunk header
		{0x04, 0, 0xFF, 0xFF}, // length 0xFFFF
	} {
		before := l.sn.Host.Stats()
		buf := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: a.LocalPort(), DstPort: serverPort, VerificationTag: sl},
			&wire.Heartbeat{Info: []byte("first")})
		buf = append(buf, tail...)
		wire.SetChecksum(buf)
		out := sendRaw(t, p, buf, maxUDPPacket)
		if len(out) != 1 || len(out[0].Chunks) != 1 || out[0].Chunks[0].Type != wire.TypeHeartbeatAck {
			t.Fatalf("tail % x: got %s, want the HEARTBEAT ACK", tail, chunkTypes(out))
		}
		st := l.sn.Host.Stats()
		if st.PartialChunks != before.PartialChunks+1 || st.MalformedPackets != before.MalformedPackets {
			t.Fatalf("tail % x: partial chunks %d -> %d, malformed %d -> %d", tail,
				before.PartialChunks, st.PartialChunks, before.MalformedPackets, st.MalformedPackets)
		}
	}
	// A packet whose first chunk is partial has nothing to process.
	buf := wire.AppendHeader(nil, wire.CommonHeader{SrcPort: a.LocalPort(), DstPort: serverPort, VerificationTag: sl})
	buf = append(buf, byte(wire.TypeHeartbeat), 0, 0x02, 0x00)
	wire.SetChecksum(buf)
	before := l.sn.Host.Stats().MalformedPackets
	if out := sendRaw(t, p, buf, maxUDPPacket); len(out) != 0 || l.sn.Host.Stats().MalformedPackets != before+1 {
		t.Fatalf("got %s, malformed %d -> %d", chunkTypes(out), before, l.sn.Host.Stats().MalformedPackets)
	}
}

// Defect 5: an INIT bundled behind another chunk got an ABORT with the T
// bit and tag 0, one in front of another chunk was dropped. INIT must
// travel alone (RFC 9260 6.10, 8.5.1 A): a packet with an INIT and
// anything else, partial chunks included, is discarded whatever the order,
// to a listener, an unserved port or an association alike, and counted.
func TestBundledInitDiscardedInAnyOrder(t *testing.T) {
	l := newLab(t, 1208, link.UDP, engine.Config{})
	a, _ := l.up(engine.Config{})
	sl, _ := l.srv.assoc.Tags()
	p := probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr, RemotePort: 40001}}
	ini := reportInit(0x1234, 0)
	hb := &wire.Heartbeat{Info: []byte("hb")}
	type pk struct {
		name    string
		port    uint16
		srcPort uint16
		vtag    uint32
		chunks  []wire.Chunk
		tail    []byte
	}
	var cases []pk
	for _, dst := range []struct {
		name    string
		port    uint16
		srcPort uint16
		vtag    uint32
	}{
		{"listener", serverPort, 4000, 0},
		{"unserved port", 7777, 4000, 0},
		{"association, tag 0", serverPort, a.LocalPort(), 0},
		{"association, its tag", serverPort, a.LocalPort(), sl},
	} {
		cases = append(cases,
			pk{dst.name + ": HEARTBEAT INIT", dst.port, dst.srcPort, dst.vtag, []wire.Chunk{hb, ini}, nil},
			pk{dst.name + ": INIT HEARTBEAT", dst.port, dst.srcPort, dst.vtag, []wire.Chunk{ini, hb}, nil},
			pk{dst.name + ": INIT partial", dst.port, dst.srcPort, dst.vtag, []wire.Chunk{ini}, []byte{4, 0, 1, 0}},
		)
	}
	for _, c := range cases {
		before := l.sn.Host.Stats().DiscardedBundledInit
		buf := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: c.srcPort, DstPort: c.port, VerificationTag: c.vtag}, c.chunks...)
		buf = append(buf, c.tail...)
		wire.SetChecksum(buf)
		if out := sendRaw(t, p, buf, maxUDPPacket); len(out) != 0 {
			t.Errorf("%s: answered %s", c.name, chunkTypes(out))
		}
		if got := l.sn.Host.Stats().DiscardedBundledInit; got != before+1 {
			t.Errorf("%s: DiscardedBundledInit %d -> %d", c.name, before, got)
		}
	}
	if l.srv.assoc.State() != engine.StateEstablished {
		t.Fatalf("server association %v", l.srv.assoc.State())
	}
}

// HEARTBEAT ACKs and ERROR causes queued while the COOKIE ACK is withheld
// (ACCEPT-PENDING) were sized for the path MTU of the time. When an ICMP
// lowers it before they leave, they are fitted again: nothing goes out
// larger than the path.
func TestQueuedRepliesRefittedAfterMTUDrop(t *testing.T) {
	l := newLab(t, 1209, link.UDP, engine.Config{})
	l.deferAccept = true
	a, _ := l.dial(engine.Config{})
	if !l.net.RunUntil(func() bool { return len(l.reqs) > 0 }, time.Minute) {
		t.Fatal("no COOKIE ECHO reached the server")
	}
	sa := l.reqs[0].Association()
	sl, sp := sa.Tags()
	p := probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr, RemotePort: 40001}}
	buf := wire.AppendHeader(nil, wire.CommonHeader{SrcPort: a.LocalPort(), DstPort: serverPort, VerificationTag: sl})
	buf = (&wire.Heartbeat{Info: make([]byte, 1300)}).AppendTo(buf)
	for i := 0; i < 150; i++ {
		buf = wire.RawChunk{Type: 0xFA}.AppendTo(buf)
	}
	wire.FinishPacket(buf, 0)
	if out := sendRaw(t, p, buf, maxUDPPacket); len(out) != 0 {
		t.Fatalf("ACCEPT-PENDING answered %s", chunkTypes(out))
	}
	const mtu = 576
	quote := wire.AppendHeader(nil, wire.CommonHeader{SrcPort: serverPort, DstPort: a.LocalPort(), VerificationTag: sp})
	l.sn.Host.HandleNotice(0, link.Packet{Path: p.from, Notice: link.NoticeFragNeeded, MTU: mtu, Buf: quote}, l.net.Now())
	if st := sa.Status(); st.Primary.MTU != mtu {
		t.Fatalf("path MTU %d after the notice, want %d", st.Primary.MTU, mtu)
	}
	l.sn.Host.ReleaseOutgoing()
	if err := l.reqs[0].Accept(l.net.Now(), &recorder{net: l.net}); err != nil {
		t.Fatal(err)
	}
	causes := 0
	for _, o := range l.sn.Host.Outgoing() {
		if len(o.Buf) > mtu-28 {
			t.Errorf("a %d-byte packet on a path of MTU %d", len(o.Buf), mtu)
		}
		var pk wire.Packet
		if err := pk.Unmarshal(append([]byte(nil), o.Buf...)); err != nil {
			t.Fatal(err)
		}
		for _, c := range pk.Chunks {
			var e wire.ErrorChunk
			if c.Type == wire.TypeHeartbeatAck {
				t.Errorf("a HEARTBEAT ACK of %d bytes left on a path of MTU %d", len(c.Value)+4, mtu)
			}
			if c.Type == wire.TypeError && e.Unmarshal(c) == nil {
				causes += len(e.Causes)
			}
		}
	}
	if cut := l.sn.Host.Stats().ReportItemsCut; causes == 0 || causes+int(cut) != 150+1 {
		t.Fatalf("%d causes sent, %d items cut; want 150 causes and the HEARTBEAT ACK accounted for", causes, cut)
	}
}
