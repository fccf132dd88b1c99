package engine

import (
	"encoding/binary"
	"time"

	"github.com/sctpgw/sctpgw/stack/internal/rto"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// path is one destination transport address of the peer with everything
// kept per destination: RTO, error count, heartbeats, MTU (RFC 9260 6.3, 8.2,
// 8.3).
type path struct {
	a       *Association
	linkIdx int
	p       link.Path
	rto     *rto.Estimator
	mtu     int // IP-level path MTU
	errors  int
	state   PathState

	hbTimer    timer
	hbInterval time.Duration
	hbOn       bool
	// The outstanding HEARTBEAT: its nonce and send time. hbPending means
	// one was sent and not yet acknowledged.
	hbPending  bool
	hbOnDemand bool // the outstanding one was asked for by the user
	hbNonce    uint64
	hbSentAt   time.Time
	// lastRTTSend is when a chunk usable for an RTT measurement was last
	// sent here: a path that sent one during the heartbeat period is not
	// idle (8.3).
	lastRTTSend time.Time
}

func newPath(a *Association, linkIdx int, p link.Path) *path {
	pa := &path{a: a, linkIdx: linkIdx, p: p, state: PathActive}
	pa.reset(time.Time{})
	return pa
}

// reset returns the path to its initial measurements (a restart, 5.2.4 A).
func (pa *path) reset(now time.Time) {
	cfg := &pa.a.cfg
	pa.rto = rto.New(rto.Config{Initial: cfg.RTO.Initial, Min: cfg.RTO.Min, Max: cfg.RTO.Max})
	pa.mtu = cfg.PeerAddr.PathMTU
	pa.errors = 0
	pa.state = PathActive
	pa.hbPending = false
	pa.hbOn = cfg.PeerAddr.Heartbeat == HeartbeatOn
	pa.hbInterval = cfg.PeerAddr.HBInterval
	if pa.hbInterval == 0 {
		pa.hbInterval = DefaultHBInterval
		if pa.a.host.cfg.Links[pa.linkIdx].Kind == link.UDP {
			pa.hbInterval = DefaultHBIntervalUDP
		}
	}
}

// maxPacket is the largest SCTP packet (common header on) the path carries,
// less the AUTH chunk the association adds to packets (auth.go: seal).
func (pa *path) maxPacket() int {
	return pa.mtu - pa.a.host.cfg.Links[pa.linkIdx].overhead(pa.p.Remote) - pa.a.auth.overhead
}

func (pa *path) setMTU(mtu int) {
	if mtu >= 576 && mtu < pa.mtu {
		pa.mtu = mtu
		if d := &pa.a.data; d.cc != nil {
			d.cc.OnMTUChange(pa.maxPacket())
		}
	}
}

func (pa *path) earliest(m time.Time) time.Time { return earliest(m, pa.hbTimer) }

func (pa *path) stop() { pa.hbTimer.stop() }

func (pa *path) stopHeartbeat() {
	pa.hbOn = false
	pa.hbTimer.stop()
}

// startHeartbeat arms the heartbeat timer once the association is up.
func (pa *path) startHeartbeat(now time.Time) {
	if pa.a.cfg.PeerAddr.Heartbeat != HeartbeatOn {
		return
	}
	pa.hbOn = true
	pa.armHeartbeat(now)
}

// probeRTT sends a HEARTBEAT now on a path with no RTT measurement yet.
// The side that accepted an association has none after the handshake (the
// side that dialled timed its INIT or COOKIE ECHO): without this its SRTT
// and RTO stay at zero and RTO.Initial until the first heartbeat period
// or acknowledged DATA, which on a quiet signalling link is HB.interval
// away. The HEARTBEAT is a regular one (8.3): unanswered, it counts as an
// error when the heartbeat timer fires.
func (pa *path) probeRTT(now time.Time) {
	if !pa.hbOn || pa.hbPending || pa.rto.Measured() {
		return
	}
	pa.hbPending = true
	pa.hbNonce = pa.a.host.random64()
	pa.hbSentAt = now
	pa.a.ctl |= ctlHeartbeat
}

// armHeartbeat schedules the next heartbeat at RTO + HB.interval with a
// jitter of +/- 50% of the RTO (8.3).
func (pa *path) armHeartbeat(now time.Time) {
	r := pa.rto.RTO()
	jitter := time.Duration(0)
	if r > 0 {
		jitter = time.Duration(pa.a.host.random64()%uint64(r)) - r/2
	}
	pa.hbTimer.start(now, pa.hbInterval+r+jitter)
}

// onTimeout runs the heartbeat timer: an unanswered heartbeat counts as an
// error (and backs the RTO off); an idle path gets a new HEARTBEAT.
func (pa *path) onTimeout(now time.Time) {
	if !pa.hbTimer.due(now) {
		return
	}
	pa.hbTimer.stop()
	if !pa.hbOn {
		return
	}
	a := pa.a
	if pa.hbPending {
		pa.hbPending = false
		pa.rto.Backoff()
		if a.countError(pa, now) {
			return
		}
	}
	// A path that carried RTT-measurable data this period is not idle.
	if !pa.lastRTTSend.IsZero() && now.Sub(pa.lastRTTSend) < pa.hbInterval {
		pa.armHeartbeat(now)
		return
	}
	pa.hbPending = true
	pa.hbNonce = a.host.random64()
	pa.hbSentAt = now
	a.ctl |= ctlHeartbeat
	a.host.stats.HBExpireds++
	a.markDirty()
	pa.armHeartbeat(now)
}

// heartbeatInfo is our Heartbeat Information: nonce, send time. RFC 9260
// 8.3 asks for the time and the destination; the nonce proves the ACK
// answers our HEARTBEAT, and the destination is the association's only path.
func (pa *path) heartbeatInfo(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, pa.hbNonce)
	return binary.BigEndian.AppendUint64(b, uint64(pa.hbSentAt.UnixNano()))
}

