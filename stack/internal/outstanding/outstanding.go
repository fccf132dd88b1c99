// Package outstanding keeps the DATA chunks an association has sent and its
// peer has not yet cumulatively acknowledged, in TSN order, and says what
// each acknowledgement means for them (RFC 9260 6.2.1, 6.3, 7.2): the
// bytes newly acknowledged per destination, the round-trip sample it
// yields, the chunks it marks for Fast Retransmit (7.2.4), and the peer's
// window as the sender tracks it.
//
// A chunk is in one of three states:
//
//   - in flight: sent and counted in the flight size of 7.2 (the whole
//     association's and its destination's);
//   - gap-acknowledged: covered by a Gap Ack Block of the latest SACK, out
//     of the flight, until a SACK no longer reports it (the peer reneged,
//     6.2.1 D) and it is in flight again;
//   - marked: waiting for retransmission (7.2.4 Fast Retransmit, 6.3.3
//     T3-rtx expiry), out of the flight until it is sent again.
//
// Every chunk stays, whatever its state, until the cumulative ack covers
// it, and counts in the peer's window until then (6.2.1 D iv).
//
// The Queue decides nothing about time, windows or destinations: the
// association engine asks it what to retransmit, decides where and when
// (congestion control, Max.Burst, the T3-rtx timers, Fast Recovery), and
// tells it what it sent. Destinations are small integers below MaxDests
// (the engine's path indexes), held with each chunk as the one it was last
// sent to. Flight sizes are in chunk bytes, header and padding included
// (7.2); the peer's window in user bytes, as the peer counts it.
//
// A Queue is a plain data structure: no clock (times are passed in), no
// goroutines, not safe for concurrent use, and no allocation per chunk
// once its array has grown to the largest flight.
package outstanding

