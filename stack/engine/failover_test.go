package engine_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// Two multi-homed hosts on two networks: 198.18.1.0/24 (the primary path)
// and 198.18.5.0/24.
var (
	mhClient1, mhClient2 = netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.5.1")
	mhServer1, mhServer2 = netip.MustParseAddr("198.18.1.2"), netip.MustParseAddr("198.18.5.2")
)

// mhLab is a client and a server with two addresses each, both endpoints
// listing them (Config.LocalAddrs), so each side has a path to each of the
// other's addresses.
type mhLab struct {
	t      *testing.T
	net    *sim.Network
	cn, sn *sim.Node
	client *engine.Association
	crec   *echoCheck // the client's handler: counts echoes
	srec   *echoCheck // the server's: echoes what it reads
	server *engine.Association
}

func newMHLab(t *testing.T, seed uint64, cfg engine.Config) *mhLab {
	t.Helper()
	l := &mhLab{t: t, net: sim.New(seed)}
	l.cn = l.net.AddMultiNode(sim.Iface{Addr: mhClient1, More: []netip.Addr{mhClient2}, Kind: link.Native})
	l.sn = l.net.AddMultiNode(sim.Iface{Addr: mhServer1, More: []netip.Addr{mhServer2}, Kind: link.Native})
	l.srec = &echoCheck{net: l.net, echo: true}
	l.crec = &echoCheck{net: l.net}
	scfg := cfg
	scfg.LocalAddrs = []netip.Addr{mhServer1, mhServer2}
	if err := l.sn.Host.Listen(serverPort, scfg, engine.AcceptFunc(func(r *engine.AcceptRequest) {
		l.server = r.Association()
		if err := r.Accept(l.net.Now(), l.srec); err != nil {
			t.Fatal(err)
		}
	})); err != nil {
		t.Fatal(err)
	}
	ccfg := cfg
	ccfg.LocalAddrs = []netip.Addr{mhClient1, mhClient2}
	a, err := l.cn.Host.Dial(0, link.Path{Local: mhClient1, Remote: mhServer1}, 0, serverPort, ccfg, l.crec, l.net.Now())
	if err != nil {
		t.Fatal(err)
	}
	l.client = a
	if os.Getenv("SIMTRACE") != "" {
		l.net.Offered = func(now time.Time, from *sim.Node, _ int, p link.Packet) {
			var pk wire.Packet
			_ = pk.Unmarshal(p.Buf)
			s := ""
			for _, c := range pk.Chunks {
				s += c.Type.String() + " "
			}
			t.Logf("%v %v %s", now.Sub(sim.Epoch), p.Path, s)
		}
	}
	// Up, with every path confirmed on both sides.
	confirmed := func(a *engine.Association) bool {
		if a == nil {
			return false
		}
		st := a.Status()
		for _, p := range st.Paths {
			if p.State != engine.PathActive {
				return false
			}
		}
		return len(st.Paths) == 2
	}
	if !l.net.RunUntil(func() bool { return confirmed(l.client) && confirmed(l.server) }, time.Minute) {
		t.Fatalf("paths not all confirmed: client %+v", l.client.Status().Paths)
	}
	return l
}

// echoCheck is a Handler that reads every message, checks each index
// arrives once, and (echo) sends it back.
type echoCheck struct {
	net    *sim.Network
	echo   bool
	seen   map[uint64]int
	dups   int
	events []engine.Event
	at     []time.Time // when each of events came
	held   [][]byte    // echoes the send buffer did not take yet
}

func (e *echoCheck) HandleEvent(a *engine.Association, ev engine.Event) {
	e.events = append(e.events, ev)
	e.at = append(e.at, e.net.Now())
}

func (e *echoCheck) HandleSignal(a *engine.Association, s engine.Signal) {
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
		e.flush(a)
	case engine.Writable:
		e.flush(a)
	}
}

func (e *echoCheck) flush(a *engine.Association) {
	for len(e.held) > 0 {
		if a.Send(e.net.Now(), e.held[0], engine.SndInfo{PPID: 18}) != nil {
			return
		}
		e.held = e.held[1:]
	}
}

// addrChanges lists the PEER_ADDR_CHANGEs for addr after its confirmation.
func (e *echoCheck) addrChanges(addr netip.Addr) []engine.AddrChange {
	var c []engine.AddrChange
	for _, ev := range e.events {
		if ev.Type == engine.PeerAddrChange && ev.Path.Remote == addr && ev.AddrChange != engine.AddrConfirmed {
			c = append(c, ev.AddrChange)
		}
	}
	return c
}

