package gateway_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// The tests of this file show the contract of a pair, one rule of
// docs/design.md section 2 each; their comments name the rule.

// 2.1: the COOKIE ACK waits for egress; the eNB comes up after the MME.
func TestHandshakeCoupling(t *testing.T) {
	g := newGLab(t, labOpts{seed: 1})
	_, rec := g.up(engine.Config{})
	if g.edgeGW.Pairs() != 1 || g.coreGW.Pairs() != 1 {
		t.Fatalf("pairs edge %d core %d", g.edgeGW.Pairs(), g.coreGW.Pairs())
	}
	_ = rec
}

// 2.1: a refusing target: the eNB's connect fails with the target's own
// ABORT causes, relayed byte for byte through both gateways.
func TestHandshakeRefusedCarriesCause(t *testing.T) {
	g := newGLab(t, labOpts{seed: 2})
	reason := []byte("MME overloaded \x01\x02")
	g.mmeAccept = func(r *engine.AcceptRequest) {
		r.Reject(g.net.Now(), &wire.UserInitiatedAbortCause{Reason: reason}, &wire.OutOfResourceCause{})
	}
	_, rec := g.dial(0, engine.Config{})
	g.net.RunUntil(rec.ended, time.Minute)
	ev := rec.find(engine.CantStartAssoc)
	if ev == nil {
		t.Fatalf("eNB events %s, want CANT_STR_ASSOC", rec.types())
	}
	want := wire.AppendCauses(nil, []wire.Cause{&wire.UserInitiatedAbortCause{Reason: reason}, &wire.OutOfResourceCause{}})
	if !bytes.Equal(padded(ev.CauseBytes), want) {
		t.Fatalf("causes %x, want %x", ev.CauseBytes, want)
	}
	g.net.RunFor(time.Second)
	if g.edgeGW.Pairs()+g.coreGW.Pairs() != 0 {
		t.Fatal("pairs left after a refused connect")
	}
}

func padded(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// 2.1: an unreachable target: the eNB's connect fails with a User-Initiated
// Abort naming the egress side, once the core gives up.
func TestHandshakeUnreachable(t *testing.T) {
	g := newGLab(t, labOpts{seed: 3, noMME: true, routeFn: func(edge, core *gateway.Route) {
		core.Egress.InitMsg.MaxAttempts = 2
	}})
	// The eNB must outlast the core's attempts.
	_, rec := g.dial(0, engine.Config{InitMsg: engine.InitMsg{MaxAttempts: 10}})
	g.net.RunUntil(rec.ended, 10*time.Minute)
	ev := rec.find(engine.CantStartAssoc)
	if ev == nil || len(ev.Causes) != 1 {
		t.Fatalf("eNB events %s", rec.types())
	}
	if uia, ok := ev.Causes[0].(*wire.UserInitiatedAbortCause); !ok || string(uia.Reason) != "sctpgw: egress peer unreachable" {
		t.Fatalf("cause %#v", ev.Causes[0])
	}
}

// 2.1: INITs cost nothing and reach no one: a flood of spoofed INITs makes
// the edge send zero packets on its egress link.
func TestSpoofedInitFloodDialsNothing(t *testing.T) {
	g := newGLab(t, labOpts{seed: 4})
	egressPackets := 0
	g.net.Trace = func(_ time.Time, from, to *simNode, pkt []byte) {
		if from == g.edge && to == g.core {
			egressPackets++
		}
	}
	r := rand.New(rand.NewPCG(4, 4))
	for i := 0; i < 2000; i++ {
		src := netipFrom4(198, 18, byte(r.IntN(256)), byte(1+r.IntN(250)))
		ini := &wire.Init{InitFields: wire.InitFields{InitiateTag: r.Uint32() | 1, ARwnd: 65536, OutStreams: 10, InStreams: 10, InitialTSN: r.Uint32()}}
		pkt := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: uint16(1024 + r.IntN(60000)), DstPort: s1ap}, ini)
		g.edge.Host.HandlePacket(0, link.Path{Local: edgeNative, Remote: src}, pkt, g.net.Now())
		if i%100 == 0 {
			g.net.RunFor(10 * time.Millisecond)
		}
	}
	g.net.RunFor(10 * time.Second)
	n := 0
	g.edge.Host.Associations(func(*engine.Association) { n++ })
	if egressPackets != 0 || n != 0 || g.edgeGW.Pairs() != 0 {
		t.Fatalf("spoofed INITs caused %d egress packets, %d associations, %d pairs", egressPackets, n, g.edgeGW.Pairs())
	}
}

type sentMsg struct {
	info engine.SndInfo
	data []byte
}

