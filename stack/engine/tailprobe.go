package engine

import (
	"slices"
	"time"

	"github.com/sctpgw/sctpgw/stack/internal/outstanding"
)

// Tail loss probes (docs/design.md 6.4; RFC 8985 7, TCP's TLP, taken
// over for SCTP; the outstanding package's probe.go says why SCTP needs
// one). When a destination has DATA in flight and neither sends new DATA
// nor hears an acknowledgement of data sent there for a probe timeout
// (PTO, about two round trips), its highest-TSN chunk in flight goes
// again, with the I bit (RFC 7053) so the answer is not delayed. If that answer shows the probe
// arrived and chunks sent before it did not, they are lost: they are
// marked for retransmission and the association enters Fast Recovery as
// for a Fast Retransmit (7.2.4; RFC 8985 7.4.2); so it does when the probe
// itself repaired the loss (the peer never reports its TSN as a
// duplicate). T3-rtx keeps running
// beside it, so a lost probe costs nothing T3 would not have. One probe
// per destination is in flight at a time; an unanswered one is followed
// by one more after twice the PTO (a receiver descheduled past the first),
// then only T3-rtx.
//
// Where it differs from RFC 8985: the probe is always a retransmission
// (never new data beyond cwnd), and it is allowed in Fast Recovery, where
// SCTP's retransmissions are lost for good otherwise: 7.2.4 step 3 fast
// retransmits a chunk once, and the examples/lab relay measurements
// showed a lost Fast Retransmit behind a lost tail as a 1 s stall.

const (
	// minPTO bounds the probe timeout from below, as TCP's TLP does
	// (10 ms): timers on the stack coalesce on that scale anyway.
	minPTO = 10 * time.Millisecond
	// loneSlack is added to a lone packet's PTO beyond the peer's SACK
	// delay, for the lateness of its timer and of ours (kernel timer
	// rounding, scheduling): a needless probe costs a duplicate chunk and
	// an RTT sample.
	loneSlack = 40 * time.Millisecond
	// maxTailProbes is the most probes sent while none is answered.
	maxTailProbes = 2
	// peerSackDelay is the delayed-SACK time a peer may take (RFC 9260
	// 6.2 recommends 200 ms) when only one packet is in flight, so no
	// second packet would make it acknowledge at once.
	peerSackDelay = 200 * time.Millisecond
)

// tailProbe is a destination's tail loss probe state.
type tailProbe struct {
	// timer is the PTO. It is started once and checked lazily: since
	// moves on with every new DATA sent and every acknowledgement of data
	// sent there, and an expiry before since plus the PTO re-arms it.
	timer timer
	since time.Time
	// due: the PTO expired; the next flush sends the probe.
	due bool
	// out: a probe is in flight, TSN tsn, transmission seq
	// (outstanding.Queue.ProbeTail); sent probes went unanswered so far.
	out  bool
	tsn  uint32
	seq  uint32
	sent int
	// episode: probes went and the cumulative ack has not yet reached
	// high, the highest TSN sent when the latest went; dup: the peer
	// reported the probe's TSN as a duplicate (the original had
	// arrived); found: the probe's answer showed other chunks lost.
	episode    bool
	high       uint32
	dup, found bool
}

func (t *tailProbe) reset() { *t = tailProbe{} }

// tailProbeOn reports whether the association probes tail losses.
func (a *Association) tailProbeOn() bool { return !a.cfg.NoTailLossProbe }

// pto is the destination's probe timeout, or zero if it may not probe: no
// round trip measured yet (RTO is the only estimate then).
func (d *dataState) pto(pa *path) time.Duration {
	if !pa.rto.Measured() {
		return 0
	}
	srtt := pa.rto.SRTT()
	p := max(2*srtt, minPTO)
	if d.out.DestFlight(pa.idx) <= pa.maxPacket() {
		// A lone packet is acknowledged after the peer's SACK delay: a
		// peer keeping to 200 ms sees no probe.
		p = max(p, 2*srtt+peerSackDelay+loneSlack)
	}
	return p
}

// tailProbeActivity restarts the PTO of pa from now: new DATA went there,
// or data sent there was acknowledged (RFC 8985 7.2). The timer is moved
// only when it must fire sooner (a lone packet's PTO is longer than a
// flight's); onPTO puts off one that fires early.
func (d *dataState) tailProbeActivity(a *Association, pa *path, now time.Time) {
	t := &pa.tlp
	t.since = now
	if t.out || !a.tailProbeOn() {
		return
	}
	p := d.pto(pa)
	if p == 0 {
		return
	}
	if at := now.Add(p); !t.timer.running() || at.Before(t.timer.at) {
		t.timer.at = at
		pa.rearm()
	}
}

