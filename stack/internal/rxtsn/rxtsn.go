// Package rxtsn tracks the TSNs an association has received from its peer: the
// Cumulative TSN Ack point, the Gap Ack Blocks above it and the duplicates to
// report, which together are everything a SACK chunk says about received data
// (RFC 9260 3.3.4, 6.2, 6.7). FORWARD TSN (RFC 3758 3.6) moves the ack point
// over abandoned TSNs.
//
// TSNs are compared with serial number arithmetic (RFC 1982, SERIAL_BITS =
// 32), so the tracker works across the wrap from 0xFFFFFFFF to 0. Every TSN it
// holds lies less than 2^31 above the cumulative ack point; a TSN 2^31 or more
// away reads as old. The engine keeps peers honest with InWindow.
//
// Memory is proportional to the number of gaps, not to the span of TSNs: the
// tracker stores the received TSNs above the ack point as a sorted slice of
// ranges whose backing array is reused. In-order arrival is O(1) and does not
// allocate; an out-of-order TSN costs a binary search and, when it opens a new
// gap, a copy within the slice.
//
// A Tracker is a plain data structure: no goroutines, clocks, I/O or locks,
// and it is not safe for concurrent use.
package rxtsn

import (
	"sort"

	"github.com/sctpgw/sctpgw/stack/wire"
)

// DefaultMaxDups caps the duplicate TSNs remembered for the next SACK unless
// SetMaxDups says otherwise. 32 entries are 128 bytes of SACK: enough to tell
// the peer its retransmissions are redundant (the only use RFC 9260 6.2
// suggests), small enough to fit any PMTU next to a full set of gap blocks.
const DefaultMaxDups = 32

// maxSerialDistance is the largest distance RFC 1982 lets us call "after".
const maxSerialDistance = 1<<31 - 1

// tsnRange is a run of received TSNs first..last, both inclusive.
type tsnRange struct {
	first, last uint32
}

// Tracker records received DATA TSNs of one association. The zero value is
// unusable; use New.
type Tracker struct {
	cum uint32 // Cumulative TSN Ack point: every TSN up to here was received.
	// above holds the received TSNs beyond cum+1, in ascending serial order,
	// never adjacent to each other or to cum (such ranges are merged).
	above   []tsnRange
	highest uint32 // highest TSN received or skipped; cum when nothing lies above
	dups    []uint32
	maxDups int
}

// New starts tracking a peer whose INIT or INIT ACK carried peerInitialTSN:
// the cumulative ack point starts just below it (RFC 9260 5.1: the TSN of the
// first DATA chunk is the Initial TSN).
func New(peerInitialTSN uint32) *Tracker {
	cum := peerInitialTSN - 1
	return &Tracker{cum: cum, highest: cum, maxDups: DefaultMaxDups}
}

// SetMaxDups changes how many duplicate TSNs are remembered between two SACKs;
// n < 0 counts as 0. Duplicates beyond the cap are not reported: the list is a
// hint to the sender, and an attacker repeating one TSN must not make it grow.
func (t *Tracker) SetMaxDups(n int) {
	if n < 0 {
		n = 0
	}
	t.maxDups = n
	if len(t.dups) > n {
		t.dups = t.dups[:n]
	}
}

// after reports a > b in serial number arithmetic.
func after(a, b uint32) bool {
	d := a - b
	return d != 0 && d <= maxSerialDistance
}

// Observe records the arrival of a DATA chunk with this TSN and reports
// whether it is new. A TSN at or below the cumulative ack point, or one
// already received, is a duplicate: Observe returns false and remembers it
// for the next SACK's duplicate list (RFC 9260 6.2), up to the cap. A packet
// carrying only duplicates calls for an immediate SACK (6.2); that is the
// caller's decision.
//
// Call InWindow first: Observe records any TSN less than 2^31 above the ack
// point, and a peer that ignores a_rwnd could otherwise make the gap list
// grow without bound.
func (t *Tracker) Observe(tsn uint32) (fresh bool) {
	if tsn == t.cum+1 {
		// In order: the common case, O(1) and allocation-free.
		t.cum = tsn
		if len(t.above) > 0 && t.above[0].first == tsn+1 {
			// The TSN filled the lowest gap: the ack point jumps over the
			// range that was waiting for it.
			t.cum = t.above[0].last
			t.above = t.above[:copy(t.above, t.above[1:])]
		}
		if after(t.cum, t.highest) {
			t.highest = t.cum
		}
		return true
	}
	if !after(tsn, t.cum) {
		t.addDup(tsn)
		return false
	}
	if !t.insertAbove(tsn) {
		t.addDup(tsn)
		return false
	}
	if after(tsn, t.highest) {
		t.highest = tsn
	}
	return true
}

// insertAbove records tsn > cum+1 among the gap ranges; false means it was
// already there.
func (t *Tracker) insertAbove(tsn uint32) bool {
	n := len(t.above)
	off := tsn - t.cum // distances from cum order the ranges
	// Fast paths: arrival just after, or beyond, the highest range, which is
	// what reordering and loss look like while the sender keeps going.
	if n == 0 || off > t.above[n-1].last-t.cum+1 {
		t.above = append(t.above, tsnRange{tsn, tsn})
		return true
	}
	if off == t.above[n-1].last-t.cum+1 {
		t.above[n-1].last = tsn
		return true
	}
	// i is the first range whose last TSN is at least tsn-1: the range tsn
	// extends upward, lies in, or sits below.
	i := sort.Search(n, func(i int) bool { return t.above[i].last-t.cum+1 >= off })
	r := &t.above[i]
	firstOff := r.first - t.cum
	switch {
	case off >= firstOff && off <= r.last-t.cum:
		return false // already received
	case off == r.last-t.cum+1:
		// Extends r upward; may close the gap to the next range.
		r.last = tsn
		if i+1 < n && t.above[i+1].first == tsn+1 {
			r.last = t.above[i+1].last
			t.above = append(t.above[:i+1], t.above[i+2:]...)
		}
	case off+1 == firstOff:
		// Extends r downward. The range below cannot touch tsn, or the
		// search would have stopped there.
		r.first = tsn
	default:
		// A new range between i-1 and i.
		t.above = append(t.above, tsnRange{})
		copy(t.above[i+1:], t.above[i:])
		t.above[i] = tsnRange{tsn, tsn}
	}
	return true
}