func randomMessages(r *rand.Rand, n int, streams uint16, maxSize int) []sentMsg {
	out := make([]sentMsg, n)
	for i := range out {
		size := 1 + r.IntN(maxSize)
		if r.IntN(2) == 0 {
			size = 1 + r.IntN(2000)
		}
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		out[i] = sentMsg{info: engine.SndInfo{Stream: uint16(r.IntN(int(streams))), PPID: 18, Unordered: r.IntN(4) == 0}, data: data}
	}
	return out
}

// send offers messages as the send buffer allows.
type sender struct {
	a    *engine.Association
	msgs []sentMsg
	next int
}

func (s *sender) run(now time.Time) {
	for s.next < len(s.msgs) {
		m := s.msgs[s.next]
		if err := s.a.Send(now, m.data, m.info); err != nil {
			return
		}
		s.next++
	}
}

func checkDelivery(t *testing.T, dir string, sent []sentMsg, got []engine.Message) {
	t.Helper()
	if len(got) != len(sent) {
		t.Fatalf("%s: %d delivered, %d sent", dir, len(got), len(sent))
	}
	type key struct {
		s uint16
		u bool
	}
	want, have := map[key][][]byte{}, map[key][][]byte{}
	for _, m := range sent {
		k := key{m.info.Stream, m.info.Unordered}
		want[k] = append(want[k], append([]byte{byte(m.info.PPID)}, m.data...))
	}
	for _, m := range got {
		k := key{m.Stream, m.Unordered}
		have[k] = append(have[k], append([]byte{byte(m.PPID)}, m.Data...))
	}
	for k, w := range want {
		h := have[k]
		if k.u {
			slices.SortFunc(w, bytes.Compare)
			slices.SortFunc(h, bytes.Compare)
		}
		if len(h) != len(w) {
			t.Fatalf("%s stream %d: %d vs %d", dir, k.s, len(h), len(w))
		}
		for i := range w {
			if !bytes.Equal(w[i], h[i]) {
				t.Fatalf("%s stream %d unordered=%v message %d differs", dir, k.s, k.u, i)
			}
		}
	}
}

// 2.2: messages of 1 B to 200 KiB keep stream, PPID, unordered flag,
// boundaries and per-stream order through both gateways, both ways, under
// loss.
func TestMessagesPreserved(t *testing.T) {
	for seed := uint64(0); seed < 10; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			g := newGLab(t, labOpts{seed: 10 + seed})
			for _, nd := range []*simNode{g.enb, g.edge, g.core, g.mme} {
				nd.Imp.Loss, nd.Imp.Reorder = 0.02, 0.02
			}
			cfg := engine.Config{InitMsg: engine.InitMsg{OutStreams: 8, MaxInStreams: 8}}
			a, rec := g.up(cfg)
			r := g.net.Rand()
			up := &sender{a: a, msgs: randomMessages(r, 20, 8, 200<<10)}
			down := &sender{a: g.mmeRec().a, msgs: randomMessages(r, 20, 8, 200<<10)}
			ok := g.net.RunUntil(func() bool {
				up.run(g.net.Now())
				down.run(g.net.Now())
				return len(g.mmeRec().msgs) == len(up.msgs) && len(rec.msgs) == len(down.msgs)
			}, 10*time.Minute)
			if !ok {
				t.Fatalf("delivered %d/%d up, %d/%d down", len(g.mmeRec().msgs), len(up.msgs), len(rec.msgs), len(down.msgs))
			}
			checkDelivery(t, "eNB->MME", up.msgs, g.mmeRec().msgs)
			checkDelivery(t, "MME->eNB", down.msgs, rec.msgs)
		})
	}
}

// 2.3: a stream the MME did not grant: the eNB gets ERROR cause 1, the
// message is counted and discarded, the association lives on.
func TestStreamMismatch(t *testing.T) {
	g := newGLab(t, labOpts{seed: 20, mmeCfg: engine.Config{InitMsg: engine.InitMsg{MaxInStreams: 2}}})
	a, rec := g.up(engine.Config{InitMsg: engine.InitMsg{OutStreams: 10}})
	a.Send(g.net.Now(), []byte("on stream 5"), engine.SndInfo{Stream: 5, PPID: 18})
	a.Send(g.net.Now(), []byte("on stream 1"), engine.SndInfo{Stream: 1, PPID: 18})
	g.net.RunFor(2 * time.Second)
	ev := rec.find(engine.RemoteError)
	if ev == nil || len(ev.Causes) != 1 {
		t.Fatalf("eNB events %s, want REMOTE_ERROR", rec.types())
	}
	if is, ok := ev.Causes[0].(*wire.InvalidStreamCause); !ok || is.StreamID != 5 {
		t.Fatalf("cause %#v, want Invalid Stream Identifier 5", ev.Causes[0])
	}
	if got := g.mmeRec().msgs; len(got) != 1 || string(got[0].Data) != "on stream 1" {
		t.Fatalf("MME got %d messages", len(got))
	}
	if g.coreGW.Counters().InvalidStreamMsgs != 1 {
		t.Fatalf("core counted %d invalid-stream messages", g.coreGW.Counters().InvalidStreamMsgs)
	}
	if a.State() != engine.StateEstablished {
		t.Fatal("the association did not survive")
	}
}

