package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// HandlePacket processes one received SCTP packet (common header onwards)
// that arrived on link linkIdx over path p. buf is not retained.
func (h *Host) HandlePacket(linkIdx int, p link.Path, buf []byte, now time.Time) {
	if h.closed || linkIdx < 0 || linkIdx >= len(h.cfg.Links) {
		return
	}
	h.input(now, func() {
		h.handlePacket(linkIdx, p, buf, now)
		h.rxAuth = rxAuth{} // buf is not retained
	})
}

// HandleBatch processes the packets and notices of one link read as one
// input. Each packet is handled and answered in order, as HandlePacket
// would (its SACK, every second packet as 6.2 asks, and what a SACK lets
// the association send), but the events are delivered once, after the
// last: a relay's handler then forwards every message the batch completed
// in one go, in full packets, instead of a packet's worth at a time. The
// Buf of each packet is not retained.
func (h *Host) HandleBatch(linkIdx int, pkts []link.Packet, now time.Time) {
	if h.closed || linkIdx < 0 || linkIdx >= len(h.cfg.Links) {
		return
	}
	h.input(now, func() {
		for i := range pkts {
			if pkts[i].Notice != link.NoticeNone {
				h.handleNotice(linkIdx, pkts[i], now)
			} else {
				h.handlePacket(linkIdx, pkts[i].Path, pkts[i].Buf, now)
				h.rxAuth = rxAuth{}
			}
			h.flushAll(now)
		}
	})
}

// HandleNotice processes an ICMP report about a packet we sent (link.Notice).
func (h *Host) HandleNotice(linkIdx int, pk link.Packet, now time.Time) {
	if h.closed {
		return
	}
	h.input(now, func() { h.handleNotice(linkIdx, pk, now) })
}

func (h *Host) handleNotice(linkIdx int, pk link.Packet, now time.Time) {
	if pk.Notice == link.NoticeDown {
		h.pathDown(linkIdx, pk.Path, pk.Err, now)
		return
	}
	if len(pk.Buf) < wire.CommonHeaderLen {
		// A local EMSGSIZE quotes nothing: the MTU applies to every
		// association toward that peer on that link.
		if pk.Notice == link.NoticeFragNeeded && pk.Path.Remote.IsValid() {
			for k, a := range h.assocs {
				if k.remote != pk.Path.Remote {
					continue
				}
				if pa := a.paths.find(k.remote); pa != nil && pa.linkIdx == linkIdx {
					pa.setMTU(pk.MTU)
				}
			}
		}
		return
	}
	var hdr wire.Packet
	// The quoted packet is usually cut short: only the common header counts.
	if err := hdr.UnmarshalUnverified(pk.Buf[:wire.CommonHeaderLen]); err != nil {
		return
	}
	a := h.assocs[assocKey{localPort: hdr.SrcPort, remotePort: hdr.DstPort, remote: pk.Path.Remote}]
	var pa *path
	if a != nil {
		pa = a.paths.find(pk.Path.Remote) // the destination the quoted packet went to
	}
	// RFC 9260 section 10: the quoted verification tag must be the peer's;
	// before we know it (our INIT, tag 0), the quoted INIT's Initiate Tag
	// must be ours.
	if a == nil || hdr.VerificationTag != a.peerTag {
		return
	}
	if a.peerTag == 0 {
		q := pk.Buf
		if len(q) < wire.CommonHeaderLen+wire.ChunkHeaderLen+4 || wire.ChunkType(q[wire.CommonHeaderLen]) != wire.TypeInit ||
			binary.BigEndian.Uint32(q[wire.CommonHeaderLen+wire.ChunkHeaderLen:]) != a.localTag {
			return
		}
	}
	switch pk.Notice {
	case link.NoticeFragNeeded:
		pa.setMTU(pk.MTU)
	case link.NoticeProtoUnreachable:
		if a.state == stateCookieWait {
			// The peer's host refused our INIT (no SCTP there, or nothing
			// on its UDP port, RFC 6951 5.5): RFC 9260 10 ICMP8 ends the
			// association, and the dial fails at once, as Linux's connect
			// does with ECONNREFUSED, instead of retrying for minutes.
			a.close(Event{Type: CantStartAssoc, Err: ErrPeerRefused})
			break
		}
		// Once the peer has answered, ICMP8 would abort too. We count a
		// path error instead: behind a NAT that lost its mapping, the
		// router's port unreachable is transient, and the next packet from
		// the peer (5.4) repairs the path. Repeated errors still end the
		// association through Association.Max.Retrans.
		pa.onUnreachable(now)
	case link.NoticeUnreachable:
		pa.onUnreachable(now)
	}
}