func (t *Tracker) addDup(tsn uint32) {
	if len(t.dups) < t.maxDups {
		t.dups = append(t.dups, tsn)
	}
}

// CumAck is the Cumulative TSN Ack: the highest TSN up to which every TSN was
// received or skipped by FORWARD TSN.
func (t *Tracker) CumAck() uint32 { return t.cum }

// Highest is the highest TSN received (or skipped) so far; CumAck when nothing
// was received above it. RFC 9260 6.2 compares new TSNs with it while the
// receive window is closed.
func (t *Tracker) Highest() uint32 { return t.highest }

// HasGaps reports whether TSNs above the cumulative ack were received, that
// is whether the next SACK carries Gap Ack Blocks (RFC 9260 6.7 asks for that
// SACK immediately).
func (t *Tracker) HasGaps() bool { return len(t.above) > 0 }

// GapBlocks is the number of Gap Ack Blocks the received TSNs make, before
// any cap by AppendGapBlocks.
func (t *Tracker) GapBlocks() int { return len(t.above) }

// AppendGapBlocks appends at most max Gap Ack Blocks, lowest TSNs first, with
// offsets relative to CumAck (RFC 9260 3.3.4), and returns the extended
// slice. When the blocks do not fit, 6.7 says to report from the lowest TSN
// up and leave the highest unacknowledged; the caller turns its byte budget
// into max (a SACK is 16 bytes plus 4 per block plus 4 per duplicate TSN).
// Blocks beyond the 16-bit offset range are cut at offset 65535 the same way.
// Leaving received TSNs out of a SACK is always safe: the sender retransmits
// them and they come back as duplicates.
func (t *Tracker) AppendGapBlocks(dst []wire.GapBlock, max int) []wire.GapBlock {
	for i := 0; i < len(t.above) && i < max; i++ {
		start, end := t.above[i].first-t.cum, t.above[i].last-t.cum
		if start > 0xFFFF {
			break
		}
		if end > 0xFFFF {
			end = 0xFFFF
		}
		dst = append(dst, wire.GapBlock{Start: uint16(start), End: uint16(end)})
	}
	return dst
}

// Dups is the number of duplicate TSNs waiting to be reported.
func (t *Tracker) Dups() int { return len(t.dups) }

// AppendDupTSNs appends at most max of the duplicate TSNs received since the
// last call, in arrival order, and forgets all of them: RFC 9260 3.3.4 resets
// the duplicate count after each SACK, so call it once per SACK built.
// Duplicates that do not fit are dropped rather than carried to the next SACK.
func (t *Tracker) AppendDupTSNs(dst []uint32, max int) []uint32 {
	n := len(t.dups)
	if n > max {
		n = max
	}
	if n > 0 {
		dst = append(dst, t.dups[:n]...)
	}
	t.dups = t.dups[:0]
	return dst
}

// ResetDups forgets the duplicate TSNs without reporting them, for a SACK
// that leaves the list out.
func (t *Tracker) ResetDups() { t.dups = t.dups[:0] }

// Skip moves the cumulative ack point to newCum for a FORWARD TSN (RFC 3758
// 3.6): TSNs up to newCum count as received, tracked ranges at or below it are
// dropped, and the ack point then advances further over TSNs already received
// just above it. A newCum at or behind the ack point is out of date and
// changes nothing; Skip reports whether the ack point moved, and when it did
// not, 3.6 says the receiver SHOULD send a SACK.
func (t *Tracker) Skip(newCum uint32) (moved bool) {
	d := newCum - t.cum
	if d == 0 || d > maxSerialDistance {
		return false
	}
	// Ranges wholly at or below newCum are covered now. Offsets from the old
	// ack point keep the comparisons free of wrap-around.
	old := t.cum
	k := 0
	for k < len(t.above) && t.above[k].last-old <= d {
		k++
	}
	t.cum = newCum
	// A range that straddles newCum, or starts just above it, continues the
	// ack point.
	if k < len(t.above) && t.above[k].first-old <= d+1 {
		t.cum = t.above[k].last
		k++
	}
	t.above = t.above[:copy(t.above, t.above[k:])]
	if after(t.cum, t.highest) {
		t.highest = t.cum
	}
	return true
}

// InWindow reports whether tsn is at most maxAhead above the cumulative ack
// point. TSNs at or below it are in the window: they are duplicates to
// Observe and report. The engine drops (without acknowledging) DATA outside
// the window so that a peer ignoring a_rwnd cannot make the tracker, or the
// reassembly queue behind it, grow; a sensible maxAhead is what the receive
// buffer could hold in the smallest chunks the engine accepts, and at most
// 65535 keeps every received TSN expressible in a Gap Ack Block. maxAhead is
// capped at 2^31-1, the serial arithmetic horizon.
func (t *Tracker) InWindow(tsn, maxAhead uint32) bool {
	if maxAhead > maxSerialDistance {
		maxAhead = maxSerialDistance
	}
	d := tsn - t.cum
	return d <= maxAhead || d > maxSerialDistance
}
