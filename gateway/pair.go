package gateway

import (
	"errors"
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
	c        *Core
	r        *Route
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
	closed         bool
	graceful       bool   // closed by SHUTDOWN COMPLETE
	end            string // how it ended, for the pair's end line
}

func (p *pair) other(s *side) *side { return &p.side[1-s.d] }

// HandleEvent is the engine's callback for both associations of a pair.
func (s *side) HandleEvent(a *engine.Association, ev engine.Event) {
	p, c := s.p, s.p.c
	now := c.h.Now()
	o := p.other(s)
	switch ev.Type {
	case engine.CommUp:
		if s.d == dirOut {
			if err := p.req.Accept(now, &p.side[dirIn]); err != nil {
				// The ingress peer left while we dialled.
				s.abort(now, "sctpgw: ingress peer gone")
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
	case engine.CantStartAssoc:
		s.closed = true
		s.ended(ev)
		if s.d == dirOut && !p.accepted {
			p.rs.cnt.PairsFailed++
			// The client sees its connect fail with the egress cause, not an
			// association that dies a moment later (docs/design.md 2.1).
			if len(ev.CauseBytes) > 0 {
				p.req.RejectRaw(now, ev.CauseBytes)
			} else {
				p.req.Reject(now, userAbort(reasonFor(dirOut, ev.Err)))
			}
		}
		p.maybeFinish()
	case engine.Readable:
		p.forward(s.d)
		p.progress(now)
	case engine.Writable:
		p.forward(1 - s.d)
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
		if o.a != nil && !o.closed {
			if errors.Is(ev.Err, engine.ErrPeerAborted) {
				// docs/design.md 2.6: the causes go across byte for byte.
				o.abortRaw(now, ev.Causes, ev.CauseBytes)
			} else if !errors.Is(ev.Err, engine.ErrAborted) {
				o.abort(now, reasonFor(s.d, ev.Err))
			}
		}
		if s.d == dirOut && !p.accepted {
			p.req.Reject(now, userAbort(reasonFor(dirOut, ev.Err)))
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

// reasonFor words a local failure on side d for the other side's ABORT.
func reasonFor(d int, err error) string {
	switch {
	case errors.Is(err, engine.ErrPeerUnreachable):
		return "sctpgw: " + sideNames[d] + " peer unreachable"
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
			src.held = nil
			p.rs.cnt.DrainDrops++
			continue
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
				src.held = &m
			}
			return
		case errors.Is(err, engine.ErrInvalidStream):
			// docs/design.md 2.3: what a native receiver would say (RFC 9260 6.5).
			src.held = nil
			p.rs.cnt.InvalidStreamMsgs++
			src.a.ReportError(now, &wire.InvalidStreamCause{StreamID: m.Stream})
		case errors.Is(err, engine.ErrTooLarge):
			src.held = nil
			p.rs.cnt.OversizeMsgs++
		default:
			src.held = nil
			p.rs.cnt.DrainDrops++
		}
	}
}

// drained reports that everything side s received has been handed on.
func (s *side) drained() bool {
	return s.held == nil && (s.a == nil || s.a.Readable() == 0)
}

// progress advances a graceful shutdown (docs/design.md 2.5): once a side's peer
// has shut down (or the side closed gracefully) and all it sent was handed
// on, the other side is shut down; a held SHUTDOWN ACK goes once the other
// side's peer can send nothing more and all of that was handed on.
func (p *pair) progress(now time.Time) {
	if !p.accepted {
		return
	}
	for x := 0; x < 2; x++ {
		src, dst := &p.side[x], &p.side[1-x]
		if (src.shut || src.graceful) && src.drained() && dst.a != nil && !dst.closed && !dst.shutdownCalled && !dst.shut {
			dst.shutdownCalled = true
			dst.a.Shutdown(now)
		}
		if src.shut && !src.released && (dst.shut || dst.closed) && dst.drained() {
			src.released = true
			src.a.ReleaseShutdownAck(now)
		}
	}
}

// drain starts a graceful shutdown of the pair from the ingress side.
func (p *pair) drain(now time.Time) {
	if !p.accepted {
		return
	}
	in := &p.side[dirIn]
	p.drained = true
	if !in.closed && !in.shut && !in.shutdownCalled {
		in.shutdownCalled = true
		in.a.Shutdown(now)
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
	p.slot.Release()
	delete(p.c.pairs, p)
	if p.accepted {
		p.rs.cnt.PairsClosed++
	}
	p.logEnd(p.c.h.Now())
}
