package engine

import (
	"time"

	"github.com/sctpgw/sctpgw/stack/wire"
)

// packetBuilder bundles chunks into packets no larger than the path allows
// and hands finished packets to the Host.
type packetBuilder struct {
	a      *Association
	pa     *path // the destination; nil: the association's tx path
	buf    []byte
	max    int
	chunks int
	data   bool // the current packet holds DATA
	// sent counts the packets emitted: Max.Burst (6.1 rule 4) is counted
	// in them (packetsSince).
	sent int
}

// dest is the path the packets go to.
func (pb *packetBuilder) dest() *path {
	if pb.pa == nil {
		pb.pa = pb.a.tx()
	}
	return pb.pa
}

// to makes pa the destination, sending what was built for another first.
func (pb *packetBuilder) to(pa *path) {
	if pb.dest() != pa {
		pb.send()
		pb.pa = pa
	}
}

func (pb *packetBuilder) begin() {
	a := pb.a
	pb.max = pb.dest().maxPacket()
	pb.buf = a.host.getBuf(pb.max)
	pb.buf = wire.AppendHeader(pb.buf, wire.CommonHeader{SrcPort: a.key.localPort, DstPort: a.key.remotePort, VerificationTag: a.peerTag})
	pb.chunks = 0
	pb.data = false
}

// room is how many more bytes fit in the current packet.
func (pb *packetBuilder) room() int {
	if pb.buf == nil {
		return pb.dest().maxPacket() - wire.CommonHeaderLen
	}
	return pb.max - len(pb.buf)
}

// add appends c, starting a new packet when it does not fit the current
// one. A chunk larger than an empty packet still goes out alone (the IP layer
// fragments it) rather than being lost.
func (pb *packetBuilder) add(c wire.Chunk) {
	if pb.buf == nil {
		pb.begin()
	}
	n := len(pb.buf)
	pb.buf = c.AppendTo(pb.buf)
	if len(pb.buf) > pb.max && pb.chunks > 0 {
		pb.buf = pb.buf[:n]
		pb.send()
		pb.begin()
		pb.buf = c.AppendTo(pb.buf)
	}
	pb.chunks++
	switch d := c.(type) {
	case *wire.Data:
		pb.countData(d.Unordered)
	case *wire.IData:
		pb.countData(d.Unordered)
	default:
		pb.a.host.stats.OutCtrlChunks++
	}
}

// countData counts a DATA or I-DATA chunk as SctpOutOrderChunks or
// SctpOutUnorderChunks do.
func (pb *packetBuilder) countData(unordered bool) {
	pb.data = true
	if unordered {
		pb.a.host.stats.OutUnorderChunks++
	} else {
		pb.a.host.stats.OutOrderChunks++
	}
}

// send finishes the current packet, if it has chunks, and emits it.
func (pb *packetBuilder) send() {
	if pb.buf == nil {
		return
	}
	if pb.chunks == 0 {
		pb.a.host.putBuf(pb.buf)
		pb.buf = nil
		return
	}
	// Only a lone chunk overruns the path: one built before the path MTU
	// dropped that already has its TSN and cannot be split again, so IP
	// must fragment it (RFC 9260 6.9), or the link would refuse it forever.
	pa := pb.dest()
	frag := len(pb.buf) > pa.maxPacket()
	pb.buf = pb.a.seal(pb.buf, 0)
	wire.FinishPacket(pb.buf, 0)
	pb.a.host.emitPacket(pa.linkIdx, pa.p, pb.buf, frag)
	pb.buf = nil
	pb.chunks = 0
	pb.sent++
}

// burstDone applies Max.Burst (6.1 rule 4), counted in packets: those
// emitted since the sent count was mark and the one being built. At the
// limit new DATA may still fill the current packet, never start another;
// chunk is the length of the next chunk before padding.
func (pb *packetBuilder) burstDone(mark, maxBurst, chunk int) bool {
	packets := pb.packetsSince(mark)
	return packets >= maxBurst && (packets > maxBurst || pb.chunks == 0 || pb.room() < (chunk+3)&^3)
}

