package outstanding

import (
	"errors"
	"time"

	"github.com/sctpgw/sctpgw/stack/wire"
)

// ErrAckBeyondSent: the cumulative TSN ack covers a TSN never sent, a
// protocol violation the association ends on.
var ErrAckBeyondSent = errors.New("outstanding: cumulative TSN ack beyond the TSNs sent")

// Ack is an acknowledgement: a SACK (6.2.1), or the Cumulative TSN Ack of a
// SHUTDOWN (9.2).
type Ack struct {
	CumTSN uint32
	// ARwnd is the peer's advertised receiver window credit.
	ARwnd uint32
	Gaps  []wire.GapBlock
	// Sack says the acknowledgement is a SACK, whose gap blocks say all
	// the peer holds above CumTSN: a chunk gap-acknowledged before and
	// not covered now was reneged. A SHUTDOWN says nothing above CumTSN,
	// so gap-acknowledged chunks stay so.
	Sack bool
	// FastRecovery says the association is in Fast Recovery (7.2.4) as
	// the acknowledgement arrives: then one that advances the cumulative
	// ack strikes every TSN it reports missing.
	FastRecovery bool
	Now          time.Time
}

// Result is what an acknowledgement meant.
type Result struct {
	// Stale: the cumulative ack is below the ack point, and the
	// acknowledgement old news (6.2.1 D i); nothing changed.
	Stale bool
	// Advanced: the cumulative ack point moved.
	Advanced bool
	// Acked is the chunk bytes newly acknowledged, cumulatively or by gap
	// blocks; chunks gap-acknowledged before do not count again.
	Acked int
	// Released is the user bytes of the chunks the cumulative ack
	// covered, which left the Queue: the send buffer may take them back.
	Released int
	// FastRetransmit says chunks were newly marked for Fast Retransmit
	// (7.2.4 steps 1 and 5): the association enters Fast Recovery unless
	// it is in it (step 2).
	FastRetransmit bool
	// RTT is a round-trip sample of the destination RTTDest, if HasRTT:
	// the timed chunk was acknowledged and never retransmitted.
	RTT     time.Duration
	RTTDest int
	HasRTT  bool
	// LostRetransmits counts fast retransmissions it showed lost and
	// marked again (strikeResent).
	LostRetransmits int
	// Dests is what it meant per destination, by the one each chunk was
	// last sent to.
	Dests [MaxDests]DestResult
}

// DestResult is what an acknowledgement meant for one destination (7.2:
// cwnd, ssthresh and partial_bytes_acked are per destination; 8.2: so is
// the error counter).
type DestResult struct {
	// Acked is the chunk bytes newly acknowledged that were last sent
	// there.
	Acked int
	// FlightBefore is the destination's flight size before the
	// acknowledgement (7.2.1's "fully utilized" and 7.2.2 judge the window
	// as it was).
	FlightBefore int
	// Fresh says one of those chunks was never retransmitted, so it went
	// there and nowhere else, and was sent after the last error counted
	// against the destination (Discredit): the destination is reachable
	// (8.2). An acknowledged retransmission may have arrived by an earlier
	// copy sent elsewhere; a chunk sent before the destination failed
	// says it worked then, not now.
	Fresh bool
	// FreshTSN is the highest TSN among those chunks, when Fresh: the
	// destination was reachable when it was sent.
	FreshTSN uint32
	// FastMarked says a chunk last sent there was newly marked for Fast
	// Retransmit (7.2.4 step 2 adjusts that destination's cwnd).
	FastMarked bool
}

// Ack applies an acknowledgement: the chunks the cumulative ack covers
// leave the Queue, those the gap blocks cover leave the flight, those they
// no longer cover come back to it, and the chunks reported missing take a
// miss indication. It fails with ErrAckBeyondSent, changing nothing, when
// the cumulative ack covers a TSN never sent.
func (q *Queue) Ack(in Ack) (Result, error) {
	var r Result
	if after(q.cumAck, in.CumTSN) {
		r.Stale = true
		return r, nil
	}
	if after(in.CumTSN, q.nextTSN-1) {
		return r, ErrAckBeyondSent
	}
	for i := range r.Dests {
		r.Dests[i].FlightBefore = q.dests[i].flight
	}
	q.newest = [MaxDests]newestAcked{}
	r.Advanced = after(in.CumTSN, q.cumAck)
	q.ackCumulative(&r, in)
	if r.Advanced {
		q.cumAck = in.CumTSN
	}
	if in.Sack && (len(in.Gaps) > 0 || q.gapAcked > 0) {
		q.ackGaps(&r, in)
	}
	if r.Acked > 0 {
		q.strikeResent(&r)
	}
	// 6.2.1 D iv: the peer's window less what is still outstanding, chunks
	// waiting for retransmission included.
	fl := uint32(q.flightUser + q.markedUser)
	q.peerRwnd = in.ARwnd - min(in.ARwnd, fl)
	return r, nil
}