func (e *echoCheck) ended() bool {
	for _, ev := range e.events {
		if ev.Type == engine.CommLost || ev.Type == engine.ShutdownComp {
			return true
		}
	}
	return false
}

// TestFailover: the primary path of a two-path association dies in the
// middle of a request/response transfer (both hosts' interfaces on
// 198.18.1.0/24 go down) and comes back 30 s later. At 0, 1 and 5 % loss,
// over many seeds:
//   - new data moves to the other path within Path.Max.Retrans x RTO of the
//     failure (RFC 7829 moves it after the first timeout), both ways;
//   - every message arrives, and comes back, exactly once; the association
//     never ends;
//   - the primary path is reported potentially failed, then unreachable,
//     then available once it answers again, and data goes back to it
//     (failback) within HB.interval + RTO.Max of its return.
//
// A failing seed replays: go test -run 'TestFailover/loss=1%/seed=7'.
func TestFailover(t *testing.T) {
	for _, loss := range []float64{0, 0.01, 0.05} {
		t.Run(fmt.Sprintf("loss=%g%%", loss*100), func(t *testing.T) {
			for seed := range soakSeeds(40) {
				t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
					t.Parallel()
					failoverOne(t, uint64(seed)*7919+uint64(loss*1000), loss, engine.PFOn)
				})
			}
		})
	}
}

// TestFailoverWithoutPF: with RFC 7829 off, RFC 9260 alone moves new data
// only once the primary is inactive (8.2): after Path.Max.Retrans + 1
// timeouts with the RTO doubling up to RTO.Max. Retransmissions still go
// to the other path at once (6.4), so nothing is lost.
func TestFailoverWithoutPF(t *testing.T) {
	for seed := range soakSeeds(10) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			failoverOne(t, uint64(seed)*104729, 0.01, engine.PFOff)
		})
	}
}

const (
	foRTOMin     = time.Second
	foRTOMax     = 5 * time.Second
	foHBInterval = 5 * time.Second
	foPMR        = 5
)

