package outstanding

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/internal/sendqueue"
	"github.com/sctpgw/sctpgw/stack/wire"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// size100 is the wire size of a chunk with 100 bytes of user data.
const size100 = 116

func chunk(n int) sendqueue.Chunk { return sendqueue.Chunk{Payload: make([]byte, n)} }

// show is the queue in one line: each chunk's TSN, its state (F in
// flight, G gap-acknowledged, M marked, T marked by T3-rtx), its
// destination, and r if it was resent.
func show(q *Queue) string {
	var b strings.Builder
	for _, o := range q.Chunks() {
		st := map[state]string{inFlight: "F", gapAcked: "G", marked: "M"}[o.state]
		if o.timedOut {
			st = "T"
		}
		fmt.Fprintf(&b, " %d%s%d", o.tsn, st, o.dest)
		if o.resent {
			b.WriteString("r")
		}
	}
	return strings.TrimSpace(b.String())
}

func gaps(g ...uint16) []wire.GapBlock {
	var out []wire.GapBlock
	for i := 0; i+1 < len(g); i += 2 {
		out = append(out, wire.GapBlock{Start: g[i], End: g[i+1]})
	}
	return out
}

// sack is a SACK of cum and gap blocks (start, end pairs) with a large
// window, 50 ms after t0.
func sack(cum uint32, g ...uint16) Ack {
	return Ack{CumTSN: cum, ARwnd: 100000, Gaps: gaps(g...), Sack: true, Now: t0.Add(50 * time.Millisecond)}
}

// sent is a queue at initial TSN 10 with one 100-byte chunk sent for each
// destination listed, at t0.
func sent(dests ...int) *Queue {
	q := &Queue{}
	q.Reset(10, 100000)
	for _, d := range dests {
		q.Add(chunk(100), d, t0)
	}
	return q
}

