package engine_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// mhPeer plays a multi-homed peer by hand: it owns two addresses and
// answers from the one we did not dial, as usrsctp does when its socket is
// bound to every address (seen in examples/lab: an INIT to 198.18.2.10 got
// its INIT ACK from 198.18.2.20).
type mhPeer struct {
	t          *testing.T
	net        *sim.Network
	host       *engine.Host
	us         netip.Addr
	dialled    netip.Addr // the address we dial: the primary path
	other      netip.Addr // the peer's other address, where it answers from
	port, peer uint16     // our port, the peer's
	now        time.Time  // the test's clock; the network never runs
}

// sent is one packet the host sent, decoded, with its path.
type sent struct {
	path link.Path
	pkt  wire.Packet
}

func (m *mhPeer) out() []sent {
	m.t.Helper()
	var r []sent
	for _, o := range m.host.Outgoing() {
		var pk wire.Packet
		if err := pk.Unmarshal(append([]byte(nil), o.Buf...)); err != nil {
			m.t.Fatalf("host sent a bad packet: %v", err)
		}
		r = append(r, sent{o.Path, pk})
	}
	m.host.ReleaseOutgoing()
	return r
}

// from delivers a packet from addr and returns what the host answers.
func (m *mhPeer) from(addr netip.Addr, tag uint32, chunks ...wire.Chunk) []sent {
	m.t.Helper()
	m.out() // drop what was pending
	buf := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: m.peer, DstPort: m.port, VerificationTag: tag}, chunks...)
	m.host.HandlePacket(0, link.Path{Local: m.us, Remote: addr}, buf, m.now)
	return m.out()
}

// dial opens an association to the dialled address and returns it, its
// recorder and the Initiate Tag of its INIT.
func (m *mhPeer) dial() (*engine.Association, *recorder, uint32) {
	m.t.Helper()
	rec := &recorder{net: m.net}
	a, err := m.host.Dial(0, link.Path{Local: m.us, Remote: m.dialled}, 0, m.peer, engine.Config{}, rec, m.now)
	if err != nil {
		m.t.Fatal(err)
	}
	rec.assoc = a
	m.port = a.LocalPort()
	pk := m.out()
	if len(pk) != 1 || pk[0].path.Remote != m.dialled || pk[0].pkt.Chunks[0].Type != wire.TypeInit {
		m.t.Fatalf("dial sent %v, want one INIT to %v", pk, m.dialled)
	}
	var ini wire.Init
	if err := ini.Unmarshal(pk[0].pkt.Chunks[0]); err != nil {
		m.t.Fatal(err)
	}
	return a, rec, ini.InitiateTag
}

func (m *mhPeer) initAck(tag uint32, addrs ...netip.Addr) *wire.InitAck {
	ps := []wire.Param{&wire.StateCookieParam{Cookie: []byte("a peer's cookie")}}
	for _, a := range addrs {
		ps = append(ps, &wire.IPv4AddressParam{Addr: a})
	}
	return &wire.InitAck{InitFields: wire.InitFields{InitiateTag: tag, ARwnd: 1 << 20, OutStreams: 4, InStreams: 4, InitialTSN: 100, Params: ps}}
}

func newMHPeer(t *testing.T) *mhPeer {
	n := sim.New(91)
	nd := n.AddNode("198.18.0.1", link.Native)
	return &mhPeer{t: t, net: n, host: nd.Host, us: nd.Addr, now: n.Now(),
		dialled: netip.MustParseAddr("198.18.0.2"), other: netip.MustParseAddr("198.18.0.3"), peer: 36412}
}

