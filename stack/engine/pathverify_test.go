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

// mhAccepted is an association our listener accepted from a hand-played
// peer whose INIT came from m.dialled and listed m.dialled and m.other.
type mhAccepted struct {
	*mhPeer
	a       *engine.Association
	rec     *recorder
	peerTag uint32 // the tag our host puts on what it sends (the peer's)
	ourTag  uint32 // the tag the peer puts on what it sends (ours)
	setup   []sent // what the host sent on the COOKIE ECHO
}

func acceptMH(t *testing.T, seed uint64, cfg engine.Config) *mhAccepted {
	t.Helper()
	n := sim.New(seed)
	nd := n.AddNode("198.18.0.1", link.Native)
	m := &mhPeer{t: t, net: n, host: nd.Host, us: nd.Addr, now: n.Now(), port: serverPort, peer: 40000,
		dialled: netip.MustParseAddr("198.18.0.2"), other: netip.MustParseAddr("198.18.0.3")}
	x := &mhAccepted{mhPeer: m, rec: &recorder{net: n}, peerTag: 0x0e0b0001}
	if err := m.host.Listen(serverPort, cfg, engine.AcceptFunc(func(r *engine.AcceptRequest) {
		x.a = r.Association()
		if err := r.Accept(m.now, x.rec); err != nil {
			t.Fatal(err)
		}
	})); err != nil {
		t.Fatal(err)
	}
	init := &wire.Init{InitFields: wire.InitFields{InitiateTag: x.peerTag, ARwnd: 1 << 20, OutStreams: 4, InStreams: 4, InitialTSN: 500,
		Params: []wire.Param{&wire.IPv4AddressParam{Addr: m.dialled}, &wire.IPv4AddressParam{Addr: m.other}}}}
	got := m.from(m.dialled, 0, init)
	var ia wire.InitAck
	if len(got) != 1 || ia.Unmarshal(got[0].pkt.Chunks[0]) != nil {
		t.Fatalf("INIT answered %v", got)
	}
	x.ourTag = ia.InitiateTag
	x.setup = m.from(m.dialled, x.ourTag, &wire.CookieEcho{Cookie: ia.Param(wire.ParamStateCookie).(*wire.StateCookieParam).Cookie})
	if x.a == nil || x.a.State() != engine.StateEstablished {
		t.Fatal("no association after the COOKIE ECHO")
	}
	return x
}

// run advances the clock by d, running the host's timers, and returns what
// the host sent meanwhile.
func (m *mhPeer) run(d time.Duration) []sent {
	m.t.Helper()
	end := m.now.Add(d)
	var r []sent
	for i := 0; i < 100000; i++ {
		next, ok := m.host.NextDeadline()
		if !ok || next.After(end) {
			break
		}
		if next.After(m.now) {
			m.now = next
		}
		m.host.HandleTimeout(m.now)
		r = append(r, m.out()...)
	}
	m.now = end
	return r
}

// heartbeatsTo returns the HEARTBEAT chunks among pk that went to addr.
func heartbeatsTo(pk []sent, addr netip.Addr) []wire.Heartbeat {
	var r []wire.Heartbeat
	for _, s := range pk {
		for _, c := range s.pkt.Chunks {
			var hb wire.Heartbeat
			if c.Type == wire.TypeHeartbeat && s.path.Remote == addr && hb.Unmarshal(c) == nil {
				r = append(r, hb)
			}
		}
	}
	return r
}

func pathOf(st engine.Status, addr netip.Addr) (engine.PathStatus, bool) {
	for _, p := range st.Paths {
		if p.Path.Remote == addr {
			return p, true
		}
	}
	return engine.PathStatus{}, false
}

func (r *recorder) addrChanges(addr netip.Addr) []engine.AddrChange {
	var c []engine.AddrChange
	for _, ev := range r.events {
		if ev.Type == engine.PeerAddrChange && ev.Path.Remote == addr {
			c = append(c, ev.AddrChange)
		}
	}
	return c
}

