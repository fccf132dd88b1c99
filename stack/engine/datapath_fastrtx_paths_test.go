package engine_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// scriptedSender drives a two-path client with hand-made SACKs: every
// packet on the wire is dropped, the test records the TSNs the client
// sends and to which address, and acknowledges what it chooses.
type scriptedSender struct {
	t     *testing.T
	l     *mhLab
	to    map[uint32][]netip.Addr // TSN -> the addresses it was sent to, in order
	order []uint32                // TSNs in the order first sent
	cum   uint32
	acked map[uint32]bool // gap-acknowledged, above cum
}

func newScriptedSender(t *testing.T, seed uint64) *scriptedSender {
	l := newMHLab(t, seed, engine.Config{NoDelay: true})
	s := &scriptedSender{t: t, l: l, to: map[uint32][]netip.Addr{}, acked: map[uint32]bool{}}
	s.cum = l.server.RecvCumAck()
	l.net.Offered = func(_ time.Time, from *sim.Node, _ int, p link.Packet) {
		var pk wire.Packet
		if from != l.cn || pk.Unmarshal(p.Buf) != nil {
			return
		}
		for _, c := range pk.Chunks {
			var d wire.Data
			if c.Type == wire.TypeData && d.Unmarshal(c) == nil {
				if len(s.to[d.TSN]) == 0 {
					s.order = append(s.order, d.TSN)
				}
				s.to[d.TSN] = append(s.to[d.TSN], p.Path.Remote)
			}
		}
	}
	drop := func(*sim.Node, []byte) bool { return true }
	l.cn.Imp.Drop, l.sn.Imp.Drop = drop, drop
	return s
}

// send queues n messages of 1000 bytes and lets the client send what its
// windows allow; it returns the TSNs sent for the first time.
func (s *scriptedSender) send(n int) []uint32 {
	s.t.Helper()
	before := len(s.order)
	for range n {
		if err := s.l.client.Send(s.l.net.Now(), make([]byte, 1000), engine.SndInfo{}); err != nil {
			s.t.Fatal(err)
		}
	}
	s.l.net.RunFor(time.Millisecond)
	return slices.Clone(s.order[before:])
}

// sack acknowledges tsns by gap blocks (or cumulatively up to cum, if
// cum is past the ack point) and lets the client answer.
func (s *scriptedSender) sack(cum uint32, tsns ...uint32) {
	s.t.Helper()
	for _, t := range tsns {
		s.acked[t] = true
	}
	if serialAbove(cum, s.cum) {
		s.cum = cum
	}
	var gaps []wire.GapBlock
	for off := uint32(1); off < 1<<10; off++ {
		if !s.acked[s.cum+off] {
			continue
		}
		if n := len(gaps); n > 0 && uint32(gaps[n-1].End)+1 == off {
			gaps[n-1].End++
		} else {
			gaps = append(gaps, wire.GapBlock{Start: uint16(off), End: uint16(off)})
		}
	}
	local, _ := s.l.client.Tags()
	buf := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: serverPort, DstPort: s.l.client.LocalPort(), VerificationTag: local},
		&wire.Sack{CumTSNAck: s.cum, ARwnd: 1 << 20, GapBlocks: gaps})
	s.l.cn.Host.HandlePacket(0, link.Path{Local: mhClient1, Remote: mhServer1}, buf, s.l.net.Now())
	s.l.net.RunFor(time.Millisecond)
}

// ssthresh is the client's ssthresh toward addr.
func (s *scriptedSender) ssthresh(addr netip.Addr) int {
	for _, p := range s.l.client.Status().Paths {
		if p.Path.Remote == addr {
			return p.Ssthresh
		}
	}
	s.t.Fatalf("no path to %v", addr)
	return 0
}

// lose3 reports TSN first missing in three SACKs that each acknowledge one
// more of the TSNs after it: the third marks it for Fast Retransmit.
func (s *scriptedSender) lose3(tsns []uint32) {
	s.t.Helper()
	if len(tsns) < 4 {
		s.t.Fatalf("only %d TSNs sent (%v): need 4 to make three miss indications", len(tsns), tsns)
	}
	for _, t := range tsns[1:4] {
		s.sack(s.cum, t)
	}
	if n := len(s.to[tsns[0]]); n != 2 {
		s.t.Fatalf("TSN %d sent %d times after three miss indications, want a fast retransmission", tsns[0], n)
	}
}

// TestFastRetransmitHalvesOnlyTheDestinationsThatStartIt: RFC 9260 7.2.4
// step 2 (and 7.2.3) adjust cwnd and ssthresh on entering Fast Recovery
// for the destinations the chunks marked then were last sent to. Here a
// chunk sent to the second address is marked while the association is
// already in Fast Recovery (entered for a loss on the first), which must
// lower nothing (step 2: not in Fast Recovery only). After Fast Recovery
// ends, a loss on the first address enters it again: only the first
// destination's ssthresh may fall. The engine remembered the second
// destination's mark from the earlier Fast Recovery and halved it too.
func TestFastRetransmitHalvesOnlyTheDestinationsThatStartIt(t *testing.T) {
	s := newScriptedSender(t, 47)
	initial := s.ssthresh(mhServer2)

	// Fast Recovery for a loss toward the first address.
	first := s.send(4)
	for _, tsn := range first {
		if s.to[tsn][0] != mhServer1 {
			t.Fatalf("TSN %d went to %v, want the primary %v", tsn, s.to[tsn][0], mhServer1)
		}
	}
	p1 := s.ssthresh(mhServer1)
	s.lose3(first)
	if got := s.ssthresh(mhServer1); got == p1 {
		t.Fatalf("entering Fast Recovery left the first destination's ssthresh at %d", got)
	}

	// In Fast Recovery (the first TSN is still missing), a loss toward
	// the second address: marked, retransmitted, nothing lowered.
	if err := s.l.client.SetPrimary(s.l.net.Now(), mhServer2); err != nil {
		t.Fatal(err)
	}
	second := s.send(4)
	for _, tsn := range second {
		if s.to[tsn][0] != mhServer2 {
			t.Fatalf("TSN %d went to %v, want the new primary %v", tsn, s.to[tsn][0], mhServer2)
		}
	}
	s.lose3(second)
	if got := s.ssthresh(mhServer2); got != initial {
		t.Fatalf("a Fast Retransmit within Fast Recovery changed the second destination's ssthresh %d -> %d", initial, got)
	}

	// Everything acknowledged: Fast Recovery is over.
	s.sack(s.order[len(s.order)-1])
	if st := s.l.client.Status(); st.Unacked != 0 {
		t.Fatalf("%d chunks unacknowledged", st.Unacked)
	}
	if err := s.l.client.SetPrimary(s.l.net.Now(), mhServer1); err != nil {
		t.Fatal(err)
	}

	// A new loss toward the first address starts Fast Recovery again:
	// its own destination is adjusted (its ssthresh is at the 4*PMDCS
	// floor already, so that shows no change), the second is not.
	s.lose3(s.send(4))
	if got := s.ssthresh(mhServer2); got != initial {
		t.Errorf("the second Fast Recovery, started by a loss toward %v alone, changed %v's ssthresh %d -> %d", mhServer1, mhServer2, initial, got)
	}
}