// TestInitAckFromPeersOtherAddress: an INIT ACK from another address than
// the one we dialled belongs to our association when it lists the dialled
// address and carries our tag (RFC 9260 5.1.2: its source and the
// addresses it lists are the peer's). The association then takes packets
// from either address, answers on its primary path (the dialled address),
// and forgets the other address when it ends. Without the dialled address
// in the list, or with another tag, the INIT ACK stays out of the blue.
func TestInitAckFromPeersOtherAddress(t *testing.T) {
	t.Run("joins", func(t *testing.T) {
		m := newMHPeer(t)
		a, rec, tag := m.dial()
		const peerTag = 0x7e57ab1e
		got := m.from(m.other, tag, m.initAck(peerTag, m.dialled, m.other))
		if len(got) != 1 || got[0].pkt.Chunks[0].Type != wire.TypeCookieEcho || got[0].path.Remote != m.dialled || got[0].pkt.VerificationTag != peerTag {
			t.Fatalf("after the INIT ACK from %v: %v; want a COOKIE ECHO to %v tagged %#x", m.other, got, m.dialled, peerTag)
		}
		if a.State() != engine.StateCookieEchoed {
			t.Fatalf("state %v, want COOKIE-ECHOED", a.State())
		}
		m.from(m.other, tag, &wire.CookieAck{})
		if a.State() != engine.StateEstablished || !rec.has(engine.CommUp) {
			t.Fatalf("after the COOKIE ACK from %v: state %v, events %s", m.other, a.State(), rec.types())
		}
		// DATA from the other address is taken and SACKed on the primary
		// path; the primary path stays the dialled one.
		got = m.from(m.other, tag, &wire.Data{TSN: 100, Beginning: true, Ending: true, PPID: 18, Payload: []byte("from the other address")})
		m.now = m.now.Add(time.Second) // past the delayed SACK
		m.host.HandleTimeout(m.now)
		got = append(got, m.out()...)
		sacked := false
		for _, s := range got {
			for _, c := range s.pkt.Chunks {
				if c.Type == wire.TypeSack {
					sacked = true
					if s.path.Remote != m.dialled {
						t.Errorf("SACK sent to %v, want the primary %v", s.path.Remote, m.dialled)
					}
				}
			}
		}
		if !sacked {
			t.Errorf("no SACK for DATA from %v: %v", m.other, got)
		}
		if len(rec.msgs) != 1 || string(rec.msgs[0].Data) != "from the other address" {
			t.Errorf("received %d messages, want the one from %v", len(rec.msgs), m.other)
		}
		if p := a.Status().Primary.Path.Remote; p != m.dialled {
			t.Errorf("primary path %v, want %v", p, m.dialled)
		}
		n := 0
		m.host.Associations(func(*engine.Association) { n++ })
		if n != 1 {
			t.Errorf("Associations visits %d, want 1", n)
		}
		// Ended, it no longer owns the other address: an ABORT from there
		// is ignored and anything else is out of the blue.
		a.Abort(m.now)
		got = m.from(m.other, tag, &wire.Heartbeat{Info: []byte("hb")})
		if len(got) != 1 || got[0].pkt.Chunks[0].Type != wire.TypeAbort || got[0].path.Remote != m.other {
			t.Errorf("a HEARTBEAT from %v after the end was answered %v, want an ABORT (8.4 rule 8)", m.other, got)
		}
	})
	for _, c := range []struct {
		name  string
		tag   func(uint32) uint32
		addrs []string
	}{
		{"dialled address not listed", func(t uint32) uint32 { return t }, []string{"198.18.0.3", "198.18.0.4"}},
		{"no address listed", func(t uint32) uint32 { return t }, nil},
		{"wrong tag", func(t uint32) uint32 { return t + 1 }, []string{"198.18.0.2", "198.18.0.3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newMHPeer(t)
			a, _, tag := m.dial()
			var addrs []netip.Addr
			for _, s := range c.addrs {
				addrs = append(addrs, netip.MustParseAddr(s))
			}
			got := m.from(m.other, c.tag(tag), m.initAck(0x1234, addrs...))
			for _, s := range got {
				if s.pkt.Chunks[0].Type != wire.TypeAbort || s.path.Remote != m.other {
					t.Fatalf("answered %v; want nothing but an out-of-the-blue ABORT to %v", got, m.other)
				}
			}
			if _, peer := a.Tags(); a.State() != engine.StateCookieWait || peer != 0 {
				t.Fatalf("state %v, peer tag %#x: the INIT ACK was taken", a.State(), peer)
			}
		})
	}
}

