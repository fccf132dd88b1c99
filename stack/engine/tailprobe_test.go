package engine_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// tailLab is a client and a server 10 ms apart (5 ms each way), the
// client's DATA dropped as drop decides, per TSN and transmission (0 the
// first).
type tailLab struct {
	*lab
	a     *engine.Association
	sends map[uint32]int
	// sentAt is when each transmission of a TSN left, by offset.
	sentAt map[uint32][]time.Time
	base   uint32 // the first TSN of the scripted burst
	next   uint32 // the number the next message carries
}

func newTailLab(t *testing.T, seed uint64, cfg engine.Config, drop func(off uint32, nth int) bool) *tailLab {
	t.Helper()
	l := newLab(t, seed, link.Native, engine.Config{})
	l.cn.Imp.Delay, l.sn.Imp.Delay = 5*time.Millisecond, 5*time.Millisecond
	tl := &tailLab{lab: l, sends: map[uint32]int{}, sentAt: map[uint32][]time.Time{}}
	tl.a, _ = l.up(cfg)
	// Round trips for SRTT: two packets each, so the SACK is not
	// delayed and SRTT is the 10 ms of the network.
	for i := 0; i < 5; i++ {
		tl.send(t, 2)
		l.net.RunFor(100 * time.Millisecond)
	}
	tl.base = l.srv.assoc.RecvCumAck() + 1
	l.cn.Imp.Drop = func(_ *simNode, pkt []byte) bool {
		var p wire.Packet
		if p.Unmarshal(append([]byte(nil), pkt...)) != nil {
			return false
		}
		lost := false
		for _, c := range p.Chunks {
			var d wire.Data
			if c.Type != wire.TypeData || d.Unmarshal(c) != nil || serialAbove(tl.base, d.TSN) {
				continue
			}
			off := d.TSN - tl.base
			lost = lost || drop(off, tl.sends[off])
			tl.sends[off]++
			tl.sentAt[off] = append(tl.sentAt[off], l.net.Now())
		}
		return lost
	}
	return tl
}

// send queues n messages of 1000 bytes, each in a packet of its own.
func (tl *tailLab) send(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		b := make([]byte, 1000)
		binary.BigEndian.PutUint32(b, tl.next)
		tl.next++
		if err := tl.a.Send(tl.net.Now(), b, engine.SndInfo{PPID: 18}); err != nil {
			t.Fatal(err)
		}
	}
}

// deliver sends n messages and runs until the server holds all it was
// sent; it returns how long that took.
func (tl *tailLab) deliver(t *testing.T, n int) time.Duration {
	t.Helper()
	t0 := tl.net.Now()
	tl.send(t, n)
	want := int(tl.next)
	if !tl.net.RunUntil(func() bool { return len(tl.srv.msgs) >= want }, time.Minute) {
		t.Fatalf("server holds %d messages of %d", len(tl.srv.msgs), want)
	}
	for i, m := range tl.srv.msgs {
		if got := binary.BigEndian.Uint32(m.Data); got != uint32(i) {
			t.Fatalf("message %d is number %d: lost, duplicated or out of order", i, got)
		}
	}
	return tl.net.Now().Sub(t0)
}

