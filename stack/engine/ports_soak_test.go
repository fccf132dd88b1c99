package engine_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
)

// TestSoakPortChurn: hours of virtual time of associations dialled from a
// few fixed local ports, over links that filter by port as a native link
// does, with random holds and gaps around the 5 minute port linger, ended
// by either side's SHUTDOWN or ABORT. Every association must come up and
// carry its echoes, and every port an association uses must be open on its
// link the whole time. A failing seed replays exactly: go test -run
// TestSoakPortChurn/seed=N.
func TestSoakPortChurn(t *testing.T) {
	for seed := 0; seed < soakSeeds(20); seed++ {
		seed := uint64(seed)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			churnOne(t, seed, 3*time.Hour)
		})
	}
}

// echoServer accepts every association and sends each message back.
type echoServer struct{ net *sim.Network }

func (e echoServer) Accept(r *engine.AcceptRequest) { _ = r.Accept(e.net.Now(), e) }

func (e echoServer) HandleEvent(*engine.Association, engine.Event) {}

func (e echoServer) HandleSignal(a *engine.Association, s engine.Signal) {
	if s.Type != engine.Readable {
		return
	}
	for i := 0; i < 1000; i++ {
		m, ok := a.Read(e.net.Now())
		if !ok {
			return
		}
		_ = a.Send(e.net.Now(), m.Data, engine.SndInfo{Stream: m.Stream, PPID: m.PPID})
	}
}

// churnSlot is one client that dials, echoes, ends and waits, over and over.
type churnSlot struct {
	a     *engine.Association
	rec   *recorder
	port  uint16
	next  time.Time // when the slot acts next
	phase int       // 0 idle, 1 up and holding, 2 ending
	sent  int
	how   int // how it ends: 0 client SHUTDOWN, 1 server SHUTDOWN, 2 client ABORT, 3 server ABORT
}

func churnOne(t *testing.T, seed uint64, span time.Duration) {
	net := sim.New(seed)
	cn := net.AddMultiNode(sim.Iface{Addr: netipAddr("198.18.0.1"), Kind: link.Native, FilterPorts: true})
	sn := net.AddMultiNode(sim.Iface{Addr: netipAddr("198.18.0.2"), Kind: link.Native, FilterPorts: true})
	r := net.Rand()
	for _, nd := range []*sim.Node{cn, sn} {
		nd.Imp.Delay = time.Duration(1+r.IntN(20)) * time.Millisecond
		nd.Imp.Loss = []float64{0, 0, 0.01}[r.IntN(3)]
	}
	cfg := engine.Config{NoDelay: true}
	if err := sn.Host.Listen(serverPort, cfg, echoServer{net}); err != nil {
		t.Fatal(err)
	}
	ports := []uint16{50000, 50001, 50002}
	slots := make([]*churnSlot, 2+r.IntN(3))
	for i := range slots {
		slots[i] = &churnSlot{next: net.Now().Add(time.Duration(r.IntN(60)) * time.Second)}
	}
	end := net.Now().Add(span)
	assocs := 0
	for i := 0; i < 1_000_000 && net.Now().Before(end); i++ {
		next := end
		for _, s := range slots {
			if s.next.Before(next) {
				next = s.next
			}
		}
		// Step at least once a second so the port invariant is checked
		// between the slots' actions too.
		if d := next.Sub(net.Now()); d > time.Second {
			net.RunFor(time.Second)
		} else if d > 0 {
			net.RunFor(d)
		}
		checkPortsOpen(t, seed, cn, slots)
		for _, s := range slots {
			if net.Now().Before(s.next) {
				continue
			}
			if s.act(t, net, cn, sn, r, slots, ports, cfg) {
				assocs++
			}
		}
	}
	if assocs < 20 {
		t.Fatalf("seed %d: only %d associations in %v", seed, assocs, span)
	}
	t.Logf("seed %d: %d associations over %v, %d packets filtered", seed, assocs, span, net.Filtered)
}

