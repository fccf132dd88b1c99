package engine

import (
	"time"

	"github.com/sctpgw/sctpgw/stack/internal/congestion"
	"github.com/sctpgw/sctpgw/stack/internal/rto"
	"github.com/sctpgw/sctpgw/stack/link"
)

// path is one destination transport address of the peer with everything
// RFC 9260 keeps per destination: RTO (6.3), cwnd and ssthresh (7.2), the
// flight toward it, the error counter and reachability (8.2), heartbeats
// (8.3) and whether the address is confirmed (5.4). Its timers sit on the
// Host's timer heap as an entry of their own.
type path struct {
	a   *Association
	idx int // its place in the association's pathTable, fixed for life
	// linkIdx and p are where packets to this destination go. p.Local is
	// the address the peer last reached us at from p.Remote (replies leave
	// from the address the peer used), or unset, leaving the source to the
	// link (the only address of the family, or the kernel's route).
	linkIdx int
	p       link.Path
	rto     *rto.Estimator
	// cc is the destination's congestion state; nil until the data path is
	// set up (dataState.init). The flight toward it is the outstanding
	// queue's (outstanding.Queue.DestFlight).
	cc *congestion.Controller
	// t3 is the destination's T3-rtx timer (6.3.2); tlp its tail loss
	// probe (tailprobe.go).
	t3     timer
	tlp    tailProbe
	mtu    int // IP-level path MTU
	errors int
	state  PathState // PathActive, PathPotentiallyFailed or PathInactive
	// confirmed: the address is known to be the peer's (5.4). Only
	// HEARTBEATs with a nonce and HEARTBEAT ACKs go to one that is not.
	confirmed bool
	hb        heartbeat
	tm        timerSlot
	// heard orders the paths by when each last proved to work (an
	// acknowledgement of fresh DATA sent there, a HEARTBEAT ACK, an
	// answered zero window probe): pathTable.heard's count then.
	heard uint64
}

func newPath(a *Association, linkIdx int, p link.Path, confirmed bool) *path {
	pa := &path{a: a, linkIdx: linkIdx, p: p, confirmed: confirmed, tm: timerSlot{idx: -1}}
	pa.reset()
	return pa
}

// reset returns the path to its initial measurements (a restart, 5.2.4 A).
func (pa *path) reset() {
	cfg := &pa.a.cfg
	pa.rto = rto.New(rto.Config{Initial: cfg.RTO.Initial, Min: cfg.RTO.Min, Max: cfg.RTO.Max})
	pa.mtu = pa.a.host.pathMTU(pa.linkIdx, pa.p, cfg.PeerAddr.PathMTU)
	pa.errors = 0
	pa.state = PathActive
	pa.hb.reset(pa)
	pa.t3.stop()
	pa.tlp.reset()
	pa.rearm()
}

// initCC gives the path its congestion state once the peer's window is
// known (7.2.1: ssthresh may start at the peer's a_rwnd). The controller's
// MTU is the largest SCTP packet: its PMDCS (RFC 9260 1.3) is that less the
// common header.
func (pa *path) initCC(ssthresh int) {
	r := pa.p.Remote
	pa.cc = congestion.New(congestion.Config{MTU: pa.maxPacket(), IPv6: !r.Is4() && !r.Is4In6()})
	pa.cc.SetInitialSsthresh(ssthresh)
}

// maxPacket is the largest SCTP packet (common header on) the path carries,
// less the AUTH chunk the association adds to packets (auth.go: seal).
func (pa *path) maxPacket() int {
	return pa.mtu - pa.a.host.cfg.Links[pa.linkIdx].overhead(pa.p.Remote) - pa.a.auth.overhead
}

func (pa *path) setMTU(mtu int) {
	if mtu >= minPathMTU && mtu < pa.mtu {
		pa.mtu = mtu
		if pa.cc != nil {
			pa.cc.OnMTUChange(pa.maxPacket())
		}
	}
}

// usable reports whether DATA and control chunks may go to the path: its
// address is confirmed (5.4) and it is not known to have failed (8.2).
func (pa *path) usable() bool { return pa.confirmed && pa.state == PathActive }

// reportedState is the state sctp_paddrinfo shows.
func (pa *path) reportedState() PathState {
	if !pa.confirmed {
		return PathUnconfirmed
	}
	return pa.state
}

