// Package congestion is the per-destination congestion controller of RFC
// 9260 section 7.2: cwnd, ssthresh and partial_bytes_acked, with slow start
// (7.2.1), congestion avoidance (7.2.2), the reactions to loss (7.2.3,
// 7.2.4) and reinitialization (7.2.5), plus the transmission rules A and B
// and Max.Burst of section 6.1 as queries.
//
// One Controller per destination transport address (7.2: "MUST keep a set
// of the control variables ... for EACH destination address"). The
// association engine owns everything that spans paths or needs the
// retransmission queue, through stack/internal/outstanding (the peer's
// rwnd, miss indications, which chunks to retransmit) and the FastRecovery
// type here (whether the association is in Fast Recovery, 7.2.4).
//
// # Units
//
// Every byte count passed in (flight size, bytes acknowledged, chunk sizes)
// should be the DATA chunk length including its 16-byte header and padding,
// as 7.2 recommends ("the length of the DATA chunk, including the padding,
// SHOULD be used"). The controller works on whatever unit it is given, but
// cwnd, PMDCS and flight size must share it: counting user data only makes
// the window about 16 bytes per chunk more generous than the RFC's.
//
// The Controller is a plain value: no clock (times are passed in), no
// goroutines, not safe for concurrent use.
package congestion

import (
	"fmt"
	"time"
)

const (
	// commonHeaderLen is the SCTP common header (RFC 9260 3.1), the part of
	// every packet that is not chunks.
	commonHeaderLen = 12
	// dataHeaderLen is a DATA chunk's header (3.3.1); a DATA chunk with
	// one byte of user data needs dataHeaderLen + 4 after padding.
	dataHeaderLen = 16

	// The upper bounds of the initial cwnd of 7.2.1, which differ by the
	// peer address family.
	initialWindowIPv4 = 4404
	initialWindowIPv6 = 4344

	// DefaultInitialSsthresh is the initial ssthresh when none is
	// configured: "arbitrarily high" (7.2.1), and representable in a 32-bit
	// int.
	DefaultInitialSsthresh = 1<<31 - 1
)

// Config configures a Controller.
type Config struct {
	// MTU is the path's PMTU in RFC 9260's sense (section 2): the largest
	// SCTP packet, common header included, IP and UDP encapsulation headers
	// excluded. The controller derives the PMDCS from it. If DATA shares
	// packets with a fixed-size chunk (AUTH), subtract that chunk's size.
	MTU int
	// IPv6 selects the IPv6 bound (4344 instead of 4404) of the initial
	// cwnd (7.2.1), which depends on the peer address family.
	IPv6 bool
	// InitialSsthresh, if positive, is the initial ssthresh; otherwise it
	// is DefaultInitialSsthresh. SetInitialSsthresh can change it later
	// (typically to the peer's a_rwnd once the handshake tells it).
	InitialSsthresh int
	// L is the slow-start increase limit of 7.2.1 in PMDCS per SACK
	// (Appropriate Byte Counting, RFC 3465). Zero means 1, the SHOULD.
	L int
}

// Controller holds the congestion state of one destination address.
type Controller struct {
	ipv6            bool
	l               int
	initialSsthresh int

	pmdcs    int
	cwnd     int
	ssthresh int
	pba      int // partial_bytes_acked (7.2.2)

	// onePacket: after a T3-rtx timeout only one packet may be in flight
	// until an acknowledgement of new data arrives (7.2.1, 7.2.3).
	onePacket bool

	// Idle decay (7.2.1, 7.2.2): sentAny says OnDataSent was called since
	// the start (or Reset); idleSince is the later of the last transmission
	// and the last decay step; decayed says the current idle spell has
	// already lowered cwnd once.
	sentAny   bool
	idleSince time.Time
	decayed   bool
}

