package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/internal/cookie"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// shutdownAckSentLab brings a server association to SHUTDOWN-ACK-SENT and
// keeps it there: every SHUTDOWN COMPLETE of the client is lost.
func shutdownAckSentLab(t *testing.T, seed uint64) (*lab, *engine.Association) {
	t.Helper()
	l := newLab(t, seed, link.Native, engine.Config{})
	a, _ := l.up(engine.Config{})
	l.cn.Imp.Drop = func(_ *simNode, pkt []byte) bool { return firstChunk(pkt) == wire.TypeShutdownComplete }
	a.Shutdown(l.net.Now())
	if !l.net.RunUntil(func() bool { return l.srv.assoc.State() == engine.StateShutdownAckSent }, time.Minute) {
		t.Fatalf("server reached %v", l.srv.assoc.State())
	}
	return l, a
}

// TestReflectedTagRules: RFC 9260 8.5.1 B and C. An ABORT or SHUTDOWN
// COMPLETE is taken with our tag and the T bit clear, or with the peer's tag
// and the T bit set; the other two combinations are discarded silently and
// change nothing.
func TestReflectedTagRules(t *testing.T) {
	for _, typ := range []wire.ChunkType{wire.TypeAbort, wire.TypeShutdownComplete} {
		for _, tbit := range []bool{false, true} {
			for _, own := range []bool{true, false} {
				name := fmt.Sprintf("%v/T=%v/own-tag=%v", typ, tbit, own)
				t.Run(name, func(t *testing.T) {
					var l *lab
					var a *engine.Association
					want := engine.StateEstablished
					if typ == wire.TypeAbort {
						l = newLab(t, 30, link.Native, engine.Config{})
						a, _ = l.up(engine.Config{})
					} else {
						l, a = shutdownAckSentLab(t, 31)
						want = engine.StateShutdownAckSent
					}
					srv := l.srv.assoc
					sl, sp := srv.Tags()
					vtag := sp
					if own {
						vtag = sl
					}
					var c wire.Chunk = &wire.Abort{TagReflected: tbit}
					if typ == wire.TypeShutdownComplete {
						c = &wire.ShutdownComplete{TagReflected: tbit}
					}
					p := probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr}}
					before := l.sn.Host.Stats().DiscardedBadTag
					out := p.send(t, l.net.Now(), wire.CommonHeader{SrcPort: a.LocalPort(), DstPort: serverPort, VerificationTag: vtag}, c)
					if len(out) != 0 {
						t.Fatalf("answered %s", chunkTypes(out))
					}
					accept := own != tbit
					if accept {
						if srv.State() != engine.StateClosed {
							t.Fatalf("not accepted: state %v", srv.State())
						}
						return
					}
					if srv.State() != want || l.srv.ended() {
						t.Fatalf("accepted: state %v events %s", srv.State(), l.srv.types())
					}
					if n := l.sn.Host.Stats().DiscardedBadTag - before; n != 1 {
						t.Fatalf("DiscardedBadTag grew by %d, want 1", n)
					}
				})
			}
		}
	}
}

