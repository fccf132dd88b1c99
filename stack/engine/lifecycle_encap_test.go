package engine_test

import (
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// sentOn is a packet a host sent, with its link and path, decoded.
type sentOn struct {
	link int
	path link.Path
	pkt  wire.Packet
}

// inject hands a packet to nd's host on link linkIdx and returns what it
// sends in answer.
func inject(t *testing.T, nd *simNode, linkIdx int, from link.Path, hdr wire.CommonHeader, chunks ...wire.Chunk) []sentOn {
	t.Helper()
	nd.Host.ReleaseOutgoing()
	nd.Host.HandlePacket(linkIdx, from, wire.AppendPacket(nil, hdr, chunks...), nd.Net.Now())
	var out []sentOn
	for _, o := range nd.Host.Outgoing() {
		var pk wire.Packet
		if err := pk.Unmarshal(append([]byte(nil), o.Buf...)); err != nil {
			t.Fatalf("host sent a bad packet: %v", err)
		}
		out = append(out, sentOn{o.Link, o.Path, pk})
	}
	nd.Host.ReleaseOutgoing()
	return out
}

// gatewayLab is a server with a native link (0) and a UDP link (1), as a
// gateway has, and a client on one kind of link.
type gatewayLab struct {
	net    *sim.Network
	srv    *simNode
	cli    *simNode
	assoc  *engine.Association // the server's side
	client *engine.Association
}

func newGatewayLab(t *testing.T, clientKind link.Kind) *gatewayLab {
	t.Helper()
	g := &gatewayLab{net: sim.New(55)}
	g.srv = g.net.AddMultiNode(
		sim.Iface{Addr: netipAddr("198.18.0.2"), Kind: link.Native},
		sim.Iface{Addr: netipAddr("198.18.1.2"), Kind: link.UDP, UDPPort: 9899})
	if clientKind == link.Native {
		g.cli = g.net.AddNode("198.18.0.1", link.Native)
	} else {
		g.cli = g.net.AddNode("198.18.1.1", link.UDP)
		g.cli.UDPPort = 40001
	}
	if err := g.srv.Host.Listen(serverPort, engine.Config{}, engine.AcceptFunc(func(r *engine.AcceptRequest) {
		g.assoc = r.Association()
		r.Accept(g.net.Now(), &recorder{net: g.net})
	})); err != nil {
		t.Fatal(err)
	}
	to := 0
	if clientKind == link.UDP {
		to = 1
	}
	var err error
	g.client, err = g.cli.Host.Dial(0, g.cli.PathVia(0, g.srv, to), 0, serverPort, engine.Config{}, &recorder{net: g.net}, g.net.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !g.net.RunUntil(func() bool { return g.assoc != nil && g.assoc.State() == engine.StateEstablished }, time.Minute) {
		t.Fatal("no association")
	}
	return g
}

// TestInitChangingEncapsulation: draft-tuexen-tsvwg-sctp-udp-encaps-cons
// section 4. An INIT for an existing association that would switch its
// encapsulation is refused with an ABORT (T bit clear, the INIT's Initiate
// Tag) carrying cause 14, sent on the INIT's own link: encapsulated, to the
// INIT's UDP source port, exactly when the INIT was (rules 4, 6, 7). The
// association's link and remote UDP port stay as they were (rules 1-3).
// An encapsulated INIT from the port in use is answered normally (rule 8).
func TestInitChangingEncapsulation(t *testing.T) {
	cases := []struct {
		name       string
		clientKind link.Kind
		initLink   int    // the server link the INIT arrives on
		initPort   uint16 // its UDP source port (0: native)
		wantCur    uint16
		abort      bool
	}{
		{"rule 4: native association, encapsulated INIT", link.Native, 1, 40123, 0, true},
		{"rule 6: UDP association, native INIT", link.UDP, 0, 0, 40001, true},
		{"rule 7: UDP association, INIT from another port", link.UDP, 1, 40999, 40001, true},
		{"rule 8: UDP association, INIT from the same port", link.UDP, 1, 40001, 40001, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newGatewayLab(t, c.clientKind)
			linkBefore, pathBefore := g.assoc.Path()
			tl, tp := g.assoc.Tags()
			local := netipAddr("198.18.0.2")
			if c.initLink == 1 {
				local = netipAddr("198.18.1.2")
			}
			from := link.Path{Local: local, Remote: g.cli.Addr, RemotePort: c.initPort}
			ini := &wire.Init{InitFields: wire.InitFields{InitiateTag: 0x4e4e, ARwnd: 65536, OutStreams: 1, InStreams: 1, InitialTSN: 1}}
			out := inject(t, g.srv, c.initLink, from, wire.CommonHeader{SrcPort: g.client.LocalPort(), DstPort: serverPort}, ini)
			if len(out) != 1 || out[0].link != c.initLink || out[0].path != from || out[0].pkt.VerificationTag != ini.InitiateTag ||
				out[0].pkt.SrcPort != serverPort || out[0].pkt.DstPort != g.client.LocalPort() {
				t.Fatalf("answer %+v, want one packet on link %d to %+v", out, c.initLink, from)
			}
			ch := out[0].pkt.Chunks[0]
			if !c.abort {
				if ch.Type != wire.TypeInitAck {
					t.Fatalf("answered %v, want INIT ACK", ch.Type)
				}
			} else {
				var ab wire.Abort
				if ch.Type != wire.TypeAbort || ch.Flags&1 != 0 || ab.Unmarshal(ch) != nil {
					t.Fatalf("answered %v flags %#x, want ABORT with T=0", ch.Type, ch.Flags)
				}
				cause, ok := ab.Causes[0].(*wire.RestartWithNewEncapPortCause)
				if len(ab.Causes) != 1 || !ok || cause.CurrentPort != c.wantCur || cause.NewPort != c.initPort {
					t.Fatalf("causes %#v, want cause 14 current %d new %d", ab.Causes, c.wantCur, c.initPort)
				}
			}
			linkAfter, pathAfter := g.assoc.Path()
			if linkAfter != linkBefore || pathAfter != pathBefore || g.assoc.State() != engine.StateEstablished {
				t.Fatalf("path %d %+v -> %d %+v, state %v", linkBefore, pathBefore, linkAfter, pathAfter, g.assoc.State())
			}
			if nl, np := g.assoc.Tags(); nl != tl || np != tp {
				t.Fatal("tags changed")
			}
		})
	}
}

// TestOOTBReplyOnTriggersLink: draft-tuexen-tsvwg-sctp-udp-encaps-cons
// section 3. An out-of-the-blue packet is answered on the link it came in
// on: an encapsulated one encapsulated, to its UDP source port, SCTP ports
// swapped; a native one natively.
func TestOOTBReplyOnTriggersLink(t *testing.T) {
	g := newGatewayLab(t, link.Native)
	for _, c := range []struct {
		linkIdx int
		from    link.Path
	}{
		{1, link.Path{Local: netipAddr("198.18.1.2"), Remote: netipAddr("198.18.1.9"), RemotePort: 40555}},
		{0, link.Path{Local: netipAddr("198.18.0.2"), Remote: netipAddr("198.18.0.9")}},
	} {
		data := &wire.Data{TSN: 1, Payload: []byte("x"), Beginning: true, Ending: true}
		out := inject(t, g.srv, c.linkIdx, c.from, wire.CommonHeader{SrcPort: 7001, DstPort: serverPort, VerificationTag: 0xdada}, data)
		if len(out) != 1 || out[0].link != c.linkIdx || out[0].path != c.from {
			t.Fatalf("link %d: answer %+v, want one packet back on link %d to %+v", c.linkIdx, out, c.linkIdx, c.from)
		}
		p := out[0].pkt
		if p.SrcPort != serverPort || p.DstPort != 7001 || p.VerificationTag != 0xdada || p.Chunks[0].Type != wire.TypeAbort || p.Chunks[0].Flags&1 != 1 {
			t.Fatalf("link %d: answer %s ports %d->%d, want ABORT T=1 reflecting the tag", c.linkIdx, chunkTypes([]wire.Packet{p}), p.SrcPort, p.DstPort)
		}
	}
}
