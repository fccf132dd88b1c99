package engine

import (
	"encoding/binary"
	"time"

	"github.com/sctpgw/sctpgw/stack/wire"
)

// heartbeat is one path's heartbeat state (RFC 9260 8.3) and its probing
// while the address is unconfirmed (5.4).
type heartbeat struct {
	timer    timer
	interval time.Duration
	on       bool // periodic heartbeats (PeerAddrParams.Heartbeat), until SHUTDOWN
	// The outstanding HEARTBEAT: its nonce and send time. pending means one
	// was sent and not yet acknowledged; queued that it waits for the next
	// flush; onDemand that the user asked for it.
	pending  bool
	queued   bool
	onDemand bool
	nonce    uint64
	sentAt   time.Time
	// afterTSN is the first TSN assigned after the HEARTBEAT was queued
	// (a flush sends it ahead of DATA): the acknowledgement of DATA from
	// there on, sent to this path, says the path worked after the probe
	// left (heardSince). Its late HEARTBEAT ACK then finds no pending
	// probe and gives no RTT sample.
	afterTSN uint32
	// lastRTTSend is when a chunk usable for an RTT measurement was last
	// sent here: a path that sent one during the heartbeat period is not
	// idle (8.3).
	lastRTTSend time.Time
}

func (hb *heartbeat) reset(pa *path) {
	cfg := &pa.a.cfg
	hb.pending, hb.queued, hb.onDemand = false, false, false
	hb.on = false
	hb.timer.stop()
	hb.interval = cfg.PeerAddr.HBInterval
	if hb.interval == 0 {
		hb.interval = DefaultHBInterval
		if pa.a.host.cfg.Links[pa.linkIdx].Kind.Encapsulated() {
			hb.interval = DefaultHBIntervalUDP
		}
	}
}

// startHeartbeat begins the path's part in failure detection once the
// association is up: periodic heartbeats on a confirmed path, probes on an
// unconfirmed one (5.4: "started when an association moves to the
// ESTABLISHED state"), the first of them after delay.
func (pa *path) startHeartbeat(now time.Time, delay time.Duration) {
	pa.hb.on = pa.a.cfg.PeerAddr.Heartbeat == HeartbeatOn
	if !pa.confirmed {
		if delay > 0 {
			pa.hb.timer.start(now, delay)
			pa.rearm()
			return
		}
		pa.onProbeTimer(now)
		return
	}
	if pa.state == PathPotentiallyFailed {
		pa.probePF(now)
		return
	}
	if pa.hb.on {
		pa.armHeartbeat(now)
	}
}

// probePF probes a potentially failed destination: a HEARTBEAT now unless
// one is outstanding, the next an RTO later (RFC 7829 5.1).
func (pa *path) probePF(now time.Time) {
	if !pa.hb.pending {
		pa.sendHeartbeat(now)
	}
	pa.hb.timer.start(now, pa.rto.RTO())
	pa.rearm()
}

// stopHeartbeat ends heartbeats and probes (8.3: after SHUTDOWN or
// SHUTDOWN ACK).
func (pa *path) stopHeartbeat() {
	pa.hb.on = false
	pa.hb.timer.stop()
	pa.rearm()
}

// probeRTT sends a HEARTBEAT now on a path with no RTT measurement yet.
// The side that accepted an association has none after the handshake (the
// side that dialled timed its INIT or COOKIE ECHO): without this its SRTT
// and RTO stay at zero and RTO.Initial until the first heartbeat period
// or acknowledged DATA, which on a quiet signalling link is HB.interval
// away. The HEARTBEAT is a regular one (8.3): unanswered, it counts as an
// error when the heartbeat timer fires.
func (pa *path) probeRTT(now time.Time) {
	if !pa.hb.on || pa.hb.pending || pa.rto.Measured() {
		return
	}
	pa.sendHeartbeat(now)
}

// sendHeartbeat queues a HEARTBEAT with a fresh nonce for the next flush.
func (pa *path) sendHeartbeat(now time.Time) {
	pa.hb.pending, pa.hb.queued = true, true
	pa.hb.nonce = pa.a.host.random64()
	pa.hb.sentAt = now
	pa.hb.afterTSN = pa.a.data.out.NextTSN()
	pa.a.markDirty()
}

// armHeartbeat schedules the next heartbeat at RTO + HB.interval with a
// jitter of +/- 50% of the RTO (8.3).
func (pa *path) armHeartbeat(now time.Time) {
	r := pa.rto.RTO()
	jitter := time.Duration(0)
	if r > 0 {
		jitter = time.Duration(pa.a.host.random64()%uint64(r)) - r/2
	}
	pa.hb.timer.start(now, pa.hb.interval+r+jitter)
	pa.rearm()
}

