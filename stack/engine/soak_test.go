package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// TestSoakLifecycle runs many seeded random schedules of open, data,
// shutdown, abort and crash under loss, duplication and reordering. Every
// association must end, on both sides, with events that match, and leave
// nothing behind. A failing seed replays exactly: go test -run
// TestSoakLifecycle/seed=N.
func TestSoakLifecycle(t *testing.T) {
	seeds := 1000
	if testing.Short() {
		seeds = 100
	}
	for seed := 0; seed < seeds; seed++ {
		seed := uint64(seed)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			soakOne(t, seed)
		})
	}
}

func soakOne(t *testing.T, seed uint64) {
	kind := link.Native
	if seed%2 == 1 {
		kind = link.UDP
	}
	cfg := engine.Config{PeerAddr: engine.PeerAddrParams{HBInterval: 5 * time.Second}, NoDelay: true}
	l := newLab(t, seed, kind, cfg)
	r := l.net.Rand()
	loss := []float64{0, 0.01, 0.05, 0.2}[r.IntN(4)]
	for _, nd := range []*simNode{l.cn, l.sn} {
		nd.Imp.Loss = loss
		nd.Imp.Duplicate = 0.02
		nd.Imp.Reorder = 0.05
		nd.Imp.Delay = time.Duration(1+r.IntN(50)) * time.Millisecond
	}
	traceNet(t, l)
	a, crec := l.dial(cfg)
	if !l.net.RunUntil(func() bool {
		return crec.ended() || (crec.has(engine.CommUp) && l.srv != nil && l.srv.has(engine.CommUp))
	}, 10*time.Minute) {
		t.Fatalf("handshake neither finished nor failed: %s", crec.types())
	}
	if crec.ended() {
		// Possible at 20% loss: then the server must not hold a half-open
		// association forever either.
		l.net.RunFor(10 * time.Minute)
		if l.srv != nil && !l.srv.ended() {
			t.Fatalf("client gave up (%s), server association left: %s", crec.types(), l.srv.types())
		}
		return
	}
	srec := l.srv
	// Some data both ways.
	nmsg := r.IntN(20)
	for i := 0; i < nmsg; i++ {
		payload := []byte(fmt.Sprintf("c%d-%d", seed, i))
		if err := a.Send(l.net.Now(), payload, engine.SndInfo{Stream: uint16(i % 3), PPID: 18}); err != nil {
			t.Fatal(err)
		}
		if err := srec.assoc.Send(l.net.Now(), []byte(fmt.Sprintf("s%d-%d", seed, i)), engine.SndInfo{Stream: uint16(i % 2)}); err != nil {
			t.Fatal(err)
		}
		l.net.RunFor(time.Duration(r.IntN(30)) * time.Millisecond)
	}
	scenario := r.IntN(6)
	now := l.net.Now()
	switch scenario {
	case 0:
		a.Shutdown(now)
	case 1:
		srec.assoc.Shutdown(now)
	case 2:
		a.Shutdown(now)
		srec.assoc.Shutdown(now)
	case 3:
		a.Abort(now)
	case 4:
		srec.assoc.Abort(now)
	case 5:
		l.sn.Down = true
	}
	if !l.net.RunUntil(func() bool { return crec.ended() && (scenario == 5 || srec.ended()) }, time.Hour) {
		t.Fatalf("scenario %d, loss %v: not ended: client %s server %s (states %v %v)", scenario, loss, crec.types(), srec.types(), a.State(), srec.assoc.State())
	}
	switch scenario {
	case 0, 1, 2:
		if !crec.has(engine.ShutdownComp) || !srec.has(engine.ShutdownComp) {
			t.Fatalf("scenario %d loss %v: client %s server %s", scenario, loss, crec.types(), srec.types())
		}
		// Graceful: everything sent before the shutdown arrived, once.
		if len(crec.msgs) != nmsg || len(srec.msgs) != nmsg {
			t.Fatalf("scenario %d: delivered %d/%d messages, want %d each", scenario, len(srec.msgs), len(crec.msgs), nmsg)
		}
	case 3, 4:
		self, peer := crec, srec
		if scenario == 4 {
			self, peer = srec, crec
		}
		if ev := self.find(engine.CommLost); ev == nil || ev.Err != engine.ErrAborted {
			t.Fatalf("aborting side: %s", self.types())
		}
		if peer.find(engine.CommLost) == nil {
			t.Fatalf("peer of the aborter: %s", peer.types())
		}
	case 5:
		if ev := crec.find(engine.CommLost); ev == nil || ev.Err != engine.ErrPeerUnreachable {
			t.Fatalf("client of a dead server: %s", crec.types())
		}
	}
	for _, rec := range []*recorder{crec, srec} {
		if rec.count(engine.CommUp) != 1 {
			t.Fatalf("COMM_UP %d times: %s", rec.count(engine.CommUp), rec.types())
		}
	}
	if scenario != 5 {
		l.net.RunFor(time.Minute) // let retransmitted stragglers die out
	}
	nodes := []*simNode{l.cn, l.sn}
	if scenario == 5 {
		nodes = nodes[:1] // the crashed server keeps its state, frozen
	}
	for _, nd := range nodes {
		n := 0
		nd.Host.Associations(func(*engine.Association) { n++ })
		if n != 0 {
			t.Fatalf("%d associations left on %v", n, nd.Addr)
		}
		if _, ok := nd.Host.NextDeadline(); ok {
			t.Fatalf("timers left on %v", nd.Addr)
		}
		if st := nd.Host.Stats(); st.CurrEstab != 0 {
			t.Fatalf("CurrEstab %d on %v", st.CurrEstab, nd.Addr)
		}
	}
}