// TestPathVerification: RFC 9260 5.4 on the side that accepts. The INIT's
// source is confirmed; the other address it listed is not, gets a HEARTBEAT
// with a 64-bit nonce once ESTABLISHED and nothing else, and becomes
// confirmed (ADDR_CONFIRMED, a path with its own RTT) when the HEARTBEAT ACK
// echoes that nonce. An echo with another nonce confirms nothing. Status
// lists both paths.
func TestPathVerification(t *testing.T) {
	x := acceptMH(t, 301, engine.Config{})
	st := x.a.Status()
	if len(st.Paths) != 2 || !st.Paths[0].Primary || st.Primary.Path.Remote != x.dialled {
		t.Fatalf("paths %+v, primary %v: want the INIT's source primary and two paths", st.Paths, st.Primary.Path)
	}
	if p, _ := pathOf(st, x.dialled); p.State != engine.PathActive {
		t.Fatalf("the INIT's source is %v, want active (5.4 rule 2)", p.State)
	}
	if p, ok := pathOf(st, x.other); !ok || p.State != engine.PathUnconfirmed || p.Primary {
		t.Fatalf("the listed address: %+v, want an unconfirmed path", p)
	}
	probes := heartbeatsTo(x.setup, x.other)
	if len(probes) != 1 || len(probes[0].Info) != 16 {
		t.Fatalf("probes to %v at ESTABLISHED: %v, want one HEARTBEAT with nonce and time", x.other, probes)
	}
	for _, s := range x.setup {
		if s.path.Remote == x.other && (len(s.pkt.Chunks) != 1 || s.pkt.Chunks[0].Type != wire.TypeHeartbeat) {
			t.Fatalf("sent %v to the unconfirmed %v", s.pkt.Chunks, x.other)
		}
	}
	// Data goes to the confirmed path only.
	if err := x.a.Send(x.now, []byte("signalling"), engine.SndInfo{PPID: 18}); err != nil {
		t.Fatal(err)
	}
	for _, s := range x.out() {
		if s.path.Remote != x.dialled {
			t.Fatalf("DATA went to %v before it was confirmed", s.path.Remote)
		}
	}
	// The primary path's RTT probe answered, a forged echo (another
	// nonce) would be the only candidate: it does not confirm.
	for _, hb := range heartbeatsTo(x.setup, x.dialled) {
		x.from(x.dialled, x.ourTag, &wire.HeartbeatAck{Info: hb.Info})
	}
	bad := append([]byte(nil), probes[0].Info...)
	bad[0] ^= 1
	x.from(x.other, x.ourTag, &wire.HeartbeatAck{Info: bad})
	if p, _ := pathOf(x.a.Status(), x.other); p.State != engine.PathUnconfirmed {
		t.Fatalf("a HEARTBEAT ACK with another nonce confirmed the path: %v", p.State)
	}
	x.now = x.now.Add(30 * time.Millisecond)
	x.from(x.other, x.ourTag, &wire.HeartbeatAck{Info: probes[0].Info})
	p, _ := pathOf(x.a.Status(), x.other)
	if p.State != engine.PathActive || p.SRTT != 30*time.Millisecond {
		t.Fatalf("after the echo: %+v, want active with its own SRTT of 30ms", p)
	}
	if c := x.rec.addrChanges(x.other); len(c) != 1 || c[0] != engine.AddrConfirmed {
		t.Fatalf("events for %v: %v, want ADDR_CONFIRMED", x.other, c)
	}
	if pp, _ := pathOf(x.a.Status(), x.dialled); pp.SRTT == p.SRTT {
		t.Fatalf("both paths report SRTT %v: not measured per path", p.SRTT)
	}
}