// TestShutdownAckBeforeEstablished: RFC 9260 8.5.1 E. In COOKIE-WAIT and
// COOKIE-ECHOED a SHUTDOWN ACK is out of the blue even with our own tag:
// 8.4 rule 5 answers it with SHUTDOWN COMPLETE, T bit set, reflecting the
// packet's tag; the association is untouched.
func TestShutdownAckBeforeEstablished(t *testing.T) {
	for _, st := range []engine.State{engine.StateCookieWait, engine.StateCookieEchoed} {
		for _, own := range []bool{true, false} {
			t.Run(fmt.Sprintf("%v/own-tag=%v", st, own), func(t *testing.T) {
				l := newLab(t, 32, link.Native, engine.Config{})
				if st == engine.StateCookieWait {
					l.sn.Down = true
				} else {
					l.deferAccept = true
				}
				a, rec := l.dial(engine.Config{})
				l.net.RunUntil(func() bool { return a.State() == st }, time.Minute)
				l.net.RunFor(10 * time.Millisecond)
				if a.State() != st {
					t.Fatalf("setup reached %v", a.State())
				}
				cl, cp := a.Tags()
				vtag := cl
				if !own {
					vtag = cl ^ 0x0f0f0f0f
				}
				p := probe{nd: l.cn, from: link.Path{Local: l.cn.Addr, Remote: l.sn.Addr}}
				out := p.send(t, l.net.Now(), wire.CommonHeader{SrcPort: serverPort, DstPort: a.LocalPort(), VerificationTag: vtag}, &wire.ShutdownAck{})
				if len(out) != 1 || len(out[0].Chunks) != 1 || out[0].Chunks[0].Type != wire.TypeShutdownComplete ||
					out[0].Chunks[0].Flags&1 != 1 || out[0].VerificationTag != vtag ||
					out[0].SrcPort != a.LocalPort() || out[0].DstPort != serverPort {
					t.Fatalf("answer %s, want SHUTDOWN COMPLETE T=1 vtag=%#x", chunkTypes(out), vtag)
				}
				if nl, np := a.Tags(); a.State() != st || nl != cl || np != cp || len(rec.events) != 0 {
					t.Fatalf("association changed: %v events %s", a.State(), rec.types())
				}
			})
		}
	}
}

// TestStaleCookieErrorOutsideCookieEchoed: RFC 9260 5.2.6. An ERROR with a
// Stale Cookie cause in any state but COOKIE-ECHOED is discarded silently,
// not surfaced as REMOTE_ERROR; another ERROR still is.
func TestStaleCookieErrorOutsideCookieEchoed(t *testing.T) {
	l := newLab(t, 33, link.Native, engine.Config{})
	a, rec := l.up(engine.Config{})
	cl, _ := a.Tags()
	p := probe{nd: l.cn, from: link.Path{Local: l.cn.Addr, Remote: l.sn.Addr}}
	hdr := wire.CommonHeader{SrcPort: serverPort, DstPort: a.LocalPort(), VerificationTag: cl}
	if out := p.send(t, l.net.Now(), hdr, &wire.ErrorChunk{Causes: []wire.Cause{&wire.StaleCookieCause{Staleness: 1000}}}); len(out) != 0 {
		t.Fatalf("answered %s", chunkTypes(out))
	}
	if rec.has(engine.RemoteError) || a.State() != engine.StateEstablished {
		t.Fatalf("stale cookie ERROR in ESTABLISHED: state %v events %s", a.State(), rec.types())
	}
	p.send(t, l.net.Now(), hdr, &wire.ErrorChunk{Causes: []wire.Cause{&wire.InvalidStreamCause{StreamID: 3}}})
	if !rec.has(engine.RemoteError) {
		t.Fatalf("another ERROR was not surfaced: %s", rec.types())
	}
}

