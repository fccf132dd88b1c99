package outstanding

import (
	"fmt"
	"testing"
)

// TestProbeTail: the probe is the highest TSN in flight to its
// destination, whatever is gap-acknowledged, marked or sent elsewhere
// above it; it stays in flight, resent (Karn's rule).
func TestProbeTail(t *testing.T) {
	q := sent(0, 0, 0, 1, 0, 0)                     // TSNs 10-15; 13 to destination 1
	if _, err := q.Ack(sack(9, 6, 6)); err != nil { // 15 gap-acknowledged
		t.Fatal(err)
	}
	q.Mark(4) // 14 marked
	flight := q.Flight()
	i, _, ok := q.ProbeTail(0)
	if !ok || q.Chunks()[i].TSN() != 12 {
		t.Fatalf("probe %d (ok %v) in %s, want TSN 12", q.Chunks()[i].TSN(), ok, show(q))
	}
	if got := show(q); got != "10F0 11F0 12F0r 13F1 14M0 15G0" || q.Flight() != flight {
		t.Fatalf("after the probe: %s, flight %d (was %d)", got, q.Flight(), flight)
	}
	if p := &q.Chunks()[i]; !p.Resent() || p.Remarked() {
		t.Fatalf("the probed chunk: resent %v, remarked %v; want resent only (Karn's rule, not 7.2.4 step 4)", p.Resent(), p.Remarked())
	}
	q.Resend(4, 0)
	if p := &q.Chunks()[4]; !p.Remarked() {
		t.Fatal("a chunk marked and resent is not remarked")
	}
	if _, _, ok := q.ProbeTail(2); ok {
		t.Fatal("a probe to a destination with nothing in flight")
	}
	if err := q.Verify(); err != nil {
		t.Fatal(err)
	}
}

// TestProbeTimedChunk: probing the timed chunk forgets its timing (6.3.1
// C5); probing above it keeps it.
func TestProbeTimedChunk(t *testing.T) {
	q := sent(0) // 10, timed
	q.ProbeTail(0)
	if r, _ := q.Ack(sack(10)); r.HasRTT {
		t.Fatalf("a sample %v from the probed chunk", r.RTT)
	}
	q = sent(0, 0) // 10 timed, 11 probed
	q.ProbeTail(0)
	if r, _ := q.Ack(sack(10)); !r.HasRTT {
		t.Fatal("no sample from the timed chunk below the probe")
	}
}

// TestDelivered: the cumulative ack and the gap blocks deliver a TSN;
// in flight, marked and never sent do not.
func TestDelivered(t *testing.T) {
	q := sent(0, 0, 0, 0, 0)                         // 10-14
	if _, err := q.Ack(sack(10, 2, 2)); err != nil { // 10 and 12
		t.Fatal(err)
	}
	q.Mark(2) // 13
	for tsn, want := range map[uint32]bool{8: true, 10: true, 11: false, 12: true, 13: false, 14: false, 15: false, 1 << 31: false} {
		if got := q.Delivered(tsn); got != want {
			t.Errorf("Delivered(%d) = %v in %s", tsn, got, show(q))
		}
	}
}

// TestMarkSentBefore: what left for the probe's destination before the
// probe and is in flight is marked; what left after it (a later
// retransmission), went elsewhere, or is acknowledged or marked already
// is not.
func TestMarkSentBefore(t *testing.T) {
	q := sent(0, 1, 0, 0, 0, 0)                     // 10-15; 11 to destination 1
	if _, err := q.Ack(sack(9, 5, 5)); err != nil { // 14 gap-acknowledged
		t.Fatal(err)
	}
	_, seq, _ := q.ProbeTail(0) // 15
	q.Mark(2)                   // 12, then retransmitted after the probe
	q.Resend(2, 0)
	n := q.MarkSentBefore(0, seq)
	if got := show(q); n != 2 || got != "10M0 11F1 12F0r 13M0 14G0 15F0r" {
		t.Fatalf("marked %d: %s, want 10 and 13", n, got)
	}
	if err := q.Verify(); err != nil {
		t.Fatal(err)
	}
}

