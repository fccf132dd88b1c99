package engine

import "github.com/sctpgw/sctpgw/stack/internal/congestion"

// What one SACK means for each destination (RFC 9260 7.2: cwnd, ssthresh
// and partial_bytes_acked are kept per destination, and 8.2's error counter
// is cleared for the destination an acknowledged chunk was last sent to).
// dataState.processAck calls beginAck, then credit for every chunk newly
// acknowledged, then onAck and clearHeard.

// beginAck notes every path's flight before the SACK (7.2.1's "fully
// utilized" and 7.2.2 judge the window as it was).
func (t *pathTable) beginAck() {
	for _, pa := range t.list {
		pa.flightBefore, pa.acked, pa.heard = pa.flight, 0, false
	}
}

// credit counts o, newly acknowledged, for the path it was last sent to,
// and returns its size. An acknowledged retransmission says nothing sure
// of the path it went last when there are others: an earlier copy sent
// elsewhere may be what arrived, so it does not clear that path's errors
// (8.2 allows this; without it a failed path whose retransmissions are
// acknowledged through their first copy would seem to come back).
func (t *pathTable) credit(o *outChunk) int {
	pa := t.list[o.dst]
	n := o.size()
	pa.acked += n
	if !o.resent || len(t.list) == 1 {
		pa.heard = true
	}
	return n
}

// onAck applies 7.2.1 or 7.2.2 on each destination the SACK acknowledged
// data of.
func (t *pathTable) onAck(fastRecovery bool) {
	for _, pa := range t.list {
		if pa.acked > 0 && pa.cc != nil {
			pa.cc.OnAck(congestion.Ack{Bytes: pa.acked, FlightBefore: pa.flightBefore,
				AllAcked: pa.outstanding == 0, InFastRecovery: fastRecovery})
		}
	}
}

// onFastRetransmit halves cwnd once on each destination a chunk now marked
// for Fast Retransmit was last sent to (7.2.4 step 2).
func (t *pathTable) onFastRetransmit() {
	for _, pa := range t.list {
		if pa.fastMarked && pa.cc != nil {
			pa.cc.OnFastRetransmit()
		}
		pa.fastMarked = false
	}
}

// clearHeard clears the error counter of every destination the SACK
// acknowledged something of (8.2).
func (t *pathTable) clearHeard() {
	for _, pa := range t.list {
		if pa.heard {
			pa.clearErrors()
		}
	}
}
