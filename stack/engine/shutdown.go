package engine

import (
	"time"

	"github.com/sctpgw/sctpgw/stack/wire"
)

// Shutdown starts a graceful close (9.2), like gen_sctp:eof/2: data already
// queued is still delivered, then SHUTDOWN / SHUTDOWN ACK / SHUTDOWN COMPLETE.
// Before COMM_UP it takes effect once the association is up.
func (a *Association) Shutdown(now time.Time) {
	switch a.state {
	case stateCookieWait, stateCookieEchoed, stateAcceptPending:
		a.shutdownAfterUp = true
	case stateEstablished:
		a.state = stateShutdownPending
		a.markDirty()
	}
	a.host.finishCall(now)
}

// HoldShutdownAck arranges that when the peer's SHUTDOWN arrives (now or
// later), the association does not answer with SHUTDOWN ACK, and lets its
// user keep sending, until ReleaseShutdownAck. Call it before the SHUTDOWN
// can arrive: the ACK would otherwise go out with the input that brought
// the SHUTDOWN, before any handler runs. On the wire this is a peer in
// SHUTDOWN-SENT receiving DATA, which it must accept (9.2); a gateway uses
// it to deliver what the other side of a pair still sends before this
// side's shutdown completes (docs/design.md 2.5).
func (a *Association) HoldShutdownAck() { a.holdShutdownAck = true }

// ReleaseShutdownAck lets a held SHUTDOWN ACK go once all data is acked.
func (a *Association) ReleaseShutdownAck(now time.Time) {
	if !a.holdShutdownAck {
		return
	}
	a.holdShutdownAck = false
	a.markDirty()
	a.host.finishCall(now)
}

// HoldShutdownComplete arranges that when the peer acknowledges our
// SHUTDOWN (its SHUTDOWN ACK: it has sent all it ever will and has all we
// sent), the association does not answer with SHUTDOWN COMPLETE and end,
// but raises ShutdownAcked and waits for ReleaseShutdownComplete or Abort.
// The peer meanwhile retransmits its SHUTDOWN ACK (9.2) and
// T5-shutdown-guard bounds the wait. A gateway uses it so that a graceful
// close completes only once what the peer sent has been delivered on the
// other side of the pair, and otherwise ends in an ABORT that tells the
// peer of the loss (docs/design.md 2.5). Call it before the SHUTDOWN ACK can arrive.
func (a *Association) HoldShutdownComplete() { a.holdShutdownComplete = true }

// ReleaseShutdownComplete sends the SHUTDOWN COMPLETE held since
// ShutdownAcked and ends the association gracefully. Before the SHUTDOWN
// ACK has arrived it does nothing: the hold stays.
func (a *Association) ReleaseShutdownComplete(now time.Time) {
	if !a.shutdownAcked || a.state == stateClosed {
		return
	}
	a.completeShutdown()
	a.host.finishCall(now)
}

// maybeShutdown sends SHUTDOWN or SHUTDOWN ACK once all our data is
// acknowledged (9.2); flush calls it before building packets.
func (a *Association) maybeShutdown(now time.Time) {
	if !a.data.idle() {
		return
	}
	switch a.state {
	case stateShutdownPending:
		a.state = stateShutdownSent
		a.ctl |= ctlShutdown
		a.errorCount = 0
		a.t2.start(now, a.tx().rto.RTO())
		// T5-shutdown-guard: 5 x RTO.Max bounds the whole sequence.
		a.t5.start(now, 5*a.cfg.RTO.Max)
		a.stopHeartbeats() // 8.3: heartbeats end with SHUTDOWN
	case stateShutdownReceived:
		if a.holdShutdownAck {
			return
		}
		a.state = stateShutdownAckSent
		a.ctl |= ctlShutdownAck
		a.errorCount = 0
		a.t2.start(now, a.tx().rto.RTO())
		a.stopHeartbeats()
	}
}

// handleShutdown processes the peer's SHUTDOWN (9.2).
func (a *Association) handleShutdown(c wire.RawChunk, now time.Time) {
	var s wire.Shutdown
	if s.Unmarshal(c) != nil {
		return
	}
	switch a.state {
	case stateEstablished, stateShutdownPending:
		a.state = stateShutdownReceived
		a.data.handleCumAck(a, s.CumTSNAck, now)
		a.notify(Event{Type: ShutdownEvent})
	case stateShutdownReceived:
		a.data.handleCumAck(a, s.CumTSNAck, now)
	case stateShutdownSent:
		// Both sides shut down at once: answer with SHUTDOWN ACK at once.
		a.data.handleCumAck(a, s.CumTSNAck, now)
		a.state = stateShutdownAckSent
		a.ctl &^= ctlShutdown
		a.ctl |= ctlShutdownAck
		a.t2.start(now, a.tx().rto.RTO())
		a.notify(Event{Type: ShutdownEvent})
	case stateShutdownAckSent:
		a.ctl |= ctlShutdownAck
	}
	a.markDirty()
}

// handleShutdownAck completes our side (9.2): SHUTDOWN COMPLETE, then gone.
func (a *Association) handleShutdownAck(now time.Time) {
	if a.state != stateShutdownSent && a.state != stateShutdownAckSent {
		return
	}
	if a.holdShutdownComplete {
		if !a.shutdownAcked {
			a.shutdownAcked = true
			a.t2.stop() // acknowledged: nothing to retransmit
			if !a.t5.running() {
				a.t5.start(now, 5*a.cfg.RTO.Max)
			}
			a.signal(Signal{Type: ShutdownAcked})
		}
		return
	}
	a.completeShutdown()
}

// completeShutdown sends SHUTDOWN COMPLETE and ends the association.
func (a *Association) completeShutdown() {
	b := a.host.getBuf(64)
	b = wire.AppendPacket(b, wire.CommonHeader{SrcPort: a.key.localPort, DstPort: a.key.remotePort, VerificationTag: a.peerTag}, &wire.ShutdownComplete{})
	a.host.stats.OutCtrlChunks++
	pa := a.tx()
	a.host.emit(pa.linkIdx, pa.p, b)
	a.host.stats.Shutdowns++
	a.close(Event{Type: ShutdownComp})
}

// handleShutdownComplete ends the association if we sent SHUTDOWN ACK
// (8.5.1 C: ignored in any other state).
func (a *Association) handleShutdownComplete(c wire.RawChunk) {
	if a.state != stateShutdownAckSent {
		return
	}
	a.host.stats.Shutdowns++
	a.close(Event{Type: ShutdownComp})
}

// onT2 retransmits SHUTDOWN or SHUTDOWN ACK, giving up after
// Association.Max.Retrans (9.2).
func (a *Association) onT2(now time.Time) {
	a.t2.stop()
	a.host.stats.T2ShutdownExpireds++
	pa := a.tx()
	pa.rto.Backoff()
	// Counted against the destination too, so that the next
	// retransmission goes to another one once it failed (8.2).
	if a.countError(pa, now, true) {
		return
	}
	switch a.state {
	case stateShutdownSent:
		a.ctl |= ctlShutdown
	case stateShutdownAckSent:
		a.ctl |= ctlShutdownAck
	default:
		return
	}
	a.t2.start(now, a.tx().rto.RTO())
	a.markDirty()
}
