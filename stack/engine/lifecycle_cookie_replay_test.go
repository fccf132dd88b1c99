package engine_test

import (
	"testing"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// cookiePeer plays, by hand, the peer of an association the client node
// dials: the test holds every cookie the client hands out and can echo
// each one as often as it likes, as an attacker who captured them could.
// The simulated network is never run, so the server node takes no part.
type cookiePeer struct {
	t   *testing.T
	l   *lab
	p   probe
	a   *engine.Association
	rec *recorder
}

const cookiePeerPort = 7000

func newCookiePeer(t *testing.T, seed uint64) *cookiePeer {
	t.Helper()
	l := newLab(t, seed, link.Native, engine.Config{})
	rec := &recorder{net: l.net}
	a, err := l.cn.Host.Dial(0, l.cn.PathTo(l.sn), cookiePeerPort, serverPort, engine.Config{}, rec, l.net.Now())
	if err != nil {
		t.Fatal(err)
	}
	rec.assoc = a
	return &cookiePeer{t: t, l: l, a: a, rec: rec, p: probe{nd: l.cn, from: link.Path{Local: l.cn.Addr, Remote: l.sn.Addr}}}
}

func (c *cookiePeer) hdr(vtag uint32) wire.CommonHeader {
	return wire.CommonHeader{SrcPort: serverPort, DstPort: cookiePeerPort, VerificationTag: vtag}
}

// echoed answers the client's INIT with an INIT ACK carrying peerTag: the
// client goes to COOKIE-ECHOED.
func (c *cookiePeer) echoed(peerTag uint32) {
	c.t.Helper()
	local, _ := c.a.Tags()
	ia := &wire.InitAck{InitFields: wire.InitFields{InitiateTag: peerTag, ARwnd: 1 << 16, OutStreams: 1, InStreams: 1, InitialTSN: 1,
		Params: []wire.Param{&wire.StateCookieParam{Cookie: []byte("the peer's cookie")}}}}
	out := c.p.send(c.t, c.l.net.Now(), c.hdr(local), ia)
	if len(out) != 1 || out[0].Chunks[0].Type != wire.TypeCookieEcho || c.a.State() != engine.StateCookieEchoed {
		c.t.Fatalf("INIT ACK answered %s, state %v", chunkTypes(out), c.a.State())
	}
}

// cookieFor sends the client an INIT with initTag and returns the cookie
// of its INIT ACK and the tag that cookie must be echoed under.
func (c *cookiePeer) cookieFor(initTag uint32) (ck []byte, vtag uint32) {
	c.t.Helper()
	ini := &wire.Init{InitFields: wire.InitFields{InitiateTag: initTag, ARwnd: 1 << 16, OutStreams: 1, InStreams: 1, InitialTSN: 1}}
	ia, st := initAckCookie(c.t, c.l, c.p, c.hdr(0), ini)
	return ia.Param(wire.ParamStateCookie).(*wire.StateCookieParam).Cookie, st.LocalTag
}

// echo sends a COOKIE ECHO and reports whether a COOKIE ACK came back.
func (c *cookiePeer) echo(vtag uint32, ck []byte) bool {
	c.t.Helper()
	out := c.p.send(c.t, c.l.net.Now(), c.hdr(vtag), &wire.CookieEcho{Cookie: ck})
	for _, pk := range out {
		for _, ch := range pk.Chunks {
			if ch.Type == wire.TypeCookieAck {
				return true
			}
		}
	}
	return false
}

// TestCollisionCookieReplayCannotResetPeerTag: RFC 9260 5.2.4 action B
// uses the cookie up. The client, in COOKIE-ECHOED, answers two INITs of
// the peer (tags X, then Y: the peer restarted its own attempt) and is
// moved to X, then to Y, by their COOKIE ECHOs. The first COOKIE ECHO
// sent again (replayed within the cookie's lifetime) must not set the
// peer's tag back to X, which would leave every packet the client sends
// dropped by the peer: it is discarded and counted.
func TestCollisionCookieReplayCannotResetPeerTag(t *testing.T) {
	c := newCookiePeer(t, 91)
	c.echoed(0x1111)
	cx, vx := c.cookieFor(0x2222)
	cy, vy := c.cookieFor(0x3333)
	if !c.echo(vx, cx) || c.a.State() != engine.StateEstablished {
		t.Fatalf("the collision's COOKIE ECHO: state %v", c.a.State())
	}
	if !c.echo(vy, cy) {
		t.Fatal("the second COOKIE ECHO was not answered")
	}
	if _, peer := c.a.Tags(); peer != 0x3333 {
		t.Fatalf("peer tag %#x after the second COOKIE ECHO, want 0x3333", peer)
	}
	if c.echo(vx, cx) {
		t.Error("the replayed COOKIE ECHO was answered")
	}
	if _, peer := c.a.Tags(); peer != 0x3333 {
		t.Errorf("the replayed COOKIE ECHO set the peer tag to %#x, want 0x3333 kept", peer)
	}
	st := c.l.cn.Host.Stats()
	if st.CookieAction != [4]uint64{0, 2, 0, 0} || st.DiscardedReplayedCookie != 1 {
		t.Errorf("cookie actions %v, %d replays discarded: want B twice and one replay", st.CookieAction, st.DiscardedReplayedCookie)
	}
	if c.rec.count(engine.CommUp) != 1 || c.rec.ended() {
		t.Errorf("events %s", c.rec.types())
	}
}

// TestCookieUsedByCollisionOrRestartBuildsNothingLater: each action of
// RFC 9260 5.2.4 that changes an association (A: the peer restarted, on a
// dialled association restarted in place; B: the peer's new tag; D: the
// collision's own cookie establishes it) uses its cookie up, as building a
// new association from one does (5.1.5). The peer's retransmission of the
// same COOKIE ECHO while the association lives is still answered (action
// D, our COOKIE ACK was lost); once the association has ended and a
// listener owns the port, the cookie sent again (within its lifetime)
// builds nothing: no accept request, no answer, a replay counted.
func TestCookieUsedByCollisionOrRestartBuildsNothingLater(t *testing.T) {
	for _, tc := range []struct {
		name   string
		action int // index in Stats.CookieAction
		use    func(c *cookiePeer) (ck []byte, vtag uint32)
	}{
		{"A restart in place", 0, func(c *cookiePeer) ([]byte, uint32) {
			c.echoed(0x1111)
			local, _ := c.a.Tags()
			c.p.send(c.t, c.l.net.Now(), c.hdr(local), &wire.CookieAck{})
			if c.a.State() != engine.StateEstablished {
				c.t.Fatalf("COOKIE ACK: state %v", c.a.State())
			}
			ck, vtag := c.cookieFor(0x4444) // the peer restarted
			if !c.echo(vtag, ck) || c.rec.count(engine.Restart) != 1 {
				c.t.Fatalf("the restart's COOKIE ECHO: events %s", c.rec.types())
			}
			return ck, vtag
		}},
		{"B peer's new tag", 1, func(c *cookiePeer) ([]byte, uint32) {
			c.echoed(0x1111)
			ck, vtag := c.cookieFor(0x2222)
			if !c.echo(vtag, ck) {
				c.t.Fatal("action B not answered")
			}
			return ck, vtag
		}},
		{"D collision", 3, func(c *cookiePeer) ([]byte, uint32) {
			c.echoed(0x1111)
			ck, vtag := c.cookieFor(0x1111)
			if !c.echo(vtag, ck) {
				c.t.Fatal("action D not answered")
			}
			return ck, vtag
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCookiePeer(t, 92)
			ck, vtag := tc.use(c)
			if c.a.State() != engine.StateEstablished || c.l.cn.Host.Stats().CookieAction[tc.action] != 1 {
				t.Fatalf("state %v, cookie actions %v", c.a.State(), c.l.cn.Host.Stats().CookieAction)
			}
			// The peer did not get our COOKIE ACK and sends its COOKIE
			// ECHO again: action D, answered.
			if !c.echo(vtag, ck) {
				t.Fatal("the retransmitted COOKIE ECHO was not answered")
			}
			c.a.Abort(c.l.net.Now())
			if c.a.State() != engine.StateClosed {
				t.Fatalf("aborted association in %v", c.a.State())
			}
			accepted := 0
			if err := c.l.cn.Host.Listen(cookiePeerPort, engine.Config{}, engine.AcceptFunc(func(r *engine.AcceptRequest) {
				accepted++
				r.Reject(c.l.net.Now())
			})); err != nil {
				t.Fatal(err)
			}
			if c.echo(vtag, ck) || accepted != 0 {
				t.Errorf("the used cookie, sent again to the listener: answered or accepted (%d accept requests)", accepted)
			}
			if n := c.l.cn.Host.Stats().DiscardedReplayedCookie; n != 1 {
				t.Errorf("%d replayed cookies discarded, want 1", n)
			}
		})
	}
}
