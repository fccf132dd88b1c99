package engine_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// 5.2.3: an INIT ACK outside COOKIE-WAIT is discarded; 5.2.5: a COOKIE ACK
// outside COOKIE-ECHOED is discarded. Nothing answers, nothing changes.
func TestUnexpectedInitAckAndCookieAck(t *testing.T) {
	l := newLab(t, 80, link.Native, engine.Config{})
	a, rec := l.up(engine.Config{})
	cl, _ := a.Tags()
	p := probe{nd: l.cn, from: link.Path{Local: l.cn.Addr, Remote: l.sn.Addr}}
	hdr := wire.CommonHeader{SrcPort: serverPort, DstPort: a.LocalPort(), VerificationTag: cl}
	ia := &wire.InitAck{InitFields: wire.InitFields{InitiateTag: 0x1234, ARwnd: 1 << 16, OutStreams: 1, InStreams: 1, InitialTSN: 1,
		Params: []wire.Param{&wire.StateCookieParam{Cookie: []byte("cookie")}}}}
	for _, c := range []wire.Chunk{ia, &wire.CookieAck{}} {
		if out := p.send(t, l.net.Now(), hdr, c); len(out) != 0 {
			t.Fatalf("%v in ESTABLISHED was answered: %s", c.ChunkType(), chunkTypes(out))
		}
	}
	if _, peer := a.Tags(); peer == 0x1234 || a.State() != engine.StateEstablished || len(rec.events) != 1 {
		t.Fatalf("state %v events %s", a.State(), rec.types())
	}
}

// TestReplayedCookieEcho: a COOKIE ECHO lost and retransmitted, then the
// first copy arriving late: both tags match (5.2.4 action D), so it only
// earns another COOKIE ACK; the same cookie under another packet tag is
// discarded (5.1.5 step 3). Action C (a late cookie with a local tag that
// is no longer the association's and no Tie-Tags) arises when a listener's
// host dials the peer from the listening port: TestCollisionActionC.
func TestReplayedCookieEcho(t *testing.T) {
	l := newLab(t, 81, link.UDP, engine.Config{})
	var firstEcho []byte
	l.cn.Imp.Drop = func(_ *simNode, pkt []byte) bool {
		if firstChunk(pkt) == wire.TypeCookieEcho && firstEcho == nil {
			firstEcho = append([]byte(nil), pkt...)
			return true
		}
		return false
	}
	a, _ := l.up(engine.Config{})
	if firstEcho == nil {
		t.Fatal("no COOKIE ECHO captured")
	}
	// The retransmitted COOKIE ECHO established the association; replaying
	// the first one now matches both tags (action D): answered with a COOKIE
	// ACK and nothing else changes.
	sl, sp := l.srv.assoc.Tags()
	p := probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr, RemotePort: l.cn.UDPPort}}
	l.sn.Host.ReleaseOutgoing()
	l.sn.Host.HandlePacket(0, p.from, firstEcho, l.net.Now())
	out := l.sn.Host.Outgoing()
	if len(out) != 1 || firstChunk(out[0].Buf) != wire.TypeCookieAck {
		t.Fatalf("replayed own cookie: %d packets", len(out))
	}
	l.sn.Host.ReleaseOutgoing()
	// Now the same cookie bytes under a different packet tag: step 3 of
	// 5.1.5 (tag mismatch) discards silently.
	bad := append([]byte(nil), firstEcho...)
	bad[4] ^= 0xff
	wire.SetChecksum(bad)
	l.sn.Host.HandlePacket(0, p.from, bad, l.net.Now())
	if n := len(l.sn.Host.Outgoing()); n != 0 {
		t.Fatalf("a cookie under the wrong tag was answered with %d packets", n)
	}
	l.sn.Host.ReleaseOutgoing()
	if nl, np := l.srv.assoc.Tags(); nl != sl || np != sp || a.State() != engine.StateEstablished {
		t.Fatal("the association changed")
	}
}