// TestTailProbeRecoversLostTail: the last three packets of a burst are
// lost. No later packet exists to earn them miss indications (RFC 9260
// 7.2.4), so without a tail loss probe only T3-rtx recovers them, after
// RTO.Min (1 s); with it, the probe (the last chunk again) arrives about
// two round trips later and its SACK shows the other two missing: all are
// there within a few round trips, with no T3-rtx expiry. The two go
// together: what the Fast Recovery packet does not carry goes as cwnd
// allows (RFC 9260 7.2.4 step 5), not a SACK later.
func TestTailProbeRecoversLostTail(t *testing.T) {
	const burst = 10
	tail := func(off uint32, nth int) bool { return off >= burst-3 && nth == 0 }
	for _, tc := range []struct {
		name string
		cfg  engine.Config
	}{{"probe", engine.Config{NoDelay: true}}, {"no probe", engine.Config{NoDelay: true, NoTailLossProbe: true}}} {
		t.Run(tc.name, func(t *testing.T) {
			tl := newTailLab(t, 71, tc.cfg, tail)
			took := tl.deliver(t, burst)
			st := tl.cn.Host.Stats()
			t.Logf("burst delivered in %v: probes %d, losses they found %d, T3-rtx expiries %d",
				took, st.TailLossProbes, st.TailLossProbeLosses, st.T3RtxExpireds)
			if tc.cfg.NoTailLossProbe {
				// The scenario is a tail loss: only T3-rtx saves it.
				if took < engine.DefaultRTOMin || st.T3RtxExpireds == 0 || st.TailLossProbes != 0 {
					t.Fatalf("without probes: %v, %d T3-rtx expiries, %d probes; want RTO.Min, T3-rtx, none", took, st.T3RtxExpireds, st.TailLossProbes)
				}
				return
			}
			if took > 150*time.Millisecond || st.T3RtxExpireds != 0 {
				t.Fatalf("took %v with %d T3-rtx expiries, want a few round trips and none", took, st.T3RtxExpireds)
			}
			if st.TailLossProbes != 1 || st.TailLossProbeLosses != 2 {
				t.Fatalf("%d probes finding %d losses, want 1 finding the 2 chunks before the probed one", st.TailLossProbes, st.TailLossProbeLosses)
			}
			a, b := tl.sentAt[burst-3], tl.sentAt[burst-2]
			if len(a) != 2 || len(b) != 2 || !a[1].Equal(b[1]) {
				t.Fatalf("the lost chunks went again at %v and %v, want both in one flush", a, b)
			}
		})
	}
}

// TestTailProbeAfterLostFastRetransmit: a chunk mid-burst is lost, then
// its Fast Retransmit too, and the burst's tail. 7.2.4 fast retransmits a
// chunk once, and nothing after the tail arrives, so without a probe T3-rtx
// is the only way out (the relay stall examples/lab measured); the probe's
// answer shows the chunk still missing, sent before the probe, so it goes
// again with the tail.
func TestTailProbeAfterLostFastRetransmit(t *testing.T) {
	const burst, mid = 16, 4
	drop := func(off uint32, nth int) bool {
		return (off == mid && nth < 2) || (off >= burst-4 && nth == 0)
	}
	tl := newTailLab(t, 72, engine.Config{NoDelay: true}, drop)
	took := tl.deliver(t, burst)
	st := tl.cn.Host.Stats()
	t.Logf("delivered in %v: fast retransmits %d, probes %d finding %d, T3-rtx expiries %d",
		took, st.FastRetransmits, st.TailLossProbes, st.TailLossProbeLosses, st.T3RtxExpireds)
	if tl.sends[mid] < 3 {
		t.Fatalf("chunk %d sent %d times, want the original, its Fast Retransmit and a third", mid, tl.sends[mid])
	}
	if st.FastRetransmits == 0 {
		t.Fatal("no Fast Retransmit: the scenario did not happen")
	}
	if st.T3RtxExpireds != 0 || took > 300*time.Millisecond {
		t.Fatalf("took %v with %d T3-rtx expiries, want no T3-rtx", took, st.T3RtxExpireds)
	}
}

// TestTailProbeLonePacket: a lone message lost (signalling: a request,
// nothing behind it) goes again after 2 SRTT plus the peer's SACK delay
// (200 ms) and 40 ms of slack, not after RTO.Min. The probe is the lone
// chunk itself; nothing else was lost, but the probe repaired a loss (the
// peer reports no duplicate), so cwnd is halved as for a Fast Retransmit
// (RFC 8985 7.4.2).
func TestTailProbeLonePacket(t *testing.T) {
	tl := newTailLab(t, 73, engine.Config{NoDelay: true}, func(off uint32, nth int) bool { return nth == 0 })
	took := tl.deliver(t, 1)
	st := tl.cn.Host.Stats()
	srtt := tl.a.Status().Primary.SRTT
	want := 2*srtt + 240*time.Millisecond
	if took < want || took > want+2*srtt+10*time.Millisecond || st.T3RtxExpireds != 0 {
		t.Fatalf("lost lone message delivered after %v (SRTT %v), %d T3-rtx; want 2 SRTT + 240 ms + one way", took, srtt, st.T3RtxExpireds)
	}
	// The probe's answer carried no duplicate report; the next message's
	// acknowledgement, beyond the episode, settles it as a repaired loss.
	tl.net.RunFor(50 * time.Millisecond)
	tl.deliver(t, 1)
	tl.net.RunFor(300 * time.Millisecond)
	if p := tl.a.Status().Primary; p.Ssthresh >= 1<<20 {
		t.Fatalf("ssthresh %d after a loss the probe repaired: no congestion response", p.Ssthresh)
	}
	if st.TailLossProbes != 1 || st.TailLossProbeLosses != 0 {
		t.Fatalf("%d probes finding %d losses, want one finding none", st.TailLossProbes, st.TailLossProbeLosses)
	}
}