// New returns a Controller in its initial state (7.2.1): cwnd =
// min(4*PMDCS, max(2*PMDCS, 4404 or 4344)), ssthresh high, pba 0. It panics
// if the MTU leaves no room for a DATA chunk with user data.
func New(cfg Config) *Controller {
	c := &Controller{ipv6: cfg.IPv6, l: cfg.L, initialSsthresh: cfg.InitialSsthresh}
	if c.l <= 0 {
		c.l = 1
	}
	if c.initialSsthresh <= 0 {
		c.initialSsthresh = DefaultInitialSsthresh
	}
	c.pmdcs = pmdcs(cfg.MTU)
	c.Reset()
	return c
}

// pmdcs is the Path Maximum DATA Chunk Size (section 2) for an MTU: what is
// left after the common header, rounded down to the 4-byte multiple a
// padded chunk occupies.
func pmdcs(mtu int) int {
	p := (mtu - commonHeaderLen) &^ 3
	if p < dataHeaderLen+4 {
		panic(fmt.Sprintf("congestion: MTU %d leaves no room for a DATA chunk", mtu))
	}
	return p
}

func (c *Controller) initialCwnd() int {
	bound := initialWindowIPv4
	if c.ipv6 {
		bound = initialWindowIPv6
	}
	return min(4*c.pmdcs, max(2*c.pmdcs, bound))
}

// Reset reinitializes the controller to its initial values (7.2.5: after a
// change of DSCP or route that may put packets in different queues), keeping
// the MTU and the initial ssthresh.
func (c *Controller) Reset() {
	c.cwnd = c.initialCwnd()
	c.ssthresh = c.initialSsthresh
	c.pba = 0
	c.onePacket = false
	c.sentAny = false
	c.idleSince = time.Time{}
	c.decayed = false
}

// SetInitialSsthresh sets ssthresh, and the value Reset returns to. Meant
// for handshake time, with the peer's a_rwnd as 7.2.1's "size of the
// largest-possible advertised window". Negative values count as 0.
func (c *Controller) SetInitialSsthresh(n int) {
	n = max(n, 0)
	c.initialSsthresh = n
	c.ssthresh = n
}

// Cwnd is the congestion window in bytes.
func (c *Controller) Cwnd() int { return c.cwnd }

// Ssthresh is the slow-start threshold in bytes.
func (c *Controller) Ssthresh() int { return c.ssthresh }

// PartialBytesAcked is partial_bytes_acked of 7.2.2.
func (c *Controller) PartialBytesAcked() int { return c.pba }

// InSlowStart reports cwnd <= ssthresh, where 7.2.1 applies; above it 7.2.2
// does.
func (c *Controller) InSlowStart() bool { return c.cwnd <= c.ssthresh }

// PMDCS is the path maximum DATA chunk size derived from the MTU.
func (c *Controller) PMDCS() int { return c.pmdcs }

// Ack describes what one SACK (or the Cumulative TSN Ack of a SHUTDOWN)
// means for this destination. Byte counts are for DATA chunks last sent to
// this destination, in the unit described in the package comment.
type Ack struct {
	// Bytes is the size of the DATA chunks newly acknowledged by this SACK,
	// by the Cumulative TSN Ack or by Gap Ack Blocks; chunks acknowledged
	// by an earlier SACK's gap blocks do not count again.
	Bytes int
	// DuplicateBytes is the size of the chunks reported in the SACK's
	// Duplicate TSNs, if the engine can tell. 7.2.2 adds them to
	// partial_bytes_acked; slow start ignores them, since 7.2.1 counts only
	// "previously outstanding DATA chunk(s)".
	DuplicateBytes int
	// FlightBefore is the flight size of this destination before the SACK
	// was processed (7.2.1's "fully utilized", 7.2.2's conditions).
	FlightBefore int
	// AllAcked says nothing remains outstanding to this destination after
	// the SACK: 7.2.2 then sets partial_bytes_acked to 0.
	AllAcked bool
	// InFastRecovery says the association is in Fast Recovery (7.2.4),
	// which forbids slow-start growth. Leave Fast Recovery first if this
	// SACK reached the exit point: 7.2.4 has the 7.2.1/7.2.2 adjustments
	// happen before its own.
	InFastRecovery bool
}