// TestAcceptedPeerOtherAddress: on the passive side the peer's INIT names
// its addresses (RFC 9260 5.1.2); the cookie carries them, and the
// association takes packets from any of them, answering on its primary
// path, as a multi-homed eNB sends from its second address after a
// failover. On a UDP link the listed addresses are not taken: behind a NAT
// they are private ones (RFC 6951 5.7).
func TestAcceptedPeerOtherAddress(t *testing.T) {
	for _, kind := range []link.Kind{link.Native, link.UDP} {
		t.Run(kind.String(), func(t *testing.T) {
			n := sim.New(92)
			nd := n.AddNode("198.18.0.1", kind)
			m := &mhPeer{t: t, net: n, host: nd.Host, us: nd.Addr, now: n.Now(), port: serverPort, peer: 40000,
				dialled: netip.MustParseAddr("198.18.0.2"), other: netip.MustParseAddr("198.18.0.3")}
			rec := &recorder{net: n}
			var acc *engine.Association
			if err := m.host.Listen(serverPort, engine.Config{}, engine.AcceptFunc(func(r *engine.AcceptRequest) {
				acc = r.Association()
				if err := r.Accept(m.now, rec); err != nil {
					t.Fatal(err)
				}
			})); err != nil {
				t.Fatal(err)
			}
			const peerTag = 0x0e0b0001
			init := &wire.Init{InitFields: wire.InitFields{InitiateTag: peerTag, ARwnd: 1 << 20, OutStreams: 4, InStreams: 4, InitialTSN: 500,
				Params: []wire.Param{&wire.IPv4AddressParam{Addr: m.dialled}, &wire.IPv4AddressParam{Addr: m.other}}}}
			got := m.from(m.dialled, 0, init)
			if len(got) != 1 || got[0].pkt.Chunks[0].Type != wire.TypeInitAck {
				t.Fatalf("INIT answered %v", got)
			}
			var ia wire.InitAck
			if err := ia.Unmarshal(got[0].pkt.Chunks[0]); err != nil {
				t.Fatal(err)
			}
			var ck []byte
			for _, p := range ia.Params {
				if c, ok := p.(*wire.StateCookieParam); ok {
					ck = c.Cookie
				}
			}
			m.from(m.dialled, ia.InitiateTag, &wire.CookieEcho{Cookie: ck})
			if acc == nil || acc.State() != engine.StateEstablished {
				t.Fatalf("no association after the COOKIE ECHO")
			}
			got = m.from(m.other, ia.InitiateTag, &wire.Data{TSN: 500, Beginning: true, Ending: true, PPID: 18, Payload: []byte("after a failover")})
			m.now = m.now.Add(time.Second)
			m.host.HandleTimeout(m.now)
			got = append(got, m.out()...)
			taken := len(rec.msgs) == 1 && string(rec.msgs[0].Data) == "after a failover"
			if kind == link.UDP {
				if taken {
					t.Fatal("on a UDP link, DATA from an address the INIT listed was taken")
				}
				return
			}
			if !taken {
				t.Fatalf("DATA from the peer's other address was not delivered; the host sent %v", got)
			}
			// The other address is unconfirmed (RFC 9260 5.4 rule 2): only
			// a verification HEARTBEAT may go there; the rest goes to the
			// primary.
			probed := false
			for _, s := range got {
				if s.path.Remote == m.other && len(s.pkt.Chunks) == 1 && s.pkt.Chunks[0].Type == wire.TypeHeartbeat {
					probed = true
					continue
				}
				if s.path.Remote != m.dialled {
					t.Errorf("answered to %v, want the primary %v", s.path.Remote, m.dialled)
				}
			}
			if !probed {
				t.Errorf("no verification HEARTBEAT to the unconfirmed %v: %v", m.other, got)
			}
		})
	}
}