// TestTailProbeQuietWithoutLoss: with nothing lost, no probe goes: lone
// messages wait for the peer's delayed SACK (200 ms, the default) without
// a probe, and neither does a bulk transfer's flight.
func TestTailProbeQuietWithoutLoss(t *testing.T) {
	tl := newTailLab(t, 74, engine.Config{NoDelay: true}, func(uint32, int) bool { return false })
	for i := 0; i < 20; i++ {
		tl.deliver(t, 1+i%2)
		tl.net.RunFor(time.Duration(i*37%400) * time.Millisecond)
	}
	for i := 0; i < 10; i++ {
		tl.deliver(t, 200)
	}
	if st := tl.cn.Host.Stats(); st.TailLossProbes != 0 {
		t.Fatalf("%d probes with nothing lost", st.TailLossProbes)
	}
}

// TestTailProbeLost: a lost probe is followed by one more, twice the PTO
// later; when that is lost too, T3-rtx recovers, and no third probe goes.
func TestTailProbeLost(t *testing.T) {
	const burst = 10
	for _, tc := range []struct {
		name   string
		probes int // probes lost
	}{{"first probe lost", 1}, {"both lost", 2}} {
		t.Run(tc.name, func(t *testing.T) {
			drop := func(off uint32, nth int) bool {
				return off >= burst-3 && (nth == 0 || off == burst-1 && nth <= tc.probes)
			}
			tl := newTailLab(t, 75, engine.Config{NoDelay: true}, drop)
			took := tl.deliver(t, burst)
			st := tl.cn.Host.Stats()
			t.Logf("delivered in %v: probes %d finding %d, T3-rtx expiries %d", took, st.TailLossProbes, st.TailLossProbeLosses, st.T3RtxExpireds)
			if st.TailLossProbes != 2 {
				t.Fatalf("%d probes, want 2", st.TailLossProbes)
			}
			if tc.probes == 1 && (st.T3RtxExpireds != 0 || took > 200*time.Millisecond) {
				t.Fatalf("took %v with %d T3-rtx expiries; want the second probe to recover it", took, st.T3RtxExpireds)
			}
			if tc.probes == 2 && (st.T3RtxExpireds != 1 || took < engine.DefaultRTOMin) {
				t.Fatalf("took %v with %d T3-rtx expiries; want T3-rtx to recover it", took, st.T3RtxExpireds)
			}
		})
	}
}

// TestLostFastRetransmitMidFlow: a chunk is lost, then its Fast
// Retransmit, while the flow goes on and later chunks keep arriving, so
// the path is never silent and no tail loss probe goes. Chunks sent after
// the retransmission and acknowledged show it lost (RFC 8985's RACK
// reasoning, by transmission order): it goes a third time within a few
// round trips, not after T3-rtx.
func TestLostFastRetransmitMidFlow(t *testing.T) {
	const mid = 20
	drop := func(off uint32, nth int) bool { return off == mid && nth < 2 }
	tl := newTailLab(t, 76, engine.Config{NoDelay: true}, drop)
	t0 := tl.net.Now()
	for i := 0; i < 40; i++ { // 400 messages over 400 ms
		tl.send(t, 10)
		tl.net.RunFor(10 * time.Millisecond)
	}
	tl.deliver(t, 0)
	st := tl.cn.Host.Stats()
	at := tl.sentAt[mid]
	t.Logf("chunk %d sent at %v; fast retransmits %d, lost retransmits %d, probes %d, T3-rtx expiries %d",
		mid, at, st.FastRetransmits, st.LostRetransmits, st.TailLossProbes, st.T3RtxExpireds)
	if len(at) < 3 || at[2].Sub(t0) > 200*time.Millisecond || st.T3RtxExpireds != 0 {
		t.Fatalf("chunk %d sent at %v with %d T3-rtx expiries; want its third copy within 200 ms and no T3-rtx", mid, at, st.T3RtxExpireds)
	}
	if st.LostRetransmits != 1 {
		t.Fatalf("%d lost retransmissions counted, want 1", st.LostRetransmits)
	}
}

