package engine_test

import (
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// TestCollisionActionB: RFC 9260 5.2.4 action B. A dials B; 30 ms later
// (the INIT is 20 ms on its way, so B's listener has already answered it
// statelessly with one tag) B dials A from the listening port with another
// tag. A, in COOKIE-ECHOED, answers B's INIT (5.2.1) and then receives B's
// COOKIE ECHO: our tag matches, the peer's is new. A takes the peer's new
// tag and both end up on one association with matching tags.
func TestCollisionActionB(t *testing.T) {
	net := simNew(7)
	an := net.AddNode("198.18.0.1", link.Native)
	bn := net.AddNode("198.18.0.2", link.Native)
	an.Imp.Delay, bn.Imp.Delay = 20*time.Millisecond, 20*time.Millisecond
	const port = 3868
	accepted := 0
	for _, nd := range []*simNode{an, bn} {
		if err := nd.Host.Listen(port, engine.Config{}, engine.AcceptFunc(func(r *engine.AcceptRequest) {
			accepted++
			r.Accept(net.Now(), &recorder{net: net})
		})); err != nil {
			t.Fatal(err)
		}
	}
	ra, rb := &recorder{net: net}, &recorder{net: net}
	aa, err := an.Host.Dial(0, an.PathTo(bn), port, port, engine.Config{}, ra, net.Now())
	if err != nil {
		t.Fatal(err)
	}
	net.RunFor(30 * time.Millisecond)
	ba, err := bn.Host.Dial(0, bn.PathTo(an), port, port, engine.Config{}, rb, net.Now())
	if err != nil {
		t.Fatal(err)
	}
	bTag, _ := ba.Tags()
	net.RunFor(5 * time.Second)
	if got := an.Host.Stats().CookieAction; got != [4]uint64{0, 1, 0, 0} {
		t.Fatalf("A's cookie actions %v, want B once", got)
	}
	if aa.State() != engine.StateEstablished || ba.State() != engine.StateEstablished || accepted != 0 {
		t.Fatalf("states %v / %v, %d accepted", aa.State(), ba.State(), accepted)
	}
	al, ap := aa.Tags()
	bl, bp := ba.Tags()
	if ap != bTag || al != bp || bl != bTag {
		t.Fatalf("tags A %#x/%#x B %#x/%#x, B dialled with %#x", al, ap, bl, bp, bTag)
	}
	if ra.count(engine.CommUp) != 1 || rb.count(engine.CommUp) != 1 || len(ra.events) != 1 || len(rb.events) != 1 {
		t.Fatalf("events A %s B %s", ra.types(), rb.types())
	}
}

// TestCollisionActionC: RFC 9260 5.2.4 action C. A client dials the
// server; the server's listener answers statelessly and the client's
// COOKIE ECHO is held up. Meanwhile the server dials the client from the
// listening port and gets as far as COOKIE-ECHOED, with the client's tag as
// its peer's. The held COOKIE ECHO then arrives: its local tag is not the
// association's, its peer tag is, and it has no Tie-Tags: it is discarded
// silently, and state, tags and T1 are as they were.
func TestCollisionActionC(t *testing.T) {
	l := newLab(t, 37, link.Native, engine.Config{})
	var held []byte
	l.cn.Imp.Drop = func(_ *simNode, pkt []byte) bool {
		if firstChunk(pkt) != wire.TypeCookieEcho {
			return false
		}
		if held == nil {
			held = append([]byte(nil), pkt...)
		}
		return true
	}
	l.sn.Imp.Drop = func(_ *simNode, pkt []byte) bool { return firstChunk(pkt) == wire.TypeCookieEcho }
	a, _ := l.dial(engine.Config{})
	if !l.net.RunUntil(func() bool { return held != nil }, time.Minute) {
		t.Fatal("no COOKIE ECHO")
	}
	srec := &recorder{net: l.net}
	sa, err := l.sn.Host.Dial(0, l.sn.PathTo(l.cn), serverPort, a.LocalPort(), engine.Config{}, srec, l.net.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !l.net.RunUntil(func() bool { return sa.State() == engine.StateCookieEchoed }, time.Minute) {
		t.Fatalf("server's association reached %v", sa.State())
	}
	cl, _ := a.Tags()
	sl, sp := sa.Tags()
	if sp != cl {
		t.Fatalf("server's peer tag %#x, want the client's %#x", sp, cl)
	}
	deadline, _ := l.sn.Host.NextDeadline()
	l.sn.Host.ReleaseOutgoing()
	l.sn.Host.HandlePacket(0, link.Path{Local: l.sn.Addr, Remote: l.cn.Addr}, held, l.net.Now())
	if n := len(l.sn.Host.Outgoing()); n != 0 {
		t.Fatalf("the late COOKIE ECHO was answered with %d packets", n)
	}
	if got := l.sn.Host.Stats().CookieAction; got != [4]uint64{0, 0, 1, 0} {
		t.Fatalf("cookie actions %v, want C once", got)
	}
	nl, np := sa.Tags()
	d2, _ := l.sn.Host.NextDeadline()
	if sa.State() != engine.StateCookieEchoed || nl != sl || np != sp || !d2.Equal(deadline) || len(srec.events) != 0 || len(l.reqs) != 0 {
		t.Fatalf("changed: state %v tags %#x/%#x deadline %v->%v events %s", sa.State(), nl, np, deadline, d2, srec.types())
	}
}

// TestRestartInShutdownAckSent: RFC 9260 5.2.4 action A while in
// SHUTDOWN-ACK-SENT. The peer's cookie (from an INIT answered while
// ESTABLISHED, so carrying the Tie-Tags) must not set up a new association:
// the SHUTDOWN ACK is resent with an ERROR "Cookie Received While Shutting
// Down" (cause 10).
func TestRestartInShutdownAckSent(t *testing.T) {
	l := newLab(t, 38, link.Native, engine.Config{})
	a, _ := l.up(engine.Config{})
	srv := l.srv.assoc
	_, sp := srv.Tags()
	p := probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr}}
	ini := &wire.Init{InitFields: wire.InitFields{InitiateTag: 0x3e3e, ARwnd: 65536, OutStreams: 1, InStreams: 1, InitialTSN: 1}}
	ia, _ := initAckCookie(t, l, p, wire.CommonHeader{SrcPort: a.LocalPort(), DstPort: serverPort}, ini)
	l.cn.Imp.Drop = func(_ *simNode, pkt []byte) bool { return firstChunk(pkt) == wire.TypeShutdownComplete }
	a.Shutdown(l.net.Now())
	if !l.net.RunUntil(func() bool { return srv.State() == engine.StateShutdownAckSent }, time.Minute) {
		t.Fatalf("server reached %v", srv.State())
	}
	ck := ia.Param(wire.ParamStateCookie).(*wire.StateCookieParam).Cookie
	out := p.send(t, l.net.Now(), wire.CommonHeader{SrcPort: a.LocalPort(), DstPort: serverPort, VerificationTag: ia.InitiateTag}, &wire.CookieEcho{Cookie: ck})
	if got := l.sn.Host.Stats().CookieAction; got != [4]uint64{1, 0, 0, 0} {
		t.Fatalf("cookie actions %v, want A once", got)
	}
	var sawAck, sawErr bool
	for _, pk := range out {
		if pk.VerificationTag != sp {
			t.Fatalf("answer tagged %#x, want the association's peer tag %#x", pk.VerificationTag, sp)
		}
		for _, c := range pk.Chunks {
			switch c.Type {
			case wire.TypeShutdownAck:
				sawAck = true
			case wire.TypeError:
				var e wire.ErrorChunk
				if err := e.Unmarshal(c); err != nil {
					t.Fatal(err)
				}
				if _, ok := e.Causes[0].(*wire.CookieWhileShuttingDownCause); len(e.Causes) != 1 || !ok {
					t.Fatalf("ERROR causes %#v, want cause 10", e.Causes)
				}
				sawErr = true
			default:
				t.Fatalf("unexpected %v in the answer", c.Type)
			}
		}
	}
	if !sawAck || !sawErr {
		t.Fatalf("answer %s, want SHUTDOWN ACK and ERROR cause 10", chunkTypes(out))
	}
	if srv.State() != engine.StateShutdownAckSent || len(l.reqs) != 1 || l.srv.ended() {
		t.Fatalf("state %v, %d accept requests, events %s", srv.State(), len(l.reqs), l.srv.types())
	}
}
