package engine_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

func TestHandshakeNegotiatesStreams(t *testing.T) {
	for _, kind := range []link.Kind{link.Native, link.UDP} {
		t.Run(kind.String(), func(t *testing.T) {
			scfg := engine.Config{InitMsg: engine.InitMsg{OutStreams: 10, MaxInStreams: 3}}
			l := newLab(t, 1, kind, scfg)
			ccfg := engine.Config{InitMsg: engine.InitMsg{OutStreams: 5, MaxInStreams: 7}}
			a, _ := l.up(ccfg)
			if out, in := a.Streams(); out != 3 || in != 7 {
				t.Fatalf("client streams out %d in %d, want 3 and 7", out, in)
			}
			if out, in := l.srv.assoc.Streams(); out != 7 || in != 3 {
				t.Fatalf("server streams out %d in %d, want 7 and 3", out, in)
			}
			if a.State() != engine.StateEstablished || l.srv.assoc.State() != engine.StateEstablished {
				t.Fatalf("states %v / %v", a.State(), l.srv.assoc.State())
			}
			cl, cp := a.Tags()
			sl, sp := l.srv.assoc.Tags()
			if cl != sp || cp != sl || cl == 0 || sl == 0 {
				t.Fatalf("tags client %#x/%#x server %#x/%#x", cl, cp, sl, sp)
			}
			if st := l.cn.Host.Stats(); st.ActiveEstabs != 1 || st.CurrEstab != 1 {
				t.Fatalf("client stats %+v", st)
			}
			if st := l.sn.Host.Stats(); st.PassiveEstabs != 1 || st.CurrEstab != 1 {
				t.Fatalf("server stats %+v", st)
			}
		})
	}
}

func firstChunk(pkt []byte) wire.ChunkType {
	if len(pkt) > wire.CommonHeaderLen {
		return wire.ChunkType(pkt[wire.CommonHeaderLen])
	}
	return 0xff
}

func TestInitAndCookieEchoLostAreRetransmitted(t *testing.T) {
	l := newLab(t, 2, link.Native, engine.Config{})
	drops := map[wire.ChunkType]int{wire.TypeInit: 1, wire.TypeCookieEcho: 1, wire.TypeCookieAck: 1}
	dropper := func(_ *simNode, pkt []byte) bool {
		ct := firstChunk(pkt)
		if drops[ct] > 0 {
			drops[ct]--
			return true
		}
		return false
	}
	l.cn.Imp.Drop = dropper
	l.sn.Imp.Drop = dropper
	start := l.net.Now()
	_, rec := l.up(engine.Config{})
	st := l.cn.Host.Stats()
	if st.T1InitExpireds != 1 || st.T1CookieExpireds != 2 {
		t.Fatalf("T1-init expired %d times, T1-cookie %d; want 1 and 2 (cookie ack lost once too)", st.T1InitExpireds, st.T1CookieExpireds)
	}
	// INIT lost: retransmitted after RTO.Initial; COOKIE ECHO lost, then
	// its COOKIE ACK lost: two T1-cookie expiries at the backed-off RTO.
	up := rec.at[0].Sub(start)
	want := engine.DefaultRTOInitial + 2*engine.DefaultRTOInitial + 4*engine.DefaultRTOInitial
	if up != want {
		t.Fatalf("COMM_UP after %v, want %v", up, want)
	}
}

func TestMaxInitRetransmitsGivesCantStart(t *testing.T) {
	l := newLab(t, 3, link.UDP, engine.Config{})
	l.sn.Down = true
	cfg := engine.Config{InitMsg: engine.InitMsg{MaxAttempts: 5, MaxInitTimeout: 10 * time.Second}}
	start := l.net.Now()
	_, rec := l.dial(cfg)
	if !l.net.RunUntil(rec.ended, time.Hour) {
		t.Fatal("association never gave up")
	}
	ev := rec.find(engine.CantStartAssoc)
	if ev == nil || ev.Err != engine.ErrPeerUnreachable {
		t.Fatalf("events %s, want CANT_STR_ASSOC with ErrPeerUnreachable", rec.types())
	}
	// MaxAttempts retransmissions, each timer the RTO doubled and capped by
	// MaxInitTimeout, then one more expiry ends it.
	var want time.Duration
	r := engine.DefaultRTOInitial
	for i := 0; i <= cfg.InitMsg.MaxAttempts; i++ {
		want += min(r, cfg.InitMsg.MaxInitTimeout)
		r = min(2*r, engine.DefaultRTOMax)
	}
	if got := rec.at[len(rec.at)-1].Sub(start); got != want {
		t.Fatalf("gave up after %v, want %v", got, want)
	}
	if n := l.cn.Host.Stats().T1InitExpireds; n != uint64(cfg.InitMsg.MaxAttempts+1) {
		t.Fatalf("T1-init expired %d times", n)
	}
}

