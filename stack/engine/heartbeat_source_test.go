package engine_test

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// RFC 9260 8.3: a HEARTBEAT ACK goes to the source address of the HEARTBEAT.
// A multi-homed peer probing its other address must hear back there, not on
// our primary path; a HEARTBEAT on the primary path is answered there.
func TestHeartbeatAckToHeartbeatSource(t *testing.T) {
	n := sim.New(93)
	nd := n.AddNode("198.18.0.1", link.Native)
	m := &mhPeer{t: t, net: n, host: nd.Host, us: nd.Addr, now: n.Now(), port: serverPort, peer: 40000,
		dialled: netip.MustParseAddr("198.18.0.2"), other: netip.MustParseAddr("198.18.0.3")}
	var acc *engine.Association
	if err := m.host.Listen(serverPort, engine.Config{}, engine.AcceptFunc(func(r *engine.AcceptRequest) {
		acc = r.Association()
		if err := r.Accept(m.now, &recorder{net: n}); err != nil {
			t.Fatal(err)
		}
	})); err != nil {
		t.Fatal(err)
	}
	init := &wire.Init{InitFields: wire.InitFields{InitiateTag: 0x0e0b0002, ARwnd: 1 << 20, OutStreams: 4, InStreams: 4, InitialTSN: 1,
		Params: []wire.Param{&wire.IPv4AddressParam{Addr: m.dialled}, &wire.IPv4AddressParam{Addr: m.other}}}}
	got := m.from(m.dialled, 0, init)
	var ia wire.InitAck
	if len(got) != 1 || ia.Unmarshal(got[0].pkt.Chunks[0]) != nil {
		t.Fatalf("INIT answered %v", got)
	}
	var ck []byte
	for _, p := range ia.Params {
		if c, ok := p.(*wire.StateCookieParam); ok {
			ck = c.Cookie
		}
	}
	m.from(m.dialled, ia.InitiateTag, &wire.CookieEcho{Cookie: ck})
	if acc == nil || acc.State() != engine.StateEstablished {
		t.Fatal("no association after the COOKIE ECHO")
	}
	for _, src := range []netip.Addr{m.other, m.dialled} {
		info := []byte("probe from " + src.String())
		got := append(m.from(src, ia.InitiateTag, &wire.Heartbeat{Info: info}), m.out()...)
		acks := 0
		for _, s := range got {
			for _, c := range s.pkt.Chunks {
				if c.Type != wire.TypeHeartbeatAck {
					continue
				}
				var ack wire.HeartbeatAck
				if err := ack.Unmarshal(c); err != nil || !bytes.Equal(ack.Info, info) {
					t.Fatalf("HEARTBEAT ACK info %q, err %v", ack.Info, err)
				}
				if s.path.Remote != src || s.pkt.VerificationTag != 0x0e0b0002 {
					t.Fatalf("HEARTBEAT from %v answered to %v under tag %#x", src, s.path.Remote, s.pkt.VerificationTag)
				}
				acks++
			}
		}
		if acks != 1 {
			t.Fatalf("HEARTBEAT from %v: %d acks in %v", src, acks, got)
		}
	}
}
