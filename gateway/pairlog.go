package gateway

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// Bounds on what a peer's ABORT puts into a log line.
const (
	logMaxCauses = 4
	logMaxReason = 128
)

// abort aborts side s with a User-Initiated Abort carrying reason and
// remembers the reason for the pair's end line.
func (s *side) abort(now time.Time, reason string) {
	if s.end == "" {
		s.end = "ABORT by gateway: " + reason
	}
	s.a.Abort(now, userAbort(reason))
}

// ended records how side s ended from the event that closed it, unless an
// abort of ours already said.
func (s *side) ended(ev engine.Event) {
	if s.end != "" {
		return
	}
	switch {
	case ev.Type == engine.ShutdownComp && s.shut:
		s.end = "SHUTDOWN by peer"
	case ev.Type == engine.ShutdownComp && s.p.drained:
		s.end = "SHUTDOWN by gateway (drain)"
	case ev.Type == engine.ShutdownComp:
		s.end = "SHUTDOWN by gateway (the " + sideNames[1-s.d] + " peer shut down)"
	case errors.Is(ev.Err, engine.ErrPeerAborted):
		s.end = "ABORT by peer" + describeCauses(ev.Causes)
	case errors.Is(ev.Err, engine.ErrPeerUnreachable):
		s.end = "timeout: peer unreachable"
	case errors.Is(ev.Err, engine.ErrShutdownGuard):
		s.end = "timeout: shutdown guard expired"
	case errors.Is(ev.Err, engine.ErrRestarted):
		s.end = "peer restarted"
	case errors.Is(ev.Err, engine.ErrHostClosed):
		s.end = "ABORT by gateway: stopped"
	case ev.Err != nil:
		s.end = "ABORT by gateway: " + ev.Err.Error()
	default:
		s.end = ev.Type.String()
	}
}

// describeCauses words ABORT causes for a log line, bounded in count and
// length: the peer chooses them.
func describeCauses(cs []wire.Cause) string {
	if len(cs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(":")
	for i, c := range cs {
		if i == logMaxCauses {
			fmt.Fprintf(&b, " (%d more)", len(cs)-i)
			break
		}
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " cause %d (%v)", uint16(c.CauseCode()), c.CauseCode())
		var r []byte
		switch x := c.(type) {
		case *wire.UserInitiatedAbortCause:
			r = x.Reason
		case *wire.ProtocolViolationCause:
			r = x.Info
		}
		if len(r) > logMaxReason {
			r = r[:logMaxReason]
		}
		if len(r) > 0 {
			fmt.Fprintf(&b, " %q", r)
		}
	}
	return b.String()
}

// peerURL names side s's peer as a listen or forward URL would.
func (p *pair) peerURL(s *side) string {
	if s.a == nil {
		return ""
	}
	li, path := s.a.Path()
	if k := p.c.h.LinkKind(li); k.Encapsulated() {
		return fmt.Sprintf("%s://%s/%d", k, netip.AddrPortFrom(path.Remote, path.RemotePort), s.a.RemotePort())
	}
	return "sctp://" + netip.AddrPortFrom(path.Remote, s.a.RemotePort()).String()
}

// logEnd writes the pair's one end line: its route, both peers, how each
// side ended, how long it lived and what it carried each way.
func (p *pair) logEnd(now time.Time) {
	in, out := &p.side[dirIn], &p.side[dirOut]
	msg, ingressEnd, dur := "pair closed", in.end, now.Sub(p.opened)
	if !p.accepted {
		// The client's connect was refused with the egress side's causes
		// (or a reason naming it) and never saw COMM_UP.
		msg, dur = "pair failed", now.Sub(p.created)
		if ingressEnd == "" {
			ingressEnd = "connect refused: the egress side failed"
		}
	}
	if ingressEnd == "" {
		ingressEnd = "closed"
	}
	egressEnd := out.end
	if egressEnd == "" {
		egressEnd = "not dialled"
	}
	p.c.log.Info(msg, "route", p.r.Name,
		"ingress_peer", p.peerURL(in), "egress_peer", p.peerURL(out),
		"ingress_end", ingressEnd, "egress_end", egressEnd,
		"duration", dur.Round(time.Millisecond).String(),
		"msgs_in_to_out", p.msgs[dirIn], "bytes_in_to_out", p.bytes[dirIn],
		"msgs_out_to_in", p.msgs[dirOut], "bytes_out_to_in", p.bytes[dirOut])
}