func TestStaleCookieIsRetriedWithPreservative(t *testing.T) {
	l := newLab(t, 4, link.Native, engine.Config{Assoc: engine.AssocParams{CookieLife: 200 * time.Millisecond}})
	l.cn.Imp.Delay = 300 * time.Millisecond
	l.sn.Imp.Delay = 300 * time.Millisecond
	var sawStale bool
	l.net.Trace = func(_ time.Time, from, to *simNode, pkt []byte) {
		if from == l.sn && firstChunk(pkt) == wire.TypeError {
			sawStale = true
		}
	}
	traceNet(t, l)
	_, rec := l.up(engine.Config{})
	if !sawStale {
		t.Fatal("the server never reported a stale cookie")
	}
	if !rec.has(engine.CommUp) {
		t.Fatal("no COMM_UP after the retry")
	}
}

func TestCollisionSimultaneousInit(t *testing.T) {
	for seed := uint64(0); seed < 20; seed++ {
		net := simNew(seed)
		an := net.AddNode("198.18.0.1", link.UDP)
		bn := net.AddNode("198.18.0.2", link.UDP)
		an.UDPPort = 40001
		an.Imp.Delay, bn.Imp.Delay = 20*time.Millisecond, 20*time.Millisecond
		const port = 3868
		recs := map[string]*recorder{}
		for name, nd := range map[string]*simNode{"a": an, "b": bn} {
			name := name
			err := nd.Host.Listen(port, engine.Config{}, engine.AcceptFunc(func(r *engine.AcceptRequest) {
				rec := &recorder{net: net}
				recs[name+"-accepted"] = rec
				r.Accept(net.Now(), rec)
			}))
			if err != nil {
				t.Fatal(err)
			}
		}
		ra, rb := &recorder{net: net}, &recorder{net: net}
		aa, err := an.Host.Dial(0, an.PathTo(bn), port, port, engine.Config{}, ra, net.Now())
		if err != nil {
			t.Fatal(err)
		}
		ba, err := bn.Host.Dial(0, bn.PathTo(an), port, port, engine.Config{}, rb, net.Now())
		if err != nil {
			t.Fatal(err)
		}
		net.RunFor(5 * time.Second)
		if aa.State() != engine.StateEstablished || ba.State() != engine.StateEstablished {
			t.Fatalf("seed %d: states %v / %v (events a: %s b: %s)", seed, aa.State(), ba.State(), ra.types(), rb.types())
		}
		al, ap := aa.Tags()
		bl, bp := ba.Tags()
		if al != bp || ap != bl {
			t.Fatalf("seed %d: tags a %#x/%#x b %#x/%#x", seed, al, ap, bl, bp)
		}
		if len(recs) != 0 {
			t.Fatalf("seed %d: a second association was accepted", seed)
		}
		// And data flows over the single association both ways.
		aa.Send(net.Now(), []byte("from a"), engine.SndInfo{})
		ba.Send(net.Now(), []byte("from b"), engine.SndInfo{})
		net.RunFor(time.Second)
		if len(ra.msgs) != 1 || len(rb.msgs) != 1 || string(ra.msgs[0].Data) != "from b" {
			t.Fatalf("seed %d: messages a %v b %v", seed, ra.msgs, rb.msgs)
		}
	}
}

