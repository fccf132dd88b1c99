package gateway

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/sctpgw/sctpgw/acl"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/wire"
)

const (
	dirIn  = 0 // the accepted (ingress) side
	dirOut = 1 // the dialled (egress) side
)

var sideNames = [2]string{"ingress", "egress"}

// pair is one ingress association bound to one egress association.
type pair struct {
	c        *core
	r        *route
	rs       *routeState // the route's counters
	req      *engine.AcceptRequest
	accepted bool
	slot     acl.Slot
	side     [2]side
	msgs     [2]uint64
	bytes    [2]uint64
	opened   time.Time
	created  time.Time // when the COOKIE ECHO was accepted for dialling
	drained  bool      // the gateway's drain shut it down
	done     bool
	// rejected: the ingress peer's connect was answered with an ABORT (or
	// it left), before any COOKIE ACK.
	rejected bool
}

// side is one association of a pair and what the pair knows of it.
type side struct {
	p *pair
	d int
	a *engine.Association
	// held is a message read from this side that the other side's send
	// buffer could not take yet: backpressure stops reading here.
	held *engine.Message
	// shut: this side's peer sent SHUTDOWN; its SHUTDOWN ACK is held until
	// the other side can send no more (docs/design.md 2.5).
	shut     bool
	released bool
	// shutdownCalled: we started a graceful shutdown toward this side.
	shutdownCalled bool
	// acked: this side's peer acknowledged our SHUTDOWN; its SHUTDOWN
	// COMPLETE is held until what the peer sent reached the other side's
	// peer (docs/design.md 2.5).
	acked    bool
	closed   bool
	graceful bool   // closed by SHUTDOWN COMPLETE
	end      string // how it ended, for the pair's end line
	// stopped: this side's window is closed (engine CloseWindow), so what
	// its peer sends from now on stays with the peer, unacknowledged.
	stopped bool
	// abortPending: this side ends in an ABORT carrying abortCauses once
	// everything owed to its peer is delivered (see finishAborts).
	abortPending bool
	abortCauses  []byte
}

func (p *pair) other(s *side) *side { return &p.side[1-s.d] }

// HandleEvent is the engine's notification callback for both associations
// of a pair.
func (s *side) HandleEvent(a *engine.Association, ev engine.Event) {
	p, c := s.p, s.p.c
	now := c.h.Now()
	o := p.other(s)
	switch ev.Type {
	case engine.CommUp:
		if s.d == dirOut {
			p.up(now)
		}
	case engine.CantStartAssoc:
		s.closed = true
		s.ended(ev)
		if s.d == dirOut {
			p.egressFailed(now, ev)
		} else {
			p.ingressGone(now)
		}
		p.maybeFinish()
	case engine.SenderDry:
		p.progress(now)
	case engine.ShutdownEvent:
		s.shut = true
		p.forward(s.d)
		p.progress(now)
	case engine.ShutdownComp:
		s.closed, s.graceful = true, true
		s.ended(ev)
		p.forward(s.d)
		p.progress(now)
		p.maybeFinish()
	case engine.CommLost:
		s.closed = true
		s.ended(ev)
		if p.accepted {
			p.relay(s, ev, now)
			p.progress(now)
		} else if s.d == dirIn {
			// A pending ingress restarted by its peer: the new association
			// gets a pair of its own.
			p.ingressGone(now)
		}
		p.maybeFinish()
	case engine.RemoteError:
		// An Invalid Stream error from the far side of a chain of gateways
		// belongs to the original sender: pass cause 1 on. Other causes
		// concern this hop only.
		if o.a != nil && !o.closed {
			for _, cs := range ev.Causes {
				if is, ok := cs.(*wire.InvalidStreamCause); ok {
					o.a.ReportError(now, &wire.InvalidStreamCause{StreamID: is.StreamID})
				}
			}
		}
	case engine.Restart:
		// An egress peer restarted in place: the ingress peer's association
		// no longer has a partner (docs/design.md 2.7).
		p.rs.cnt.Restarts++
		if !o.closed && o.a != nil {
			o.abort(now, "sctpgw: "+sideNames[s.d]+" peer restarted")
		}
		s.abort(now, "sctpgw: "+sideNames[1-s.d]+" peer gone")
	}
}

