package gateway_test

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// The second networks of the multi-homed lab: the eNB and the edge on
// 198.18.5.0/24 besides 198.18.1.0/24, the core and the MME on
// 198.18.6.0/24 besides 198.18.2.0/24. The tunnel between edge and core
// stays single-path (RFC 6951 5.7).
var (
	enbAddr2    = netip.MustParseAddr("198.18.5.10")
	edgeNative2 = netip.MustParseAddr("198.18.5.1")
	coreNative2 = netip.MustParseAddr("198.18.6.1")
	mmeAddr2    = netip.MustParseAddr("198.18.6.10")
)

// mhGLab is the eNB-edge-core-MME lab with both native legs multi-homed:
// the edge route listens on two addresses, the core route forwards to the
// MME's two addresses from two of its own, and eNB and MME list theirs.
type mhGLab struct {
	*glab
	enbRec *echoRec
	mmeRec *echoRec
	enb    *engine.Association
}

// echoRec reads every message, counts each index once, and echoes when
// told to (the MME).
type echoRec struct {
	net    *sim.Network
	echo   bool
	seen   map[uint64]int
	dups   int
	events []engine.Event
	held   [][]byte
}

func (e *echoRec) HandleEvent(a *engine.Association, ev engine.Event) {
	e.events = append(e.events, ev)
}

func (e *echoRec) HandleSignal(a *engine.Association, s engine.Signal) {
	switch s.Type {
	case engine.Readable:
		for i := 0; i < 1_000_000; i++ {
			m, ok := a.Read(e.net.Now())
			if !ok {
				break
			}
			idx := binary.BigEndian.Uint64(m.Data)
			if e.seen == nil {
				e.seen = map[uint64]int{}
			}
			if e.seen[idx]++; e.seen[idx] > 1 {
				e.dups++
			}
			if e.echo {
				e.held = append(e.held, m.Data)
			}
		}
		fallthrough
	case engine.Writable:
		for len(e.held) > 0 && a.Send(e.net.Now(), e.held[0], engine.SndInfo{PPID: 18}) == nil {
			e.held = e.held[1:]
		}
	}
}

func (e *echoRec) find(t engine.EventType) *engine.Event {
	for i := range e.events {
		if e.events[i].Type == t {
			return &e.events[i]
		}
	}
	return nil
}

func (e *echoRec) addrChanges() []engine.Event {
	var r []engine.Event
	for _, ev := range e.events {
		if ev.Type == engine.PeerAddrChange && ev.AddrChange != engine.AddrConfirmed {
			r = append(r, ev)
		}
	}
	return r
}

func newMHGLab(t *testing.T, seed uint64) *mhGLab {
	t.Helper()
	x := &mhGLab{}
	x.glab = newGLab(t, labOpts{seed: seed, noMME: true, routeFn: func(edge, core *gateway.Route) {
		edge.Ingress.LocalAddrs = []netip.Addr{edgeNative, edgeNative2}
		core.ForwardMore = []netip.Addr{mmeAddr2}
		core.Egress.LocalAddrs = []netip.Addr{coreNative, coreNative2}
	}})
	g := x.glab
	g.enb.Ifaces[0].More = []netip.Addr{enbAddr2}
	g.edge.Ifaces[0].More = []netip.Addr{edgeNative2}
	g.core.Ifaces[1].More = []netip.Addr{coreNative2}
	g.mme.Ifaces[0].More = []netip.Addr{mmeAddr2}
	x.mmeRec = &echoRec{net: g.net, echo: true}
	mcfg := engine.Config{NoDelay: true, LocalAddrs: []netip.Addr{mmeAddr, mmeAddr2}}
	if err := g.mme.Host.Listen(s1ap, mcfg, engine.AcceptFunc(func(r *engine.AcceptRequest) {
		r.Accept(g.net.Now(), x.mmeRec)
	})); err != nil {
		t.Fatal(err)
	}
	x.enbRec = &echoRec{net: g.net}
	ecfg := engine.Config{NoDelay: true, LocalAddrs: []netip.Addr{enbAddr, enbAddr2}}
	a, err := g.enb.Host.Dial(0, link.Path{Local: enbAddr, Remote: edgeNative}, 0, s1ap, ecfg, x.enbRec, g.net.Now())
	if err != nil {
		t.Fatal(err)
	}
	x.enb = a
	// Up, and every native path verified on both legs.
	allActive := func(a *engine.Association) bool {
		st := a.Status()
		for _, p := range st.Paths {
			if p.State != engine.PathActive {
				return false
			}
		}
		return len(st.Paths) == 2
	}
	if !g.net.RunUntil(func() bool {
		in, out := x.sides()
		return a.State() == engine.StateEstablished && in != nil && out != nil && allActive(a) && allActive(in) && allActive(out)
	}, time.Minute) {
		t.Fatalf("lab not up with every path confirmed: eNB %v %+v", a.State(), a.Status().Paths)
	}
	return x
}

// sides returns the edge's ingress association and the core's egress one.
func (x *mhGLab) sides() (in, out *engine.Association) {
	x.edge.Host.Associations(func(a *engine.Association) {
		if k, _ := a.Path(); k == 0 {
			in = a
		}
	})
	x.core.Host.Associations(func(a *engine.Association) {
		if k, _ := a.Path(); k == 1 {
			out = a
		}
	})
	return in, out
}