func TestPeerRestartReplacesAcceptedAssociation(t *testing.T) {
	l := newLab(t, 5, link.UDP, engine.Config{})
	rec := &recorder{net: l.net}
	_, err := l.cn.Host.Dial(0, l.cn.PathTo(l.sn), 6000, serverPort, engine.Config{}, rec, l.net.Now())
	if err != nil {
		t.Fatal(err)
	}
	l.net.RunUntil(func() bool { return l.srv != nil && l.srv.has(engine.CommUp) }, time.Minute)
	old := l.srv
	l.cn.Restart()
	rec2 := &recorder{net: l.net}
	if _, err := l.cn.Host.Dial(0, l.cn.PathTo(l.sn), 6000, serverPort, engine.Config{}, rec2, l.net.Now()); err != nil {
		t.Fatal(err)
	}
	if !l.net.RunUntil(func() bool { return rec2.has(engine.CommUp) }, time.Minute) {
		t.Fatalf("restarted client never came up: %s", rec2.types())
	}
	ev := old.find(engine.CommLost)
	if ev == nil || ev.Err != engine.ErrRestarted {
		t.Fatalf("old server association events %s, want COMM_LOST ErrRestarted", old.types())
	}
	if len(l.reqs) != 2 || !l.reqs[1].Restart {
		t.Fatalf("want a second accept request marked Restart, have %d", len(l.reqs))
	}
	if l.srv == old || !l.srv.has(engine.CommUp) {
		t.Fatal("the restarted association was not accepted afresh")
	}
}

func TestPeerRestartInPlaceForDialledAssociation(t *testing.T) {
	// A dials B; B then restarts and dials A's port from its own port: A's
	// association has no listener, so it restarts in place (RESTART).
	l := newLab(t, 6, link.Native, engine.Config{})
	a, rec := l.up(engine.Config{})
	clientPort := a.LocalPort()
	l.sn.Restart()
	brec := &recorder{net: l.net}
	if _, err := l.sn.Host.Dial(0, l.sn.PathTo(l.cn), serverPort, clientPort, engine.Config{}, brec, l.net.Now()); err != nil {
		t.Fatal(err)
	}
	if !l.net.RunUntil(func() bool { return brec.has(engine.CommUp) }, time.Minute) {
		t.Fatalf("B never came up: %s", brec.types())
	}
	if !rec.has(engine.Restart) || a.State() != engine.StateEstablished {
		t.Fatalf("A events %s state %v, want RESTART and ESTABLISHED", rec.types(), a.State())
	}
	a.Send(l.net.Now(), []byte("after restart"), engine.SndInfo{})
	l.net.RunFor(time.Second)
	if len(brec.msgs) != 1 {
		t.Fatalf("B got %d messages after the restart", len(brec.msgs))
	}
}

func TestUnexpectedInitInEstablishedKeepsAssociation(t *testing.T) {
	l := newLab(t, 7, link.Native, engine.Config{})
	a, _ := l.up(engine.Config{})
	sl, sp := l.srv.assoc.Tags()
	p := probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr}}
	ini := &wire.Init{InitFields: wire.InitFields{InitiateTag: 0xabcdef, ARwnd: 65536, OutStreams: 1, InStreams: 1, InitialTSN: 1}}
	out := p.send(t, l.net.Now(), wire.CommonHeader{SrcPort: a.LocalPort(), DstPort: serverPort}, ini)
	if len(out) != 1 || out[0].Chunks[0].Type != wire.TypeInitAck || out[0].VerificationTag != 0xabcdef {
		t.Fatalf("answer %s, want one INIT ACK tagged 0xabcdef", chunkTypes(out))
	}
	var ia wire.InitAck
	if err := ia.Unmarshal(out[0].Chunks[0]); err != nil {
		t.Fatal(err)
	}
	if ia.InitiateTag == sl {
		t.Fatal("5.2.2 requires a new Initiate Tag")
	}
	if nl, np := l.srv.assoc.Tags(); nl != sl || np != sp || l.srv.assoc.State() != engine.StateEstablished {
		t.Fatal("the existing association changed")
	}
}