// pathDown ends every association whose path is p on linkIdx: the link
// says nothing sent there can arrive (link.NoticeDown). Nothing is sent;
// each handler hears CommLost, or CantStartAssoc before COMM_UP, with an
// error wrapping ErrLinkDown and the link's reason.
func (h *Host) pathDown(linkIdx int, p link.Path, reason error, now time.Time) {
	h.lastNow = now
	var err error
	for k, a := range h.assocs {
		if k.remote != p.Remote || a.state == stateClosed {
			continue
		}
		pa := a.paths.find(k.remote)
		if pa == nil || pa.linkIdx != linkIdx || pa.p.RemotePort != p.RemotePort {
			continue
		}
		if err == nil {
			err = ErrLinkDown
			if reason != nil {
				err = fmt.Errorf("%w: %w", ErrLinkDown, reason)
			}
		}
		h.stats.Aborteds++
		a.close(a.lostEvent(err))
	}
}

func (h *Host) handlePacket(linkIdx int, p link.Path, buf []byte, now time.Time) {
	h.lastNow = now
	pkt := &h.pkt
	var err error
	if h.cfg.Links[linkIdx].ChecksumVerified {
		err = pkt.UnmarshalUnverified(buf)
	} else {
		err = pkt.Unmarshal(buf)
	}
	if err != nil && isChecksumErr(err) {
		h.discard(DiscardChecksum, linkIdx, p, err, 1)
		return
	}
	// 6.10: chunks are processed in order and a partial chunk is dropped
	// alone; pkt.Chunks holds the whole ones before it.
	partial := err != nil && len(pkt.Chunks) > 0
	if err == nil || partial {
		h.stats.InSCTPPacks++
	}
	if len(pkt.Chunks) == 0 || pkt.SrcPort == 0 || pkt.DstPort == 0 {
		if err == nil {
			err = errNothingToProcess
		}
		h.discard(DiscardMalformed, linkIdx, p, err, 1)
		return
	}
	if partial {
		h.discard(DiscardPartialChunk, linkIdx, p, err, 1)
	}
	// INIT travels alone (6.10, 8.5.1 A): a packet that bundles it with
	// anything, before or after it, is discarded whole, so that no order
	// of chunks gets an answer another order does not.
	if (len(pkt.Chunks) > 1 || partial) && hasChunk(pkt, wire.TypeInit) {
		h.discard(DiscardBundledInit, linkIdx, p, nil, 1)
		return
	}
	// 8.4 rule 1: nothing from or to a non-unicast address is answered.
	if !p.Remote.IsValid() || p.Remote.IsMulticast() || p.Remote.IsUnspecified() {
		return
	}
	// SCTP-AUTH: the AUTH chunk is set aside; the chunks after it are
	// verified before they are processed (auth_rx.go).
	if h.rxAuthPrepare(linkIdx, p, pkt, buf); len(pkt.Chunks) == 0 {
		return
	}
	key := assocKey{localPort: pkt.DstPort, remotePort: pkt.SrcPort, remote: p.Remote}
	a := h.assocs[key]
	if a == nil && pkt.Chunks[0].Type == wire.TypeInitAck && h.LinkKind(linkIdx) == link.Native {
		a = h.initAckFromOtherAddr(linkIdx, pkt)
	}
	if a != nil {
		// From any of the peer's addresses, an INIT or COOKIE ECHO takes
		// the rules of 5.2: an INIT adding addresses is refused (5.2.2),
		// and a restart builds its TCB keyed by the COOKIE ECHO's source.
		a.handlePacket(linkIdx, p, pkt, now)
		return
	}
	h.handleOOTB(linkIdx, p, pkt, now)
}

// initAckFromOtherAddr finds the association an INIT ACK answers when it
// comes from an address we did not send the INIT to. A multi-homed peer
// may answer from any of its addresses (usrsctp picks one by its own
// rules): RFC 9260 5.1.2 makes the INIT ACK's source address and the
// addresses it lists the peer's transport addresses. As Linux does, the
// INIT ACK must list the address we dialled, and carry our tag, for an
// association still in COOKIE-WAIT.
func (h *Host) initAckFromOtherAddr(linkIdx int, pkt *wire.Packet) *Association {
	if len(pkt.Chunks) != 1 || pkt.VerificationTag == 0 {
		return nil
	}
	var ia wire.InitAck
	if ia.Unmarshal(pkt.Chunks[0]) != nil {
		return nil
	}
	n := 0
	for _, prm := range ia.Params {
		addr, ok := addrParam(prm)
		if !ok {
			continue
		}
		if n++; n > maxPeerAddrs {
			break
		}
		a := h.assocs[assocKey{localPort: pkt.DstPort, remotePort: pkt.SrcPort, remote: addr}]
		if a != nil && a.key.remote == addr && a.tx().linkIdx == linkIdx && a.state == stateCookieWait && a.localTag == pkt.VerificationTag {
			return a
		}
	}
	return nil
}