// TestInitFromPeersOtherAddress: an INIT from one of the peer's other
// addresses gets the treatment of RFC 9260 5.2.2 like one from the primary:
// an INIT ACK to where it came from when it adds no address, an ABORT with
// cause 11 listing the addresses it adds otherwise. The cookie of that INIT
// ACK, echoed from the other address, restarts the dialled association in
// place (5.2.4 action A).
func TestInitFromPeersOtherAddress(t *testing.T) {
	m := newMHPeer(t)
	a, rec, tag := m.dial()
	m.from(m.other, tag, m.initAck(0x7e57ab1e, m.dialled, m.other))
	m.from(m.other, tag, &wire.CookieAck{})
	if a.State() != engine.StateEstablished {
		t.Fatalf("state %v", a.State())
	}
	third := netip.MustParseAddr("198.18.0.4")
	adding := &wire.Init{InitFields: wire.InitFields{InitiateTag: 0x0add0add, ARwnd: 1 << 16, OutStreams: 1, InStreams: 1, InitialTSN: 9,
		Params: []wire.Param{&wire.IPv4AddressParam{Addr: m.dialled}, &wire.IPv4AddressParam{Addr: third}, &wire.IPv4AddressParam{Addr: m.other}}}}
	got := m.from(m.other, 0, adding)
	if len(got) != 1 || got[0].path.Remote != m.other || got[0].pkt.VerificationTag != adding.InitiateTag ||
		got[0].pkt.Chunks[0].Type != wire.TypeAbort || got[0].pkt.Chunks[0].Flags&1 != 0 {
		t.Fatalf("an INIT adding %v was answered %v, want an ABORT (5.2.2)", third, got)
	}
	var ab wire.Abort
	if err := ab.Unmarshal(got[0].pkt.Chunks[0]); err != nil {
		t.Fatal(err)
	}
	want := (&wire.IPv4AddressParam{Addr: third}).AppendTo(nil)
	if c, ok := ab.Causes[0].(*wire.RestartWithNewAddressesCause); len(ab.Causes) != 1 || !ok || string(c.Addresses) != string(want) {
		t.Fatalf("ABORT causes %#v, want cause 11 listing only %v", ab.Causes, third)
	}
	if a.State() != engine.StateEstablished || len(rec.events) != 1 {
		t.Fatalf("the association changed: %v %s", a.State(), rec.types())
	}
	init := &wire.Init{InitFields: wire.InitFields{InitiateTag: 0x0bad0bad, ARwnd: 1 << 16, OutStreams: 1, InStreams: 1, InitialTSN: 9,
		Params: []wire.Param{&wire.IPv4AddressParam{Addr: m.other}, &wire.IPv4AddressParam{Addr: m.dialled}}}}
	got = m.from(m.other, 0, init)
	if len(got) != 1 || got[0].path.Remote != m.other || got[0].pkt.Chunks[0].Type != wire.TypeInitAck {
		t.Fatalf("an INIT from the peer's other address was answered %v, want an INIT ACK to it (5.2.2)", got)
	}
	var ia wire.InitAck
	if err := ia.Unmarshal(got[0].pkt.Chunks[0]); err != nil {
		t.Fatal(err)
	}
	ck := ia.Param(wire.ParamStateCookie).(*wire.StateCookieParam).Cookie
	got = m.from(m.other, ia.InitiateTag, &wire.CookieEcho{Cookie: ck})
	if !rec.has(engine.Restart) || a.State() != engine.StateEstablished {
		t.Fatalf("events %s state %v, want RESTART", rec.types(), a.State())
	}
	if l, p := a.Tags(); l != ia.InitiateTag || p != init.InitiateTag {
		t.Fatalf("tags after the restart %#x/%#x", l, p)
	}
	// The COOKIE ACK goes where the COOKIE ECHO came from; the new
	// incarnation's other address, the one dialled, is verified again
	// (5.4 rule 2), so it gets a HEARTBEAT and nothing else.
	acks := 0
	for _, s := range got {
		switch c := s.pkt.Chunks[0].Type; {
		case c == wire.TypeCookieAck && s.path.Remote == m.other && s.pkt.VerificationTag == init.InitiateTag:
			acks++
		case c == wire.TypeHeartbeat && s.path.Remote == m.dialled && len(s.pkt.Chunks) == 1:
		default:
			t.Fatalf("COOKIE ECHO answered %v, want a COOKIE ACK to %v", got, m.other)
		}
	}
	if acks != 1 {
		t.Fatalf("COOKIE ECHO answered %v, want one COOKIE ACK to %v", got, m.other)
	}
	if p := a.Status().Primary.Path.Remote; p != m.other {
		t.Fatalf("primary after the restart %v, want %v, the confirmed address", p, m.other)
	}
}