// onHeartbeatTimer runs the heartbeat timer: an unanswered heartbeat counts
// as an error (and backs the RTO off); an idle path gets a new HEARTBEAT.
func (pa *path) onHeartbeatTimer(now time.Time) {
	pa.hb.timer.stop()
	if !pa.confirmed {
		pa.onProbeTimer(now)
		return
	}
	if !pa.hb.on && pa.state != PathPotentiallyFailed {
		return
	}
	a := pa.a
	if pa.hb.pending {
		pa.hb.pending = false
		pa.rto.Backoff()
		if a.countError(pa, now, pa == a.tx()) {
			return
		}
	}
	if pa.state == PathPotentiallyFailed {
		// RFC 7829 5.1: a HEARTBEAT every RTO (backed off) while data
		// avoids the destination.
		a.host.stats.HBExpireds++
		pa.probePF(now)
		return
	}
	if !pa.hb.on {
		return
	}
	// A path that carried RTT-measurable data this period is not idle.
	if !pa.hb.lastRTTSend.IsZero() && now.Sub(pa.hb.lastRTTSend) < pa.hb.interval {
		pa.armHeartbeat(now)
		return
	}
	a.data.trimIdle()
	pa.sendHeartbeat(now)
	a.host.stats.HBExpireds++
	pa.armHeartbeat(now)
}

// onProbeTimer probes an unconfirmed address (5.4): one HEARTBEAT per RTO
// while the path is active, at the heartbeat rate once it is not. An
// unanswered probe counts against the path only, never the association.
func (pa *path) onProbeTimer(now time.Time) {
	if pa.hb.pending {
		pa.hb.pending = false
		pa.strike(now)
	}
	if pa.a.state != stateEstablished && pa.a.state != stateShutdownPending && pa.a.state != stateShutdownReceived {
		return
	}
	pa.sendHeartbeat(now)
	pa.a.host.stats.HBExpireds++
	if pa.state == PathActive {
		pa.hb.timer.start(now, pa.rto.RTO())
		pa.rearm()
		return
	}
	pa.armHeartbeat(now)
}

// heartbeatInfo is our Heartbeat Information: nonce, send time. RFC 9260
// 8.3 asks for the time and the destination, 5.4 for a nonce and a path
// indicator: each path's outstanding nonce is its own random 64 bits, so
// the nonce names the path (pathTable.byNonce).
func (pa *path) heartbeatInfo(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, pa.hb.nonce)
	return binary.BigEndian.AppendUint64(b, uint64(pa.hb.sentAt.UnixNano()))
}

// handleHeartbeatAck takes an RTT sample for the path the HEARTBEAT went
// to, confirms its address (5.4) and clears the error counters (8.3).
func (a *Association) handleHeartbeatAck(c wire.RawChunk, now time.Time) {
	var ack wire.HeartbeatAck
	if ack.Unmarshal(c) != nil || len(ack.Info) != 16 {
		return
	}
	pa := a.paths.byNonce(binary.BigEndian.Uint64(ack.Info))
	if pa == nil {
		return
	}
	sent := time.Unix(0, int64(binary.BigEndian.Uint64(ack.Info[8:])))
	pa.hb.pending = false
	rtt := now.Sub(sent)
	pa.rto.Observe(rtt)
	if pa.hb.onDemand {
		pa.hb.onDemand = false
		a.signal(Signal{Type: HeartbeatRTT, RTT: rtt})
	}
	if !pa.confirmed {
		pa.confirm(now)
	}
	a.errorCount = 0
	pa.clearErrors()
}

// confirm makes an unconfirmed address usable (5.4) and moves its probing
// to the regular heartbeat.
func (pa *path) confirm(now time.Time) {
	pa.confirmed = true
	pa.state, pa.errors = PathActive, 0
	pa.notify(AddrConfirmed)
	pa.hb.timer.stop()
	if pa.hb.on {
		pa.armHeartbeat(now)
	} else {
		pa.rearm()
	}
}

// flushHeartbeats sends the queued HEARTBEATs: the one to the path pb
// builds for rides in its packet, the others go in packets of their own.
func (a *Association) flushHeartbeats(pb *packetBuilder) {
	for _, pa := range a.paths.list {
		if !pa.hb.queued {
			continue
		}
		pa.hb.queued = false
		// Declared here, not above the loop: the chunk escapes, and so
		// would the array, allocated on every flush with no heartbeat due.
		var info [16]byte
		hb := &wire.Heartbeat{Info: pa.heartbeatInfo(info[:0])}
		if pa == pb.dest() {
			pb.add(hb)
		} else {
			a.sendChunkOn(pa.linkIdx, pa.p, hb)
		}
	}
}

// Heartbeat sends an on-demand HEARTBEAT on the primary path now (RFC 9260
// 8.3, function 4); its round trip comes back as a HeartbeatRTT signal.
func (a *Association) Heartbeat(now time.Time) {
	if a.state != stateEstablished {
		return
	}
	pa := a.tx()
	pa.sendHeartbeat(now)
	pa.hb.onDemand = true
	a.host.finishCall(now)
}

// heardSince takes the acknowledgement of DATA sent to this path after its
// outstanding HEARTBEAT (fresh: never retransmitted, sent since the path's
// latest error; freshTSN the highest such TSN) as the probe's answer: the
// path worked after the probe left, so losing the probe is no error (RFC
// 9260 8.2: such an acknowledgement clears the destination's error
// count, which the unanswered probe would otherwise raise again at the
// next heartbeat timer, making the path potentially failed, RFC 7829,
// while data to it is being acknowledged). A probe the user asked for
// (Assoc.Heartbeat) still waits for its own answer.
func (pa *path) heardSince(freshTSN uint32) {
	if pa.hb.pending && !pa.hb.onDemand && pa.confirmed && !serialAfter(pa.hb.afterTSN, freshTSN) {
		pa.hb.pending = false
	}
}