// 2.4: an MME that stops reading throttles the eNB; the gateways hold no
// more than their configured buffers; nothing is lost or aborted; traffic
// resumes when the MME reads again.
func TestBackpressureEndToEnd(t *testing.T) {
	const buf = 64 << 10
	g := newGLab(t, labOpts{seed: 21, mmeCfg: engine.Config{RecvBuffer: buf}, routeFn: func(edge, core *gateway.Route) {
		for _, r := range []*gateway.Route{edge, core} {
			r.Ingress.RecvBuffer, r.Egress.SendBuffer = buf, buf
			r.Egress.RecvBuffer, r.Ingress.SendBuffer = buf, buf
		}
	}})
	a, _ := g.up(engine.Config{SendBuffer: buf})
	mme := g.mmeRec()
	mme.noRead = true
	msgs := randomMessages(g.net.Rand(), 2000, 4, 1000)
	s := &sender{a: a, msgs: msgs}
	peak := 0
	g.net.RunUntil(func() bool {
		s.run(g.net.Now())
		held := 0
		for _, nd := range []*simNode{g.edge, g.core} {
			nd.Host.Associations(func(x *engine.Association) { held += x.Buffered() + x.Status().Delivered*0 })
		}
		peak = max(peak, held)
		return false
	}, 20*time.Second)
	if s.next == len(msgs) {
		t.Fatal("the eNB queued everything: no backpressure reached it")
	}
	// Two gateways, each holding at most its egress send buffer (plus what
	// sits unread in its ingress receive buffer, bounded by the window).
	if peak > 2*buf+8<<10 {
		t.Fatalf("gateways held %d bytes, bound %d", peak, 2*buf)
	}
	if a.State() != engine.StateEstablished || mme.has(engine.CommLost) {
		t.Fatal("backpressure broke the association")
	}
	mme.noRead = false
	mme.drain()
	if !g.net.RunUntil(func() bool { s.run(g.net.Now()); mme.drain(); return len(mme.msgs) == len(msgs) }, 10*time.Minute) {
		t.Fatalf("after resuming %d of %d arrived", len(mme.msgs), len(msgs))
	}
	checkDelivery(t, "resumed", msgs, mme.msgs)
}

// 2.5: graceful shutdown from either end with data in flight both ways.
func TestGracefulShutdownBothWays(t *testing.T) {
	for _, who := range []string{"eNB", "MME"} {
		for seed := uint64(0); seed < 5; seed++ {
			t.Run(fmt.Sprintf("%s/%d", who, seed), func(t *testing.T) {
				g := newGLab(t, labOpts{seed: 30 + seed})
				for _, nd := range []*simNode{g.enb, g.edge, g.core, g.mme} {
					nd.Imp.Loss = 0.02
				}
				a, rec := g.up(engine.Config{})
				mme := g.mmeRec()
				r := g.net.Rand()
				up, down := randomMessages(r, 15, 4, 20<<10), randomMessages(r, 15, 4, 20<<10)
				for _, m := range up {
					if err := a.Send(g.net.Now(), m.data, m.info); err != nil {
						t.Fatal(err)
					}
				}
				for _, m := range down {
					if err := mme.a.Send(g.net.Now(), m.data, m.info); err != nil {
						t.Fatal(err)
					}
				}
				if who == "eNB" {
					a.Shutdown(g.net.Now())
				} else {
					mme.a.Shutdown(g.net.Now())
				}
				if !g.net.RunUntil(func() bool { return rec.ended() && mme.ended() && g.edgeGW.Pairs() == 0 && g.coreGW.Pairs() == 0 }, 10*time.Minute) {
					t.Fatalf("not closed: eNB %s MME %s pairs %d/%d", rec.types(), mme.types(), g.edgeGW.Pairs(), g.coreGW.Pairs())
				}
				if !rec.has(engine.ShutdownComp) || !mme.has(engine.ShutdownComp) {
					t.Fatalf("eNB %s MME %s", rec.types(), mme.types())
				}
				checkDelivery(t, "eNB->MME", up, mme.msgs)
				checkDelivery(t, "MME->eNB", down, rec.msgs)
				if c := g.edgeGW.Counters(); c.AbortedMsgs != 0 {
					t.Fatalf("edge dropped %d", c.AbortedMsgs)
				}
			})
		}
	}
}