// handleHeartbeatAck takes an RTT sample and clears the error counters (8.3).
func (pa *path) handleHeartbeatAck(c wire.RawChunk, now time.Time) {
	var ack wire.HeartbeatAck
	if ack.Unmarshal(c) != nil || len(ack.Info) != 16 {
		return
	}
	if !pa.hbPending || binary.BigEndian.Uint64(ack.Info) != pa.hbNonce {
		return
	}
	sent := time.Unix(0, int64(binary.BigEndian.Uint64(ack.Info[8:])))
	pa.hbPending = false
	rtt := now.Sub(sent)
	pa.rto.Observe(rtt)
	if pa.hbOnDemand {
		pa.hbOnDemand = false
		pa.a.notify(Event{Type: HeartbeatRTT, RTT: rtt})
	}
	pa.a.errorCount = 0
	pa.clearErrors()
}

// clearErrors marks the path reachable again after an acknowledgement.
func (pa *path) clearErrors() {
	pa.errors = 0
	if pa.state == PathInactive {
		pa.state = PathActive
		pa.a.notify(Event{Type: PeerAddrChange, Path: pa.p, PathState: PathActive})
	}
}

// onUnreachable treats an ICMP unreachable for our packet as a path error
// (RFC 9260 section 10).
func (pa *path) onUnreachable(now time.Time) {
	pa.a.countError(pa, now)
}

// countError strokes the path and association error counters (8.1, 8.2). It
// reports whether the association ended.
func (a *Association) countError(pa *path, now time.Time) bool {
	a.errorCount++
	if a.errorCount > a.cfg.Assoc.MaxRetrans {
		a.abortWith(now, nil, ErrPeerUnreachable)
		return true
	}
	if pa.state == PathActive {
		pa.errors++
		if pa.errors > a.cfg.PeerAddr.PathMaxRetrans {
			pa.state = PathInactive
			a.notify(Event{Type: PeerAddrChange, Path: pa.p, PathState: PathInactive})
		}
	}
	return false
}

// Heartbeat sends an on-demand HEARTBEAT now (RFC 9260 8.3, function 4);
// its round trip comes back as a HeartbeatRTT event.
func (a *Association) Heartbeat(now time.Time) {
	if a.state != stateEstablished {
		return
	}
	pa := a.path
	pa.hbPending, pa.hbOnDemand = true, true
	pa.hbNonce = a.host.random64()
	pa.hbSentAt = now
	a.ctl |= ctlHeartbeat
	a.markDirty()
	a.host.finishCall(now)
}
