package engine

import (
	"net/netip"
	"time"

	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// pathTable is an association's destinations: one path per transport
// address of the peer (RFC 9260 6.4), at most maxPeerAddrs, in the order
// they were learnt. list[0] is the address the association was made on.
// Paths are never removed while the association lives, so a path's index
// names it for good (outChunk.dst).
//
// The transmit side asks it where to send through tx; the receive side
// finds the path a packet came on with find.
type pathTable struct {
	list    []*path
	primary int
}

// find returns the path to remote, or nil.
func (t *pathTable) find(remote netip.Addr) *path {
	for _, pa := range t.list {
		if pa.p.Remote == remote {
			return pa
		}
	}
	return nil
}

func (t *pathTable) add(pa *path) {
	pa.idx = len(t.list)
	t.list = append(t.list, pa)
}

// at is the path with index i.
func (t *pathTable) at(i int) *path { return t.list[i] }

// byNonce is the path whose outstanding HEARTBEAT carried nonce.
func (t *pathTable) byNonce(nonce uint64) *path {
	for _, pa := range t.list {
		if pa.hb.pending && pa.hb.nonce == nonce {
			return pa
		}
	}
	return nil
}

// tx is the path new data and control chunks go to: the primary path
// (6.4: "an endpoint SHOULD always transmit to the primary path").
func (a *Association) tx() *path { return a.paths.list[a.paths.primary] }

// primaryPath is the primary path (SCTP_PRIMARY_ADDR).
func (a *Association) primaryPath() *path { return a.paths.list[a.paths.primary] }

// addPath adds a destination for the peer's address addr on link linkIdx.
// confirmed says 5.4 counts it as the peer's already.
func (a *Association) addPath(linkIdx int, addr netip.Addr, confirmed bool) *path {
	p := link.Path{Remote: addr}
	if tx := a.paths.list; len(tx) > 0 && tx[0].linkIdx == linkIdx {
		p.RemotePort = tx[0].p.RemotePort
	}
	pa := newPath(a, linkIdx, p, confirmed)
	a.paths.add(pa)
	if a.data.inited {
		pa.initCC(a.data.initialRwnd)
	}
	if a.state >= stateEstablished && a.state != stateClosed {
		pa.startHeartbeat(a.host.lastNow, 0)
	}
	return pa
}

// startPaths begins heartbeats and probing at ESTABLISHED (8.3, 5.4).
// Unconfirmed addresses are probed one RTO apart, so that the probes of
// each RTO stay within HB.Max.Burst (1, RFC 9260 16) while there are few.
func (a *Association) startPaths(now time.Time) {
	probes := 0
	for _, pa := range a.paths.list {
		delay := time.Duration(0)
		if !pa.confirmed {
			delay = time.Duration(probes) * pa.rto.RTO()
			probes++
		}
		pa.startHeartbeat(now, delay)
	}
}

// stopHeartbeats ends heartbeats on every path (8.3).
func (a *Association) stopHeartbeats() {
	for _, pa := range a.paths.list {
		pa.stopHeartbeat()
	}
}

// stopPaths stops every path's timers for good.
func (a *Association) stopPaths() {
	for _, pa := range a.paths.list {
		pa.stop()
	}
}

// fragRoom is the largest SCTP packet every usable path carries: DATA is cut
// to it, so a retransmission to another destination needs no IP
// fragmentation (RFC 9260 7.3 allows the smallest PMTU of the peer's
// addresses).
func (a *Association) fragRoom() int {
	n := a.tx().maxPacket()
	for _, pa := range a.paths.list {
		if pa.usable() {
			n = min(n, pa.maxPacket())
		}
	}
	return n
}

// pathStatus is what Status reports of pa.
func (a *Association) pathStatus(pa *path) PathStatus {
	ps := PathStatus{
		Link: pa.linkIdx, Path: pa.p, State: pa.reportedState(), Primary: pa.idx == a.paths.primary,
		SRTT: pa.rto.SRTT(), RTTVar: pa.rto.RTTVar(), RTO: pa.rto.RTO(), MTU: pa.mtu,
		Errors: pa.errors, Outstanding: pa.flight,
	}
	if pa.cc != nil {
		ps.Cwnd, ps.Ssthresh = pa.cc.Cwnd(), pa.cc.Ssthresh()
	}
	return ps
}

// addCookieAck adds the COOKIE ACK, which goes where the COOKIE ECHO came
// from (6.4: a reply goes to the source of what it answers) when that
// address is confirmed (5.4 allows an unconfirmed one only with a
// HEARTBEAT bundled). Another destination's gets a packet of its own.
func (a *Association) addCookieAck(pb *packetBuilder) {
	to := a.cookieAckTo
	a.cookieAckTo = nil
	if to == nil || !to.confirmed || to == pb.dest() {
		pb.add(&wire.CookieAck{})
		return
	}
	a.sendChunkOn(to.linkIdx, to.p, &wire.CookieAck{})
}

// sendChunkOn emits one control chunk at once on a path other than the
// one flush builds for, under the peer's tag.
func (a *Association) sendChunkOn(linkIdx int, p link.Path, c wire.Chunk) {
	b := a.host.getBuf(link.MaxPacket)
	start := len(b)
	b = wire.AppendHeader(b, wire.CommonHeader{SrcPort: a.key.localPort, DstPort: a.key.remotePort, VerificationTag: a.peerTag})
	b = c.AppendTo(b)
	b = a.seal(b, start)
	wire.FinishPacket(b, start)
	a.host.stats.OutCtrlChunks++
	a.host.emit(linkIdx, p, b)
}
