package congestion

import (
	"testing"
	"time"
)

// The expectations below are computed from the RFC 9260 formulas, written
// out again here, never read back from the Controller.

const mtu = 1200

// pmdcsOf is section 2's PMDCS: the largest DATA chunk (4-byte padded) in a
// packet of mtu bytes after the 12-byte common header.
func pmdcsOf(m int) int { return (m - 12) / 4 * 4 }

// initialCwndOf is 7.2.1's min(4*PMDCS, max(2*PMDCS, 4404 | 4344)).
func initialCwndOf(p int, ipv6 bool) int {
	b := 4404
	if ipv6 {
		b = 4344
	}
	return min(4*p, max(2*p, b))
}

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

type state struct{ cwnd, ssthresh, pba int }

func check(t *testing.T, step string, c *Controller, want state) {
	t.Helper()
	got := state{c.Cwnd(), c.Ssthresh(), c.PartialBytesAcked()}
	if got != want {
		t.Fatalf("%s: cwnd/ssthresh/pba = %d/%d/%d, want %d/%d/%d", step,
			got.cwnd, got.ssthresh, got.pba, want.cwnd, want.ssthresh, want.pba)
	}
	if c.InSlowStart() != (want.cwnd <= want.ssthresh) {
		t.Fatalf("%s: InSlowStart %v with cwnd %d ssthresh %d", step, c.InSlowStart(), want.cwnd, want.ssthresh)
	}
}

func TestInitialWindow(t *testing.T) {
	for _, m := range []int{576, 1200, 1280, 1452, 1500, 9000, 65535} {
		for _, v6 := range []bool{false, true} {
			c := New(Config{MTU: m, IPv6: v6})
			p := pmdcsOf(m)
			if c.PMDCS() != p {
				t.Errorf("MTU %d: PMDCS %d, want %d", m, c.PMDCS(), p)
			}
			if want := initialCwndOf(p, v6); c.Cwnd() != want {
				t.Errorf("MTU %d IPv6 %v: initial cwnd %d, want %d", m, v6, c.Cwnd(), want)
			}
			if c.Ssthresh() != DefaultInitialSsthresh || c.PartialBytesAcked() != 0 || !c.InSlowStart() {
				t.Errorf("MTU %d: ssthresh %d pba %d", m, c.Ssthresh(), c.PartialBytesAcked())
			}
		}
	}
}

