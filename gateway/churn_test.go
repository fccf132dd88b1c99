package gateway_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/sim"
)

// TestSoakChurnFixedPorts is issue 13's churn through an edge and a core:
// eNBs that each reconnect from their own fixed port (the core's native
// side dials the MME from that same port), dial, echo 10 messages, close
// and come back, some within seconds, some around the 5 min port linger,
// for hours of virtual time, on native links that filter by port as
// stack/rawip does. Every association must come up and echo, and at the
// end both gateways hold no pair. A failing seed replays exactly: go test
// -run TestSoakChurnFixedPorts/seed=N.
func TestSoakChurnFixedPorts(t *testing.T) {
	seeds := 2
	if testing.Short() {
		seeds = 1
	}
	for seed := 0; seed < seeds; seed++ {
		seed := uint64(seed)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			churnGateways(t, 1300+seed, 2*time.Hour)
		})
	}
}

// echoer sends every message back on its stream.
type echoer struct{ net *sim.Network }

func (e echoer) HandleEvent(*engine.Association, engine.Event) {}

func (e echoer) HandleSignal(a *engine.Association, s engine.Signal) {
	if s.Type != engine.Readable {
		return
	}
	for i := 0; i < 1000; i++ {
		m, ok := a.Read(e.net.Now())
		if !ok {
			return
		}
		_ = a.Send(e.net.Now(), m.Data, engine.SndInfo{Stream: m.Stream, PPID: m.PPID, Unordered: m.Unordered})
	}
}

// enb is one client that reconnects from its own port.
type enb struct {
	port  uint16
	a     *engine.Association
	rec   *recorder
	next  time.Time
	phase int // 0 idle, 1 dialling, 2 echoing, 3 closing
	sent  int
}

func churnGateways(t *testing.T, seed uint64, span time.Duration) {
	g := newGLab(t, labOpts{seed: seed, filterPorts: true})
	g.mmeAccept = func(r *engine.AcceptRequest) { _ = r.Accept(g.net.Now(), echoer{g.net}) }
	r := g.net.Rand()
	enbs := make([]*enb, 20)
	for i := range enbs {
		enbs[i] = &enb{port: uint16(40000 + i), next: g.net.Now().Add(time.Duration(r.IntN(5000)) * time.Millisecond)}
	}
	end := g.net.Now().Add(span)
	cycles := 0
	for i := 0; i < 10_000_000 && g.net.Now().Before(end); i++ {
		next := end
		for _, e := range enbs {
			if e.next.Before(next) {
				next = e.next
			}
		}
		if d := next.Sub(g.net.Now()); d > 0 {
			g.net.RunFor(d)
		}
		for _, e := range enbs {
			if !g.net.Now().Before(e.next) && e.step(t, g, r) {
				cycles++
			}
		}
	}
	for _, e := range enbs {
		if e.a != nil && e.phase != 3 {
			e.a.Shutdown(g.net.Now())
		}
	}
	g.net.RunFor(time.Minute)
	if n, m := g.edgeGW.Pairs(), g.coreGW.Pairs(); n+m != 0 {
		t.Fatalf("seed %d: after the churn, edge holds %d pairs, core %d", seed, n, m)
	}
	if cycles < 20*50 {
		t.Fatalf("seed %d: only %d cycles", seed, cycles)
	}
	t.Logf("seed %d: %d associations over %v through edge and core, %d packets filtered", seed, cycles, span, g.net.Filtered)
}

// step moves the eNB on by one phase and reports whether it finished a
// cycle. It fails the test if an association does not come up within
// its handshake budget or does not echo.
func (e *enb) step(t *testing.T, g *glab, r *rand.Rand) bool {
	t.Helper()
	now := g.net.Now()
	at := now.Sub(sim.Epoch)
	switch e.phase {
	case 0:
		e.a, e.rec = g.dial(e.port, engine.Config{})
		e.phase, e.next, e.sent = 1, now.Add(5*time.Second), 0
	case 1:
		if !e.rec.has(engine.CommUp) {
			t.Fatalf("at %v: eNB port %d not up after 5 s: %s (%d packets filtered)", at, e.port, e.rec.types(), g.net.Filtered)
		}
		for i := 0; i < 10; i++ {
			if err := e.a.Send(now, []byte(fmt.Sprintf("%d-%d", e.port, i)), engine.SndInfo{Stream: uint16(i % 2), PPID: 18}); err != nil {
				t.Fatalf("at %v: send: %v", at, err)
			}
		}
		e.sent = 10
		e.phase, e.next = 2, now.Add(2*time.Second)
	case 2:
		if len(e.rec.msgs) != e.sent {
			t.Fatalf("at %v: eNB port %d: %d/%d echoes", at, e.port, len(e.rec.msgs), e.sent)
		}
		if r.IntN(8) == 0 {
			e.a.Abort(now)
		} else {
			e.a.Shutdown(now)
		}
		e.phase, e.next = 3, now.Add(5*time.Second)
	case 3:
		if !e.rec.ended() {
			t.Fatalf("at %v: eNB port %d not closed after 5 s: %s", at, e.port, e.rec.types())
		}
		gap := time.Duration(r.IntN(3000)) * time.Millisecond
		if r.IntN(10) == 0 {
			gap = time.Duration(4*60+r.IntN(2*60)) * time.Second // around the port linger
		}
		e.a, e.phase, e.next = nil, 0, now.Add(gap)
		return true
	}
	return false
}