// TestStrikeResent: a fast retransmission takes a miss only from an
// acknowledgement that newly acknowledges a chunk sent after it, to the
// same destination, never resent; at three it is marked again.
func TestStrikeResent(t *testing.T) {
	q := sent(0, 0, 0, 0) // 10-13
	for i := 0; i < 3; i++ {
		if _, err := q.Ack(sack(9, 2, 2+uint16(i))); err != nil { // 11, 12, 13 arrive
			t.Fatal(err)
		}
	}
	if got := show(q); got != "10M0 11G0 12G0 13G0" {
		t.Fatalf("after three misses: %s", got)
	}
	q.Resend(0, 0)               // 10's Fast Retransmit
	q.Add(chunk(100), 1, t0)     // 14, to another destination
	q.Add(chunk(100), 0, t0)     // 15
	q.Add(chunk(100), 0, t0)     // 16
	q.Add(chunk(100), 0, t0)     // 17
	q.Add(chunk(100), 0, t0)     // 18
	r, _ := q.Ack(sack(9, 2, 5)) // 14: sent after 10 but elsewhere
	if r.LostRetransmits != 0 || show(q) != "10F0r 11G0 12G0 13G0 14G1 15F0 16F0 17F0 18F0" {
		t.Fatalf("after an ack from another destination: %s", show(q))
	}
	for i, want := range []string{"10F0r", "10F0r", "10M0r"} {
		r, _ = q.Ack(sack(9, 2, 6+uint16(i))) // 15, 16, 17: sent after 10 went again
		if got := show(q)[:len(want)]; got != want {
			t.Fatalf("after %d later chunks acknowledged: %s", i+1, show(q))
		}
	}
	if r.LostRetransmits != 1 || !r.FastRetransmit || !r.Dests[0].FastMarked {
		t.Fatalf("result %+v, want one lost retransmission marked", r)
	}
	if err := q.Verify(); err != nil {
		t.Fatal(err)
	}
}

// TestStrikeResentIgnoresEarlier: acknowledgements of chunks sent before
// the retransmission, or of resent ones (either copy may have arrived),
// strike nothing.
func TestStrikeResentIgnoresEarlier(t *testing.T) {
	q := sent(0, 0, 0, 0, 0, 0, 0) // 10-16
	for i := 0; i < 3; i++ {
		q.Ack(sack(9, 2, 2+uint16(i))) // 11-13: 10 marked
	}
	q.Resend(0, 0)
	q.Mark(6) // 16, resent after 10
	q.Resend(6, 0)
	for _, end := range []uint16{5, 6, 7} { // 14, 15 (sent before 10's copy), 16 (resent)
		if r, _ := q.Ack(sack(9, 2, end)); r.LostRetransmits != 0 {
			t.Fatalf("a lost retransmission after acking up to %d", 9+end)
		}
	}
	if got := show(q); got != "10F0r 11G0 12G0 13G0 14G0 15G0 16G0r" {
		t.Fatalf("%s", got)
	}
}

// TestRelostBounded: a peer that never acknowledges one TSN while
// acknowledging everything sent after it gets that chunk found lost again
// maxRelost times at most; then only T3-rtx retransmits it.
func TestRelostBounded(t *testing.T) {
	q, lost := withheldFirst()
	if lost != maxRelost || !q.Chunks()[0].InFlight() {
		t.Fatalf("found lost again %d times (want %d), then %s", lost, maxRelost, show(q)[:6])
	}
	if err := q.Verify(); err != nil {
		t.Fatal(err)
	}
}

// withheldFirst is a queue whose first chunk, TSN 10, the peer never
// acknowledges while it acknowledges every chunk sent after it: ten rounds
// of resending it if marked and three new chunks, each acknowledged. It
// returns how often the chunk was found lost again.
func withheldFirst() (q *Queue, lost int) {
	q = sent(0, 0, 0, 0) // 10-13
	for i := 0; i < 3; i++ {
		q.Ack(sack(9, 2, 2+uint16(i))) // 10 missing: Fast Retransmit
	}
	end := uint16(3)
	for round := 0; round < 10; round++ {
		if q.Chunks()[0].Marked() {
			q.Resend(0, 0)
		}
		for i := 0; i < 3; i++ {
			q.Add(chunk(100), 0, t0)
			end++
			r, _ := q.Ack(sack(9, 2, end))
			lost += r.LostRetransmits
		}
	}
	return q, lost
}

// BenchmarkAckSteady: a cumulative ack of two chunks and two new ones,
// with n in flight and nothing fast retransmitted: what a loss-free SACK
// costs (strikeResent must not scan the flight then).
func BenchmarkAckSteady(b *testing.B) {
	for _, n := range []int{16, 256, 2048} {
		b.Run(fmt.Sprintf("inflight=%d", n), func(b *testing.B) {
			q := &Queue{}
			q.Reset(10, 1<<30)
			c := chunk(1000)
			for range n {
				q.Add(c, 0, t0)
			}
			cum := uint32(9)
			in := Ack{ARwnd: 1 << 30, Sack: true, Now: t0}
			b.ReportAllocs()
			for range b.N {
				cum += 2
				in.CumTSN = cum
				if _, err := q.Ack(in); err != nil {
					b.Fatal(err)
				}
				q.Add(c, 0, t0)
				q.Add(c, 0, t0)
			}
		})
	}
}