// HandleSignal is the engine's signal callback for both associations of a
// pair: the relay itself (docs/design.md 6.3).
func (s *side) HandleSignal(_ *engine.Association, sig engine.Signal) {
	p := s.p
	now := p.c.h.Now()
	switch sig.Type {
	case engine.Readable:
		p.forward(s.d)
	case engine.Writable:
		p.forward(1 - s.d)
	case engine.ShutdownAcked:
		s.acked = true
	case engine.DataRefused:
		// The drain closed this side's window and its peer still sends
		// (docs/design.md 2.8). That peer cannot close gracefully (it would
		// have to deliver the refused data first, RFC 9260 9.2), so this
		// side ends in an ABORT that says so once everything owed to it has
		// been delivered, and the peer's stack reports the refused messages
		// unsent.
		if !s.abortPending {
			s.abortPending, s.abortCauses = true, drainRefusedCauses
			if s.end == "" {
				s.end = "ABORT by gateway: " + drainRefusedReason
			}
		}
	default:
		return
	}
	p.progress(now)
}

// up completes the handshake coupling (docs/design.md 2.1): the egress is
// up, so the ingress peer gets its COOKIE ACK.
func (p *pair) up(now time.Time) {
	c := p.c
	out := &p.side[dirOut]
	out.a.SetAbortDeadline(now, time.Time{}, nil) // the dial is over
	if err := p.req.Accept(now, &p.side[dirIn]); err != nil {
		// The ingress peer left while we dialled.
		out.abort(now, "sctpgw: ingress peer gone")
		return
	}
	p.accepted = true
	p.opened = now
	p.rs.setup.Observe(now.Sub(p.created))
	p.rs.cnt.PairsOpened++
	_, lp := p.side[dirIn].a.Path()
	c.log.Info("pair up", "route", p.r.Name,
		"ingress_peer", netip.AddrPortFrom(lp.Remote, p.side[dirIn].a.RemotePort()).String(),
		"egress_peer", netip.AddrPortFrom(p.r.ForwardPath.Remote, p.r.ForwardPort).String())
}

// egressFailed answers the waiting ingress peer when the dial fails: its
// connect fails with the egress cause, not an association that dies a
// moment later (docs/design.md 2.1).
func (p *pair) egressFailed(now time.Time, ev engine.Event) {
	if p.accepted || p.rejected {
		return
	}
	p.rejected = true
	p.rs.cnt.PairsFailed++
	out := &p.side[dirOut]
	switch {
	case errors.Is(ev.Err, engine.ErrDeadline):
		out.end = fmt.Sprintf("timeout: no answer in %v (dial_timeout)", p.r.DialTimeout)
	case errors.Is(ev.Err, engine.ErrPeerRefused):
		out.end = "refused: ICMP protocol or port unreachable"
	}
	if len(ev.CauseBytes) > 0 {
		p.req.RejectRaw(now, ev.CauseBytes)
	} else {
		p.req.Reject(now, userAbort(p.dialFailure(ev.Err)))
	}
}

// dialFailure words why the dial failed, for the ingress peer's ABORT.
func (p *pair) dialFailure(err error) string {
	if errors.Is(err, engine.ErrDeadline) {
		return fmt.Sprintf("sctpgw: egress peer unreachable: no answer in %v (dial_timeout)", p.r.DialTimeout)
	}
	return reasonFor(dirOut, err)
}

// ingressGone ends a pair whose ingress association closed before its
// COOKIE ACK (its peer aborted, or restarted): the dial is abandoned.
func (p *pair) ingressGone(now time.Time) {
	p.rejected = true
	p.side[dirIn].closed = true
	if out := &p.side[dirOut]; out.a != nil && !out.closed {
		out.abort(now, "sctpgw: ingress peer gone")
	}
}

// relay carries the end of side s to the other side (docs/design.md 2.6):
// a peer's ABORT with its causes verbatim, a local failure as a
// User-Initiated Abort naming the side and the cause. What the gateway
// acknowledged from s's peer before the end is delivered first, as a
// native receiver's stack would deliver what it acknowledged before an
// ABORT (abortAfterDelivery).
func (p *pair) relay(s *side, ev engine.Event, now time.Time) {
	o := p.other(s)
	if o.a == nil || o.closed || errors.Is(ev.Err, engine.ErrAborted) {
		// Nothing to tell, or we aborted s ourselves and see to o.
		return
	}
	if errors.Is(ev.Err, engine.ErrPeerAborted) {
		if o.end == "" {
			o.end = "ABORT relayed from the " + sideNames[s.d] + " peer" + describeCauses(ev.Causes)
		}
		p.abortAfterDelivery(o, ev.CauseBytes, now)
		return
	}
	reason := reasonFor(s.d, ev.Err)
	if n := len(s.a.Status().Paths); n > 1 && errors.Is(ev.Err, engine.ErrPeerUnreachable) {
		// A multi-homed leg ends only when every path has failed (RFC
		// 9260 8.1): say so, a single path's failure never reaches here.
		reason += fmt.Sprintf(": all %d paths failed", n)
	}
	if o.end == "" {
		o.end = "ABORT by gateway: " + reason
	}
	p.abortAfterDelivery(o, wire.AppendCauses(nil, []wire.Cause{userAbort(reason)}), now)
}