// initAckCookie sends ini from p and returns the INIT ACK's fields and the
// state its cookie carries.
func initAckCookie(t *testing.T, l *lab, p probe, hdr wire.CommonHeader, ini *wire.Init) (wire.InitAck, cookie.State) {
	t.Helper()
	out := p.send(t, l.net.Now(), hdr, ini)
	if len(out) != 1 || out[0].Chunks[0].Type != wire.TypeInitAck || out[0].VerificationTag != ini.InitiateTag {
		t.Fatalf("answer %s, want an INIT ACK tagged %#x", chunkTypes(out), ini.InitiateTag)
	}
	var ia wire.InitAck
	if err := ia.Unmarshal(out[0].Chunks[0]); err != nil {
		t.Fatal(err)
	}
	sc, ok := ia.Param(wire.ParamStateCookie).(*wire.StateCookieParam)
	if !ok {
		t.Fatal("INIT ACK without a cookie")
	}
	st, err := p.nd.Host.OpenCookie(sc.Cookie, l.net.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ia, st
}

// TestTieTagsAreNonces: RFC 9260 1.3, 5.2.1, 5.2.2. The Tie-Tags an INIT
// ACK's cookie carries for an existing association are random, not its
// Verification Tags, the same for every INIT while the TCB lives, and
// what 5.2.4 action A compares: the cookie they came in restarts it.
func TestTieTagsAreNonces(t *testing.T) {
	l := newLab(t, 34, link.Native, engine.Config{})
	a, _ := l.up(engine.Config{})
	old := l.srv
	sl, sp := old.assoc.Tags()
	p := probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr}}
	hdr := wire.CommonHeader{SrcPort: a.LocalPort(), DstPort: serverPort}
	ini := &wire.Init{InitFields: wire.InitFields{InitiateTag: 0x5151, ARwnd: 65536, OutStreams: 1, InStreams: 1, InitialTSN: 1}}
	ia1, st1 := initAckCookie(t, l, p, hdr, ini)
	_, st2 := initAckCookie(t, l, p, hdr, ini)
	if st1.LocalTieTag == 0 || st1.PeerTieTag == 0 {
		t.Fatalf("tie-tags %#x/%#x, want nonzero (5.2.2)", st1.LocalTieTag, st1.PeerTieTag)
	}
	for _, tie := range []uint32{st1.LocalTieTag, st1.PeerTieTag} {
		if tie == sl || tie == sp {
			t.Fatalf("tie-tags %#x/%#x reveal the tags %#x/%#x", st1.LocalTieTag, st1.PeerTieTag, sl, sp)
		}
	}
	if st2.LocalTieTag != st1.LocalTieTag || st2.PeerTieTag != st1.PeerTieTag {
		t.Fatal("a second INIT got other tie-tags")
	}
	if st1.LocalTag != ia1.InitiateTag || st1.LocalTag == sl || st1.PeerTag != ini.InitiateTag {
		t.Fatalf("cookie tags %#x/%#x", st1.LocalTag, st1.PeerTag)
	}
	// The peer echoes the first cookie: tags X X, tie-tags M M: action A.
	sc := ia1.Param(wire.ParamStateCookie).(*wire.StateCookieParam)
	out := p.send(t, l.net.Now(), wire.CommonHeader{SrcPort: a.LocalPort(), DstPort: serverPort, VerificationTag: ia1.InitiateTag},
		&wire.CookieEcho{Cookie: sc.Cookie})
	if got := l.sn.Host.Stats().CookieAction; got != [4]uint64{1, 0, 0, 0} {
		t.Fatalf("cookie actions %v, want A once; answer %s", got, chunkTypes(out))
	}
	if ev := old.find(engine.CommLost); ev == nil || ev.Err != engine.ErrRestarted {
		t.Fatalf("old association events %s, want COMM_LOST ErrRestarted", old.types())
	}
}

// TestTieTagsInCookieEchoed: RFC 9260 5.2.1. In COOKIE-WAIT the INIT ACK
// for a colliding INIT has no Tie-Tags; in COOKIE-ECHOED it has random
// ones. Both reuse our INIT's Initiate Tag and TSN.
func TestTieTagsInCookieEchoed(t *testing.T) {
	for _, st := range []engine.State{engine.StateCookieWait, engine.StateCookieEchoed} {
		t.Run(st.String(), func(t *testing.T) {
			l := newLab(t, 35, link.Native, engine.Config{})
			if st == engine.StateCookieWait {
				l.sn.Down = true
			} else {
				l.deferAccept = true
			}
			a, _ := l.dial(engine.Config{})
			l.net.RunUntil(func() bool { return a.State() == st }, time.Minute)
			l.net.RunFor(10 * time.Millisecond)
			if a.State() != st {
				t.Fatalf("setup reached %v", a.State())
			}
			cl, cp := a.Tags()
			p := probe{nd: l.cn, from: link.Path{Local: l.cn.Addr, Remote: l.sn.Addr}}
			ini := &wire.Init{InitFields: wire.InitFields{InitiateTag: 0x6161, ARwnd: 65536, OutStreams: 1, InStreams: 1, InitialTSN: 1}}
			ia, ck := initAckCookie(t, l, p, wire.CommonHeader{SrcPort: serverPort, DstPort: a.LocalPort()}, ini)
			if ia.InitiateTag != cl || ck.LocalTag != cl {
				t.Fatalf("INIT ACK tag %#x, want our INIT's %#x", ia.InitiateTag, cl)
			}
			zero := ck.LocalTieTag == 0 && ck.PeerTieTag == 0
			if st == engine.StateCookieWait && !zero {
				t.Fatalf("COOKIE-WAIT tie-tags %#x/%#x, want 0", ck.LocalTieTag, ck.PeerTieTag)
			}
			if st == engine.StateCookieEchoed && (ck.LocalTieTag == 0 || ck.PeerTieTag == 0 ||
				ck.LocalTieTag == cl || ck.PeerTieTag == cp) {
				t.Fatalf("COOKIE-ECHOED tie-tags %#x/%#x (tags %#x/%#x)", ck.LocalTieTag, ck.PeerTieTag, cl, cp)
			}
			if a.State() != st {
				t.Fatalf("state changed to %v", a.State())
			}
		})
	}
}

