package engine

import (
	"errors"
	"time"

	"github.com/sctpgw/sctpgw/stack/internal/reassembly"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// maxGapBlocks bounds a SACK's gap blocks so it fits any path (6.2 lets a
// receiver report fewer than it has).
const maxGapBlocks = 128

// handleData receives one DATA chunk (6.2, 6.5, 6.9). It reports whether to
// go on with the packet.
func (d *dataState) handleData(a *Association, c wire.RawChunk, now time.Time) bool {
	if !d.inited || a.state < stateAcceptPending {
		return false
	}
	h := a.host
	dc := &d.dscratch
	if dc.Unmarshal(c) != nil {
		return true
	}
	if len(dc.Payload) == 0 {
		// 6.2: a DATA chunk without user data ends the association.
		a.abortWith(now, []wire.Cause{&wire.NoUserDataCause{TSN: dc.TSN}}, ErrProtocolViolation)
		return false
	}
	if dc.Unordered {
		h.stats.InUnorderChunks++
	} else {
		h.stats.InOrderChunks++
	}
	if dc.Immediate {
		d.sackNow = true // RFC 7053
	}
	if d.refuseData(a, dc.TSN) {
		return true
	}
	// With the window closed, new data above everything received is
	// dropped unacknowledged (6.2); the sender will retransmit it.
	stuck := d.stuck(a, dc.TSN)
	if d.rwnd(a) < uint32(len(dc.Payload)) && serialAfter(dc.TSN, d.rx.Highest()) && !stuck {
		d.sackNow = true
		return true
	}
	// A chunk filling a hole below the highest TSN is taken beyond the
	// window, as 6.2 asks, but only up to a small slack: a peer ignoring
	// a_rwnd (one far-ahead TSN, then every TSN below it) must not make us
	// hold more than the receive buffer. A sender that respects a_rwnd
	// never needs the slack, as the holes were counted in the window it
	// was given.
	if !stuck && serialAfter(dc.TSN, d.rx.CumAck()) && d.rq.Buffered()+len(dc.Payload) > a.cfg.RecvBuffer+d.rxSlack(a) {
		d.sackNow = true
		return true
	}
	if !d.rx.InWindow(dc.TSN, d.maxAhead(a)) {
		d.sackNow = true
		return true
	}
	if !d.rx.Observe(dc.TSN) {
		d.sackNow = true // duplicates are reported at once (6.2)
		return true
	}
	if dc.StreamID >= a.inStreams {
		// 6.5: acknowledge, discard, and tell the sender.
		a.queueCause(&wire.InvalidStreamCause{StreamID: dc.StreamID})
		d.sackNow = true
		return true
	}
	err := d.rq.Add(reassembly.Fragment{
		TSN: dc.TSN, Stream: dc.StreamID, SSN: dc.SSN, PPID: dc.PPID,
		Unordered: dc.Unordered, Beginning: dc.Beginning, Ending: dc.Ending, Payload: dc.Payload,
	})
	switch {
	case err == nil:
	case errors.Is(err, reassembly.ErrInvalidStream):
		a.queueCause(&wire.InvalidStreamCause{StreamID: dc.StreamID})
	case errors.Is(err, reassembly.ErrDuplicateTSN):
	case errors.Is(err, reassembly.ErrMessageTooLarge):
		a.abortWith(now, []wire.Cause{&wire.UserInitiatedAbortCause{Reason: []byte("sctpgw: message exceeds the receive limit")}}, ErrTooLarge)
		return false
	default:
		a.abortWith(now, []wire.Cause{&wire.ProtocolViolationCause{Info: []byte(err.Error())}}, ErrProtocolViolation)
		return false
	}
	if d.rq.Ready() > 0 && !d.readable && a.state != stateAcceptPending {
		d.readable = true
		a.signal(Signal{Type: Readable})
	}
	return true
}

// stuck reports that the window is closed by data nobody can read while
// the next in-order chunk arrives: no gaps, nothing ready, so what is held
// is a message still growing, and only more of it can free the buffer. As
// MaxMessage fits RecvBuffer, that message is larger than we accept: the
// chunk goes to reassembly, which then reports it too large and the
// association ends with a clear cause instead of stalling for ever. The
// bound on Buffered keeps a peer from using this to grow the buffer.
func (d *dataState) stuck(a *Association, tsn uint32) bool {
	return tsn == d.rx.CumAck()+1 && !d.rx.HasGaps() && d.rq.Ready() == 0 &&
		d.rq.Buffered() > 0 && d.rq.Buffered() <= a.cfg.MaxMessage
}

// rxSlack is how far past the receive buffer a hole may be filled: a few
// packets, for a sender whose a_rwnd was stale (SACKs reordered).
func (d *dataState) rxSlack(a *Association) int { return 4 * a.tx().maxPacket() }

// maxAhead bounds how far above the cumulative ack a TSN is accepted (RFC
// 9260 6.2 lets a receiver drop DATA outside its window). A sender within
// a_rwnd has at most a_rwnd chunks outstanding; a quarter of the buffer in
// TSNs (or 1024) still covers small messages in flight, and bounds the
// bookkeeping a peer sending one-byte chunks at scattered TSNs can make us
// keep. At most 65535: every TSN must fit a Gap Ack Block.
func (d *dataState) maxAhead(a *Association) uint32 {
	return uint32(min(65535, max(1024, a.cfg.RecvBuffer/4)))
}

func serialAfter(a, b uint32) bool { return a != b && a-b < 1<<31 }

// afterPacket decides when to SACK (6.2): at once for gaps, duplicates and
// every Freq-th packet (the I bit sets sackNow where DATA is taken);
// otherwise within the delayed-ack time.
func (d *dataState) afterPacket(a *Association, hadData bool, now time.Time) {
	if !hadData || !d.inited {
		return
	}
	d.unacked++
	if d.rx.HasGaps() || d.unacked >= a.cfg.DelayedAck.Freq || d.rx.Dups() > 0 {
		d.sackNow = true
	}
	if !d.sackNow && !d.sackDue.running() {
		d.sackDue.start(now, a.cfg.DelayedAck.Delay)
	}
	if a.state == stateShutdownSent {
		// 9.2: every packet with DATA gets a SHUTDOWN back, and a SACK too
		// when the SHUTDOWN alone cannot say everything.
		a.ctl |= ctlShutdown
		if d.rx.HasGaps() || d.rx.Dups() > 0 {
			d.sackNow = true
		} else {
			d.sackNow = false
			d.sackDue.stop()
			d.unacked = 0
		}
		a.errorCount = 0
		a.t2.start(now, a.tx().rto.RTO())
	}
}

// acceptedNow runs when the acceptor accepts: data that came with the COOKIE
// ECHO is acknowledged and announced.
func (d *dataState) acceptedNow(a *Association) {
	if d.rx != nil && d.rx.CumAck() != a.peerTSN-1 || d.rx != nil && d.rx.HasGaps() {
		d.sackNow = true
	}
	if d.rq != nil && d.rq.Ready() > 0 && !d.readable {
		d.readable = true
		a.signal(Signal{Type: Readable})
	}
}

// sackReady reports whether flushSack has a SACK to add.
func (d *dataState) sackReady() bool { return d.inited && d.sackNow }

// flushSack appends a SACK if one is due.
func (d *dataState) flushSack(a *Association, pb *packetBuilder, now time.Time) {
	if !d.sackReady() {
		return
	}
	d.sackNow = false
	d.sackDue.stop()
	d.unacked = 0
	s := &d.sack
	s.CumTSNAck = d.rx.CumAck()
	d.lastRwnd = d.rwnd(a)
	s.ARwnd = d.lastRwnd
	s.GapBlocks = d.rx.AppendGapBlocks(s.GapBlocks[:0], maxGapBlocks)
	s.DupTSNs = d.rx.AppendDupTSNs(s.DupTSNs[:0], 32)
	d.rx.ResetDups()
	pb.add(s)
}

// Read returns the next received message, if any. Reading opens the receive
// window; a window that opened enough is announced with a SACK at once, so a
// sender stopped by a full window resumes (6.2, SWS avoidance of 6.2.1).
func (a *Association) Read(now time.Time) (Message, bool) {
	d := &a.data
	if d.rq == nil || a.state == stateAcceptPending {
		return Message{}, false
	}
	m, ok := d.rq.Pop()
	if !ok {
		d.readable = false
		return Message{}, false
	}
	a.host.stats.ReasmUsrMsgs++
	if d.rq.Ready() == 0 {
		d.readable = false
	}
	if a.state != stateClosed {
		w := d.rwnd(a)
		mtu := uint32(a.tx().maxPacket())
		if w > d.lastRwnd && (d.lastRwnd < mtu || w-d.lastRwnd >= uint32(a.cfg.RecvBuffer)/2) {
			d.sackNow = true
			a.markDirty()
			a.host.finishCall(now)
		}
	}
	return Message{Stream: m.Stream, SSN: m.SSN, PPID: m.PPID, TSN: m.TSN, Unordered: m.Unordered, Data: m.Data}, true
}

// Readable reports how many messages Read would return now.
func (a *Association) Readable() int {
	if a.data.rq == nil || a.state == stateAcceptPending {
		return 0
	}
	return a.data.rq.Ready()
}