// TestUnconfirmedProbing: an unconfirmed address that never answers is
// probed once per RTO until Path.Max.Retrans probes went unanswered, then
// marked unreachable and probed at the heartbeat rate (5.4). Its failures
// never count against the association: with Association.Max.Retrans 1 the
// association would have ended at the second.
func TestUnconfirmedProbing(t *testing.T) {
	cfg := engine.Config{Assoc: engine.AssocParams{MaxRetrans: 1}, PeerAddr: engine.PeerAddrParams{PathMaxRetrans: 3, HBInterval: 30 * time.Second}}
	x := acceptMH(t, 302, cfg)
	// The peer answers on the primary path, so only the probes fail.
	probes := func(d time.Duration) []wire.Heartbeat {
		var r []wire.Heartbeat
		for range int(d / time.Second) {
			pk := x.run(time.Second)
			for _, hb := range heartbeatsTo(pk, x.dialled) {
				x.from(x.dialled, x.ourTag, &wire.HeartbeatAck{Info: hb.Info})
			}
			r = append(r, heartbeatsTo(pk, x.other)...)
		}
		return r
	}
	early := probes(30 * time.Second)
	// RTO is RTO.Initial (1 s: nothing measured on that path): a probe a
	// second, from the one at ESTABLISHED on, until the fourth goes
	// unanswered.
	if len(early) != 4 {
		t.Fatalf("%d probes in the first 30 s, want 3 more after the first, then none for HB.interval", len(early))
	}
	if c := x.rec.addrChanges(x.other); len(c) != 1 || c[0] != engine.AddrUnreachable {
		t.Fatalf("events for %v: %v, want ADDR_UNREACHABLE", x.other, c)
	}
	if p, _ := pathOf(x.a.Status(), x.other); p.State != engine.PathUnconfirmed || p.Errors != 4 {
		t.Fatalf("path %+v", p)
	}
	later := probes(3 * time.Minute)
	if len(later) < 3 || len(later) > 7 {
		t.Fatalf("%d probes in 3 minutes once unreachable, want about one per HB.interval + RTO", len(later))
	}
	if x.a.State() != engine.StateEstablished || x.rec.ended() {
		t.Fatalf("the association ended (%s): unanswered probes counted against it", x.rec.types())
	}
}

// TestHeartbeatEveryIdlePath: RFC 9260 8.3 on each confirmed destination
// at its own interval; a destination other than the one data goes to that
// stops answering becomes unreachable after Path.Max.Retrans without
// touching the association (8.1), and available again on its next answer.
func TestHeartbeatEveryIdlePath(t *testing.T) {
	cfg := engine.Config{Assoc: engine.AssocParams{MaxRetrans: 2}, PeerAddr: engine.PeerAddrParams{PathMaxRetrans: 4, HBInterval: 5 * time.Second}}
	x := acceptMH(t, 303, cfg)
	for _, addr := range []netip.Addr{x.dialled, x.other} {
		hb := heartbeatsTo(x.setup, addr)[0] // the RTT probe, the verification
		x.from(addr, x.ourTag, &wire.HeartbeatAck{Info: hb.Info})
	}
	answer := map[netip.Addr]bool{x.dialled: true, x.other: true}
	count := map[netip.Addr]int{}
	step := func(d time.Duration) {
		pk := x.run(d)
		// The primary answers every heartbeat, so the association's
		// error counter is zero whenever the alternate's count only
		// against that path.
		if n := x.a.Status().ErrorCount; n != 0 {
			t.Fatalf("association error count %d after a heartbeat on the idle alternate went unanswered (8.1)", n)
		}
		for _, addr := range []netip.Addr{x.dialled, x.other} {
			for _, hb := range heartbeatsTo(pk, addr) {
				count[addr]++
				if answer[addr] {
					x.from(addr, x.ourTag, &wire.HeartbeatAck{Info: hb.Info})
				}
			}
		}
	}
	for range 120 {
		step(time.Second)
	}
	// HB.interval 5 s + RTO (1 s) with jitter: about 20 each in 2 minutes.
	for addr, n := range count {
		if n < 14 || n > 26 {
			t.Fatalf("%d heartbeats to %v in 2 minutes, want about 20", n, addr)
		}
	}
	answer[x.other] = false
	for range 300 {
		step(time.Second)
	}
	// RFC 7829: potentially failed at the first loss, inactive past
	// Path.Max.Retrans.
	if c := x.rec.addrChanges(x.other); len(c) != 3 || c[1] != engine.AddrPotentiallyFailed || c[2] != engine.AddrUnreachable {
		t.Fatalf("events for %v: %v, want ADDR_CONFIRMED, ADDR_POTENTIALLY_FAILED, ADDR_UNREACHABLE", x.other, c)
	}
	if x.a.State() != engine.StateEstablished {
		t.Fatalf("association %v: heartbeats on an idle alternate counted against it (8.1)", x.a.State())
	}
	answer[x.other] = true
	for range 200 {
		step(time.Second)
	}
	if c := x.rec.addrChanges(x.other); len(c) != 4 || c[3] != engine.AddrAvailable {
		t.Fatalf("events for %v: %v, want ADDR_AVAILABLE once it answers again", x.other, c)
	}
	if p, _ := pathOf(x.a.Status(), x.other); p.State != engine.PathActive || p.Errors != 0 {
		t.Fatalf("path %+v", p)
	}
}