// TestWrongTagInShutdownStates: RFC 9260 8.5. Chunks under a wrong tag are
// discarded in SHUTDOWN-SENT and SHUTDOWN-RECEIVED as in ESTABLISHED,
// including I-DATA and an unknown chunk type whose action bits would
// otherwise earn an ERROR; a T-bit ABORT or SHUTDOWN COMPLETE is checked
// against the peer's tag. The same unknown chunk under the right tag is
// answered, so the probe does reach the association.
func TestWrongTagInShutdownStates(t *testing.T) {
	unknown := wire.RawChunk{Type: 0xF0, Value: []byte{1, 2, 3, 4}}
	chunks := []wire.Chunk{
		&wire.Data{TSN: 1, Payload: []byte("x"), Beginning: true, Ending: true},
		&wire.IData{TSN: 1, Payload: []byte("x"), Beginning: true, Ending: true},
		unknown,
		&wire.Sack{CumTSNAck: 1, ARwnd: 1000},
		&wire.Heartbeat{Info: []byte("hb")},
		&wire.Shutdown{CumTSNAck: 1},
		&wire.ShutdownAck{},
		&wire.ErrorChunk{Causes: []wire.Cause{&wire.ProtocolViolationCause{Info: []byte("x")}}},
		&wire.Abort{},
		&wire.Abort{TagReflected: true},
		&wire.ShutdownComplete{},
		&wire.ShutdownComplete{TagReflected: true},
	}
	type setup func(t *testing.T, l *lab) (self *engine.Association, nd *simNode, from link.Path)
	setups := []struct {
		state engine.State
		mk    setup
	}{
		{engine.StateEstablished, func(t *testing.T, l *lab) (*engine.Association, *simNode, link.Path) {
			l.up(engine.Config{})
			return l.srv.assoc, l.sn, link.Path{Local: l.sn.Addr, Remote: l.cn.Addr}
		}},
		{engine.StateShutdownSent, func(t *testing.T, l *lab) (*engine.Association, *simNode, link.Path) {
			a, _ := l.up(engine.Config{})
			l.sn.Imp.Drop = func(_ *simNode, pkt []byte) bool { return firstChunk(pkt) == wire.TypeShutdownAck }
			a.Shutdown(l.net.Now())
			l.net.RunFor(10 * time.Millisecond)
			return a, l.cn, link.Path{Local: l.cn.Addr, Remote: l.sn.Addr}
		}},
		{engine.StateShutdownReceived, func(t *testing.T, l *lab) (*engine.Association, *simNode, link.Path) {
			a, _ := l.up(engine.Config{})
			l.srv.assoc.HoldShutdownAck()
			a.Shutdown(l.net.Now())
			l.net.RunFor(10 * time.Millisecond)
			return l.srv.assoc, l.sn, link.Path{Local: l.sn.Addr, Remote: l.cn.Addr}
		}},
	}
	for _, s := range setups {
		for _, c := range chunks {
			name := fmt.Sprintf("%v/%v", s.state, c.ChunkType())
			if ab, ok := c.(*wire.Abort); ok && ab.TagReflected {
				name += "-T"
			}
			if sc, ok := c.(*wire.ShutdownComplete); ok && sc.TagReflected {
				name += "-T"
			}
			t.Run(name, func(t *testing.T) {
				l := newLab(t, 39, link.Native, engine.Config{})
				self, nd, from := s.mk(t, l)
				if self.State() != s.state {
					t.Fatalf("setup reached %v", self.State())
				}
				lt, pt := self.Tags()
				bad := lt ^ 0x5a5a5a5a
				if ab, ok := c.(*wire.Abort); ok && ab.TagReflected {
					bad = pt ^ 1
				}
				if sc, ok := c.(*wire.ShutdownComplete); ok && sc.TagReflected {
					bad = pt ^ 1
				}
				p := probe{nd: nd, from: from}
				hdr := wire.CommonHeader{SrcPort: self.RemotePort(), DstPort: self.LocalPort(), VerificationTag: bad}
				before := nd.Host.Stats()
				if out := p.send(t, l.net.Now(), hdr, c); len(out) != 0 {
					t.Fatalf("answered %s", chunkTypes(out))
				}
				after := nd.Host.Stats()
				if after.DiscardedBadTag != before.DiscardedBadTag+1 || after.InCtrlChunks != before.InCtrlChunks {
					t.Fatalf("DiscardedBadTag %d -> %d, InCtrlChunks %d -> %d", before.DiscardedBadTag, after.DiscardedBadTag, before.InCtrlChunks, after.InCtrlChunks)
				}
				if nl, np := self.Tags(); self.State() != s.state || nl != lt || np != pt {
					t.Fatalf("changed: %v", self.State())
				}
				if c.ChunkType() == unknown.Type {
					hdr.VerificationTag = lt
					out := p.send(t, l.net.Now(), hdr, c)
					if len(out) != 1 || out[0].Chunks[0].Type != wire.TypeError {
						t.Fatalf("under the right tag answered %s, want an ERROR", chunkTypes(out))
					}
				}
			})
		}
	}
}