func TestInitInShutdownAckSentResendsShutdownAck(t *testing.T) {
	l := newLab(t, 8, link.Native, engine.Config{})
	a, _ := l.up(engine.Config{})
	// Lose every SHUTDOWN COMPLETE so the server stays in SHUTDOWN-ACK-SENT.
	l.cn.Imp.Drop = func(_ *simNode, pkt []byte) bool { return firstChunk(pkt) == wire.TypeShutdownComplete }
	a.Shutdown(l.net.Now())
	l.net.RunUntil(func() bool { return l.srv.assoc.State() == engine.StateShutdownAckSent }, time.Minute)
	p := probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr}}
	ini := &wire.Init{InitFields: wire.InitFields{InitiateTag: 77, ARwnd: 65536, OutStreams: 1, InStreams: 1, InitialTSN: 1}}
	out := p.send(t, l.net.Now(), wire.CommonHeader{SrcPort: a.LocalPort(), DstPort: serverPort}, ini)
	if len(out) != 1 || out[0].Chunks[0].Type != wire.TypeShutdownAck {
		t.Fatalf("answer %s, want SHUTDOWN ACK (9.2)", chunkTypes(out))
	}
}

func TestShutdown(t *testing.T) {
	for _, who := range []string{"client", "server", "both"} {
		t.Run(who, func(t *testing.T) {
			l := newLab(t, 9, link.UDP, engine.Config{})
			l.cn.Imp.Delay, l.sn.Imp.Delay = 10*time.Millisecond, 10*time.Millisecond
			a, rec := l.up(engine.Config{})
			now := l.net.Now()
			switch who {
			case "client":
				a.Shutdown(now)
			case "server":
				l.srv.assoc.Shutdown(now)
			default:
				a.Shutdown(now)
				l.srv.assoc.Shutdown(now)
			}
			if !l.net.RunUntil(func() bool { return rec.ended() && l.srv.ended() }, time.Minute) {
				t.Fatalf("not closed: client %s server %s", rec.types(), l.srv.types())
			}
			if !rec.has(engine.ShutdownComp) || !l.srv.has(engine.ShutdownComp) {
				t.Fatalf("client %s server %s, want SHUTDOWN_COMP on both", rec.types(), l.srv.types())
			}
			if who != "both" {
				peer := l.srv
				if who == "server" {
					peer = rec
				}
				if !peer.has(engine.ShutdownEvent) {
					t.Fatalf("the peer of the closer got no SHUTDOWN_EVENT: %s", peer.types())
				}
			}
			if n := l.cn.Host.Stats().CurrEstab + l.sn.Host.Stats().CurrEstab; n != 0 {
				t.Fatalf("CurrEstab %d after shutdown", n)
			}
		})
	}
}

func TestAbortCarriesCausesByteExact(t *testing.T) {
	reason := []byte("sctpgw: egress peer unreachable \x00\xff")
	for _, who := range []string{"client", "server"} {
		t.Run(who, func(t *testing.T) {
			l := newLab(t, 10, link.Native, engine.Config{})
			a, rec := l.up(engine.Config{})
			from, to := a, l.srv
			self := rec
			if who == "server" {
				from, to, self = l.srv.assoc, rec, l.srv
			}
			from.Abort(l.net.Now(), &wire.UserInitiatedAbortCause{Reason: reason}, &wire.InvalidStreamCause{StreamID: 9})
			if !l.net.RunUntil(to.ended, time.Minute) {
				t.Fatal("peer never saw the abort")
			}
			ev := to.find(engine.CommLost)
			if ev == nil || ev.Err != engine.ErrPeerAborted {
				t.Fatalf("peer events %s", to.types())
			}
			want := wire.AppendCauses(nil, []wire.Cause{&wire.UserInitiatedAbortCause{Reason: reason}, &wire.InvalidStreamCause{StreamID: 9}})
			if !bytes.HasPrefix(want, ev.CauseBytes) || len(want)-len(ev.CauseBytes) > 3 {
				t.Fatalf("cause bytes %x, want %x", ev.CauseBytes, want)
			}
			uia, ok := ev.Causes[0].(*wire.UserInitiatedAbortCause)
			if !ok || !bytes.Equal(uia.Reason, reason) {
				t.Fatalf("decoded causes %#v", ev.Causes)
			}
			if lost := self.find(engine.CommLost); lost == nil || lost.Err != engine.ErrAborted {
				t.Fatalf("aborting side events %s", self.types())
			}
		})
	}
}
