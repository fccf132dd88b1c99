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

// TestDialAddrsRotatesInit: dialling a peer at two addresses (connectx)
// whose first is unreachable: the INIT goes to the other address after T1
// (6.4), the association comes up, both addresses are confirmed paths (5.4
// rule 1), and new data avoids the one that did not answer.
func TestDialAddrsRotatesInit(t *testing.T) {
	n := sim.New(21)
	cn := n.AddMultiNode(sim.Iface{Addr: mhClient1, More: []netip.Addr{mhClient2}, Kind: link.Native})
	sn := n.AddMultiNode(sim.Iface{Addr: mhServer1, More: []netip.Addr{mhServer2}, Kind: link.Native})
	srec := &echoCheck{net: n}
	if err := sn.Host.Listen(serverPort, engine.Config{LocalAddrs: []netip.Addr{mhServer1, mhServer2}}, engine.AcceptFunc(func(r *engine.AcceptRequest) {
		_ = r.Accept(n.Now(), srec)
	})); err != nil {
		t.Fatal(err)
	}
	n.SetAddrDown(mhServer1, true)
	crec := &echoCheck{net: n}
	var initsTo []netip.Addr
	n.Offered = func(_ time.Time, from *sim.Node, _ int, p link.Packet) {
		var pk wire.Packet
		if from == cn && pk.Unmarshal(p.Buf) == nil && pk.Chunks[0].Type == wire.TypeInit {
			initsTo = append(initsTo, p.Path.Remote)
		}
	}
	a, err := cn.Host.DialAddrs(0, link.Path{Remote: mhServer1}, []netip.Addr{mhServer2}, 0, serverPort,
		engine.Config{LocalAddrs: []netip.Addr{mhClient1, mhClient2}}, crec, n.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !n.RunUntil(func() bool { return a.State() == engine.StateEstablished }, time.Minute) {
		t.Fatalf("not up: %v, INITs to %v", a.State(), initsTo)
	}
	if len(initsTo) != 2 || initsTo[0] != mhServer1 || initsTo[1] != mhServer2 {
		t.Fatalf("INITs went to %v, want %v then %v", initsTo, mhServer1, mhServer2)
	}
	st := a.Status()
	if len(st.Paths) != 2 || st.Paths[1].State != engine.PathActive && st.Paths[1].State != engine.PathPotentiallyFailed {
		t.Fatalf("paths %+v", st.Paths)
	}
	for _, p := range st.Paths {
		if p.State == engine.PathUnconfirmed {
			t.Fatalf("a dialled address is unconfirmed: %+v", p)
		}
	}
	var dataTo []netip.Addr
	n.Offered = func(_ time.Time, from *sim.Node, _ int, p link.Packet) {
		if _, ok := highestTSN(p.Buf); ok && from == cn {
			dataTo = append(dataTo, p.Path.Remote)
		}
	}
	if err := a.Send(n.Now(), make([]byte, 100), engine.SndInfo{PPID: 18}); err != nil {
		t.Fatal(err)
	}
	n.RunFor(time.Second)
	if len(dataTo) != 1 || dataTo[0] != mhServer2 || len(srec.seen) != 1 {
		t.Fatalf("DATA went to %v (server got %d), want only %v, which answered the INIT", dataTo, len(srec.seen), mhServer2)
	}
}

// TestListenerLocalAddrs: a listener with LocalAddrs answers INITs sent to
// those addresses only, and its INIT ACK lists them (5.1.2); on a UDP link
// the list is never sent (RFC 6951 5.7).
func TestListenerLocalAddrs(t *testing.T) {
	for _, kind := range []link.Kind{link.Native, link.UDP} {
		t.Run(kind.String(), func(t *testing.T) {
			n := sim.New(22)
			third := netip.MustParseAddr("198.18.7.2")
			sn := n.AddMultiNode(sim.Iface{Addr: mhServer1, More: []netip.Addr{mhServer2, third}, Kind: kind})
			if err := sn.Host.Listen(serverPort, engine.Config{LocalAddrs: []netip.Addr{mhServer1, mhServer2}}, engine.AcceptFunc(func(r *engine.AcceptRequest) {
				_ = r.Accept(n.Now(), &echoCheck{net: n})
			})); err != nil {
				t.Fatal(err)
			}
			init := &wire.Init{InitFields: wire.InitFields{InitiateTag: 0x1111, ARwnd: 1 << 20, OutStreams: 1, InStreams: 1, InitialTSN: 1}}
			for _, to := range []netip.Addr{mhServer2, third} {
				p := probe{nd: sn, from: link.Path{Local: to, Remote: mhClient1, RemotePort: 9899}}
				out := p.send(t, n.Now(), wire.CommonHeader{SrcPort: 40000, DstPort: serverPort}, init)
				if to == third {
					if kind == link.Native && len(out) != 0 {
						t.Fatalf("INIT to %v, not a listener address, answered %s", to, chunkTypes(out))
					}
					continue
				}
				var ia wire.InitAck
				if len(out) != 1 || ia.Unmarshal(out[0].Chunks[0]) != nil {
					t.Fatalf("INIT to %v answered %s", to, chunkTypes(out))
				}
				var listed []netip.Addr
				for _, prm := range ia.Params {
					if v, ok := prm.(*wire.IPv4AddressParam); ok {
						listed = append(listed, v.Addr)
					}
				}
				want := []netip.Addr{mhServer1, mhServer2}
				if kind == link.UDP {
					want = nil
				}
				if len(listed) != len(want) || len(want) > 0 && (listed[0] != want[0] || listed[1] != want[1]) {
					t.Fatalf("INIT ACK lists %v, want %v", listed, want)
				}
			}
		})
	}
}

// TestRestartFromOtherAddress: a multi-homed client crashes and comes back
// dialling the server's second address from its own second address (its
// first network is still down). The INIT comes from one of the
// association's addresses and adds none, so 5.2.2 answers it with Tie-Tags;
// its COOKIE ECHO restarts the association (5.2.4 A): the old one ends with
// ErrRestarted, the new one is keyed by the address the cookie came from,
// verifies the other address the INIT listed and carries data. An INIT
// that adds an address gets ABORT cause 11 and changes nothing.
func TestRestartFromOtherAddress(t *testing.T) {
	l := newMHLab(t, 31, engine.Config{NoDelay: true})
	old := l.server
	port := l.client.LocalPort() // a restarted peer comes back on its port
	third := netip.MustParseAddr("198.18.7.1")
	l.cn.Ifaces[0].More = append(l.cn.Ifaces[0].More, third)
	l.cn.Restart()
	l.net.SetAddrDown(mhClient1, true)
	l.net.SetAddrDown(mhServer1, true)
	// With a third address the INIT adds one: refused, nothing changes.
	var abort *wire.Abort
	l.net.Offered = func(_ time.Time, from *sim.Node, _ int, p link.Packet) {
		var pk wire.Packet
		if from == l.sn && pk.Unmarshal(p.Buf) == nil && pk.Chunks[0].Type == wire.TypeAbort && abort == nil {
			abort = &wire.Abort{}
			_ = abort.Unmarshal(pk.Chunks[0])
		}
	}
	adding := &echoCheck{net: l.net}
	cfg := engine.Config{NoDelay: true, InitMsg: engine.InitMsg{MaxAttempts: 1}, LocalAddrs: []netip.Addr{mhClient1, mhClient2, third}}
	if _, err := l.cn.Host.Dial(0, link.Path{Local: mhClient2, Remote: mhServer2}, port, serverPort, cfg, adding, l.net.Now()); err != nil {
		t.Fatal(err)
	}
	l.net.RunFor(5 * time.Second)
	if abort == nil || len(abort.Causes) != 1 {
		t.Fatalf("INIT adding %v: no ABORT with one cause (%+v)", third, abort)
	}
	if c, ok := abort.Causes[0].(*wire.RestartWithNewAddressesCause); !ok || string(c.Addresses) != string((&wire.IPv4AddressParam{Addr: third}).AppendTo(nil)) {
		t.Fatalf("ABORT cause %#v, want cause 11 listing %v", abort.Causes[0], third)
	}
	if old.State() != engine.StateEstablished || l.srec.ended() {
		t.Fatalf("the INIT adding an address changed the association: %v", old.State())
	}
	// Without it, the restart goes through.
	l.net.Offered = nil
	l.cn.Restart()
	crec := &echoCheck{net: l.net}
	cfg.LocalAddrs = []netip.Addr{mhClient1, mhClient2}
	cfg.InitMsg.MaxAttempts = 0
	a, err := l.cn.Host.Dial(0, link.Path{Local: mhClient2, Remote: mhServer2}, port, serverPort, cfg, crec, l.net.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !l.net.RunUntil(func() bool { return a.State() == engine.StateEstablished && l.server != old }, time.Minute) {
		t.Fatalf("no restart: client %v", a.State())
	}
	restarted := false
	for _, ev := range l.srec.events { // the old association's and the new one's
		restarted = restarted || ev.Type == engine.CommLost && ev.Err == engine.ErrRestarted
	}
	if !restarted || old.State() != engine.StateClosed {
		t.Fatalf("the old association (%v) did not end with ErrRestarted", old.State())
	}
	st := l.server.Status()
	if st.Primary.Path.Remote != mhClient2 || len(st.Paths) != 2 {
		t.Fatalf("new association: primary %v, paths %+v", st.Primary.Path.Remote, st.Paths)
	}
	l.net.SetAddrDown(mhClient1, false)
	l.net.SetAddrDown(mhServer1, false)
	if !l.net.RunUntil(func() bool {
		p, _ := pathOf(l.server.Status(), mhClient1)
		return p.State == engine.PathActive
	}, time.Minute) {
		t.Fatalf("the restarted association never confirmed %v: %+v", mhClient1, l.server.Status().Paths)
	}
	if err := a.Send(l.net.Now(), make([]byte, 100), engine.SndInfo{PPID: 18}); err != nil {
		t.Fatal(err)
	}
	srec := &echoCheck{net: l.net}
	l.server.SetHandler(srec)
	l.net.RunFor(time.Second)
	if len(srec.seen) != 1 {
		t.Fatal("no data through the restarted association")
	}
}

// TestProbeFromAKnownAddress: a multi-homed client listing two addresses
// to a server listening on one address of a two-address host. The server
// verifies the client's second address from the address the client knows
// (the one it dialled), not the one a route would pick, which the client
// never heard of: a packet from it would be out of the blue to the client,
// whose ABORT would end the association (8.4, 8.5.1 B).
func TestProbeFromAKnownAddress(t *testing.T) {
	n := sim.New(41)
	cn := n.AddMultiNode(sim.Iface{Addr: mhClient1, More: []netip.Addr{mhClient2}, Kind: link.Native})
	sn := n.AddMultiNode(sim.Iface{Addr: mhServer1, More: []netip.Addr{mhServer2}, Kind: link.Native})
	srec := &echoCheck{net: n}
	var srv *engine.Association
	if err := sn.Host.Listen(serverPort, engine.Config{}, engine.AcceptFunc(func(r *engine.AcceptRequest) {
		srv = r.Association()
		_ = r.Accept(n.Now(), srec)
	})); err != nil {
		t.Fatal(err)
	}
	crec := &echoCheck{net: n}
	a, err := cn.Host.Dial(0, link.Path{Local: mhClient1, Remote: mhServer1}, 0, serverPort,
		engine.Config{LocalAddrs: []netip.Addr{mhClient1, mhClient2}}, crec, n.Now())
	if err != nil {
		t.Fatal(err)
	}
	n.RunFor(10 * time.Second)
	if a.State() != engine.StateEstablished || crec.ended() || srec.ended() {
		t.Fatalf("client %v (%v), server ended %v", a.State(), crec.events, srec.ended())
	}
	if p, _ := pathOf(srv.Status(), mhClient2); p.State != engine.PathActive || p.Path.Local != mhServer1 {
		t.Fatalf("server's path to %v: %+v, want verified, from %v", mhClient2, p, mhServer1)
	}
}