// checkPortsOpen fails if a live association's port is not served.
func checkPortsOpen(t *testing.T, seed uint64, cn *sim.Node, slots []*churnSlot) {
	t.Helper()
	for _, s := range slots {
		if s.a != nil && !s.rec.ended() && !cn.Serves(0, s.port) {
			t.Fatalf("seed %d at %v: an association uses port %d but the link was told to close it", seed, cn.Net.Now().Sub(sim.Epoch), s.port)
		}
	}
}

// act runs the slot's next step and reports whether it started an
// association.
func (s *churnSlot) act(t *testing.T, net *sim.Network, cn, sn *sim.Node, r *rand.Rand, slots []*churnSlot, ports []uint16, cfg engine.Config) bool {
	t.Helper()
	now := net.Now()
	at := now.Sub(sim.Epoch)
	switch s.phase {
	case 0: // dial from a port no other slot holds
		s.port = freePort(r, slots, ports)
		if s.port == 0 {
			s.next = now.Add(time.Duration(1+r.IntN(30)) * time.Second)
			return false
		}
		s.rec = &recorder{net: net}
		a, err := cn.Host.Dial(0, cn.PathTo(sn), s.port, serverPort, cfg, s.rec, now)
		if err != nil {
			t.Fatalf("at %v: dial from %d: %v", at, s.port, err)
		}
		s.a, s.rec.assoc, s.sent = a, a, 0
		if !net.RunUntil(func() bool { return s.rec.has(engine.CommUp) || s.rec.ended() }, 2*time.Minute) || !s.rec.has(engine.CommUp) {
			t.Fatalf("at %v: association from port %d did not come up: %s (%d packets filtered)", at, s.port, s.rec.types(), net.Filtered)
		}
		s.phase = 1
		s.how = r.IntN(4)
		// Mostly short holds, some across the linger.
		hold := time.Duration(r.IntN(20)) * time.Second
		if r.IntN(4) == 0 {
			hold = time.Duration(r.IntN(9*60)) * time.Second
		}
		s.next = net.Now().Add(hold)
		return true
	case 1: // echo, then end
		for i := 0; i < 10; i++ {
			if err := s.a.Send(now, []byte(fmt.Sprintf("m%d", s.sent)), engine.SndInfo{Stream: uint16(i % 3)}); err != nil {
				t.Fatalf("at %v: send: %v", at, err)
			}
			s.sent++
		}
		if !net.RunUntil(func() bool { return len(s.rec.msgs) == s.sent }, time.Minute) {
			t.Fatalf("at %v: port %d: %d/%d echoes (%d packets filtered)", at, s.port, len(s.rec.msgs), s.sent, net.Filtered)
		}
		s.rec.msgs = s.rec.msgs[:0]
		s.sent = 0
		s.end(net, sn)
		s.phase = 2
		s.next = net.Now()
	case 2: // wait for the end, then idle around the linger
		if !net.RunUntil(s.rec.ended, 10*time.Minute) {
			t.Fatalf("at %v: port %d: not ended (%d): %s", at, s.port, s.how, s.rec.types())
		}
		s.a, s.phase = nil, 0
		gap := time.Duration(r.IntN(30)) * time.Second
		if r.IntN(2) == 0 {
			gap = time.Duration(4*60+r.IntN(2*60)) * time.Second // around the 5 min linger
		}
		s.next = net.Now().Add(gap)
	}
	return false
}

func (s *churnSlot) end(net *sim.Network, sn *sim.Node) {
	now := net.Now()
	var srv *engine.Association
	sn.Host.Associations(func(a *engine.Association) {
		if a.Status().RemotePort == s.port {
			srv = a
		}
	})
	switch {
	case s.how == 1 && srv != nil:
		srv.Shutdown(now)
	case s.how == 2:
		s.a.Abort(now)
	case s.how == 3 && srv != nil:
		srv.Abort(now)
	default:
		s.a.Shutdown(now)
	}
}

// freePort draws one of ports that no slot's association holds.
func freePort(r *rand.Rand, slots []*churnSlot, ports []uint16) uint16 {
	var free []uint16
	for _, p := range ports {
		held := false
		for _, s := range slots {
			held = held || (s.a != nil && s.port == p)
		}
		if !held {
			free = append(free, p)
		}
	}
	if len(free) == 0 {
		return 0
	}
	return free[r.IntN(len(free))]
}