// onPTO runs the destination's probe timeout.
func (d *dataState) onPTO(a *Association, pa *path, now time.Time) {
	t := &pa.tlp
	t.timer.stop()
	if t.sent >= maxTailProbes || !d.mayFlush(a) || a.state == stateCookieEchoed || !pa.usable() ||
		d.out.DestFlight(pa.idx) == 0 || d.zwp.out {
		return
	}
	p := d.pto(pa)
	if p == 0 {
		return
	}
	if at := t.since.Add(p << t.sent); now.Before(at) {
		t.timer.at = at
		pa.rearm()
		return
	}
	if pa.t3.running() && !pa.t3.at.After(now.Add(minPTO)) {
		return // T3-rtx is as near: let it act
	}
	t.due = true
}

// flushTailProbes sends the probes that are due, each alone ahead of
// anything else for its destination, and arms the next one's timer.
func (d *dataState) flushTailProbes(a *Association, pb *packetBuilder, now time.Time) {
	for _, pa := range d.paths.list {
		t := &pa.tlp
		if !t.due {
			continue
		}
		t.due = false
		if !pa.usable() {
			continue // failed since the PTO expired
		}
		i, seq, ok := d.out.ProbeTail(pa.idx)
		if !ok {
			continue
		}
		o := &d.out.Chunks()[i]
		pb.to(pa)
		c := d.dataChunk(o)
		c.Immediate = true // RFC 7053: the answer is what the probe is for
		pb.add(c)
		if t.episode && !t.dup && !t.found && !serialAfter(t.high, d.out.CumAck()) {
			// The previous probe's episode was acknowledged in full a PTO
			// ago and no duplicate report came: it repaired a loss.
			if d.recovery.Enter(d.out.NextTSN()-1) && pa.cc != nil {
				pa.cc.OnFastRetransmit()
			}
			t.episode = false
		}
		t.out, t.tsn, t.seq = true, o.TSN(), seq
		if !t.episode {
			t.episode, t.dup, t.found = true, false, false
		}
		t.high = d.out.NextTSN() - 1
		t.sent++
		t.since = now
		if t.sent < maxTailProbes {
			t.timer.start(now, d.pto(pa)<<t.sent)
			pa.rearm()
		}
		a.host.stats.TailLossProbes++
	}
}

// onTailProbeAcks looks, after an acknowledgement, at each destination
// with a probe episode open. Once the peer holds the probe's TSN, what was
// sent there before the probe and is neither acknowledged nor marked is
// lost (RFC 8985 7.4): it is marked for retransmission. When the
// cumulative ack reaches what was sent when the probe went, the episode
// ends; if the peer never reported the probe's TSN as a duplicate, the
// probe itself repaired a loss (7.4.2). Either way the association enters
// Fast Recovery if it is not in it, halving once the cwnd of each such
// destination (7.2.4 step 2), as a Fast Retransmit would.
func (d *dataState) onTailProbeAcks(a *Association, dups []uint32) {
	var lossy [outstanding.MaxDests]bool
	react, marked := false, false
	cum := d.out.CumAck()
	for _, pa := range d.paths.list {
		t := &pa.tlp
		if !t.episode {
			continue
		}
		t.dup = t.dup || slices.Contains(dups, t.tsn)
		if t.out && d.out.Delivered(t.tsn) {
			t.out, t.sent = false, 0
			if n := d.out.MarkSentBefore(pa.idx, t.seq); n > 0 {
				a.host.stats.TailLossProbeLosses += uint64(n)
				// The response is taken now, once for the episode.
				t.found, marked = true, true
				lossy[pa.idx], react = true, true
			}
		}
		switch {
		case t.dup || t.found:
			if !serialAfter(t.high, cum) {
				t.episode, t.found, t.dup = false, false, false
			}
		case serialAfter(cum, t.high):
			// Something sent after the probe is acknowledged and the
			// peer never reported the probe as a duplicate: it repaired
			// a loss. Not at cum == high: that SACK may have crossed the
			// probe, whose answer, with the duplicate, is still to come.
			lossy[pa.idx], react = true, true
			t.episode = false
		}
	}
	if !react || !d.recovery.Enter(d.out.NextTSN()-1) {
		return
	}
	for _, pa := range d.paths.list {
		if lossy[pa.idx] && pa.cc != nil {
			pa.cc.OnFastRetransmit()
		}
	}
	d.forceOne = d.forceOne || marked
}

// stopTailProbe ends the destination's probing: T3-rtx expired there, or
// nothing is outstanding there any more.
func (pa *path) stopTailProbe() {
	if t := &pa.tlp; t.timer.running() || t.out || t.due {
		// The episode outlives the probing: its end is judged by
		// acknowledgements still to come.
		ep, high, tsn, dup, found := t.episode, t.high, t.tsn, t.dup, t.found
		t.reset()
		t.episode, t.high, t.tsn, t.dup, t.found = ep, high, tsn, dup, found
		pa.rearm()
	}
}