func failoverOne(t *testing.T, seed uint64, loss float64, pf engine.PotentiallyFailed) {
	cfg := engine.Config{
		RTO:      engine.RTOInfo{Initial: time.Second, Min: foRTOMin, Max: foRTOMax},
		PeerAddr: engine.PeerAddrParams{HBInterval: foHBInterval, PathMaxRetrans: foPMR, PotentiallyFailed: pf},
		NoDelay:  true,
	}
	l := newMHLab(t, seed, cfg)
	for _, nd := range []*sim.Node{l.cn, l.sn} {
		nd.Imp.Loss = loss
		nd.Imp.Delay = 10 * time.Millisecond
	}
	// Where each side's new DATA (not retransmissions: 6.4 sends those
	// elsewhere anyway) went after the failure.
	var down, up time.Time
	var firstAlt [2]time.Time  // first new DATA to the other path after the failure, client and server
	var firstBack [2]time.Time // first new DATA to the primary after it came back
	l.onNewData(func(now time.Time, side int, p link.Packet) {
		if down.IsZero() {
			return
		}
		switch {
		case (p.Path.Remote == mhServer2 || p.Path.Remote == mhClient2) && firstAlt[side].IsZero():
			firstAlt[side] = now
		case !up.IsZero() && (p.Path.Remote == mhServer1 || p.Path.Remote == mhClient1) && firstBack[side].IsZero():
			firstBack[side] = now
		}
	})
	const msgs = 6000
	sent := 0
	send := func(upTo int) {
		for sent < upTo {
			b := make([]byte, 200)
			binary.BigEndian.PutUint64(b, uint64(sent))
			if l.client.Send(l.net.Now(), b, engine.SndInfo{PPID: 18}) != nil {
				return
			}
			sent++
		}
	}
	// A message every 20 ms: 60 s of traffic, and more if the primary is
	// not used again by then.
	backOnBoth := func() bool { return !firstBack[0].IsZero() && !firstBack[1].IsZero() }
	start := l.net.Now()
	for i := 0; (l.net.Now().Sub(start) < 70*time.Second || !backOnBoth() && l.net.Now().Sub(start) < 120*time.Second) && i < 100000; i++ {
		el := l.net.Now().Sub(start)
		if el < 60*time.Second || !backOnBoth() {
			send(min(msgs, int(el/(20*time.Millisecond))+1))
		}
		switch {
		case down.IsZero() && el >= 10*time.Second:
			down = l.net.Now()
			l.net.SetAddrDown(mhClient1, true)
			l.net.SetAddrDown(mhServer1, true)
		case up.IsZero() && el >= 40*time.Second:
			up = l.net.Now()
			l.net.SetAddrDown(mhClient1, false)
			l.net.SetAddrDown(mhServer1, false)
		}
		l.net.RunFor(5 * time.Millisecond)
		if l.crec.ended() || l.srec.ended() {
			t.Fatalf("the association ended at %v: client %v, server %v", l.net.Now().Sub(start), l.client.State(), l.server.State())
		}
	}
	if !l.net.RunUntil(func() bool { return len(l.crec.seen) == sent }, 5*time.Minute) {
		t.Fatalf("%d of %d messages came back, %d reached the server", len(l.crec.seen), sent, len(l.srec.seen))
	}
	if l.crec.dups != 0 || l.srec.dups != 0 || len(l.srec.seen) != sent {
		t.Fatalf("server saw %d messages, %d duplicates; client %d duplicates", len(l.srec.seen), l.srec.dups, l.crec.dups)
	}
	bound := foPMR * foRTOMin
	if pf == engine.PFOff {
		// Path.Max.Retrans + 1 timeouts, the RTO doubling to RTO.Max.
		bound = 0
		for i, r := 0, foRTOMin; i <= foPMR; i, r = i+1, min(2*r, foRTOMax) {
			bound += r
		}
		// Timeouts only run while data is outstanding there: the echoing
		// side's may start later.
		bound += 2 * foRTOMax
	}
	for side, at := range firstAlt {
		if at.IsZero() || at.Sub(down) > bound {
			t.Errorf("side %d: new data to the other path %v after the failure, want within %v", side, at.Sub(down), bound)
		}
	}
	t.Logf("new data on the other path after %v (client) and %v (server); back on the primary %v and %v after it returned",
		firstAlt[0].Sub(down), firstAlt[1].Sub(down), firstBack[0].Sub(up), firstBack[1].Sub(up))
	// An inactive path is heartbeated every HB.interval + RTO (backed off
	// to RTO.Max) +/- RTO/2: its first answer brings data back. Under loss
	// a heartbeat or its answer may be lost too: a few more periods.
	backBound := foHBInterval + foRTOMax*3/2
	if loss > 0 {
		backBound *= 4
	}
	for side, at := range firstBack {
		if at.IsZero() || at.Sub(up) > backBound {
			t.Errorf("side %d: data back on the primary %v after it returned, want within %v", side, at.Sub(up), backBound)
		}
	}
	for _, c := range []struct {
		rec  *echoCheck
		addr netip.Addr
	}{{l.crec, mhServer1}, {l.srec, mhClient1}} {
		// Losses may add potentially-failed spells of their own.
		got := c.rec.addrChanges(c.addr)
		want := []engine.AddrChange{engine.AddrPotentiallyFailed, engine.AddrUnreachable, engine.AddrAvailable}
		if pf == engine.PFOff {
			want = want[1:]
		}
		if !subsequence(got, want) || got[len(got)-1] != engine.AddrAvailable {
			t.Errorf("events for %v: %v, want %v in that order, ending available", c.addr, got, want)
		}
	}
	for _, c := range []struct {
		rec  *echoCheck
		addr netip.Addr
	}{{l.crec, mhServer2}, {l.srec, mhClient2}} {
		for _, ch := range c.rec.addrChanges(c.addr) {
			if ch == engine.AddrUnreachable {
				t.Errorf("the path to %v, which never failed, was reported unreachable", c.addr)
			}
		}
	}
	if p := l.client.Status().Primary; p.Path.Remote != mhServer1 || p.State != engine.PathActive {
		t.Errorf("client primary %v %v", p.Path.Remote, p.State)
	}
}

// onNewData has f hear every packet carrying new DATA (a TSN above every one
// its side sent before: not only retransmissions) as the network takes
// it; side 0 is the client, 1 the server.
func (l *mhLab) onNewData(f func(now time.Time, side int, p link.Packet)) {
	var highest [2]uint32
	var seen [2]bool
	l.net.Offered = func(now time.Time, from *sim.Node, _ int, p link.Packet) {
		side := 0
		if from == l.sn {
			side = 1
		}
		tsn, ok := highestTSN(p.Buf)
		if !ok || seen[side] && !serialAbove(tsn, highest[side]) {
			return
		}
		highest[side], seen[side] = tsn, true
		f(now, side, p)
	}
}

