package engine

import "time"

// zeroWindowProbe is zero window probing (RFC 9260 6.1 rule A): while the
// peer's window is closed and nothing is outstanding, one chunk may go as
// a probe, the first one RTO after the window closed, and again at a
// doubling interval (up to RTO.Max) while the peer keeps answering with
// its window still closed. Probes the peer answers count no error and
// leave cwnd alone; unanswered ones are ordinary T3-rtx timeouts, so a
// peer that dies behind a closed window is still detected.
type zeroWindowProbe struct {
	// delay runs from the window's closing to the first probe; due says
	// it ran out and one probe may go.
	delay timer
	due   bool
	// out says the probe tsn is outstanding; answered that the peer sent
	// a SACK since it last went out, so its timeout is no error.
	out      bool
	answered bool
	tsn      uint32
	// wait is the current probe interval, zero while the window is open.
	wait time.Duration
	// arwnd is the a_rwnd of the latest acknowledgement.
	arwnd uint32
}

// reset starts the data path afresh with the peer's first a_rwnd.
func (z *zeroWindowProbe) reset(arwnd uint32) { *z = zeroWindowProbe{arwnd: arwnd} }

// mayProbe is asked when new data does not fit the peer's window and
// nothing is outstanding: it reports whether a probe may go now, and
// otherwise starts the delay before the first one (an RTO, rto).
func (z *zeroWindowProbe) mayProbe(now time.Time, rto time.Duration) bool {
	if z.due {
		return true
	}
	if !z.delay.running() {
		if z.wait == 0 {
			z.wait = rto
		}
		z.delay.start(now, z.wait)
	}
	return false
}

// sent records the probe tsn just sent; its T3-rtx runs for the interval
// returned.
func (z *zeroWindowProbe) sent(tsn uint32) time.Duration {
	z.due, z.out, z.answered, z.tsn = false, true, false, tsn
	return z.wait
}

// windowOpen is told that new data went within the peer's window: the next
// closing starts probing anew.
func (z *zeroWindowProbe) windowOpen() {
	z.delay.stop()
	z.due, z.wait = false, 0
}

// end stops probing: the probe was acknowledged, or is resent as an
// ordinary retransmission.
func (z *zeroWindowProbe) end() { z.out, z.wait = false, 0 }

// onTimeout runs the delay before the first probe.
func (z *zeroWindowProbe) onTimeout(now time.Time) {
	if z.delay.due(now) {
		z.delay.stop()
		z.due = true
	}
}

// onAck takes an acknowledgement with a_rwnd arwnd, after which cumAck is
// the cumulative ack point and outstanding chunks are outstanding. It
// reports whether the peer answered (a SACK, sack) while the probe is
// still outstanding.
func (z *zeroWindowProbe) onAck(cumAck uint32, outstanding int, arwnd uint32, sack bool) bool {
	z.arwnd = arwnd
	if !z.out {
		return false
	}
	if !serialAfter(z.tsn, cumAck) || outstanding == 0 {
		z.end()
		return false
	}
	if sack {
		z.answered = true
		return true
	}
	return false
}

// again is asked when T3-rtx expires with only the chunk tsn of userBytes
// outstanding (only says so): if it is the probe, the peer has been
// answering and its window is still too small for it, the probe goes
// again at twice the interval, at most maxWait, returned with true.
func (z *zeroWindowProbe) again(only bool, tsn uint32, userBytes int, maxWait time.Duration) (time.Duration, bool) {
	if !z.out || !z.answered || !only || tsn != z.tsn || z.arwnd >= uint32(userBytes) {
		return 0, false
	}
	z.wait = min(2*z.wait, maxWait)
	z.answered = false
	return z.wait, true
}

// probeAnswered applies a SACK that answers the outstanding probe (6.1
// rule A): the peer is alive, so neither the association nor the probe's
// path counts errors; and if the window reopened enough for the probe,
// which the closed window dropped, it is resent at once rather than after
// its backed-off timer.
func (d *dataState) probeAnswered(a *Association, arwnd uint32, now time.Time) {
	o := &d.out.Chunks()[0]
	a.errorCount = 0
	d.paths.at(o.Dest()).clearErrors()
	if d.out.Len() == 1 && arwnd >= uint32(o.UserBytes()) && o.InFlight() {
		d.out.Mark(0)
		d.zwp.end()
		d.armT3(d.paths.at(o.Dest()), now)
	}
}

// reprobe handles T3-rtx on pa while only the window probe is outstanding,
// the window is still closed and the peer has been answering: the probe
// goes again at twice the interval, counting no error and leaving cwnd
// alone (6.1 rule A: "Zero window probing does not affect the calculation
// of cwnd"). It reports whether it did.
func (d *dataState) reprobe(a *Association, pa *path, now time.Time) bool {
	live := d.out.Chunks()
	if len(live) == 0 {
		return false
	}
	o := &live[0]
	wait, ok := d.zwp.again(len(live) == 1, o.TSN(), o.UserBytes(), a.cfg.RTO.Max)
	if !ok {
		return false
	}
	if o.InFlight() {
		d.out.Mark(0)
	}
	d.out.ForgetRTT()
	pa.startT3(now, wait)
	return true
}