// --- its entry on the Host's timer heap ------------------------------------

func (pa *path) slot() *timerSlot { return &pa.tm }

func (pa *path) nextDeadline() time.Time {
	return earliest(earliest(earliest(time.Time{}, pa.hb.timer), pa.t3), pa.tlp.timer)
}

func (pa *path) live() bool { return pa.a.state != stateClosed }

func (pa *path) onTimeout(now time.Time) {
	if pa.t3.due(now) {
		pa.a.data.onT3(pa.a, pa, now)
	}
	if pa.live() && pa.tlp.timer.due(now) {
		pa.a.data.onPTO(pa.a, pa, now)
	}
	if pa.live() && pa.hb.timer.due(now) {
		pa.onHeartbeatTimer(now)
	}
	pa.a.markDirty()
}

// startT3 (re)starts the destination's T3-rtx timer to expire after d.
func (pa *path) startT3(now time.Time, d time.Duration) {
	pa.t3.start(now, d)
	pa.rearm()
}

// rearm re-files the path on the timer heap after one of its timers
// changed; a closed association's paths are off the heap for good.
func (pa *path) rearm() {
	if pa.live() {
		pa.a.host.timers.update(pa)
	}
}

// stop stops every timer of the path and takes it off the heap.
func (pa *path) stop() {
	pa.hb.timer.stop()
	pa.t3.stop()
	pa.tlp.reset()
	pa.a.host.timers.remove(pa)
}

// --- error counting (8.1, 8.2) ---------------------------------------------

// countError strokes the error counter of pa and, when assoc, the
// association's overall one (8.1, 8.2). It reports whether the association
// ended. 8.1: a heartbeat unanswered on a path other than the one data goes
// to does not count against the association.
func (a *Association) countError(pa *path, now time.Time, assoc bool) bool {
	if assoc {
		a.errorCount++
		if a.errorCount > a.cfg.Assoc.MaxRetrans {
			a.abortWith(now, nil, ErrPeerUnreachable)
			return true
		}
	}
	pa.strike(now)
	return false
}

// strike counts one error on the path; past Path.Max.Retrans it is
// inactive (8.2), and 8.3 stops counting there. With more than one
// destination, past PotentiallyFailed.Max.Retrans it is potentially failed
// first (RFC 7829 5.1): data avoids it at once and a HEARTBEAT probes it
// every RTO.
func (pa *path) strike(now time.Time) {
	// What is outstanding there left before the error: its acknowledgement
	// will not bring the path back (clearHeard).
	pa.a.data.out.Discredit(pa.idx)
	if pa.state == PathInactive {
		return
	}
	pa.errors++
	cfg := &pa.a.cfg.PeerAddr
	switch {
	case pa.errors > cfg.PathMaxRetrans:
		pa.state = PathInactive
		pa.notify(AddrUnreachable)
	case pa.state == PathActive && pa.confirmed && cfg.PotentiallyFailed == PFOn &&
		pa.errors > cfg.PFMaxRetrans && len(pa.a.paths.list) > 1:
		pa.state = PathPotentiallyFailed
		pa.notify(AddrPotentiallyFailed)
		if pa.a.state >= stateEstablished {
			pa.probePF(now)
		}
	}
}

// clearErrors marks the path reachable again after an acknowledgement of
// something sent to it (8.2, 8.3; RFC 7829 5.1 for a potentially failed
// one).
func (pa *path) clearErrors() {
	pa.a.paths.heard++
	pa.heard = pa.a.paths.heard
	pa.errors = 0
	if pa.state != PathActive {
		pa.state = PathActive
		pa.notify(AddrAvailable)
	}
}

// notify raises a PEER_ADDR_CHANGE for the path.
func (pa *path) notify(what AddrChange) {
	pa.a.notify(Event{Type: PeerAddrChange, Path: pa.p, PathState: pa.reportedState(), AddrChange: what})
}

// onUnreachable treats an ICMP unreachable for our packet as a path error
// (RFC 9260 section 10). A single-homed association counts it against
// itself too, as a data transmission's would. With other paths it says
// that this one failed, not the peer: the path's counter alone moves, or a
// burst of them (one per packet sent into a dead network) would end the
// association while its other paths work.
func (pa *path) onUnreachable(now time.Time) {
	pa.a.countError(pa, now, len(pa.a.paths.list) == 1)
}