// highestTSN is the highest TSN of the DATA chunks in buf, if any.
func highestTSN(buf []byte) (uint32, bool) {
	var pk wire.Packet
	if pk.Unmarshal(buf) != nil {
		return 0, false
	}
	var top uint32
	found := false
	for _, c := range pk.Chunks {
		var d wire.Data
		if c.Type == wire.TypeData && d.Unmarshal(c) == nil && (!found || serialAbove(d.TSN, top)) {
			top, found = d.TSN, true
		}
	}
	return top, found
}

func serialAbove(a, b uint32) bool { return a != b && a-b < 1<<31 }

// subsequence reports whether want appears in got in order.
func subsequence[T comparable](got, want []T) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// TestSackToDataSource: when the primary path fails, a side that only
// receives notices nothing until its next heartbeat; its SACKs must go to
// where the DATA now comes from (6.4), not to its failed primary, or the
// sender would see its alternate path fail too. The client's path to the
// server's second address never becomes potentially failed, and every
// message is acknowledged.
func TestSackToDataSource(t *testing.T) {
	cfg := engine.Config{
		RTO:      engine.RTOInfo{Initial: time.Second, Min: foRTOMin, Max: foRTOMax},
		PeerAddr: engine.PeerAddrParams{HBInterval: 30 * time.Second, PathMaxRetrans: foPMR},
		NoDelay:  true,
	}
	l := newMHLab(t, 11, cfg)
	l.srec.echo = false
	for _, nd := range []*sim.Node{l.cn, l.sn} {
		nd.Imp.Delay = 10 * time.Millisecond
	}
	sent := 0
	for i := 0; i < 1000; i++ {
		if i == 100 {
			l.net.SetAddrDown(mhClient1, true)
			l.net.SetAddrDown(mhServer1, true)
		}
		b := make([]byte, 100)
		binary.BigEndian.PutUint64(b, uint64(sent))
		if err := l.client.Send(l.net.Now(), b, engine.SndInfo{PPID: 18}); err != nil {
			t.Fatal(err)
		}
		sent++
		l.net.RunFor(20 * time.Millisecond)
	}
	l.net.RunFor(5 * time.Second)
	if len(l.srec.seen) != sent || l.client.Status().Outstanding != 0 {
		t.Fatalf("server got %d of %d; client has %d bytes unacknowledged", len(l.srec.seen), sent, l.client.Status().Outstanding)
	}
	if c := l.crec.addrChanges(mhServer2); len(c) != 0 {
		t.Fatalf("client's events for the working path %v: %v: its SACKs went astray", mhServer2, c)
	}
}

// TestAssociationFailsOnlyWithAllPaths: RFC 9260 8.1 against 8.2. With
// Association.Max.Retrans (2) below Path.Max.Retrans (5), losing the
// primary path costs the path, not the association, as acknowledgements
// on the other path keep resetting the association's counter and the
// failed path's heartbeats do not count against it. Losing the other path
// too ends it, as peer unreachable.
func TestAssociationFailsOnlyWithAllPaths(t *testing.T) {
	cfg := engine.Config{
		RTO:      engine.RTOInfo{Initial: time.Second, Min: foRTOMin, Max: foRTOMax},
		Assoc:    engine.AssocParams{MaxRetrans: 2},
		PeerAddr: engine.PeerAddrParams{HBInterval: foHBInterval, PathMaxRetrans: foPMR},
		NoDelay:  true,
	}
	l := newMHLab(t, 12, cfg)
	for _, nd := range []*sim.Node{l.cn, l.sn} {
		nd.Imp.Delay = 10 * time.Millisecond
	}
	l.net.SetAddrDown(mhClient1, true)
	l.net.SetAddrDown(mhServer1, true)
	for i := 0; i < 3000; i++ {
		if i%10 == 0 {
			b := make([]byte, 100)
			binary.BigEndian.PutUint64(b, uint64(i))
			if err := l.client.Send(l.net.Now(), b, engine.SndInfo{PPID: 18}); err != nil {
				t.Fatal(err)
			}
		}
		l.net.RunFor(20 * time.Millisecond)
	}
	if l.crec.ended() || l.srec.ended() {
		t.Fatalf("the association ended with one path left: client %v, server %v", l.client.State(), l.server.State())
	}
	if c := l.crec.addrChanges(mhServer1); !subsequence(c, []engine.AddrChange{engine.AddrUnreachable}) {
		t.Fatalf("client's events for the failed path: %v", c)
	}
	l.net.SetAddrDown(mhClient2, true)
	l.net.SetAddrDown(mhServer2, true)
	if !l.net.RunUntil(func() bool { return l.crec.ended() && l.srec.ended() }, 5*time.Minute) {
		t.Fatalf("with no path left the association lives on: %v / %v", l.client.State(), l.server.State())
	}
	for _, rec := range []*echoCheck{l.crec, l.srec} {
		last := rec.events[len(rec.events)-1]
		if last.Type != engine.CommLost || last.Err != engine.ErrPeerUnreachable {
			t.Fatalf("ended with %v (%v), want COMM_LOST, peer unreachable", last.Type, last.Err)
		}
	}
}

