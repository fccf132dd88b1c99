package engine

import (
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"time"

	"github.com/sctpgw/sctpgw/stack/internal/cookie"
	"github.com/sctpgw/sctpgw/stack/internal/outstanding"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// pathTable is an association's destinations: one path per transport
// address of the peer (RFC 9260 6.4), at most maxPeerAddrs, in the order
// they were learnt. list[0] is the address the association was made on.
// Paths are removed only by a restart in place, when nothing is
// outstanding, so a path's index names it for as long as a chunk can
// refer to it (outstanding.Chunk.Dest).
//
// The transmit side asks it where to send through tx; the receive side
// finds the path a packet came on with find.
type pathTable struct {
	list    []*path
	primary int
	heard   uint64 // counts the times a path proved to work (path.heard)
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

// tx is the path new data and control chunks go to: the primary path while
// it is usable (6.4: "an endpoint SHOULD always transmit to the primary
// path"), so data returns to it as soon as it answers again (failback).
func (a *Association) tx() *path {
	pr := a.paths.list[a.paths.primary]
	if pr.usable() || len(a.paths.list) == 1 {
		return pr
	}
	return a.paths.failover(pr)
}

// failover picks the destination while the primary pr is not usable: the
// first usable one after it in the table, one only (8.2: "only ONE
// transport address SHOULD be chosen"). With none (RFC 7829 4, dormant;
// or every destination inactive, which 8.2 leaves to the implementation),
// the confirmed one likeliest to work: potentially failed before
// inactive, then the fewest errors, then the one that proved to work
// last (as Linux elects by state and last_time_heard). Ties went to the
// primary, which could be the path that died first: its retransmissions
// then used up Association.Max.Retrans while the other network worked.
func (t *pathTable) failover(pr *path) *path {
	if alt := t.alternate(pr); alt != nil {
		return alt
	}
	best := pr
	for _, pa := range t.list {
		if pa.confirmed && (!best.confirmed || dormantBetter(pa, best)) {
			best = pa
		}
	}
	return best
}

// dormantBetter reports whether a is likelier to work than b, neither
// usable.
func dormantBetter(a, b *path) bool {
	pf := func(p *path) bool { return p.state == PathPotentiallyFailed }
	switch {
	case pf(a) != pf(b):
		return pf(a)
	case a.errors != b.errors:
		return a.errors < b.errors
	}
	return a.heard > b.heard
}

// alternate is the first usable destination other than last, looking from
// the one after it, or nil.
func (t *pathTable) alternate(last *path) *path {
	n := len(t.list)
	for i := 1; i < n; i++ {
		if pa := t.list[(last.idx+i)%n]; pa.usable() {
			return pa
		}
	}
	return nil
}

// rtxDest is where the retransmission of o goes (6.4): a chunk T3-rtx
// timed out goes to another active destination when there is one, a fast
// retransmission to the one it was sent to while that is usable.
func (t *pathTable) rtxDest(a *Association, o *outstanding.Chunk) *path {
	last := t.list[o.Dest()]
	if o.TimedOut() {
		if alt := t.alternate(last); alt != nil {
			return alt
		}
	}
	if last.usable() {
		return last
	}
	return a.tx()
}

// SetPrimary makes the peer's address addr the primary path
// (SCTP_PRIMARY_ADDR, RFC 6458 8.3.2; RFC 9260 6.4), announced with
// ADDR_MADE_PRIM. The address must be one of the association's and
// confirmed (5.4).
func (a *Association) SetPrimary(now time.Time, addr netip.Addr) error {
	if a.state == stateClosed {
		return ErrClosed
	}
	pa := a.paths.find(addr.Unmap())
	switch {
	case pa == nil:
		return fmt.Errorf("%w: %v", ErrNoPath, addr)
	case !pa.confirmed:
		return fmt.Errorf("%w: %v", ErrUnconfirmed, addr)
	case pa.idx == a.paths.primary:
		return nil
	}
	a.paths.primary = pa.idx
	pa.notify(AddrMadePrimary)
	a.markDirty()
	a.host.finishCall(now)
	return nil
}

// restartPaths gives an association restarted in place (5.2.4 A) the
// addresses of the new incarnation: those its cookie carries (its INIT's
// source and list) and src, where the cookie came from. Paths to others are
// dropped, but for the one the association is keyed by; all start afresh.
// 5.4 rule 2 confirms the INIT's source and src. Nothing is outstanding
// (the restart failed it), so the table may be renumbered.
func (a *Association) restartPaths(src netip.Addr, st *cookie.State) {
	listed := func(addr netip.Addr) bool { return addr == src || slices.Contains(st.PeerAddrs[:], addr) }
	kept := a.paths.list[:0]
	primary := a.primaryPath()
	for _, pa := range a.paths.list {
		if !listed(pa.p.Remote) && pa.p.Remote != a.key.remote {
			a.host.dropPeerAddr(a, pa.p.Remote)
			pa.stop()
			continue
		}
		pa.reset()
		pa.confirmed = pa.p.Remote == st.PeerAddrs[0] || pa.p.Remote == src
		pa.idx = len(kept)
		kept = append(kept, pa)
	}
	clear(a.paths.list[len(kept):])
	a.paths.list = kept
	a.paths.primary = 0
	if primary.idx < len(kept) && kept[primary.idx] == primary && primary.confirmed {
		a.paths.primary = primary.idx
	} else if pa := a.paths.find(src); pa != nil {
		a.paths.primary = pa.idx
	}
	a.cookieAckTo, a.sackTo, a.hsDest = a.paths.find(src), nil, nil
}

// primaryPath is the primary path (SCTP_PRIMARY_ADDR).
func (a *Association) primaryPath() *path { return a.paths.list[a.paths.primary] }

// addPath adds a destination for the peer's address addr on link linkIdx.
// confirmed says 5.4 counts it as the peer's already.
func (a *Association) addPath(linkIdx int, addr netip.Addr, confirmed bool) *path {
	p := link.Path{Remote: addr, Local: a.localFor(addr)}
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

// localFor is the source address of a new path to remote until the peer
// reaches us from it: one the peer knows as ours, or it would take the
// packet for out of the blue and answer with an ABORT that ends the
// association (8.4 rule 8, 8.5.1 B). With LocalAddrs, which the INIT or
// INIT ACK listed, the one sharing the longest prefix with remote (a
// route's usual choice); without, the address of the path the association
// was made on, the only one the peer knows. Unset (the link's choice)
// when neither has one of remote's family.
func (a *Association) localFor(remote netip.Addr) netip.Addr {
	var best netip.Addr
	bestLen := -1
	for _, l := range a.cfg.LocalAddrs {
		if n := commonPrefix(l, remote); l.Is4() == remote.Is4() && n > bestLen {
			best, bestLen = l, n
		}
	}
	if best.IsValid() || len(a.cfg.LocalAddrs) > 0 || len(a.paths.list) == 0 {
		return best
	}
	if l := a.paths.list[0].p.Local; l.IsValid() && l.Is4() == remote.Is4() {
		return l
	}
	return netip.Addr{}
}

// commonPrefix is how many leading bits a and b share.
func commonPrefix(a, b netip.Addr) int {
	x, y := a.As16(), b.As16()
	for i := range x {
		if d := x[i] ^ y[i]; d != 0 {
			return i*8 + bits.LeadingZeros8(d)
		}
	}
	return 128
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
		Errors: pa.errors, Outstanding: a.data.out.DestFlight(pa.idx),
	}
	if pa.cc != nil {
		ps.Cwnd, ps.Ssthresh = pa.cc.Cwnd(), pa.cc.Ssthresh()
	}
	return ps
}

// handshakeDest is where the INIT or COOKIE ECHO goes.
func (a *Association) handshakeDest() *path {
	if a.hsDest != nil {
		return a.hsDest
	}
	return a.tx()
}

// nextHandshakeDest moves the INIT or COOKIE ECHO to the next confirmed
// address of a peer dialled at several (DialAddrs) after T1 expired, as
// 6.4 has retransmissions go to an alternate; the one that did not answer
// takes an error, so data avoids it once the association is up.
func (a *Association) nextHandshakeDest(now time.Time) {
	if len(a.paths.list) < 2 {
		return
	}
	cur := a.handshakeDest()
	cur.strike(now)
	n := len(a.paths.list)
	for i := 1; i < n; i++ {
		if pa := a.paths.list[(cur.idx+i)%n]; pa.confirmed {
			a.hsDest = pa
			return
		}
	}
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

// addSack adds the due SACK, to the destination the latest DATA came from
// while it is usable: 6.4 keeps a SACK's destination while DATA comes from
// one source, and when our primary toward the peer has failed unnoticed (it
// is idle), a SACK sent there would never arrive. Otherwise to the tx path.
// Another destination than pb's gets a packet of its own.
func (a *Association) addSack(pb *packetBuilder, now time.Time) {
	to := a.sackTo
	if to == nil || !to.usable() {
		to = a.tx()
	}
	if to != pb.dest() {
		pb.to(to)
		a.data.flushSack(a, pb, now)
		pb.to(a.tx())
		return
	}
	a.data.flushSack(a, pb, now)
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