// OnAck applies 7.2.1 or 7.2.2 for a SACK that acknowledged data sent to
// this destination.
//
// RFC 9260 no longer asks the Cumulative TSN Ack to advance before cwnd may
// grow (appendix: "Don't require the change of the Cumulative TSN Ack
// anymore for increasing the congestion window"), so Ack has no such field.
func (c *Controller) OnAck(a Ack) {
	if a.Bytes > 0 {
		// "until the endpoint receives acknowledgement for successful
		// delivery of data to that address" (7.2.3).
		c.onePacket = false
	}
	if c.InSlowStart() {
		// 7.2.1: grow only if cwnd is fully utilized and not in Fast
		// Recovery, by at most min(bytes acked, L*PMDCS).
		if a.Bytes > 0 && !a.InFastRecovery && c.fullyUtilized(a.FlightBefore) {
			c.cwnd += min(a.Bytes, c.l*c.pmdcs)
		}
	} else {
		// 7.2.2: count every byte newly acknowledged, including duplicates;
		// at least cwnd of them while cwnd was in use buys one PMDCS, so
		// cwnd grows by at most one PMDCS per RTT.
		c.pba += a.Bytes + a.DuplicateBytes
		switch {
		case c.pba >= c.cwnd && a.FlightBefore >= c.cwnd:
			c.pba -= c.cwnd
			c.cwnd += c.pmdcs
		case c.pba > c.cwnd && a.FlightBefore < c.cwnd:
			// Not cwnd-limited: keep no credit beyond one window.
			c.pba = c.cwnd
		}
	}
	if a.AllAcked {
		c.pba = 0
	}
}

// fullyUtilized is 7.2.1's "the current congestion window is being fully
// utilized", which the RFC does not define further. Read here as: before the
// SACK there was no room left in cwnd for another full-sized DATA chunk.
// Rule B's overbooking makes a cwnd-limited sender reach flight >= cwnd;
// the PMDCS of slack covers a sender that stops short of cwnd rather than
// overbook, while a sender limited by its application or by the peer's rwnd
// (flight well below cwnd) does not grow cwnd.
func (c *Controller) fullyUtilized(flight int) bool {
	return flight+c.pmdcs > c.cwnd
}

// OnFastRetransmit applies 7.2.3's reaction to loss detected from SACKs:
// ssthresh = max(cwnd/2, 4*PMDCS), cwnd = ssthresh, partial_bytes_acked = 0.
// 7.2.4 step 2 allows it only when not already in Fast Recovery: call it for
// each destination the missing chunks were sent to when FastRecovery.Enter
// returns true, never otherwise.
//
// Note that with cwnd below 8*PMDCS (e.g. soon after a timeout) the formula
// raises cwnd; that is what the RFC says.
func (c *Controller) OnFastRetransmit() {
	c.ssthresh = max(c.cwnd/2, 4*c.pmdcs)
	c.cwnd = c.ssthresh
	c.pba = 0
}

// OnRetransmitTimeout applies 7.2.3 (and 6.3.3 E1) when T3-rtx expires for
// this destination: ssthresh = max(cwnd/2, 4*PMDCS), cwnd = PMDCS,
// partial_bytes_acked = 0, and only one packet in flight until data sent to
// it is acknowledged (CanSend enforces that).
func (c *Controller) OnRetransmitTimeout() {
	c.ssthresh = max(c.cwnd/2, 4*c.pmdcs)
	c.cwnd = c.pmdcs
	c.pba = 0
	c.onePacket = true
}

// OnDataSent records a transmission of DATA (new or retransmitted) to this
// destination at now, which ends any idle spell.
func (c *Controller) OnDataSent(now time.Time) {
	c.sentAny = true
	c.idleSince = now
	c.decayed = false
}