// ackCumulative lets the chunks up to in.CumTSN go.
func (q *Queue) ackCumulative(r *Result, in Ack) {
	live := q.Chunks()
	n := 0
	for n < len(live) && !after(live[n].tsn, in.CumTSN) {
		o := &live[n]
		switch o.state {
		case inFlight:
			q.credit(r, o)
			q.leaveFlight(o)
		case marked:
			q.credit(r, o)
			q.unmark(o)
		case gapAcked:
			// Acknowledged already, maybe before the destination it went
			// to failed: no news of that destination now.
			q.gapAcked--
		}
		if q.rtt.on && o.tsn == q.rtt.tsn {
			q.rtt.on = false
			if !o.resent {
				r.RTT, r.RTTDest, r.HasRTT = in.Now.Sub(q.rtt.sent), int(o.dest), true
			}
		}
		q.bytes -= o.UserBytes()
		r.Released += o.UserBytes()
		n++
	}
	if n > 0 {
		q.dropAcked(n)
	}
}

// ackGaps marks what the gap blocks cover, unmarks what they no longer
// cover (the peer may renege, 6.2.1 D), and strikes the chunks they report
// missing (7.2.4).
func (q *Queue) ackGaps(r *Result, in Ack) {
	var htna uint32 // highest TSN newly acknowledged
	haveHTNA := false
	gaps := in.Gaps
	gi := 0
	live := q.Chunks()
	for i := range live {
		o := &live[i]
		off := o.tsn - in.CumTSN
		for gi < len(gaps) && uint32(gaps[gi].End) < off {
			gi++
		}
		covered := gi < len(gaps) && uint32(gaps[gi].Start) <= off && off <= uint32(gaps[gi].End)
		switch {
		case covered && o.state != gapAcked:
			q.credit(r, o)
			if o.state == marked {
				q.unmark(o)
			} else {
				q.leaveFlight(o)
			}
			o.state = gapAcked
			q.gapAcked++
			htna, haveHTNA = o.tsn, true
		case !covered && o.state == gapAcked:
			// Reneged (6.2.1 D): outstanding again.
			o.state = inFlight
			q.gapAcked--
			q.enterFlight(o)
		}
	}
	// 7.2.4 HTNA: an acknowledgement that newly acknowledges nothing
	// strikes no miss, so duplicated or reordered SACKs cannot add any. In
	// Fast Recovery one that advances the cumulative ack strikes every TSN
	// it reports missing, up to its highest gap block.
	if in.FastRecovery && r.Advanced && len(gaps) > 0 {
		htna, haveHTNA = in.CumTSN+uint32(gaps[len(gaps)-1].End), true
	}
	if haveHTNA {
		q.strike(r, htna)
	}
}

// strike counts a miss indication for every chunk in flight below htna and
// marks those with three for Fast Retransmit, once per chunk (7.2.4 steps
// 1 and 5).
func (q *Queue) strike(r *Result, htna uint32) {
	live := q.Chunks()
	for i := range live {
		o := &live[i]
		if !after(htna, o.tsn) {
			break
		}
		if o.state != inFlight || o.fastDone {
			continue
		}
		o.misses++
		if o.misses >= fastRetransmitMisses {
			o.fastDone = true
			q.mark(o)
			r.Dests[o.dest].FastMarked = true
			r.FastRetransmit = true
		}
	}
}

// strikeResent counts a miss indication for each fast-retransmitted chunk
// in flight whose retransmission left before a chunk this acknowledgement
// newly acknowledged that went to the same destination once only, and
// marks it for retransmission again at three. 7.2.4 step 3 fast
// retransmits a chunk once because its miss indications count by TSN:
// every SACK until the retransmission arrives reports it missing, so
// more would be spurious. Counted by transmission order instead, as RFC
// 8985's RACK does, a miss means that something sent after the
// retransmission arrived and it did not: lost, or reordered, which three
// such acknowledgements rule out as 7.2.4 does. Without this, a lost Fast
// Retransmit waits for T3-rtx (RTO.Min, 1 s) while the flow goes on.
func (q *Queue) strikeResent(r *Result) {
	if !q.fastOut {
		return
	}
	found := false
	live := q.Chunks()
	for i := range live {
		o := &live[i]
		if o.state != inFlight || !o.fastDone || o.relost >= maxRelost {
			continue
		}
		found = true
		n := q.newest[o.dest]
		if !n.ok || !after(n.sent, o.sent) {
			continue
		}
		o.misses++
		if o.misses >= fastRetransmitMisses {
			o.relost++
			q.mark(o)
			r.Dests[o.dest].FastMarked = true
			r.FastRetransmit = true
			r.LostRetransmits++
		}
	}
	q.fastOut = found
}

// credit counts o, newly acknowledged, for the destination it was last
// sent to.
func (q *Queue) credit(r *Result, o *Chunk) {
	n := o.Size()
	r.Acked += n
	d := &r.Dests[o.dest]
	d.Acked += n
	if n := &q.newest[o.dest]; !o.resent && (!n.ok || after(o.sent, n.sent)) {
		n.sent, n.ok = o.sent, true
	}
	if !o.resent && !o.stale {
		if !d.Fresh || after(o.tsn, d.FreshTSN) {
			d.FreshTSN = o.tsn
		}
		d.Fresh = true
	}
}