// 2.6: an ABORT from either end arrives at the other end with its causes
// byte-identical.
func TestAbortRelayedVerbatim(t *testing.T) {
	reason := []byte("S1AP reset by eNB \x00\xfe")
	for _, who := range []string{"eNB", "MME"} {
		t.Run(who, func(t *testing.T) {
			g := newGLab(t, labOpts{seed: 40})
			a, rec := g.up(engine.Config{})
			mme := g.mmeRec()
			causes := []wire.Cause{&wire.UserInitiatedAbortCause{Reason: reason}, &wire.ProtocolViolationCause{Info: []byte("x")}}
			from, to := a, mme
			if who == "MME" {
				from, to = mme.a, rec
			}
			from.Abort(g.net.Now(), causes...)
			g.net.RunUntil(to.ended, time.Minute)
			ev := to.find(engine.CommLost)
			if ev == nil || !bytes.Equal(padded(ev.CauseBytes), wire.AppendCauses(nil, causes)) {
				t.Fatalf("far end events %s, event %+v", to.types(), ev)
			}
		})
	}
}

// 2.6: a local failure (the MME vanishes) reaches the eNB as a User-Initiated
// Abort naming the side and the cause.
func TestLocalFailureBecomesUserAbort(t *testing.T) {
	g := newGLab(t, labOpts{seed: 41, routeFn: func(edge, core *gateway.Route) {
		core.Egress.Assoc.MaxRetrans = 3
		core.Egress.RTO = engine.RTOInfo{Initial: time.Second, Min: time.Second, Max: 2 * time.Second}
	}})
	a, rec := g.up(engine.Config{})
	g.mme.Down = true
	a.Send(g.net.Now(), []byte("lost in the core"), engine.SndInfo{})
	g.net.RunUntil(rec.ended, 10*time.Minute)
	ev := rec.find(engine.CommLost)
	if ev == nil || len(ev.Causes) != 1 {
		t.Fatalf("eNB events %s", rec.types())
	}
	if uia, ok := ev.Causes[0].(*wire.UserInitiatedAbortCause); !ok || string(uia.Reason) != "sctpgw: egress peer unreachable" {
		t.Fatalf("cause %#v", ev.Causes[0])
	}
}

// 2.7: the eNB restarts and reconnects from the same port: the old pair is
// aborted with a reason and the new association is paired afresh.
func TestPeerRestartRepairs(t *testing.T) {
	g := newGLab(t, labOpts{seed: 42})
	_, _ = g.up(engine.Config{})
	first := g.mmeRec()
	port := first.a.RemotePort() // the eNB's port, kept by both gateways
	g.enb.Restart()
	_, rec := g.dial(port, engine.Config{})
	if !g.net.RunUntil(func() bool { return rec.has(engine.CommUp) }, time.Minute) {
		t.Fatalf("restarted eNB not up: %s", rec.types())
	}
	ev := first.find(engine.CommLost)
	if ev == nil || len(ev.Causes) != 1 {
		t.Fatalf("old MME association: %s", first.types())
	}
	if uia, ok := ev.Causes[0].(*wire.UserInitiatedAbortCause); !ok || string(uia.Reason) != "sctpgw: ingress peer restarted" {
		t.Fatalf("cause %#v", ev.Causes[0])
	}
	if len(g.mmeRecs) != 2 || !g.mmeRec().has(engine.CommUp) {
		t.Fatal("no fresh pair toward the MME")
	}
	if g.edgeGW.Counters().Restarts != 1 {
		t.Fatalf("edge restarts %d", g.edgeGW.Counters().Restarts)
	}
}

// 2.8: draining shuts every pair down gracefully.
func TestDrain(t *testing.T) {
	g := newGLab(t, labOpts{seed: 43})
	var recs []*recorder
	for i := 0; i < 5; i++ {
		_, rec := g.up(engine.Config{})
		recs = append(recs, rec)
	}
	g.edgeGW.Drain(g.net.Now())
	g.edge.Host.HandleTimeout(g.net.Now()) // flush what Drain queued
	g.net.RunUntil(func() bool {
		for _, rec := range recs {
			if !rec.ended() {
				return false
			}
		}
		return g.edgeGW.Pairs() == 0 && g.coreGW.Pairs() == 0
	}, time.Minute)
	for i, rec := range recs {
		if !rec.has(engine.ShutdownComp) {
			t.Fatalf("eNB %d: %s", i, rec.types())
		}
	}
	for i, m := range g.mmeRecs {
		if !m.has(engine.ShutdownComp) {
			t.Fatalf("MME %d: %s", i, m.types())
		}
	}
	// A new connect during the drain is refused with a reason.
	_, rec := g.dial(0, engine.Config{})
	g.net.RunUntil(rec.ended, time.Minute)
	if ev := rec.find(engine.CantStartAssoc); ev == nil {
		t.Fatalf("connect during drain: %s", rec.types())
	}
}