// abortAfterDelivery makes side o end in an ABORT carrying causes once it
// has delivered what the other side's peer sent: o's window closes, so what
// o's peer sends meanwhile is not acknowledged and comes back to it as
// unsent, and the ABORT goes when nothing is left to deliver
// (finishAborts), or after RelayWait at the latest.
func (p *pair) abortAfterDelivery(o *side, causes []byte, now time.Time) {
	o.abortPending, o.abortCauses = true, causes
	if !o.stopped {
		o.stopped = true
		o.a.CloseWindow(now)
	}
	o.a.SetAbortDeadline(now, now.Add(RelayWait), causes)
	p.forward(1 - o.d)
}

// finishAborts sends the ABORTs that wait for delivery: side o's goes once
// its other side is closed (nothing more will come from it) and all it had
// was handed on, and everything sent on o has been acknowledged.
func (p *pair) finishAborts(now time.Time) {
	for d := range p.side {
		o := &p.side[d]
		if !o.abortPending || o.a == nil || o.closed {
			continue
		}
		src := p.other(o)
		if (src.a != nil && !src.closed) || !src.drained() || o.a.Buffered() > 0 {
			continue
		}
		o.a.AbortRaw(now, o.abortCauses)
	}
}

// drainRefusedReason ends a drained side whose peer still had data to send.
const drainRefusedReason = "sctpgw: gateway shutting down: data not accepted"

var drainRefusedCauses = wire.AppendCauses(nil, []wire.Cause{userAbort(drainRefusedReason)})

// reasonFor words a local failure on side d for the other side's ABORT.
func reasonFor(d int, err error) string {
	switch {
	case errors.Is(err, engine.ErrPeerUnreachable):
		// "peer unreachable", with what the engine adds (ICMP refusal).
		return "sctpgw: " + sideNames[d] + " " + err.Error()
	case errors.Is(err, engine.ErrRestarted):
		return "sctpgw: " + sideNames[d] + " peer restarted"
	case errors.Is(err, engine.ErrShutdownGuard):
		return "sctpgw: " + sideNames[d] + " shutdown timed out"
	case errors.Is(err, engine.ErrHostClosed):
		return "sctpgw: gateway stopped"
	case err != nil:
		return "sctpgw: " + sideNames[d] + " failed: " + err.Error()
	}
	return "sctpgw: " + sideNames[d] + " failed"
}

// forward moves messages from side x to the other side until x has none or
// the other side's send buffer is full. What is read is sent whole, once,
// with its stream, PPID and unordered flag (docs/design.md 2.2).
func (p *pair) forward(x int) {
	src, dst := &p.side[x], &p.side[1-x]
	if src.a == nil || !p.accepted {
		return
	}
	c := p.c
	now := c.h.Now()
	for i := 0; i < 1<<16; i++ {
		var m engine.Message
		if src.held != nil {
			m = *src.held
		} else {
			var ok bool
			if m, ok = src.a.Read(now); !ok {
				return
			}
		}
		if dst.a == nil || dst.closed {
			// The pair was aborted (the ABORT told the sender); what is
			// left is counted when the pair ends.
			if src.held == nil {
				src.hold(m)
			}
			return
		}
		err := dst.a.Send(now, m.Data, engine.SndInfo{Stream: m.Stream, PPID: m.PPID, Unordered: m.Unordered})
		switch {
		case err == nil:
			src.held = nil
			p.msgs[x]++
			p.bytes[x] += uint64(len(m.Data))
			p.rs.cnt.MsgsForwarded[x]++
			p.rs.cnt.BytesForwarded[x] += uint64(len(m.Data))
		case errors.Is(err, engine.ErrFull):
			// Stop reading: the source's window closes and its peer slows
			// down (docs/design.md 2.4). Writable on dst resumes.
			if src.held == nil {
				src.hold(m)
			}
			return
		case errors.Is(err, engine.ErrInvalidStream):
			// docs/design.md 2.3: what a native receiver would say (RFC 9260 6.5).
			src.held = nil
			p.rs.cnt.InvalidStreamMsgs++
			src.a.ReportError(now, &wire.InvalidStreamCause{StreamID: m.Stream})
		case errors.Is(err, engine.ErrTooLarge):
			// newCore makes both sides' MaxMessage equal, so this takes a
			// route changed since: the message was acknowledged to its
			// sender, so the pair is aborted with the reason rather than
			// the message dropped (docs/design.md 2.2).
			src.held = nil
			p.rs.cnt.OversizeMsgs++
			p.rs.cnt.AbortedMsgs++
			p.abort(now, fmt.Sprintf("sctpgw: a message of %d bytes is larger than the %s side's max_message", len(m.Data), sideNames[1-x]))
			return
		default:
			// dst takes no more data although src still delivers (it
			// cannot happen while shutdowns wait for delivery): never
			// drop what the sender was told arrived; abort both ways.
			src.held = nil
			p.rs.cnt.AbortedMsgs++
			p.abort(now, "sctpgw: "+sideNames[1-x]+" refused a message: "+err.Error())
			return
		}
	}
}