// TestTrace runs one destination through slow start, congestion avoidance,
// a fast retransmit with its recovery, and two timeouts, checking every
// variable after every event.
func TestTrace(t *testing.T) {
	p := pmdcsOf(mtu)
	c := New(Config{MTU: mtu})
	const ssthresh0 = 10000 // e.g. the peer's a_rwnd
	c.SetInitialSsthresh(ssthresh0)
	cwnd, ssthresh, pba := initialCwndOf(p, false), ssthresh0, 0
	check(t, "initial", c, state{cwnd, ssthresh, pba})

	// --- 7.2.1 slow start: cwnd <= ssthresh.
	// Fully utilized, 1500 bytes acked: grow by min(1500, L*PMDCS), L = 1.
	c.OnAck(Ack{Bytes: 1500, FlightBefore: cwnd})
	cwnd += min(1500, p)
	check(t, "slow start, ack > PMDCS", c, state{cwnd, ssthresh, pba})

	c.OnAck(Ack{Bytes: 400, FlightBefore: cwnd})
	cwnd += min(400, p)
	check(t, "slow start, ack < PMDCS", c, state{cwnd, ssthresh, pba})

	// Not fully utilized: room for a whole PMDCS was left, so no growth.
	c.OnAck(Ack{Bytes: 1000, FlightBefore: cwnd - p})
	check(t, "slow start, window not fully used", c, state{cwnd, ssthresh, pba})
	// One byte less room than a PMDCS counts as full.
	c.OnAck(Ack{Bytes: 1000, FlightBefore: cwnd - p + 1})
	cwnd += min(1000, p)
	check(t, "slow start, less than a PMDCS of room", c, state{cwnd, ssthresh, pba})

	// In Fast Recovery slow start must not grow cwnd.
	c.OnAck(Ack{Bytes: 1000, FlightBefore: cwnd, InFastRecovery: true})
	check(t, "slow start in fast recovery", c, state{cwnd, ssthresh, pba})

	// Slow start applies up to and including cwnd == ssthresh; the step
	// that takes cwnd past ssthresh is still a slow-start step.
	for cwnd <= ssthresh {
		c.OnAck(Ack{Bytes: p, FlightBefore: cwnd})
		cwnd += p
		check(t, "slow start to ssthresh", c, state{cwnd, ssthresh, pba})
	}
	if c.InSlowStart() {
		t.Fatal("still in slow start with cwnd > ssthresh")
	}

	// --- 7.2.2 congestion avoidance: cwnd > ssthresh.
	// pba collects acked bytes; cwnd grows by one PMDCS only once pba
	// reaches cwnd while flight >= cwnd.
	for pba+p < cwnd {
		c.OnAck(Ack{Bytes: p, FlightBefore: cwnd})
		pba += p
		check(t, "congestion avoidance, accumulating", c, state{cwnd, ssthresh, pba})
	}
	// Exactly the rest of cwnd: pba == cwnd, the >= case.
	rest := cwnd - pba
	c.OnAck(Ack{Bytes: rest, FlightBefore: cwnd})
	pba, cwnd = pba+rest-cwnd, cwnd+p
	check(t, "congestion avoidance, pba == cwnd", c, state{cwnd, ssthresh, pba})
	if pba != 0 {
		t.Fatalf("pba %d after consuming exactly cwnd", pba)
	}

	// pba >= cwnd but the window was not in use (flight < cwnd): no growth,
	// and pba beyond cwnd is cut back to cwnd.
	c.OnAck(Ack{Bytes: cwnd + 3*p, FlightBefore: cwnd - 1})
	pba = cwnd
	check(t, "congestion avoidance, pba > cwnd, flight < cwnd", c, state{cwnd, ssthresh, pba})
	// With pba == cwnd and flight < cwnd neither rule fires.
	c.OnAck(Ack{Bytes: 0, FlightBefore: cwnd - 1})
	check(t, "congestion avoidance, pba == cwnd, flight < cwnd", c, state{cwnd, ssthresh, pba})
	// Duplicate TSN bytes count in congestion avoidance; with the window in
	// use the credit converts: pba - cwnd, cwnd + PMDCS.
	c.OnAck(Ack{Bytes: 100, DuplicateBytes: 50, FlightBefore: cwnd + 10})
	pba, cwnd = pba+150-cwnd, cwnd+p
	check(t, "congestion avoidance, with duplicates", c, state{cwnd, ssthresh, pba})
	// Everything acknowledged: pba = 0.
	c.OnAck(Ack{Bytes: 200, FlightBefore: 200, AllAcked: true})
	pba = 0
	check(t, "congestion avoidance, all acked", c, state{cwnd, ssthresh, pba})
	c.OnAck(Ack{Bytes: 300, FlightBefore: cwnd})
	pba += 300
	check(t, "congestion avoidance, after reset", c, state{cwnd, ssthresh, pba})

	// --- 7.2.4 / 7.2.3: fast retransmit halves, once per recovery.
	var fr FastRecovery
	if !fr.Enter(1000) {
		t.Fatal("Enter refused outside fast recovery")
	}
	c.OnFastRetransmit()
	ssthresh = max(cwnd/2, 4*p)
	cwnd, pba = ssthresh, 0
	check(t, "fast retransmit", c, state{cwnd, ssthresh, pba})
	if fr.Enter(1010) {
		t.Fatal("second Enter during fast recovery accepted")
	}
	if fr.ExitPoint() != 1000 {
		t.Fatalf("exit point %d, want the first one, 1000", fr.ExitPoint())
	}
	// cwnd == ssthresh is slow start, frozen during fast recovery.
	fr.OnCumulativeAck(999)
	c.OnAck(Ack{Bytes: p, FlightBefore: cwnd, InFastRecovery: fr.Active()})
	check(t, "in fast recovery", c, state{cwnd, ssthresh, pba})
	// The SACK that acks the exit point ends recovery before OnAck.
	fr.OnCumulativeAck(1000)
	if fr.Active() {
		t.Fatal("still in fast recovery after the exit point was acked")
	}
	c.OnAck(Ack{Bytes: p, FlightBefore: cwnd, InFastRecovery: fr.Active()})
	cwnd += p
	check(t, "after fast recovery", c, state{cwnd, ssthresh, pba})

	// --- 7.2.3: T3-rtx timeout collapses cwnd to one PMDCS.
	c.OnAck(Ack{Bytes: p, FlightBefore: cwnd}) // now in congestion avoidance
	pba += p
	check(t, "before timeout", c, state{cwnd, ssthresh, pba})
	c.OnRetransmitTimeout()
	ssthresh, cwnd, pba = max(cwnd/2, 4*p), p, 0
	check(t, "timeout", c, state{cwnd, ssthresh, pba})
	// One packet in flight until new data is acknowledged.
	if !c.CanSend(0, p) {
		t.Fatal("after timeout: the first packet is refused")
	}
	if c.CanSend(100, 100) {
		t.Fatal("after timeout: a second packet allowed in flight")
	}
	c.OnAck(Ack{Bytes: 100, FlightBefore: 100})
	cwnd += min(100, p) // flight 100 + PMDCS > cwnd: the window was in use
	check(t, "ack after timeout", c, state{cwnd, ssthresh, pba})
	if !c.CanSend(100, 100) {
		t.Fatal("after the ack: still limited to one packet")
	}
	// A second timeout: ssthresh = max(cwnd/2, 4*PMDCS) is the floor.
	c.OnRetransmitTimeout()
	ssthresh, cwnd, pba = max(cwnd/2, 4*p), p, 0
	check(t, "second timeout", c, state{cwnd, ssthresh, pba})
	if ssthresh != 4*p {
		t.Fatalf("ssthresh %d after a timeout at cwnd %d, want 4*PMDCS", ssthresh, cwnd)
	}
}