// packetsSince is how many packets the builder has emitted since its sent
// count was mark, the one being built included if it holds a chunk.
func (pb *packetBuilder) packetsSince(mark int) int {
	n := pb.sent - mark
	if pb.buf != nil && pb.chunks > 0 {
		n++
	}
	return n
}

// flush sends what the association has queued, bundled in the order RFC
// 9260 requires: COOKIE ECHO or COOKIE ACK first (5.1), INIT alone, then
// control chunks, the SACK, and DATA last.
func (a *Association) flush(now time.Time) {
	if a.state == stateClosed {
		return
	}
	a.maybeShutdown(now)
	pb := packetBuilder{a: a}
	if a.ctl&ctlInit != 0 {
		a.ctl &^= ctlInit
		pb.pa = a.handshakeDest()
		pb.begin()
		pb.buf = append(pb.buf, a.initChunk...)
		pb.chunks = 1
		a.host.stats.OutCtrlChunks++
		pb.send()
		a.t1Sent = now
		a.t1.start(now, a.t1Timeout())
		pb.dest().hb.lastRTTSend = now
		return // nothing else may go before the INIT ACK
	}
	if a.ctl&ctlCookieEcho != 0 {
		a.ctl &^= ctlCookieEcho
		pb.pa = a.handshakeDest()
		pb.add(&wire.CookieEcho{Cookie: a.cookieEcho})
		// 3.2.2: the ERROR goes in the COOKIE ECHO's packet or not at all.
		a.flushErrors(&pb, true)
		a.t1Sent = now
		a.t1.start(now, a.t1Timeout())
		pb.dest().hb.lastRTTSend = now
		// Until the COOKIE ACK only this packet may go (5.1 step 3); DATA
		// may ride along.
		a.data.flush(a, &pb, now)
		pb.send()
		return
	}
	if a.state == stateCookieWait || a.state == stateCookieEchoed {
		return
	}
	if a.ctl&ctlCookieAck != 0 {
		a.ctl &^= ctlCookieAck
		a.addCookieAck(&pb)
	}
	if a.state == stateAcceptPending {
		// Nothing goes out before the COOKIE ACK; what is queued waits.
		return
	}
	if a.ctl&ctlShutdownAck != 0 {
		a.ctl &^= ctlShutdownAck
		pb.add(&wire.ShutdownAck{})
	}
	if a.ctl&ctlShutdown != 0 {
		a.ctl &^= ctlShutdown
		pb.add(&wire.Shutdown{CumTSNAck: a.data.cumAck()})
	}
	if a.data.sackReady() {
		a.addSack(&pb, now)
	}
	for _, info := range a.hbAcks {
		// Queued for the path MTU of the time; one that a lower MTU
		// learnt since would push out alone, fragmented, is dropped.
		if wire.ChunkHeaderLen+wire.ParamHeaderLen+pad4(len(info)) > pb.dest().maxPacket()-wire.CommonHeaderLen {
			a.reportCut(1)
			continue
		}
		pb.add(&wire.HeartbeatAck{Info: info})
	}
	clear(a.hbAcks)
	a.hbAcks, a.hbAckLen = a.hbAcks[:0], 0
	a.flushHeartbeats(&pb)
	a.flushErrors(&pb, false)
	a.data.flush(a, &pb, now)
	pb.send()
}

// flushErrors adds the ERROR chunk with the queued causes. They fit an
// empty packet (queueCause: at the path MTU of the time, so they are fitted
// again in case it dropped since); with samePacket they must fit what is
// left of the current one. The causes that do not fit are dropped and
// counted.
func (a *Association) flushErrors(pb *packetBuilder, samePacket bool) {
	if len(a.errBuf) == 0 {
		return
	}
	room := a.errRoom()
	if samePacket {
		room = pb.room() - wire.ChunkHeaderLen
	}
	causes, cut := fitCauses(trimLastPadding(a.errBuf), room)
	a.reportCut(cut)
	if len(causes) > 0 {
		pb.add(wire.RawChunk{Type: wire.TypeError, Value: causes})
	}
	a.errBuf = a.errBuf[:0]
}