// handleOOTB applies RFC 9260 8.4 to a packet that matches no association.
func (h *Host) handleOOTB(linkIdx int, p link.Path, pkt *wire.Packet, now time.Time) {
	l := h.listeners[pkt.DstPort]
	otherAddr := l != nil && !l.cfg.servesAddr(p.Local)
	if l != nil && (!l.onLink(linkIdx) || otherAddr) {
		l = nil
	}
	if l == nil && (otherAddr || !h.served(pkt.DstPort, now)) && !h.cfg.Links[linkIdx].AnswerUnserved {
		// Another stack may own this port, or this port on that address
		// (docs/design.md 4): say nothing.
		return
	}
	first := pkt.Chunks[0]
	for _, c := range pkt.Chunks {
		if c.Type == wire.TypeAbort { // rule 2
			return
		}
	}
	// What a listener takes (INIT, COOKIE ECHO) is not out of the blue in
	// the sense of SctpOutOfBlues (RFC 3873); everything else here is.
	if l == nil || (first.Type != wire.TypeInit && first.Type != wire.TypeCookieEcho) {
		h.stats.OutOfBlues++
	}
	switch first.Type {
	case wire.TypeInit: // rule 3
		if len(pkt.Chunks) != 1 || pkt.VerificationTag != 0 {
			return // 8.5.1 A: INIT travels alone with tag 0
		}
		if l != nil {
			l.handleInit(linkIdx, p, pkt, now)
			return
		}
		var ini wire.Init
		if ini.Unmarshal(first) != nil || ini.InitiateTag == 0 {
			return
		}
		h.sendOOTB(linkIdx, p, pkt.DstPort, pkt.SrcPort, ini.InitiateTag, &wire.Abort{})
		return
	case wire.TypeCookieEcho: // rule 4
		if l != nil {
			l.handleCookieEcho(linkIdx, p, pkt, now)
			return
		}
	}
	for _, c := range pkt.Chunks {
		switch c.Type {
		case wire.TypeShutdownAck: // rule 5
			h.sendOOTB(linkIdx, p, pkt.DstPort, pkt.SrcPort, pkt.VerificationTag, &wire.ShutdownComplete{TagReflected: true})
			return
		case wire.TypeShutdownComplete: // rule 6
			return
		case wire.TypeCookieAck: // rule 7
			return
		case wire.TypeError:
			if hasStaleCookieCause(c) {
				return
			}
		}
	}
	// rule 8
	h.sendOOTB(linkIdx, p, pkt.DstPort, pkt.SrcPort, pkt.VerificationTag, &wire.Abort{TagReflected: true})
}

func hasStaleCookieCause(c wire.RawChunk) bool {
	found := false
	_ = wire.ForEachCause(c.Value, func(rc wire.RawCause) error {
		if rc.Code == wire.CauseStaleCookie {
			found = true
		}
		return nil
	})
	return found
}

// HandleTimeout runs every timer due at now.
func (h *Host) HandleTimeout(now time.Time) {
	if h.closed {
		return
	}
	h.lastNow = now
	h.input(now, func() { h.runTimers(now) })
}

// runTimers is HandleTimeout's work: every timer due at now.
func (h *Host) runTimers(now time.Time) {
	h.releasePorts(now)
	for i := 0; i < 1<<20; i++ {
		o := h.timers.peek()
		if o == nil || o.slot().deadline.After(now) {
			break
		}
		o.onTimeout(now)
		if o.live() {
			h.timers.update(o)
		}
		// An owner whose timers did not move forward would spin.
		if s := o.slot(); o.live() && s.idx >= 0 && !s.deadline.After(now) {
			h.timers.remove(o)
			s.deadline = now.Add(time.Millisecond)
			h.timers.push(o)
		}
	}
}

// NextDeadline reports when HandleTimeout next has work, if ever.
func (h *Host) NextDeadline() (time.Time, bool) {
	var d time.Time
	if o := h.timers.peek(); o != nil {
		d = o.slot().deadline
	}
	if r, ok := h.nextPortRelease(); ok && (d.IsZero() || r.Before(d)) {
		d = r
	}
	return d, !d.IsZero()
}

// finishCall completes a user call made outside packet or timer processing.
func (h *Host) finishCall(now time.Time) {
	h.lastNow = now
	if h.inFinish || h.deferred {
		return
	}
	h.input(now, nil)
}

var errNothingToProcess = errors.New("no chunk, or a zero port")

func isChecksumErr(err error) bool { return errors.Is(err, wire.ErrChecksum) }

// Defer makes user calls only queue their work (marking associations dirty)
// until Flush. A runtime wraps bursts of calls from user goroutines in it,
// so that many messages sent back to back leave bundled in few packets
// instead of one packet each, without any timer delay.
func (h *Host) Defer(on bool) { h.deferred = on }

// Flush sends what deferred calls queued and delivers their events.
func (h *Host) Flush(now time.Time) {
	h.lastNow = now
	if h.inFinish {
		return
	}
	h.input(now, nil)
}

// input runs work (if any) as one input of the Host: inFinish is set
// meanwhile, so that what work and the handlers it causes call only queues
// more for this loop; finishLocked then sends everything queued and
// delivers the events, until both are drained.
func (h *Host) input(now time.Time, work func()) {
	h.inFinish = true
	if work != nil {
		work()
	}
	h.finishLocked(now)
	h.inFinish = false
}