// TestRestartFromPeersOtherAddressAccepted: a listener's association
// restarted by a COOKIE ECHO from one of the peer's other addresses: the
// new TCB is keyed by that address, as 5.1.5 keys any, and still takes
// packets from the addresses the restart's INIT listed.
func TestRestartFromPeersOtherAddressAccepted(t *testing.T) {
	n := sim.New(93)
	nd := n.AddNode("198.18.0.1", link.Native)
	m := &mhPeer{t: t, net: n, host: nd.Host, us: nd.Addr, now: n.Now(), port: serverPort, peer: 40000,
		dialled: netip.MustParseAddr("198.18.0.2"), other: netip.MustParseAddr("198.18.0.3")}
	var accs []*engine.Association
	recs := []*recorder{}
	if err := m.host.Listen(serverPort, engine.Config{}, engine.AcceptFunc(func(r *engine.AcceptRequest) {
		accs = append(accs, r.Association())
		rec := &recorder{net: n}
		recs = append(recs, rec)
		if err := r.Accept(m.now, rec); err != nil {
			t.Fatal(err)
		}
	})); err != nil {
		t.Fatal(err)
	}
	both := []wire.Param{&wire.IPv4AddressParam{Addr: m.dialled}, &wire.IPv4AddressParam{Addr: m.other}}
	handshake := func(from netip.Addr, tag uint32) {
		t.Helper()
		init := &wire.Init{InitFields: wire.InitFields{InitiateTag: tag, ARwnd: 1 << 20, OutStreams: 4, InStreams: 4, InitialTSN: 500, Params: both}}
		got := m.from(from, 0, init)
		if len(got) != 1 || got[0].pkt.Chunks[0].Type != wire.TypeInitAck {
			t.Fatalf("INIT from %v answered %v", from, got)
		}
		var ia wire.InitAck
		if err := ia.Unmarshal(got[0].pkt.Chunks[0]); err != nil {
			t.Fatal(err)
		}
		m.from(from, ia.InitiateTag, &wire.CookieEcho{Cookie: ia.Param(wire.ParamStateCookie).(*wire.StateCookieParam).Cookie})
	}
	handshake(m.dialled, 0x0e0b0001)
	handshake(m.other, 0x0e0b0002) // the peer restarted and speaks from its other address
	if len(accs) != 2 || accs[1].State() != engine.StateEstablished {
		t.Fatalf("%d associations accepted", len(accs))
	}
	if ev := recs[0].find(engine.CommLost); ev == nil || ev.Err != engine.ErrRestarted {
		t.Fatalf("old association events %s", recs[0].types())
	}
	if _, p := accs[1].Path(); p.Remote != m.other {
		t.Fatalf("restarted association's primary %v, want %v", p.Remote, m.other)
	}
	l, _ := accs[1].Tags()
	m.from(m.dialled, l, &wire.Data{TSN: 500, Beginning: true, Ending: true, PPID: 18, Payload: []byte("from the first address")})
	if len(recs[1].msgs) != 1 {
		t.Fatal("DATA from the address the restart's INIT listed was not taken")
	}
	count := 0
	m.host.Associations(func(*engine.Association) { count++ })
	if count != 1 {
		t.Fatalf("host holds %d associations", count)
	}
}

// TestRestartInPlaceTakesNewAddresses: a dialled association restarted in
// place (5.2.4 A) keeps its key, and its paths become the new
// incarnation's addresses: one the restarted peer no longer lists is
// dropped, and its packets no longer reach the association.
func TestRestartInPlaceTakesNewAddresses(t *testing.T) {
	m := newMHPeer(t)
	third := netip.MustParseAddr("198.18.0.4")
	a, rec, tag := m.dial()
	m.from(m.dialled, tag, m.initAck(0x7e57ab1e, m.dialled, m.other, third))
	m.from(m.dialled, tag, &wire.CookieAck{})
	if n := len(a.Status().Paths); n != 3 {
		t.Fatalf("%d paths before the restart, want 3", n)
	}
	init := &wire.Init{InitFields: wire.InitFields{InitiateTag: 0x0bad0bad, ARwnd: 1 << 16, OutStreams: 1, InStreams: 1, InitialTSN: 9,
		Params: []wire.Param{&wire.IPv4AddressParam{Addr: m.dialled}, &wire.IPv4AddressParam{Addr: m.other}}}}
	got := m.from(m.dialled, 0, init)
	var ia wire.InitAck
	if len(got) != 1 || ia.Unmarshal(got[0].pkt.Chunks[0]) != nil {
		t.Fatalf("INIT answered %v", got)
	}
	m.from(m.dialled, ia.InitiateTag, &wire.CookieEcho{Cookie: ia.Param(wire.ParamStateCookie).(*wire.StateCookieParam).Cookie})
	if !rec.has(engine.Restart) {
		t.Fatalf("events %s, want RESTART", rec.types())
	}
	st := a.Status()
	if len(st.Paths) != 2 || st.Paths[0].Path.Remote != m.dialled || st.Paths[1].Path.Remote != m.other ||
		st.Paths[0].State != engine.PathActive || st.Paths[1].State != engine.PathUnconfirmed {
		t.Fatalf("paths after the restart %+v, want %v confirmed and %v to verify", st.Paths, m.dialled, m.other)
	}
	got = m.from(third, ia.InitiateTag, &wire.Heartbeat{Info: []byte("still there?")})
	if len(got) != 1 || got[0].pkt.Chunks[0].Type != wire.TypeAbort {
		t.Fatalf("a HEARTBEAT from the dropped %v was answered %v, want an out-of-the-blue ABORT", third, got)
	}
}