import (
	"fmt"
	"time"

	"github.com/sctpgw/sctpgw/stack/internal/sendqueue"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// MaxDests bounds the destination indexes (the peer addresses of one
// association).
const MaxDests = 4

// keepIdle is the most chunk slots Trim keeps.
const keepIdle = 64

// fastRetransmitMisses is the number of miss indications that mark a chunk
// for Fast Retransmit (7.2.4).
const fastRetransmitMisses = 3

// maxRelost bounds how often one chunk is found lost again (strikeResent,
// MarkSentBefore) and retransmitted without T3-rtx. Beyond it T3-rtx, which
// backs off and counts errors (6.3.3, 8.1), is its only way: a peer that
// withholds one TSN while acknowledging the rest cannot make it go again
// every few acknowledgements for ever.
const maxRelost = 2

type state uint8

const (
	inFlight state = iota
	gapAcked
	marked
)

// Chunk is one DATA chunk sent and not cumulatively acknowledged.
type Chunk struct {
	data  sendqueue.Chunk
	tsn   uint32
	dest  uint8
	state state
	// misses counts miss indications (7.2.4 step 1); fastDone says the
	// chunk was fast-retransmitted once already, which it may be only
	// once (7.2.4 step 3).
	misses   uint8
	fastDone bool
	// relost counts the times strikeResent or a tail loss probe found its
	// retransmission lost; past maxRelost only T3-rtx retransmits it.
	relost uint8
	// remarked says it was marked and resent at least once (Resend), not
	// only sent again as a tail loss probe.
	remarked bool
	// resent says it was retransmitted at least once (Karn's rule, 6.3.1
	// C5); timedOut that T3-rtx marked it, so it goes to another
	// destination if there is one (6.4). stale that its destination
	// counted an error since it was last sent there (Discredit).
	resent   bool
	timedOut bool
	stale    bool
	// sent orders the chunk's latest transmission among all the Queue's
	// (Queue.sends then): MarkSentBefore tells what left before a probe.
	sent uint32
}

// TSN is the chunk's TSN.
func (c *Chunk) TSN() uint32 { return c.tsn }

// Dest is the destination the chunk was last sent to.
func (c *Chunk) Dest() int { return int(c.dest) }

// Data is what the chunk carries, as the send queue handed it out.
func (c *Chunk) Data() *sendqueue.Chunk { return &c.data }

// Size is the chunk's length on the wire, header and padding included: the
// unit of cwnd and flight size (7.2).
func (c *Chunk) Size() int { return (wire.DataHeaderSize + len(c.data.Payload) + 3) &^ 3 }

// UserBytes is its payload, the unit of the peer's window and of the send
// buffer.
func (c *Chunk) UserBytes() int { return len(c.data.Payload) }

// InFlight reports that the chunk counts in the flight size.
func (c *Chunk) InFlight() bool { return c.state == inFlight }

// GapAcked reports that the latest SACK's gap blocks cover the chunk.
func (c *Chunk) GapAcked() bool { return c.state == gapAcked }

// Marked reports that the chunk waits for retransmission.
func (c *Chunk) Marked() bool { return c.state == marked }

// TimedOut reports that T3-rtx marked it: its retransmission goes to
// another destination if one is active (6.4).
func (c *Chunk) TimedOut() bool { return c.timedOut }

// Resent reports that the chunk was retransmitted at least once.
func (c *Chunk) Resent() bool { return c.resent }

// Remarked reports that it was marked for retransmission and resent at
// least once: a tail loss probe, which sends it again without marking it,
// does not count (7.2.4 step 4 restarts T3-rtx on the first).
func (c *Chunk) Remarked() bool { return c.remarked }

// newestAcked is a transmission number (Chunk.sent), if ok.
type newestAcked struct {
	sent uint32
	ok   bool
}

// destCounts is what the Queue keeps per destination.
type destCounts struct {
	flight int // chunk bytes in flight, last sent there
	count  int // chunks held, last sent there, whatever their state
}

// Queue holds the outstanding chunks of one association. The zero value
// holds none and starts at TSN 0; Reset sets the initial TSN.
type Queue struct {
	chunks []Chunk // held from chunks[head], in TSN order
	head   int

	nextTSN  uint32 // the TSN the next new chunk gets
	cumAck   uint32 // the peer's cumulative ack point
	peerRwnd uint32 // the peer's window less what is outstanding (6.2.1)

	bytes      int // user bytes held
	flight     int // chunk bytes in flight
	flightUser int // the same in user bytes
	gapAcked   int // chunks gap-acknowledged
	marked     int // chunks marked for retransmission
	markedUser int // their user bytes
	dests      [MaxDests]destCounts

	// sends counts transmissions, new and repeated (Chunk.sent).
	sends uint32
	// fastOut: a fast-retransmitted chunk may be in flight; strikeResent
	// clears it when its scan finds none, so an acknowledgement costs what
	// it acknowledges while nothing was fast retransmitted.
	fastOut bool
	// newest is, per destination, the latest transmission among the
	// chunks the acknowledgement being applied newly acknowledged that
	// went there only (never resent): strikeResent's yardstick.
	newest [MaxDests]newestAcked

	// rtt times one chunk for a round-trip sample (6.3.1): tsn sent at
	// sent, while on.
	rtt struct {
		on   bool
		tsn  uint32
		sent time.Time
	}
}

// Reset starts the TSN sequence at initialTSN (our Initial TSN, RFC 9260
// 5.1) with the peer's window arwnd. Nothing may be outstanding (Clear). A
// chunk timed under the previous sequence is forgotten: the next one sent
// is timed.
func (q *Queue) Reset(initialTSN, arwnd uint32) {
	q.nextTSN = initialTSN
	q.cumAck = initialTSN - 1
	q.peerRwnd = arwnd
	q.rtt.on = false
}

// Len is the number of chunks held.
func (q *Queue) Len() int { return len(q.chunks) - q.head }

// Chunks is the chunks held, oldest first. The slice and the chunks stay
// valid until the next Add, Ack, Clear or Trim.
func (q *Queue) Chunks() []Chunk { return q.chunks[q.head:] }

// NextTSN is the TSN the next new chunk gets; everything below it was sent.
func (q *Queue) NextTSN() uint32 { return q.nextTSN }

// CumAck is the peer's cumulative ack point: every TSN up to it is
// acknowledged.
func (q *Queue) CumAck() uint32 { return q.cumAck }

// PeerRwnd is the peer's window as the sender tracks it: its latest a_rwnd
// less what is outstanding, less what was sent since (6.2.1).
func (q *Queue) PeerRwnd() uint32 { return q.peerRwnd }

// Bytes is the user bytes held.
func (q *Queue) Bytes() int { return q.bytes }

// Flight is the chunk bytes in flight, all destinations together.
func (q *Queue) Flight() int { return q.flight }

// Marked is the number of chunks waiting for retransmission.
func (q *Queue) Marked() int { return q.marked }

// DestFlight is the chunk bytes in flight last sent to dest.
func (q *Queue) DestFlight(dest int) int { return q.dests[dest].flight }

// DestCount is the number of chunks held last sent to dest, in any state.
func (q *Queue) DestCount(dest int) int { return q.dests[dest].count }

// Cap is the capacity of the chunk array, for tests of what an idle
// association keeps.
func (q *Queue) Cap() int { return cap(q.chunks) }

// Add takes a new chunk sent to dest at now: it gets the next TSN and
// counts in the flight and against the peer's window. If no chunk is
// timed, it is, for a round-trip sample (6.3.1: one at a time). The
// pointer is valid until the next Add, Ack, Clear or Trim.
func (q *Queue) Add(c sendqueue.Chunk, dest int, now time.Time) *Chunk {
	q.sends++
	q.chunks = append(q.chunks, Chunk{data: c, tsn: q.nextTSN, dest: uint8(dest), sent: q.sends})
	o := &q.chunks[len(q.chunks)-1]
	q.nextTSN++
	q.dests[dest].count++
	q.bytes += o.UserBytes()
	q.enterFlight(o)
	q.peerRwnd -= min(q.peerRwnd, uint32(o.UserBytes()))
	if !q.rtt.on {
		q.rtt.on, q.rtt.tsn, q.rtt.sent = true, o.tsn, now
	}
	return o
}

// Resend takes the retransmission of the marked chunk Chunks()[i] to dest:
// it is in flight again, there. The timed chunk, if its TSN is at or above
// the one resent, can no longer give a sample anyone could trust (RFC 9260
// 6.3.1 C5: a sample from TSN r only if no TSN <= r was retransmitted
// since r was first sent: its acknowledgement waited for the resent one).
// A retransmission above the timed chunk leaves the timing alone.
func (q *Queue) Resend(i, dest int) {
	o := &q.chunks[q.head+i]
	if o.state != marked {
		panic(fmt.Sprintf("outstanding: Resend of TSN %d, not marked", o.tsn))
	}
	q.unmark(o)
	if int(o.dest) != dest {
		q.dests[o.dest].count--
		q.dests[dest].count++
		o.dest = uint8(dest)
	}
	q.enterFlight(o)
	q.resent(o)
	o.remarked = true
	if o.fastDone {
		o.misses = 0 // from now on counted for this retransmission (strikeResent)
	}
}

// resent stamps o as transmitted again now: Karn's rule for it and for the
// timed chunk (Resend).
func (q *Queue) resent(o *Chunk) {
	q.sends++
	o.sent = q.sends
	o.resent = true
	if q.rtt.on && !after(o.tsn, q.rtt.tsn) {
		q.rtt.on = false
	}
}

// Mark marks Chunks()[i], in flight, for retransmission.
func (q *Queue) Mark(i int) {
	o := &q.chunks[q.head+i]
	if o.state != inFlight {
		panic(fmt.Sprintf("outstanding: Mark of TSN %d, not in flight", o.tsn))
	}
	q.mark(o)
}

// MarkTimedOut marks every chunk in flight last sent to dest for
// retransmission, as T3-rtx of dest expired (6.3.3 E3), and stops timing:
// what is acknowledged next may be either copy.
func (q *Queue) MarkTimedOut(dest int) {
	live := q.Chunks()
	for i := range live {
		if o := &live[i]; o.state == inFlight && int(o.dest) == dest {
			q.mark(o)
			o.timedOut = true
		}
	}
	q.rtt.on = false
}

// Discredit says that an error was just counted against dest (RFC 9260
// 8.2: a T3-rtx expiry, an unanswered HEARTBEAT, an ICMP unreachable):
// the chunks held that were last sent there left before it, and an
// acknowledgement of one of them is no news that dest works now
// (DestResult.Fresh). Such acknowledgements come late, through another
// destination, when a network fails with DATA on its way: the DATA
// arrives, its SACK goes back over the failed network and is lost, and the
// SACK of a retransmission sent elsewhere acknowledges it.
func (q *Queue) Discredit(dest int) {
	if q.dests[dest].count == 0 {
		return
	}
	live := q.Chunks()
	for i := range live {
		if o := &live[i]; int(o.dest) == dest {
			o.stale = true
		}
	}
}

// ForgetRTT stops timing the chunk timed for a round-trip sample.
func (q *Queue) ForgetRTT() { q.rtt.on = false }

// Clear drops every chunk (the association failed them).
func (q *Queue) Clear() {
	clear(q.chunks)
	q.chunks, q.head = q.chunks[:0], 0
	q.bytes, q.flight, q.flightUser, q.gapAcked = 0, 0, 0, 0
	q.marked, q.markedUser = 0, 0
	q.dests = [MaxDests]destCounts{}
}

// Trim gives back the chunk array a burst grew, if nothing is held.
func (q *Queue) Trim() {
	if q.Len() == 0 && cap(q.chunks) > keepIdle {
		q.chunks, q.head = nil, 0
	}
}

func (q *Queue) enterFlight(o *Chunk) {
	if o.fastDone {
		q.fastOut = true
	}
	n := o.Size()
	q.flight += n
	q.flightUser += o.UserBytes()
	q.dests[o.dest].flight += n
}

func (q *Queue) leaveFlight(o *Chunk) {
	n := o.Size()
	q.flight -= n
	q.flightUser -= o.UserBytes()
	q.dests[o.dest].flight -= n
}

// mark moves o from the flight to the chunks to retransmit: out of cwnd's
// flight, still in the peer's window (6.2.1 D iv counts every byte not yet
// acknowledged).
func (q *Queue) mark(o *Chunk) {
	q.leaveFlight(o)
	o.state = marked
	q.marked++
	q.markedUser += o.UserBytes()
}

// unmark takes o out of the chunks to retransmit; the caller gives it its
// next state.
func (q *Queue) unmark(o *Chunk) {
	o.state, o.timedOut = inFlight, false
	q.marked--
	q.markedUser -= o.UserBytes()
}

// dropAcked forgets the n oldest chunks; the array is compacted only once
// the dead prefix dominates, so an acknowledgement costs O(acked), not
// O(held).
func (q *Queue) dropAcked(n int) {
	for i := q.head; i < q.head+n; i++ {
		q.dests[q.chunks[i].dest].count--
		q.chunks[i] = Chunk{}
	}
	q.head += n
	if q.head == len(q.chunks) {
		q.chunks, q.head = q.chunks[:0], 0
	} else if q.head > 256 && q.head > len(q.chunks)/2 {
		k := copy(q.chunks, q.chunks[q.head:])
		clear(q.chunks[k:])
		q.chunks, q.head = q.chunks[:k], 0
	}
}

// Verify recomputes what the Queue keeps incrementally and reports the
// first disagreement. Tests call it while traffic flows.
func (q *Queue) Verify() error {
	var want Queue
	for _, o := range q.Chunks() {
		if o.state == inFlight && o.fastDone && o.relost < maxRelost && !q.fastOut {
			return fmt.Errorf("TSN %d, fast retransmitted and in flight, with fastOut unset", o.tsn)
		}
		want.dests[o.dest].count++
		want.bytes += o.UserBytes()
		switch o.state {
		case inFlight:
			want.enterFlight(&o)
		case gapAcked:
			want.gapAcked++
		case marked:
			want.marked++
			want.markedUser += o.UserBytes()
		}
	}
	switch {
	case q.flight != want.flight:
		return fmt.Errorf("flight %d, recomputed %d", q.flight, want.flight)
	case q.flightUser != want.flightUser:
		return fmt.Errorf("flight user bytes %d, recomputed %d", q.flightUser, want.flightUser)
	case q.gapAcked != want.gapAcked:
		return fmt.Errorf("gap-acked %d, recomputed %d", q.gapAcked, want.gapAcked)
	case q.marked != want.marked || q.markedUser != want.markedUser:
		return fmt.Errorf("marked %d (%d bytes), recomputed %d (%d)", q.marked, q.markedUser, want.marked, want.markedUser)
	case q.bytes != want.bytes:
		return fmt.Errorf("bytes %d, recomputed %d", q.bytes, want.bytes)
	case q.dests != want.dests:
		return fmt.Errorf("per destination %v, recomputed %v", q.dests, want.dests)
	}
	return nil
}

// after reports a > b in serial number arithmetic (RFC 1982, 32 bits).
func after(a, b uint32) bool { return a != b && a-b < 1<<31 }