func (x *mhGLab) down(down bool, addrs ...netip.Addr) {
	for _, a := range addrs {
		x.net.SetAddrDown(a, down)
	}
}

// TestMultihomedLegs: an eNB and an MME with two addresses each, the
// edge's route listening on two, the core's forwarding to the MME's two
// from two of its own, S1AP-like requests echoed by the MME. A network of
// the eNB's leg fails and comes back, then one of the MME's leg: each leg
// fails over and back on its own, the other leg's peer hears nothing of it
// (no PEER_ADDR_CHANGE, no abort), and every request and every answer
// arrives exactly once. Then the MME's leg loses both its networks: the
// pair is aborted toward the eNB with a reason naming the egress leg.
func TestMultihomedLegs(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			x := newMHGLab(t, seed)
			sent := 0
			send := func(n int) {
				for ; n > 0; n-- {
					b := make([]byte, 120)
					binary.BigEndian.PutUint64(b, uint64(sent))
					if x.enb.Send(x.net.Now(), b, engine.SndInfo{PPID: 18}) != nil {
						return
					}
					sent++
				}
			}
			phase := func(d time.Duration) {
				for end := x.net.Now().Add(d); x.net.Now().Before(end); {
					send(1)
					x.net.RunFor(20 * time.Millisecond)
				}
			}
			phase(2 * time.Second)
			mmeEvents := len(x.mmeRec.addrChanges())
			// The eNB's first network fails for 40 s.
			x.down(true, enbAddr, edgeNative)
			phase(40 * time.Second)
			if seed == 0 {
				// Status lists every path of each leg with its state.
				var snap gateway.Snapshot
				x.edgeGW.EachPair(func(p gateway.PairStatus) { snap.Pairs = append(snap.Pairs, p) })
				out := gateway.FormatSnapshot(snap)
				for _, want := range []string{"path 198.18.1.1 -> 198.18.1.10 potentially-failed primary", "path 198.18.5.1 -> 198.18.5.10 active"} {
					if !strings.Contains(out, want) {
						t.Errorf("status does not show %q:\n%s", want, out)
					}
				}
				t.Logf("edge status with the eNB's first network down:\n%s", out)
			}
			x.down(false, enbAddr, edgeNative)
			phase(40 * time.Second)
			if n := len(x.mmeRec.addrChanges()); n != mmeEvents {
				t.Fatalf("the MME heard of the eNB leg's failure: %v", x.mmeRec.addrChanges()[mmeEvents:])
			}
			if !hasChange(x.enbRec.addrChanges(), edgeNative, engine.AddrUnreachable) || !hasChange(x.enbRec.addrChanges(), edgeNative, engine.AddrAvailable) {
				t.Fatalf("the eNB's path to %v: %v, want it unreachable and available again", edgeNative, x.enbRec.addrChanges())
			}
			enbEvents := len(x.enbRec.addrChanges())
			// The MME's first network fails for 40 s.
			x.down(true, mmeAddr, coreNative)
			phase(40 * time.Second)
			x.down(false, mmeAddr, coreNative)
			phase(40 * time.Second)
			if n := len(x.enbRec.addrChanges()); n != enbEvents {
				t.Fatalf("the eNB heard of the MME leg's failure: %v", x.enbRec.addrChanges()[enbEvents:])
			}
			if x.enbRec.find(engine.CommLost) != nil || x.mmeRec.find(engine.CommLost) != nil {
				t.Fatalf("a path failure ended the pair: eNB %v, MME %v", x.enb.State(), x.mmeRec.events)
			}
			if !x.net.RunUntil(func() bool { return len(x.enbRec.seen) == sent }, time.Minute) {
				t.Fatalf("%d of %d answers came back (the MME got %d)", len(x.enbRec.seen), sent, len(x.mmeRec.seen))
			}
			if x.enbRec.dups != 0 || x.mmeRec.dups != 0 || len(x.mmeRec.seen) != sent {
				t.Fatalf("MME got %d of %d, %d duplicates; eNB %d duplicates", len(x.mmeRec.seen), sent, x.mmeRec.dups, x.enbRec.dups)
			}
			// Both of the MME's networks fail: the pair ends, saying why.
			x.down(true, mmeAddr, coreNative, mmeAddr2, coreNative2)
			if !x.net.RunUntil(func() bool { return x.enbRec.find(engine.CommLost) != nil }, 10*time.Minute) {
				t.Fatalf("the eNB's association outlived the MME leg: %v", x.enb.State())
			}
			ev := x.enbRec.find(engine.CommLost)
			reason := ""
			for _, c := range ev.Causes {
				if u, ok := c.(*wire.UserInitiatedAbortCause); ok {
					reason = string(u.Reason)
				}
			}
			if !strings.Contains(reason, "egress peer unreachable") || !strings.Contains(reason, "all 2 paths failed") {
				t.Fatalf("the eNB's association ended with %v, reason %q; want the egress leg named", ev.Err, reason)
			}
		})
	}
}

func hasChange(evs []engine.Event, addr netip.Addr, c engine.AddrChange) bool {
	for _, ev := range evs {
		if ev.Path.Remote == addr && ev.AddrChange == c {
			return true
		}
	}
	return false
}