// TestSlowStartL checks the ABC limit L of 7.2.1.
func TestSlowStartL(t *testing.T) {
	p := pmdcsOf(mtu)
	c := New(Config{MTU: mtu, L: 2})
	cwnd := c.Cwnd()
	c.OnAck(Ack{Bytes: 5 * p, FlightBefore: cwnd})
	if want := cwnd + min(5*p, 2*p); c.Cwnd() != want {
		t.Fatalf("cwnd %d, want %d", c.Cwnd(), want)
	}
}

func TestFastRecoverySerial(t *testing.T) {
	var fr FastRecovery
	fr.Enter(2) // exit point just past the TSN wrap
	for _, cum := range []uint32{0xFFFFFFF0, 0xFFFFFFFF, 0, 1} {
		fr.OnCumulativeAck(cum)
		if !fr.Active() {
			t.Fatalf("left fast recovery at cum ack %#x < exit point 2", cum)
		}
	}
	fr.OnCumulativeAck(5)
	if fr.Active() {
		t.Fatal("still in fast recovery past the exit point")
	}
	fr.Enter(7)
	fr.Exit()
	if fr.Active() || !fr.Enter(9) {
		t.Fatal("Exit did not leave fast recovery")
	}
}

// grow takes c by slow-start acks to at least target bytes of cwnd.
func grow(c *Controller, target int) {
	for c.Cwnd() < target {
		c.OnAck(Ack{Bytes: c.PMDCS(), FlightBefore: c.Cwnd()})
	}
}

// TestRuleB checks 6.1 rule B: a transmission starts only while flight <
// cwnd, and may overshoot by up to PMDCS-1 bytes, in one packet.
func TestRuleB(t *testing.T) {
	p := pmdcsOf(mtu)
	c := New(Config{MTU: mtu})
	cwnd := c.Cwnd()
	cases := []struct {
		flight, size int
		want         bool
	}{
		{0, p, true},
		{0, 3 * p, true}, // an oversize chunk alone on the path
		{cwnd - 1, p, true},
		{cwnd - 1, p + 1, false}, // cwnd + PMDCS: one byte beyond the breach
		{cwnd, 1, false},
		{cwnd + 100, 1, false},
		{cwnd - p, p, true},
	}
	for _, tc := range cases {
		if got := c.CanSend(tc.flight, tc.size); got != tc.want {
			t.Errorf("cwnd %d: CanSend(%d, %d) = %v, want %v", cwnd, tc.flight, tc.size, got, tc.want)
		}
	}

	// Max.Burst (6.1 rule 4): the window for this round is
	// min(cwnd, flight + Max.Burst*PMDCS), and cwnd itself does not change.
	grow(c, 20*p)
	cwnd = c.Cwnd()
	const maxBurst, flight = 2, 1000
	w := c.Window(flight, maxBurst)
	if want := min(cwnd, flight+maxBurst*p); w.Limit() != want {
		t.Fatalf("burst window %d, want %d", w.Limit(), want)
	}
	if !w.CanSend(w.Limit()-1, p) || w.CanSend(w.Limit(), 1) {
		t.Fatal("burst window not applied as rule B's window")
	}
	if c.Cwnd() != cwnd {
		t.Fatal("Max.Burst changed cwnd permanently")
	}
	if got := c.Window(flight, 0).Limit(); got != cwnd {
		t.Fatalf("window without Max.Burst %d, want cwnd %d", got, cwnd)
	}
	if got := c.Window(cwnd-p, maxBurst).Limit(); got != cwnd {
		t.Fatalf("burst window %d above cwnd %d", got, cwnd)
	}
}

// TestRuleA checks 6.1 rule A with its zero window probe.
func TestRuleA(t *testing.T) {
	cases := []struct {
		rwnd, outstanding, size int
		want                    bool
	}{
		{1000, 500, 1000, true},
		{999, 500, 1000, false},
		{0, 500, 1, false},
		{0, 0, 1000, true}, // zero window probe: nothing outstanding
	}
	for _, tc := range cases {
		if got := RwndAllows(tc.rwnd, tc.outstanding, tc.size); got != tc.want {
			t.Errorf("RwndAllows(%d, %d, %d) = %v, want %v", tc.rwnd, tc.outstanding, tc.size, got, tc.want)
		}
	}
}