// TestAbortInEveryState aborts from each state the aborting side can be in
// and checks the peer gets the causes byte-exact (when it has a TCB).
func TestAbortInEveryState(t *testing.T) {
	reason := []byte("abort in state")
	causes := []wire.Cause{&wire.UserInitiatedAbortCause{Reason: reason}}
	want := wire.AppendCauses(nil, causes)
	type setup func(l *lab) (self *engine.Association, selfRec, peer *recorder)
	states := map[string]setup{
		"COOKIE-WAIT": func(l *lab) (*engine.Association, *recorder, *recorder) {
			// The peer holds nothing and we know no tag of its: the abort
			// is local only (see the wire check below).
			l.sn.Down = true
			a, rec := l.dial(engine.Config{})
			l.net.RunFor(10 * time.Millisecond)
			return a, rec, nil
		},
		"ACCEPT-PENDING": func(l *lab) (*engine.Association, *recorder, *recorder) {
			// The server's TCB exists but its acceptor has not answered;
			// the client, in COOKIE-ECHOED, gets the causes.
			l.deferAccept = true
			_, rec := l.dial(engine.Config{})
			l.net.RunUntil(func() bool { return len(l.reqs) == 1 }, time.Minute)
			srv := l.reqs[0].Association()
			self := &recorder{net: l.net, assoc: srv}
			srv.SetHandler(self)
			return srv, self, rec
		},
		"COOKIE-ECHOED": func(l *lab) (*engine.Association, *recorder, *recorder) {
			l.deferAccept = true // the server holds its COOKIE ACK
			a, rec := l.dial(engine.Config{})
			l.net.RunUntil(func() bool { return len(l.reqs) == 1 }, time.Minute)
			l.accept(l.reqs[0]) // recorder for the server side, accepted after the abort below
			return a, rec, l.srv
		},
		"ESTABLISHED": func(l *lab) (*engine.Association, *recorder, *recorder) {
			a, rec := l.up(engine.Config{})
			return a, rec, l.srv
		},
		"SHUTDOWN-PENDING": func(l *lab) (*engine.Association, *recorder, *recorder) {
			a, rec := l.up(engine.Config{})
			l.srv.noRead = true
			l.sn.Down = true // nothing gets acked: stays pending
			a.Send(l.net.Now(), make([]byte, 3000), engine.SndInfo{})
			a.Shutdown(l.net.Now())
			l.net.RunFor(10 * time.Millisecond)
			l.sn.Down = false
			return a, rec, l.srv
		},
		"SHUTDOWN-SENT": func(l *lab) (*engine.Association, *recorder, *recorder) {
			a, rec := l.up(engine.Config{})
			l.sn.Imp.Drop = func(_ *simNode, pkt []byte) bool { return firstChunk(pkt) == wire.TypeShutdownAck }
			a.Shutdown(l.net.Now())
			l.net.RunFor(100 * time.Millisecond)
			l.sn.Imp.Drop = nil
			return a, rec, l.srv
		},
		"SHUTDOWN-RECEIVED": func(l *lab) (*engine.Association, *recorder, *recorder) {
			a, rec := l.up(engine.Config{})
			srv := l.srv.assoc
			srv.HoldShutdownAck() // keeps the server in SHUTDOWN-RECEIVED
			a.Shutdown(l.net.Now())
			l.net.RunFor(100 * time.Millisecond)
			return srv, l.srv, rec
		},
		"SHUTDOWN-ACK-SENT": func(l *lab) (*engine.Association, *recorder, *recorder) {
			a, rec := l.up(engine.Config{})
			// The server's SHUTDOWN ACK is lost: the client stays in
			// SHUTDOWN-SENT to receive the causes.
			l.sn.Imp.Drop = func(_ *simNode, pkt []byte) bool { return firstChunk(pkt) == wire.TypeShutdownAck }
			a.Shutdown(l.net.Now())
			l.net.RunUntil(func() bool { return l.srv.assoc.State() == engine.StateShutdownAckSent }, time.Minute)
			l.sn.Imp.Drop = nil
			return l.srv.assoc, l.srv, rec
		},
	}
	wantState := map[string]engine.State{
		"COOKIE-WAIT": engine.StateCookieWait, "ACCEPT-PENDING": engine.StateAcceptPending,
		"COOKIE-ECHOED": engine.StateCookieEchoed, "ESTABLISHED": engine.StateEstablished,
		"SHUTDOWN-PENDING": engine.StateShutdownPending, "SHUTDOWN-SENT": engine.StateShutdownSent,
		"SHUTDOWN-RECEIVED": engine.StateShutdownReceived, "SHUTDOWN-ACK-SENT": engine.StateShutdownAckSent,
	}
	for name, mk := range states {
		t.Run(name, func(t *testing.T) {
			l := newLab(t, 90, link.Native, engine.Config{})
			self, selfRec, peer := mk(l)
			if self.State() != wantState[name] {
				t.Fatalf("setup reached %v", self.State())
			}
			sent := l.net.Sent
			self.Abort(l.net.Now(), causes...)
			lost := engine.CommLost
			if s := wantState[name]; s < engine.StateEstablished {
				lost = engine.CantStartAssoc
			}
			if ev := selfRec.find(lost); ev == nil || ev.Err != engine.ErrAborted || !selfRec.ended() {
				t.Fatalf("aborting side events %s, want %v ErrAborted", selfRec.types(), lost)
			}
			if self.State() != engine.StateClosed {
				t.Fatalf("state %v after Abort", self.State())
			}
			if peer == nil {
				l.net.RunFor(time.Millisecond)
				if l.net.Sent != sent {
					t.Fatalf("an abort in COOKIE-WAIT sent %d packets", l.net.Sent-sent)
				}
				return
			}
			l.net.RunUntil(peer.ended, time.Minute)
			ev := peer.find(engine.CommLost)
			if ev == nil {
				ev = peer.find(engine.CantStartAssoc)
			}
			if ev == nil || !bytes.Equal(padded4(ev.CauseBytes), want) {
				t.Fatalf("peer events %s, causes %s", peer.types(), fmt.Sprintf("%x", func() []byte {
					if ev == nil {
						return nil
					}
					return ev.CauseBytes
				}()))
			}
		})
	}
}

func padded4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}