// TestSetPrimary: SCTP_PRIMARY_ADDR moves new data to the address chosen,
// announced with ADDR_MADE_PRIM; an address not the peer's, or not yet
// confirmed (5.4), is refused.
func TestSetPrimary(t *testing.T) {
	l := newMHLab(t, 13, engine.Config{NoDelay: true})
	var to []netip.Addr
	l.net.Offered = func(_ time.Time, from *sim.Node, _ int, p link.Packet) {
		if _, ok := highestTSN(p.Buf); ok && from == l.cn {
			to = append(to, p.Path.Remote)
		}
	}
	if err := l.client.SetPrimary(l.net.Now(), mhServer2); err != nil {
		t.Fatal(err)
	}
	if c := l.crec.addrChanges(mhServer2); len(c) != 1 || c[0] != engine.AddrMadePrimary {
		t.Fatalf("events %v, want ADDR_MADE_PRIM", c)
	}
	for i := range 20 {
		b := make([]byte, 100)
		binary.BigEndian.PutUint64(b, uint64(i))
		if err := l.client.Send(l.net.Now(), b, engine.SndInfo{PPID: 18}); err != nil {
			t.Fatal(err)
		}
		l.net.RunFor(50 * time.Millisecond)
	}
	if len(to) == 0 {
		t.Fatal("no DATA sent")
	}
	for _, a := range to {
		if a != mhServer2 {
			t.Fatalf("DATA went to %v after SetPrimary(%v)", a, mhServer2)
		}
	}
	if st := l.client.Status(); st.Primary.Path.Remote != mhServer2 || !st.Paths[1].Primary || st.Paths[0].Primary {
		t.Fatalf("status primary %v, paths %+v", st.Primary.Path.Remote, st.Paths)
	}
	if err := l.client.SetPrimary(l.net.Now(), netip.MustParseAddr("198.18.9.9")); !errors.Is(err, engine.ErrNoPath) {
		t.Fatalf("SetPrimary to a stranger: %v", err)
	}
	x := acceptMH(t, 14, engine.Config{})
	if err := x.a.SetPrimary(x.now, x.other); !errors.Is(err, engine.ErrUnconfirmed) {
		t.Fatalf("SetPrimary to an unconfirmed address: %v", err)
	}
}

// TestUnreachableCostsThePathOnly: ICMP unreachables quoting packets sent
// on the primary path of a two-path association (a host unreachable from
// the router of a failed network, one per packet) mark that path failed
// and leave the association alive on the other, however many come; on a
// single-homed association they still count against it (section 10).
func TestUnreachableCostsThePathOnly(t *testing.T) {
	l := newMHLab(t, 15, engine.Config{Assoc: engine.AssocParams{MaxRetrans: 3}, PeerAddr: engine.PeerAddrParams{PathMaxRetrans: 2}})
	_, peerTag := l.client.Tags()
	quote := wire.AppendHeader(nil, wire.CommonHeader{SrcPort: l.client.LocalPort(), DstPort: serverPort, VerificationTag: peerTag})
	l.net.SetAddrDown(mhServer1, true) // and heartbeats there go unanswered
	for range 20 {
		l.cn.Host.HandleNotice(0, link.Packet{Path: link.Path{Local: mhClient1, Remote: mhServer1}, Buf: quote, Notice: link.NoticeUnreachable}, l.net.Now())
		l.net.RunFor(10 * time.Millisecond)
	}
	if l.crec.ended() || l.client.State() != engine.StateEstablished {
		t.Fatalf("the association ended on unreachables for one of its paths: %v", l.client.State())
	}
	if p := l.client.Status().Paths[0]; p.Path.Remote != mhServer1 || p.State != engine.PathInactive {
		t.Fatalf("the path the unreachables were about: %+v, want inactive", p)
	}
	if err := l.client.Send(l.net.Now(), make([]byte, 100), engine.SndInfo{PPID: 18}); err != nil {
		t.Fatal(err)
	}
	l.net.RunFor(time.Second)
	if len(l.srec.seen) != 1 {
		t.Fatal("no data over the other path")
	}
}