// hold keeps m, which could not be sent, for the next forward. The copy is
// made here so that forward's own message stays on the stack: taking its
// address there cost an allocation per message relayed.
func (s *side) hold(m engine.Message) {
	h := m
	s.held = &h
}

// drained reports that everything side s received has been handed on.
func (s *side) drained() bool {
	return s.held == nil && (s.a == nil || s.a.Readable() == 0)
}

// finished reports that nothing more will arrive on side s: its peer shut
// down, or it closed gracefully, or its window is closed and no hole is
// left to fill.
func (s *side) finished() bool {
	return s.shut || s.graceful || s.stopped && s.a != nil && s.a.InboundSettled()
}

// progress advances a graceful shutdown (docs/design.md 2.5, 2.8): once
// nothing more will arrive on a side and all it had was handed on, the
// other side is shut down (unless it must end in an ABORT); a held SHUTDOWN
// ACK goes once the other side's peer can send nothing more and all of that
// was handed on; a held SHUTDOWN COMPLETE goes once what the side's peer
// sent has been acknowledged by the other side's peer; ABORTs waiting for
// delivery go when it is done.
func (p *pair) progress(now time.Time) {
	if !p.accepted {
		return
	}
	p.finishAborts(now)
	for x := 0; x < 2; x++ {
		src, dst := &p.side[x], &p.side[1-x]
		if src.finished() && src.drained() && dst.a != nil && !dst.closed && !dst.shutdownCalled && !dst.shut && !dst.abortPending {
			dst.shutdownCalled = true
			dst.a.Shutdown(now)
		}
		if src.shut && !src.released && (dst.shut || dst.closed) && dst.drained() {
			src.released = true
			src.a.ReleaseShutdownAck(now)
		}
		// What src's peer sent was all handed on and acknowledged by dst's
		// peer: src's graceful close may complete. (A dst that was aborted
		// made src's end an ABORT instead, in relay.)
		if src.acked && !src.closed && !src.abortPending && src.drained() && (dst.a == nil || dst.a.Buffered() == 0) {
			src.a.ReleaseShutdownComplete(now)
		}
	}
}

// drain closes the pair without losing what was acknowledged
// (docs/design.md 2.8). The ingress window closes: what the ingress peer
// sends from now on stays in its stack. Everything already received goes
// to the egress, which is then shut down; what its peer still sends
// reaches the ingress peer over the ingress, which is shut down last
// (progress). An ingress peer with refused data ends in an ABORT instead,
// once all owed to it was delivered. A pair still dialling has
// acknowledged nothing: its connect fails.
func (p *pair) drain(now time.Time) {
	p.drained = true
	if !p.accepted {
		if !p.rejected {
			p.rejected = true
			p.side[dirIn].end = "connect refused: the gateway is shutting down"
			p.req.Reject(now, userAbort("sctpgw: gateway is shutting down"))
		}
		if out := &p.side[dirOut]; out.a != nil && !out.closed {
			out.abort(now, "sctpgw: gateway is shutting down")
		}
		return
	}
	in := &p.side[dirIn]
	if in.closed || in.stopped {
		return
	}
	in.stopped = true
	in.a.CloseWindow(now)
	p.progress(now)
}

// abort ends both sides at once with reason.
func (p *pair) abort(now time.Time, reason string) {
	for d := range p.side {
		if s := &p.side[d]; s.a != nil && !s.closed {
			s.abort(now, reason)
		}
	}
}

func (p *pair) maybeFinish() {
	if p.done {
		return
	}
	in, out := &p.side[dirIn], &p.side[dirOut]
	inDone := in.closed || !p.accepted
	outDone := out.closed || out.a == nil
	if !inDone || !outDone {
		return
	}
	p.done = true
	// Messages acknowledged to one peer and never delivered to the other:
	// the pair was aborted, and the ABORT told their sender.
	for d := range p.side {
		if s := &p.side[d]; s.held != nil {
			p.rs.cnt.AbortedMsgs++
		}
		if a := p.side[d].a; a != nil {
			p.rs.cnt.AbortedMsgs += uint64(a.Readable())
		}
	}
	p.slot.Release()
	delete(p.c.pairs, p)
	if p.accepted {
		p.rs.cnt.PairsClosed++
	}
	p.logEnd(p.c.h.Now())
}