// OnIdle applies the idle decay of 7.2.1 and 7.2.2: while no DATA is sent to
// the destination, cwnd SHOULD become max(cwnd/2, 4*PMDCS) once per RTO, and
// ssthresh SHOULD be set to cwnd before the first such adjustment. It never
// raises cwnd (a cwnd already below 4*PMDCS stays), so nothing happens before
// the first transmission.
//
// It is lazy: call it with the current RTO of the destination whenever
// convenient, at the latest just before sending to the destination again;
// it catches up on every whole RTO since the last transmission or decay, so
// no idle timer is needed.
func (c *Controller) OnIdle(now time.Time, rto time.Duration) {
	if !c.sentAny || rto <= 0 {
		return
	}
	for steps := now.Sub(c.idleSince) / rto; steps > 0; steps-- {
		next := max(c.cwnd/2, 4*c.pmdcs)
		if next >= c.cwnd {
			// At the floor: the rest of the spell changes nothing.
			c.idleSince = now
			return
		}
		if !c.decayed {
			c.ssthresh = c.cwnd
			c.decayed = true
		}
		c.cwnd = next
		c.idleSince = c.idleSince.Add(rto)
	}
}

// OnMTUChange takes a new PMTU for the destination (PMTU discovery, 7.3).
// Increments and floors use the new PMDCS from now on. cwnd and ssthresh
// stay: they measure what the path carried, and an MTU change is not a
// congestion signal. Before any data has been sent, cwnd is recomputed as
// the initial cwnd for the new PMDCS (7.2.1's value "before data
// transmission"). It panics like New on an unusable MTU.
func (c *Controller) OnMTUChange(mtu int) {
	c.pmdcs = pmdcs(mtu)
	if !c.sentAny {
		c.cwnd = c.initialCwnd()
	}
}

// CanSend applies rule B of 6.1 (and the one-packet rule after a timeout) to
// new DATA for this destination; see Window.CanSend.
func (c *Controller) CanSend(flightSize, size int) bool {
	return c.Window(flightSize, 0).CanSend(flightSize, size)
}

// Window returns the congestion window for one transmission opportunity
// starting with flightSize bytes outstanding to this destination. With
// maxBurst > 0 it applies Max.Burst the way rule 4 of 6.1 suggests, as a
// temporary window of min(cwnd, flightSize + maxBurst*PMDCS) that does not
// change cwnd. (An engine that counts packets instead can pass 0.)
func (c *Controller) Window(flightSize, maxBurst int) Window {
	limit := c.cwnd
	if maxBurst > 0 && flightSize+maxBurst*c.pmdcs < limit {
		limit = flightSize + maxBurst*c.pmdcs
	}
	return Window{limit: limit, pmdcs: c.pmdcs, onePacket: c.onePacket}
}

// Window is a congestion window in effect for one transmission opportunity.
type Window struct {
	limit     int
	pmdcs     int
	onePacket bool
}

// Limit is the window in bytes.
func (w Window) Limit() int { return w.limit }

// CanSend reports whether rule B of 6.1 lets size bytes of new DATA go to the
// destination when flightSize bytes are outstanding to it. size may be one
// chunk, or all the new DATA of the packet being built (flightSize then
// being the flight before that packet), which lets one packet breach the
// window as the rule intends:
//
//   - a transmission may start only while flightSize < window, and may then
//     exceed it by up to PMDCS-1 bytes (the breach is one packet at most);
//   - a chunk larger than that (made before the PMTU shrank: 6.9 forbids
//     re-fragmenting it) goes only when nothing is outstanding;
//   - after a T3-rtx timeout, until new data is acknowledged, only when
//     nothing is outstanding: one packet in flight (7.2.3).
//
// Retransmissions marked by Fast Retransmit ignore cwnd (7.2.4 step 3) and
// need no call. Rule A, the peer's rwnd, is RwndAllows.
func (w Window) CanSend(flightSize, size int) bool {
	if flightSize == 0 {
		return true
	}
	if w.onePacket || flightSize >= w.limit {
		return false
	}
	return flightSize+size <= w.limit+w.pmdcs-1
}

// RwndAllows applies rule A of 6.1: new DATA of size bytes may go only if the
// peer's rwnd (as the sender tracks it, 6.2.1) holds it, except for a zero
// window probe, which rule A allows and which SHOULD only be sent when
// nothing is outstanding on the association (outstanding == 0). The probe's
// timing (first after one RTO, then backing off) is the engine's.
func RwndAllows(peerRwnd, outstanding, size int) bool {
	return size <= peerRwnd || outstanding == 0
}
