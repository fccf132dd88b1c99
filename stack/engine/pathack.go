package engine

import (
	"time"

	"github.com/sctpgw/sctpgw/stack/internal/congestion"
	"github.com/sctpgw/sctpgw/stack/internal/outstanding"
)

// What an acknowledgement means for each destination (RFC 9260 7.2: cwnd,
// ssthresh and partial_bytes_acked are kept per destination; 8.2: the
// error counter is cleared for the destination an acknowledged chunk was
// last sent to; 6.3.2: T3-rtx runs per destination), from the
// per-destination part of outstanding.Result.

// ccOnAck applies 7.2.1 or 7.2.2 on each destination the acknowledgement
// acknowledged data of.
func (d *dataState) ccOnAck(r *outstanding.Result) {
	for _, pa := range d.paths.list {
		if da := &r.Dests[pa.idx]; da.Acked > 0 && pa.cc != nil {
			pa.cc.OnAck(congestion.Ack{Bytes: da.Acked, FlightBefore: da.FlightBefore,
				AllAcked: d.out.DestCount(pa.idx) == 0, InFastRecovery: d.recovery.Active()})
		}
	}
}

// onFastRetransmit halves cwnd once on each destination a chunk newly
// marked for Fast Retransmit by the acknowledgement r that starts Fast
// Recovery was last sent to (7.2.4 step 2). Chunks marked while the
// association is in Fast Recovery already lower nothing, then or at the
// next entry: step 2 applies to the chunks that start it.
func (t *pathTable) onFastRetransmit(r *outstanding.Result) {
	for _, pa := range t.list {
		if r.Dests[pa.idx].FastMarked && pa.cc != nil {
			pa.cc.OnFastRetransmit()
		}
	}
}

// clearHeard clears the error counter of every destination the
// acknowledgement acknowledged something of (8.2). An acknowledged
// retransmission says nothing sure of the path it went last when there are
// others: an earlier copy sent elsewhere may be what arrived, so it does
// not clear that path's errors (8.2 allows this; without it a failed path
// whose retransmissions are acknowledged through their first copy would
// seem to come back). Nor does a chunk sent there before the path's latest
// error (outstanding.Queue.Discredit, called by strike): when a network
// fails with DATA on its way, the DATA arrives and its SACK, sent back
// over the failed network, is lost; the SACK of a retransmission sent
// elsewhere then acknowledges it, which says the path worked before it
// failed, not that it works now. Taken as news, it brought a failed path
// back, new data went into the dead network, and its T3-rtx counted
// against the association again (TestFailedPathStaysFailedOnLateAcks).
func (d *dataState) clearHeard(r *outstanding.Result) {
	single := len(d.paths.list) == 1
	for _, pa := range d.paths.list {
		da := &r.Dests[pa.idx]
		if da.Fresh || (single && da.Acked > 0) {
			pa.clearErrors()
		}
		if da.Fresh {
			pa.heardSince(da.FreshTSN)
		}
	}
}

// afterAck applies 6.3.2 R2 and R3 after an acknowledgement: T3-rtx off
// where nothing is outstanding, restarted where the cumulative ack
// advanced over data sent there.
func (d *dataState) afterAck(now time.Time, r *outstanding.Result) {
	for _, pa := range d.paths.list {
		switch {
		case d.out.DestCount(pa.idx) == 0:
			if pa.t3.running() {
				pa.t3.stop()
				pa.rearm()
			}
			pa.stopTailProbe()
			continue
		case r.Advanced && r.Dests[pa.idx].Acked > 0:
			pa.startT3(now, pa.rto.RTO())
		}
		if r.Dests[pa.idx].Acked > 0 {
			d.tailProbeActivity(pa.a, pa, now)
		}
	}
}

// armT3s applies 6.3.2 R1 and R2 after a flush: a destination with data
// outstanding has its T3-rtx running, one with none has it stopped.
func (d *dataState) armT3s(now time.Time) {
	for _, pa := range d.paths.list {
		switch {
		case d.out.DestCount(pa.idx) == 0 && pa.t3.running():
			pa.t3.stop()
			pa.stopTailProbe()
			pa.rearm()
		case d.out.DestCount(pa.idx) > 0 && !pa.t3.running():
			pa.startT3(now, pa.rto.RTO())
		}
	}
}
