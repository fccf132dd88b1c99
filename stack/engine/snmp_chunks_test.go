package engine_test

import (
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// Ordered and unordered DATA chunks sent are counted apart, as
// SctpOutOrderChunks and SctpOutUnorderChunks are, and match what the
// receiver counts in its In counters.
func TestOutOrderAndUnorderChunks(t *testing.T) {
	l := newLab(t, 90, link.UDP, engine.Config{NoDelay: true})
	a, _ := l.up(engine.Config{NoDelay: true})
	before := l.cn.Host.Stats()
	for i := 0; i < 5; i++ {
		if err := a.Send(l.net.Now(), []byte("ordered"), engine.SndInfo{Stream: 0}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		if err := a.Send(l.net.Now(), []byte("unordered"), engine.SndInfo{Stream: 0, Unordered: true}); err != nil {
			t.Fatal(err)
		}
	}
	l.net.RunFor(time.Second)
	c, s := l.cn.Host.Stats(), l.sn.Host.Stats()
	if got := c.OutOrderChunks - before.OutOrderChunks; got != 5 {
		t.Errorf("OutOrderChunks +%d, want 5", got)
	}
	if got := c.OutUnorderChunks - before.OutUnorderChunks; got != 3 {
		t.Errorf("OutUnorderChunks +%d, want 3", got)
	}
	if s.InUnorderChunks != 3 || s.InOrderChunks != 5 {
		t.Errorf("receiver counted %d ordered, %d unordered", s.InOrderChunks, s.InUnorderChunks)
	}
}

// SctpFastRetransmits and SctpT3Retransmits count retransmission events,
// as Linux does: the acknowledgement that marks chunks for Fast
// Retransmit (7.2.4), and a T3-rtx expiry that retransmits (6.3.3 E3).
func TestRetransmitCounters(t *testing.T) {
	s := newScriptedSender(t, 93)
	h := s.l.cn.Host
	s.lose3(s.send(4))
	if st := h.Stats(); st.FastRetransmits != 1 || st.T3Retransmits != 0 || st.T3RtxExpireds != 0 {
		t.Fatalf("after one Fast Retransmit: fast %d, T3 retransmits %d, T3 expiries %d", st.FastRetransmits, st.T3Retransmits, st.T3RtxExpireds)
	}
	// Nothing more is acknowledged: T3-rtx expires and retransmits.
	if !s.l.net.RunUntil(func() bool { return h.Stats().T3RtxExpireds > 0 }, time.Minute) {
		t.Fatal("T3-rtx did not expire")
	}
	if st := h.Stats(); st.T3Retransmits != 1 || st.FastRetransmits != 1 {
		t.Fatalf("after a T3-rtx expiry: T3 retransmits %d, fast %d", st.T3Retransmits, st.FastRetransmits)
	}
}

// One acknowledgement that marks chunks last sent to two destinations
// counts two Fast Retransmits, as Linux counts them (a retransmission per
// transport).
func TestFastRetransmitsCountedPerDestination(t *testing.T) {
	s := newScriptedSender(t, 94)
	h := s.l.cn.Host
	first := s.send(4)
	if err := s.l.client.SetPrimary(s.l.net.Now(), mhServer2); err != nil {
		t.Fatal(err)
	}
	second := s.send(4)
	for _, tsn := range second {
		if s.to[tsn][0] != mhServer2 {
			t.Fatalf("TSN %d went to %v, want %v", tsn, s.to[tsn][0], mhServer2)
		}
	}
	// The first of each destination's chunks is reported missing by three
	// acknowledgements (each newly acknowledging a TSN above both), the
	// third marking both at once.
	s.sack(s.cum, append(first[1:], second[1])...)
	s.sack(s.cum, second[2])
	if st := h.Stats(); st.FastRetransmits != 0 {
		t.Fatalf("%d Fast Retransmits after two miss indications", st.FastRetransmits)
	}
	s.sack(s.cum, second[3])
	if n, m := len(s.to[first[0]]), len(s.to[second[0]]); n != 2 || m != 2 {
		t.Fatalf("TSNs %d and %d sent %d and %d times, want both retransmitted", first[0], second[0], n, m)
	}
	if st := h.Stats(); st.FastRetransmits != 2 {
		t.Fatalf("one acknowledgement marked chunks of two destinations: %d Fast Retransmits counted, want 2", st.FastRetransmits)
	}
}
