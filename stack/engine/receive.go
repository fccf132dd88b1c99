package engine

import (
	"time"

	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// handlePacket applies the verification tag rules (8.5, 8.5.1) and then
// processes the packet's chunks in order.
func (a *Association) handlePacket(linkIdx int, p link.Path, pkt *wire.Packet, now time.Time) {
	first := pkt.Chunks[0]
	switch first.Type {
	case wire.TypeInit:
		a.handleInitExisting(linkIdx, p, pkt, now)
		return
	case wire.TypeCookieEcho:
		if !a.handleCookieEchoExisting(linkIdx, p, pkt, now) || a.state == stateClosed {
			return
		}
		a.adoptPathIfAuthentic(linkIdx, p)
		a.processChunks(linkIdx, p, pkt, 1, now)
		return
	}
	if a.state == stateCookieWait || a.state == stateCookieEchoed {
		// 8.5.1 E: before the handshake completes a SHUTDOWN ACK is out of
		// the blue whatever its tag, and 8.4 rule 5 answers it (rule 2
		// first: nothing answers a packet with an ABORT).
		if hasChunk(pkt, wire.TypeShutdownAck) && !hasChunk(pkt, wire.TypeAbort) {
			a.host.stats.OutOfBlues++
			a.host.sendOOTB(linkIdx, p, a.key.localPort, a.key.remotePort, pkt.VerificationTag, &wire.ShutdownComplete{TagReflected: true})
			return
		}
	}
	if pkt.VerificationTag != a.localTag {
		// Only ABORT and SHUTDOWN COMPLETE may carry the peer's tag, and
		// only with the T bit set (8.5.1 B, C).
		for i, c := range pkt.Chunks {
			switch c.Type {
			case wire.TypeAbort, wire.TypeShutdownComplete:
				if c.Flags&1 != 0 && a.peerTag != 0 && pkt.VerificationTag == a.peerTag {
					if a.rxAllowed(i, c.Type) {
						a.processChunk(linkIdx, p, pkt, c, now)
					}
					return
				}
			}
		}
		a.host.discard(DiscardBadTag, linkIdx, p, nil, 1)
		return
	}
	if !a.reflectedTagsValid(pkt) {
		a.host.discard(DiscardBadTag, linkIdx, p, nil, 1)
		return
	}
	a.adoptPathIfAuthentic(linkIdx, p)
	a.processChunks(linkIdx, p, pkt, 0, now)
}

// reflectedTagsValid applies the other half of 8.5.1 B and C to a packet
// carrying our own tag: an ABORT or SHUTDOWN COMPLETE with the T bit set
// says the tag is the peer's, so with ours it is discarded with the whole
// packet. (Tags that happen to be equal satisfy both readings.)
func (a *Association) reflectedTagsValid(pkt *wire.Packet) bool {
	for _, c := range pkt.Chunks {
		if (c.Type == wire.TypeAbort || c.Type == wire.TypeShutdownComplete) && c.Flags&1 != 0 &&
			(a.peerTag == 0 || pkt.VerificationTag != a.peerTag) {
			return false
		}
	}
	return true
}

func hasChunk(pkt *wire.Packet, t wire.ChunkType) bool {
	for _, c := range pkt.Chunks {
		if c.Type == t {
			return true
		}
	}
	return false
}

// adoptPath is RFC 6951 5.4: after the tag check, the packet's UDP source
// port becomes the path's remote encapsulation port, and its link (native or
// UDP) the path's link. This is what keeps an association alive across NAT
// rebinding.
//
// On a native link the packet's destination becomes the source of what we
// send to the peer address it came from (6.4: replies go back the way the
// peer came; for a locally multi-homed endpoint, from the address the peer
// used).
func (a *Association) adoptPath(linkIdx int, p link.Path) {
	pa := a.paths.find(p.Remote)
	if pa == nil {
		return
	}
	pa.linkIdx = linkIdx
	pa.p.RemotePort = p.RemotePort
	if p.Local.IsValid() {
		pa.p.Local = p.Local
	}
}

// processChunks handles the chunks of a packet that passed the tag check,
// from index from on.
func (a *Association) processChunks(linkIdx int, p link.Path, pkt *wire.Packet, from int, now time.Time) {
	hadData := false
	for i := from; i < len(pkt.Chunks); i++ {
		c := pkt.Chunks[i]
		if !a.rxAllowed(i, c.Type) {
			continue // RFC 4895 6.3: unauthenticated, or after a failed AUTH
		}
		if c.Type == wire.TypeData {
			hadData = true
		}
		if !a.processChunk(linkIdx, p, pkt, c, now) || a.state == stateClosed {
			break
		}
	}
	if a.state == stateClosed {
		return
	}
	if hadData {
		a.sackTo = a.paths.find(p.Remote)
	}
	a.data.afterPacket(a, hadData, now)
	a.markDirty()
}

// processChunk handles one chunk and reports whether to go on with the rest.
func (a *Association) processChunk(linkIdx int, p link.Path, pkt *wire.Packet, c wire.RawChunk, now time.Time) bool {
	h := a.host
	if c.Type != wire.TypeData && c.Type != wire.TypeIData {
		h.stats.InCtrlChunks++
	}
	switch c.Type {
	case wire.TypeData:
		return a.data.handleData(a, c, now)
	case wire.TypeSack:
		a.data.handleSack(a, c, now)
	case wire.TypeHeartbeat:
		a.handleHeartbeat(linkIdx, p, c)
	case wire.TypeHeartbeatAck:
		a.handleHeartbeatAck(c, now)
	case wire.TypeAbort:
		a.handleAbort(c)
		return false
	case wire.TypeShutdown:
		a.handleShutdown(c, now)
	case wire.TypeShutdownAck:
		a.handleShutdownAck(now)
		return false
	case wire.TypeShutdownComplete:
		a.handleShutdownComplete(c)
		return false
	case wire.TypeError:
		a.handleError(c, now)
	case wire.TypeCookieAck:
		a.handleCookieAck(now)
	case wire.TypeInitAck:
		a.handleInitAck(p, c, now)
		return false
	case wire.TypeInit, wire.TypeCookieEcho:
		// Only valid first in a packet, where handlePacket took them.
		return false
	case wire.TypeAuth:
		// A second AUTH chunk: the first one (taken out by
		// rxAuthPrepare) covers the chunks after it already.
		return true
	default:
		return a.handleUnknown(c)
	}
	return true
}

// handleUnknown applies the action bits of 3.2 to a chunk type we do not
// process.
func (a *Association) handleUnknown(c wire.RawChunk) bool {
	act := c.Type.Action()
	// The cause quotes the whole chunk, padded: sized by the peer, so
	// checked before it is built.
	if act.Report() && a.causeFits(wire.CauseHeaderLen+pad4(wire.ChunkHeaderLen+len(c.Value))) {
		a.queueCause(&wire.UnrecognizedChunkCause{Chunk: c.AppendTo(nil)})
	}
	return act.Skip()
}

// handleAbort ends the association on the peer's ABORT (9.1), keeping its
// causes both decoded and verbatim.
func (a *Association) handleAbort(c wire.RawChunk) {
	a.host.stats.Aborteds++
	ev := a.lostEvent(ErrPeerAborted)
	if len(c.Value) > 0 {
		ev.CauseBytes = append([]byte(nil), c.Value...)
		ev.Causes, _ = wire.ParseCauses(c.Value)
	}
	a.close(ev)
}

// handleError surfaces the peer's ERROR chunk (REMOTE_ERROR) and applies
// 5.2.6 to a Stale Cookie error in COOKIE-ECHOED.
func (a *Association) handleError(c wire.RawChunk, now time.Time) {
	causes, _ := wire.ParseCauses(c.Value)
	for _, cs := range causes {
		if sc, ok := cs.(*wire.StaleCookieCause); ok {
			// 5.2.6: outside COOKIE-ECHOED the whole ERROR chunk is
			// silently discarded (an old cookie of ours went stale).
			if a.state == stateCookieEchoed {
				a.staleCookie(sc, now)
			}
			return
		}
	}
	a.notify(Event{Type: RemoteError, Causes: causes, CauseBytes: append([]byte(nil), c.Value...)})
}

// staleCookie takes alternative 3 of 5.2.6: a new INIT asking for a longer
// cookie life, counted against Max.Init.Retransmits.
func (a *Association) staleCookie(sc *wire.StaleCookieCause, now time.Time) {
	// Counted apart from T1 (which an INIT ACK resets), so a peer that
	// keeps finding our cookies stale cannot keep us trying forever.
	a.staleRetries++
	if a.staleRetries > a.cfg.InitMsg.MaxAttempts {
		a.close(Event{Type: CantStartAssoc, Err: ErrPeerUnreachable})
		return
	}
	stale := time.Duration(sc.Staleness) * time.Microsecond
	// Ask for the staleness plus the RTT measured, at most a second more.
	a.preserve = stale + min(a.tx().rto.SRTT(), time.Second) + time.Millisecond
	a.buildInit(now)
	a.state = stateCookieWait
	a.peerTag = 0
	a.cookieEcho = a.cookieEcho[:0]
	a.t1.stop()
	a.ctl &^= ctlCookieEcho
	a.ctl |= ctlInit
	a.markDirty()
}

// handleHeartbeat answers with the info copied unchanged (8.3), in the
// states 8.3 allows. The HEARTBEAT ACK goes to the source of the HEARTBEAT:
// on the primary path it is bundled with what flush sends; from another of
// the peer's addresses (a peer probing its alternate path) it is sent there
// at once, or the peer would never see that path answer.
func (a *Association) handleHeartbeat(linkIdx int, p link.Path, c wire.RawChunk) {
	if a.state < stateCookieEchoed || a.state == stateShutdownSent || a.state == stateShutdownAckSent {
		return
	}
	// The HEARTBEAT ACK is as large as the HEARTBEAT (its value, padded,
	// behind a chunk header). All those one packet provokes go in one
	// packet on the path; what does not fit is not answered (issue 12).
	// A HEARTBEAT larger than the path may be a PMTU probe, but RFC 8899
	// 4.1 probes pad with a PAD chunk, whose HEARTBEAT ACK is small.
	n := wire.ChunkHeaderLen + pad4(len(c.Value))
	tx := a.tx()
	off := linkIdx != tx.linkIdx || p.Remote != tx.p.Remote
	room := a.tx().maxPacket() - wire.CommonHeaderLen - a.hbAckLen
	if off {
		room = a.host.pathMTU(linkIdx, p, a.cfg.PeerAddr.PathMTU) - a.host.cfg.Links[linkIdx].overhead(p.Remote) - wire.CommonHeaderLen - a.auth.overhead
	}
	if n > room {
		a.host.discard(DiscardReportCut, linkIdx, p, nil, 1)
		return
	}
	var hb wire.Heartbeat
	if hb.Unmarshal(c) != nil {
		return
	}
	if off {
		a.sendChunkOn(linkIdx, p, &wire.HeartbeatAck{Info: hb.Info})
		return
	}
	a.hbAcks = append(a.hbAcks, hb.Info) // a copy already (Heartbeat.Unmarshal)
	a.hbAckLen += n
	a.markDirty()
}