// TestIdleDecay checks 7.2.1's decay: max(cwnd/2, 4*PMDCS) per RTO without
// transmission, ssthresh = cwnd before the first step.
func TestIdleDecay(t *testing.T) {
	p := pmdcsOf(mtu)
	const rto = time.Second
	c := New(Config{MTU: mtu})
	c.OnIdle(t0.Add(time.Hour), rto)
	if c.Cwnd() != initialCwndOf(p, false) {
		t.Fatal("decay before any transmission")
	}
	grow(c, 40*p)
	cwnd, ssthresh := c.Cwnd(), c.Ssthresh()
	c.OnDataSent(t0)

	c.OnIdle(t0.Add(rto-1), rto)
	check(t, "idle less than one RTO", c, state{cwnd, ssthresh, 0})

	c.OnIdle(t0.Add(rto), rto)
	ssthresh = cwnd
	cwnd = max(cwnd/2, 4*p)
	check(t, "idle one RTO", c, state{cwnd, ssthresh, 0})

	c.OnIdle(t0.Add(rto+rto/2), rto) // no further whole RTO
	check(t, "idle 1.5 RTO", c, state{cwnd, ssthresh, 0})

	// Catch up on many RTOs at once: halve per RTO down to 4*PMDCS;
	// ssthresh stays at the cwnd before the first step.
	c.OnIdle(t0.Add(100*rto), rto)
	for i := 2; i <= 100; i++ {
		cwnd = max(cwnd/2, 4*p)
	}
	check(t, "idle 100 RTO", c, state{cwnd, ssthresh, 0})
	if cwnd != 4*p {
		t.Fatalf("floor %d, want 4*PMDCS", cwnd)
	}

	// A transmission ends the spell; the next spell sets ssthresh again.
	grow(c, 12*p)
	cwnd = c.Cwnd()
	c.OnDataSent(t0.Add(200 * rto))
	c.OnIdle(t0.Add(201*rto), rto)
	ssthresh = cwnd
	cwnd = max(cwnd/2, 4*p)
	check(t, "second idle spell", c, state{cwnd, ssthresh, 0})

	// A cwnd below 4*PMDCS (after a timeout) is not raised.
	c.OnRetransmitTimeout()
	cwnd, ssthresh = c.Cwnd(), c.Ssthresh()
	c.OnDataSent(t0.Add(300 * rto))
	c.OnIdle(t0.Add(310*rto), rto)
	check(t, "idle below the floor", c, state{cwnd, ssthresh, 0})
}

func TestMTUChange(t *testing.T) {
	c := New(Config{MTU: 1200})
	// Before data: the initial cwnd follows the new PMDCS.
	c.OnMTUChange(1500)
	p := pmdcsOf(1500)
	if c.PMDCS() != p || c.Cwnd() != initialCwndOf(p, false) {
		t.Fatalf("PMDCS %d cwnd %d, want %d %d", c.PMDCS(), c.Cwnd(), p, initialCwndOf(p, false))
	}
	c.OnDataSent(t0)
	grow(c, 10*p)
	cwnd := c.Cwnd()
	// After data: cwnd stays, increments use the new PMDCS.
	c.OnMTUChange(1280)
	p = pmdcsOf(1280)
	if c.Cwnd() != cwnd {
		t.Fatalf("cwnd changed %d -> %d on an MTU change", cwnd, c.Cwnd())
	}
	c.OnAck(Ack{Bytes: 5000, FlightBefore: cwnd})
	if want := cwnd + min(5000, p); c.Cwnd() != want {
		t.Fatalf("cwnd %d, want %d", c.Cwnd(), want)
	}
	c.OnRetransmitTimeout()
	if c.Cwnd() != p {
		t.Fatalf("cwnd %d after timeout, want the new PMDCS %d", c.Cwnd(), p)
	}
}

func TestReset(t *testing.T) {
	c := New(Config{MTU: mtu, IPv6: true})
	c.SetInitialSsthresh(50000)
	c.OnDataSent(t0)
	grow(c, 60000)
	c.OnRetransmitTimeout()
	c.Reset()
	check(t, "reset", c, state{initialCwndOf(pmdcsOf(mtu), true), 50000, 0})
	if !c.CanSend(1, 1) {
		t.Fatal("one-packet limit survived Reset")
	}
}

func TestBadMTU(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("MTU 20 accepted")
		}
	}()
	New(Config{MTU: 20})
}