// TestAck: table of one acknowledgement each, applied to a queue prepared
// by setup; what the queue holds after, and what the acknowledgement meant.
func TestAck(t *testing.T) {
	type dest = DestResult
	cases := []struct {
		name  string
		setup func() *Queue
		ack   Ack
		want  Result
		after string
		err   error
	}{
		{
			name:  "cumulative ack of two of three",
			setup: func() *Queue { return sent(0, 0, 0) },
			ack:   sack(11),
			want: Result{Advanced: true, Acked: 2 * size100, Released: 200, RTT: 50 * time.Millisecond, HasRTT: true,
				Dests: [MaxDests]dest{{Acked: 2 * size100, FlightBefore: 3 * size100, Fresh: true, FreshTSN: 11}}},
			after: "12F0",
		},
		{
			name:  "stale: below the ack point",
			setup: func() *Queue { q := sent(0, 0, 0); q.Ack(sack(11)); return q },
			ack:   sack(10),
			want:  Result{Stale: true},
			after: "12F0",
		},
		{
			name:  "beyond what was sent",
			setup: func() *Queue { return sent(0, 0, 0) },
			ack:   sack(13),
			err:   ErrAckBeyondSent,
			after: "10F0 11F0 12F0",
		},
		{
			name:  "nothing new",
			setup: func() *Queue { return sent(0, 0) },
			ack:   sack(9),
			want:  Result{Dests: [MaxDests]dest{{FlightBefore: 2 * size100}}},
			after: "10F0 11F0",
		},
		{
			name:  "gap blocks: the hole takes a miss",
			setup: func() *Queue { return sent(0, 0, 0, 0, 0) },
			ack:   sack(10, 2, 3),
			want: Result{Advanced: true, Acked: 3 * size100, Released: 100, RTT: 50 * time.Millisecond, HasRTT: true,
				Dests: [MaxDests]dest{{Acked: 3 * size100, FlightBefore: 5 * size100, Fresh: true, FreshTSN: 13}}},
			after: "11F0 12G0 13G0 14F0",
		},
		{
			name:  "the same gap blocks again: nothing new, no miss (HTNA)",
			setup: func() *Queue { q := sent(0, 0, 0, 0, 0); q.Ack(sack(10, 2, 3)); return q },
			ack:   sack(10, 2, 3),
			want:  Result{Dests: [MaxDests]dest{{FlightBefore: 2 * size100}}},
			after: "11F0 12G0 13G0 14F0",
		},
		{
			name:  "reneged: back in flight",
			setup: func() *Queue { q := sent(0, 0, 0, 0, 0); q.Ack(sack(10, 2, 3)); return q },
			ack:   sack(10),
			want:  Result{Dests: [MaxDests]dest{{FlightBefore: 2 * size100}}},
			after: "11F0 12F0 13F0 14F0",
		},
		{
			name:  "a SHUTDOWN's cumulative ack leaves gap-acknowledged chunks so",
			setup: func() *Queue { q := sent(0, 0, 0, 0, 0); q.Ack(sack(10, 2, 3)); return q },
			ack:   Ack{CumTSN: 10, ARwnd: 1000},
			want:  Result{Dests: [MaxDests]dest{{FlightBefore: 2 * size100}}},
			after: "11F0 12G0 13G0 14F0",
		},
		{
			name: "the third miss marks for Fast Retransmit",
			setup: func() *Queue {
				q := sent(0, 1, 0, 0, 0)
				q.Ack(sack(9, 3, 3))
				q.Ack(sack(9, 3, 4))
				return q
			},
			ack: sack(9, 3, 5),
			want: Result{Acked: size100, FastRetransmit: true,
				Dests: [MaxDests]dest{{Acked: size100, FlightBefore: 2 * size100, Fresh: true, FreshTSN: 14, FastMarked: true}, {FlightBefore: size100, FastMarked: true}}},
			after: "10M0 11M1 12G0 13G0 14G0",
		},
		{
			name: "a chunk is fast-retransmitted once",
			setup: func() *Queue {
				q := sent(0, 0, 0, 0, 0, 0)
				q.Ack(sack(10, 2, 2))
				q.Ack(sack(10, 2, 3))
				q.Ack(sack(10, 2, 4))
				q.Resend(0, 0)
				return q
			},
			ack:   sack(10, 2, 5),
			want:  Result{Acked: size100, Dests: [MaxDests]dest{{Acked: size100, FlightBefore: 2 * size100, Fresh: true, FreshTSN: 15}}},
			after: "11F0r 12G0 13G0 14G0 15G0",
		},
		{
			name: "in Fast Recovery an advancing ack strikes up to its highest gap block",
			setup: func() *Queue {
				q := sent(0, 0, 0, 0, 0, 0)
				q.Ack(sack(9, 3, 3))
				q.Ack(sack(9, 3, 3, 5, 5))
				return q
			},
			ack: func() Ack { a := sack(10, 2, 2, 4, 4); a.FastRecovery = true; return a }(),
			want: Result{Advanced: true, Acked: size100, Released: 100, RTT: 50 * time.Millisecond, HasRTT: true, FastRetransmit: true,
				Dests: [MaxDests]dest{{Acked: size100, FlightBefore: 4 * size100, Fresh: true, FreshTSN: 10, FastMarked: true}}},
			after: "11M0 12G0 13F0 14G0 15F0",
		},
		{
			name: "a marked chunk gap-acknowledged leaves the chunks to retransmit",
			setup: func() *Queue {
				q := sent(0, 0, 0)
				q.MarkTimedOut(0)
				return q
			},
			ack:   sack(10, 2, 2),
			want:  Result{Advanced: true, Acked: 2 * size100, Released: 100, Dests: [MaxDests]dest{{Acked: 2 * size100, Fresh: true, FreshTSN: 12}}},
			after: "11T0 12G0",
		},
		{
			name: "a retransmission elsewhere: no sample, no news of where it went",
			setup: func() *Queue {
				q := sent(0, 0)
				q.MarkTimedOut(0)
				q.Resend(0, 1)
				return q
			},
			ack:   sack(10),
			want:  Result{Advanced: true, Acked: size100, Released: 100, Dests: [MaxDests]dest{{}, {Acked: size100, FlightBefore: size100}}},
			after: "11T0",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := c.setup()
			r, err := q.Ack(c.ack)
			if !errors.Is(err, c.err) {
				t.Fatalf("error %v, want %v", err, c.err)
			}
			if r != c.want {
				t.Errorf("result\n%+v, want\n%+v", r, c.want)
			}
			if got := show(q); got != c.after {
				t.Errorf("holds %q, want %q", got, c.after)
			}
			if err := q.Verify(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestPeerRwnd: the peer's window less what is outstanding, chunks to
// retransmit included (6.2.1 D iv), and less what is sent since.
func TestPeerRwnd(t *testing.T) {
	q := sent(0, 0, 0)
	if got := q.PeerRwnd(); got != 100000-300 {
		t.Fatalf("after sending 300 bytes: %d", got)
	}
	q.MarkTimedOut(0)
	q.Ack(Ack{CumTSN: 10, ARwnd: 1000, Sack: true})
	if got := q.PeerRwnd(); got != 1000-200 {
		t.Fatalf("two marked chunks outstanding: %d, want 800", got)
	}
	q.Ack(Ack{CumTSN: 10, ARwnd: 150, Sack: true})
	if got := q.PeerRwnd(); got != 0 {
		t.Fatalf("less window than outstanding: %d, want 0", got)
	}
	q.Ack(Ack{CumTSN: 12, ARwnd: 150, Sack: true})
	q.Add(chunk(100), 0, t0)
	q.Add(chunk(100), 0, t0)
	if got := q.PeerRwnd(); got != 0 {
		t.Fatalf("sent beyond the window: %d, want 0", got)
	}
}

// TestResendMovesDestination: T3-rtx of one destination marks only what was
// last sent there; a retransmission to another moves the chunk's count and
// flight with it (6.4).
func TestResendMovesDestination(t *testing.T) {
	q := sent(0, 1, 0)
	q.MarkTimedOut(0)
	if got, want := show(q), "10T0 11F1 12T0"; got != want {
		t.Fatalf("after T3 of 0: %q, want %q", got, want)
	}
	if q.Marked() != 2 || q.DestFlight(0) != 0 || q.DestFlight(1) != size100 {
		t.Fatalf("marked %d, flights %d %d", q.Marked(), q.DestFlight(0), q.DestFlight(1))
	}
	q.Resend(0, 1)
	if got, want := show(q), "10F1r 11F1 12T0"; got != want {
		t.Fatalf("after resending 10 to 1: %q, want %q", got, want)
	}
	if q.DestCount(0) != 1 || q.DestCount(1) != 2 || q.DestFlight(1) != 2*size100 || q.Flight() != 2*size100 {
		t.Fatalf("counts %d %d, flights %d %d", q.DestCount(0), q.DestCount(1), q.DestFlight(1), q.Flight())
	}
	if err := q.Verify(); err != nil {
		t.Fatal(err)
	}
}

// TestDiscreditedAckIsNotFresh: after an error counted against destination
// 0, acknowledging a chunk sent there before (in flight, or marked by
// T3-rtx and not yet sent again) credits its bytes to 0 but is not Fresh
// news of it; a chunk sent there afterwards is, and other destinations'
// chunks are untouched.
func TestDiscreditedAckIsNotFresh(t *testing.T) {
	q := sent(0, 1, 0, 0) // 10..13
	q.MarkTimedOut(0)     // 10, 12, 13 marked
	q.Discredit(0)
	q.Resend(0, 1) // 10 goes to 1
	r, err := q.Ack(sack(12))
	if err != nil {
		t.Fatal(err)
	}
	if d := r.Dests[0]; d.Acked != size100 || d.Fresh {
		t.Fatalf("12, marked on 0 before the error, acknowledged: %+v, want its bytes and not fresh", d)
	}
	if d := r.Dests[1]; d.Acked != 2*size100 || !d.Fresh {
		t.Fatalf("destination 1 (11 fresh, 10 resent): %+v, want fresh", d)
	}
	q.Add(chunk(100), 0, t0) // 14, after the error
	r, err = q.Ack(sack(14))
	if err != nil {
		t.Fatal(err)
	}
	if d := r.Dests[0]; d.Acked != 2*size100 || !d.Fresh {
		t.Fatalf("13 (before) and 14 (after the error) on 0: %+v, want fresh through 14", d)
	}
	if err := q.Verify(); err != nil {
		t.Fatal(err)
	}
}

// TestRTTKarn: one chunk timed at a time; a retransmission of it or of a
// chunk below it (RFC 9260 6.3.1 C5), T3-rtx or a new TSN sequence (a
// restart) ends the timing, and the next new chunk is timed; a
// retransmission above it does not.
func TestRTTKarn(t *testing.T) {
	q := sent(0, 0, 0) // 10 timed
	q.Mark(2)
	q.Resend(2, 0) // 12, above the timed chunk: 10's ack is not ambiguous
	r, _ := q.Ack(Ack{CumTSN: 10, ARwnd: 1000, Sack: true, Now: t0.Add(20 * time.Millisecond)})
	if !r.HasRTT || r.RTT != 20*time.Millisecond {
		t.Fatalf("after a retransmission above the timed chunk: sample %v %v, want 20ms", r.HasRTT, r.RTT)
	}
	q.Add(chunk(100), 0, t0.Add(30*time.Millisecond)) // 13, timed
	q.Mark(0)
	q.Resend(0, 0) // 11, below the timed chunk: 13's ack waited for it
	r, _ = q.Ack(Ack{CumTSN: 13, ARwnd: 1000, Sack: true, Now: t0.Add(520 * time.Millisecond)})
	if r.HasRTT {
		t.Fatalf("sample %v after a retransmission below the timed chunk", r.RTT)
	}
	q.Add(chunk(100), 0, t0.Add(530*time.Millisecond)) // 14, timed
	q.Mark(0)
	q.Resend(0, 0) // the timed chunk itself
	r, _ = q.Ack(Ack{CumTSN: 14, ARwnd: 1000, Sack: true, Now: t0.Add(600 * time.Millisecond)})
	if r.HasRTT {
		t.Fatalf("sample %v of a retransmitted chunk", r.RTT)
	}
	q.Add(chunk(100), 0, t0.Add(10*time.Millisecond)) // 15, timed
	r, _ = q.Ack(Ack{CumTSN: 15, ARwnd: 1000, Sack: true, Now: t0.Add(40 * time.Millisecond)})
	if !r.HasRTT || r.RTT != 30*time.Millisecond {
		t.Fatalf("sample %v %v, want 30ms", r.HasRTT, r.RTT)
	}
	q.Add(chunk(100), 0, t0) // 16, timed
	q.MarkTimedOut(0)
	q.Resend(0, 0)
	q.Add(chunk(100), 0, t0) // 17, timed anew
	r, _ = q.Ack(Ack{CumTSN: 17, ARwnd: 1000, Sack: true, Now: t0.Add(time.Second)})
	if !r.HasRTT || r.RTT != time.Second {
		t.Fatalf("after T3: sample %v %v, want 1s of the chunk timed after it", r.HasRTT, r.RTT)
	}
	q.Add(chunk(100), 0, t0) // 18, timed, then failed by a restart
	q.Clear()
	q.Reset(5000, 1000)
	q.Add(chunk(100), 0, t0.Add(time.Second)) // timed anew
	r, _ = q.Ack(Ack{CumTSN: 5000, ARwnd: 1000, Sack: true, Now: t0.Add(1100 * time.Millisecond)})
	if !r.HasRTT || r.RTT != 100*time.Millisecond {
		t.Fatalf("after a new TSN sequence: sample %v %v, want 100ms", r.HasRTT, r.RTT)
	}
}

// TestLongFlight: thousands of chunks acknowledged in slices across the TSN
// wrap, with gaps, renegings and marks, agree with their recomputation all
// along, and the array does not grow past the largest flight.
func TestLongFlight(t *testing.T) {
	q := &Queue{}
	q.Reset(1<<32-1000, 1<<30)
	for round := 0; round < 200; round++ {
		for q.Len() < 600 {
			q.Add(chunk(1+round%7), round%3, t0)
		}
		cum := q.CumAck() + uint32(1+round%50)
		switch round % 4 {
		case 0:
			q.Ack(sack(cum, 3, 9, 12, 12))
		case 1:
			q.Ack(sack(cum, 5, 5))
		case 2:
			q.MarkTimedOut(round % 3)
			q.Ack(sack(cum))
		case 3:
			for i, o := range q.Chunks() {
				if o.Marked() {
					q.Resend(i, (round+i)%3)
				}
			}
			q.Ack(sack(cum, 2, 40))
		}
		if err := q.Verify(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	// Compaction waits for the acknowledged prefix to be half the array.
	if q.Cap() > 4*600 {
		t.Fatalf("array grew to %d for a flight of 600", q.Cap())
	}
	q.Clear()
	q.Trim()
	if q.Cap() != 0 || q.Flight() != 0 || q.DestCount(0) != 0 {
		t.Fatalf("after Clear and Trim: cap %d, flight %d", q.Cap(), q.Flight())
	}
}

// TestSteadyStateAllocatesNothing: send and acknowledge, with gaps, once the
// array has grown.
func TestSteadyStateAllocatesNothing(t *testing.T) {
	q := sent()
	g := gaps(2, 3)
	c := chunk(100)
	allocs := testing.AllocsPerRun(100, func() {
		for i := 0; i < 8; i++ {
			q.Add(c, 0, t0)
		}
		q.Ack(Ack{CumTSN: q.NextTSN() - 5, ARwnd: 100000, Gaps: g, Sack: true})
		q.Ack(Ack{CumTSN: q.NextTSN() - 1, ARwnd: 100000, Sack: true})
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per round", allocs)
	}
}