// TestWrongTagInitAckInCookieWait: an INIT ACK whose packet does not carry
// our INIT's tag is discarded (8.5): no COOKIE ECHO, still COOKIE-WAIT.
func TestWrongTagInitAckInCookieWait(t *testing.T) {
	l := newLab(t, 40, link.Native, engine.Config{})
	l.sn.Down = true
	a, rec := l.dial(engine.Config{})
	l.net.RunFor(10 * time.Millisecond)
	cl, _ := a.Tags()
	p := probe{nd: l.cn, from: link.Path{Local: l.cn.Addr, Remote: l.sn.Addr}}
	ia := &wire.InitAck{InitFields: wire.InitFields{InitiateTag: 0x9393, ARwnd: 65536, OutStreams: 2, InStreams: 2, InitialTSN: 5,
		Params: []wire.Param{&wire.StateCookieParam{Cookie: []byte("opaque")}}}}
	hdr := wire.CommonHeader{SrcPort: serverPort, DstPort: a.LocalPort(), VerificationTag: cl ^ 0x100}
	if out := p.send(t, l.net.Now(), hdr, ia); len(out) != 0 {
		t.Fatalf("answered %s", chunkTypes(out))
	}
	if _, pt := a.Tags(); a.State() != engine.StateCookieWait || pt != 0 || len(rec.events) != 0 || l.cn.Host.Stats().DiscardedBadTag != 1 {
		t.Fatalf("state %v peer tag %#x events %s", a.State(), pt, rec.types())
	}
	hdr.VerificationTag = cl
	if out := p.send(t, l.net.Now(), hdr, ia); len(out) != 1 || out[0].Chunks[0].Type != wire.TypeCookieEcho {
		t.Fatalf("with the right tag answered %s, want a COOKIE ECHO", chunkTypes(out))
	}
}
