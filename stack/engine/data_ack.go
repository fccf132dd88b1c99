package engine

import (
	"time"

	"github.com/sctpgw/sctpgw/stack/internal/outstanding"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// handleSack processes a SACK (6.2.1, 7.2).
func (d *dataState) handleSack(a *Association, c wire.RawChunk, now time.Time) {
	if !d.inited {
		return
	}
	s := &d.sack
	if s.Unmarshal(c) != nil {
		return
	}
	d.processAck(a, outstanding.Ack{CumTSN: s.CumTSNAck, ARwnd: s.ARwnd, Gaps: s.GapBlocks, Sack: true, Now: now}, s.DupTSNs)
}

// handleCumAck applies the Cumulative TSN Ack of a SHUTDOWN (9.2), which
// says nothing of the peer's window.
func (d *dataState) handleCumAck(a *Association, cum uint32, now time.Time) {
	if !d.inited {
		return
	}
	d.processAck(a, outstanding.Ack{CumTSN: cum, ARwnd: d.out.PeerRwnd() + uint32(d.out.Bytes()), Now: now}, nil)
}

// processAck applies an acknowledgement: what the outstanding chunks make
// of it (outstanding.Queue.Ack), then what it means for the send buffer,
// each destination's RTO, cwnd, error counter and T3-rtx, Fast Recovery
// (7.2.4) and the zero window probe. dups is the SACK's Duplicate TSNs
// (what a tail loss probe's episode needs, tailprobe.go).
func (d *dataState) processAck(a *Association, ack outstanding.Ack, dups []uint32) {
	now := ack.Now
	ack.FastRecovery = d.recovery.Active()
	r, err := d.out.Ack(ack)
	if err != nil {
		a.abortWith(now, []wire.Cause{&wire.ProtocolViolationCause{Info: []byte("cumulative TSN ack beyond TSNs sent")}}, ErrProtocolViolation)
		return
	}
	if r.Stale {
		return // 6.2.1 D i
	}
	if r.HasRTT {
		d.paths.at(r.RTTDest).rto.Observe(r.RTT)
	}
	if r.Released > 0 {
		d.sq.Release(r.Released)
	}
	// 7.2.4: Fast Recovery ends once the ack point reaches its exit
	// point; 7.2.1/7.2.2 adjust cwnd for this acknowledgement before a
	// Fast Retransmit it starts does (the note ending 7.2.4): halve cwnd
	// once, let one packet of retransmissions bypass cwnd.
	d.recovery.OnCumulativeAck(d.out.CumAck())
	d.ccOnAck(&r)
	a.host.stats.LostRetransmits += uint64(r.LostRetransmits)
	if r.FastRetransmit {
		// Linux counts SctpFastRetransmits once per destination whose
		// chunks this acknowledgement marked (sctp_mark_missing, then
		// sctp_retransmit per transport).
		for i := range r.Dests {
			if r.Dests[i].FastMarked {
				a.host.stats.FastRetransmits++
			}
		}
	}
	if r.FastRetransmit && d.recovery.Enter(d.out.NextTSN()-1) {
		d.paths.onFastRetransmit(&r)
		d.forceOne = true
	}
	d.onTailProbeAcks(a, dups)
	if r.Acked > 0 || r.Advanced {
		a.errorCount = 0
		d.clearHeard(&r)
	}
	if d.zwp.onAck(d.out.CumAck(), d.out.Len(), ack.ARwnd, ack.Sack) {
		d.probeAnswered(a, ack.ARwnd, now)
	}
	d.afterAck(now, &r)
	if d.out.Len() == 0 && d.sq != nil && d.sq.Buffered() == 0 && !d.dry {
		d.dry = true
		a.notify(Event{Type: SenderDry})
	}
	a.markDirty()
}

// onTimeout runs the data timers of the association: delayed SACK and the
// zero window probe's delay. T3-rtx is per destination (onT3).
func (d *dataState) onTimeout(a *Association, now time.Time) {
	if d.sackDue.due(now) {
		d.sackDue.stop()
		a.host.stats.DelaySackExpireds++
		d.sackNow = true
	}
	d.zwp.onTimeout(now)
}

// onT3 runs the T3-rtx timer of destination pa (6.3.3).
func (d *dataState) onT3(a *Association, pa *path, now time.Time) {
	pa.t3.stop()
	pa.stopTailProbe()
	pa.tlp.episode = false // T3-rtx is the response to what it covered
	a.host.stats.T3RtxExpireds++
	if d.out.DestCount(pa.idx) == 0 || !d.inited {
		return
	}
	if d.reprobe(a, pa, now) {
		return
	}
	// E1, E2: congestion collapse and RTO backoff for that destination;
	// the error counters (8.1, 8.2).
	pa.cc.OnRetransmitTimeout()
	pa.rto.Backoff()
	if a.countError(pa, now, true) {
		return
	}
	d.recovery.Exit()
	// E3: everything not acknowledged that was last sent there is
	// retransmitted, to another destination if one is active (6.4); one
	// packet now.
	d.out.MarkTimedOut(pa.idx)
	a.host.stats.T3Retransmits++
	d.forceOne = true
	d.armT3(pa, now)
}