// TestTailProbeCongestionResponse: a probe that repairs a loss counts as
// one (RFC 8985 7.4.2): bursts whose last packet is lost bring ssthresh
// down as mid-burst losses do. A needless probe, whose original had
// arrived (the peer delays its SACK 500 ms, past what the PTO allows for),
// is reported back as a duplicate and lowers nothing.
func TestTailProbeCongestionResponse(t *testing.T) {
	const burst, rounds = 10, 20
	for _, tc := range []struct {
		name string
		drop func(off uint32, nth int) bool
	}{
		{"mid-burst loss", func(off uint32, nth int) bool { return off%burst == 3 && nth == 0 }},
		{"tail loss", func(off uint32, nth int) bool { return off%burst == burst-1 && nth == 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := newTailLab(t, 91, engine.Config{NoDelay: true}, tc.drop)
			ss0 := tl.a.Status().Primary.Ssthresh
			for i := 0; i < rounds; i++ {
				tl.deliver(t, burst)
				tl.net.RunFor(50 * time.Millisecond)
			}
			if p := tl.a.Status().Primary; p.Ssthresh >= ss0 {
				t.Fatalf("%d bursts each lost a packet and ssthresh stayed %d", rounds, p.Ssthresh)
			}
		})
	}
	t.Run("needless probe", func(t *testing.T) {
		l, a := slowSackLab(t, 92, 500*time.Millisecond)
		ss0 := a.Status().Primary.Ssthresh
		for i := 0; i < 5; i++ { // lone messages: each SACK comes after 500 ms
			a.Send(l.net.Now(), make([]byte, 100), engine.SndInfo{})
			l.net.RunFor(time.Second)
		}
		st := l.cn.Host.Stats()
		if st.TailLossProbes == 0 {
			t.Fatal("no probe: the scenario did not happen")
		}
		if p := a.Status().Primary; p.Ssthresh != ss0 {
			t.Fatalf("%d needless probes (duplicates at the peer) brought ssthresh from %d to %d", st.TailLossProbes, ss0, p.Ssthresh)
		}
	})
}

// TestWithheldTSNLeftToT3: one TSN never arrives while everything after it
// does (a black-holed chunk, or a peer withholding it). It is fast
// retransmitted, found lost again at most twice, and then left to T3-rtx,
// which backs off and counts errors: without the bound it went every three
// SACKs, and restarting T3-rtx with each of those kept T3-rtx from ever
// expiring.
func TestWithheldTSNLeftToT3(t *testing.T) {
	const x = 20
	tl := newTailLab(t, 77, engine.Config{NoDelay: true}, func(off uint32, nth int) bool { return off == x })
	for i := 0; i < 60; i++ { // 300 messages over 600 ms
		tl.send(t, 5)
		tl.net.RunFor(10 * time.Millisecond)
	}
	tl.net.RunFor(4 * time.Second)
	st := tl.cn.Host.Stats()
	t.Logf("chunk %d sent %d times; lost retransmissions %d, probes %d, T3-rtx expiries %d",
		x, tl.sends[x], st.LostRetransmits, st.TailLossProbes, st.T3RtxExpireds)
	if st.T3RtxExpireds == 0 {
		t.Fatalf("T3-rtx never expired in %d sends of the withheld chunk", tl.sends[x])
	}
	if max := 1 + 1 + 2 + int(st.TailLossProbes+st.T3RtxExpireds); tl.sends[x] > max {
		t.Fatalf("withheld chunk sent %d times, want at most %d (original, Fast Retransmit, two found lost, one per probe and per T3-rtx)", tl.sends[x], max)
	}
}

// slowSackLab is a client and a server 10 ms apart whose server delays its
// SACKs by delay, after five two-packet flights (acknowledged at once) have
// given the client an SRTT of the network's.
func slowSackLab(t *testing.T, seed uint64, delay time.Duration) (*lab, *engine.Association) {
	t.Helper()
	l := newLab(t, seed, link.Native, engine.Config{DelayedAck: engine.DelayedAck{Delay: delay}})
	l.cn.Imp.Delay, l.sn.Imp.Delay = 5*time.Millisecond, 5*time.Millisecond
	a, _ := l.up(engine.Config{NoDelay: true})
	for i := 0; i < 5; i++ {
		a.Send(l.net.Now(), make([]byte, 1000), engine.SndInfo{})
		a.Send(l.net.Now(), make([]byte, 1000), engine.SndInfo{})
		l.net.RunFor(100 * time.Millisecond)
	}
	return l, a
}
