package engine_test

import (
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
)

// TestTailProbeFoundLossHalvesOnce: a probe whose answer shows two chunks
// lost (the tail of a burst) is one loss event: cwnd is halved once
// (RFC 9260 7.2.4 step 2, RFC 8985 7.4.2), not once when the losses are
// found and again when the cumulative ack ends the probe's episode.
func TestTailProbeFoundLossHalvesOnce(t *testing.T) {
	const burst = 10
	var from uint32 = 1 << 30 // nothing lost while cwnd grows
	tl := newTailLab(t, 81, engine.Config{NoDelay: true}, func(off uint32, nth int) bool {
		return off >= from && off < from+burst && off >= from+burst-3 && nth == 0
	})
	for i := 0; i < 6; i++ {
		tl.deliver(t, 200)
	}
	tl.net.RunFor(100 * time.Millisecond)
	p0 := tl.a.Status().Primary
	from = tl.srv.assoc.RecvCumAck() + 1 - tl.base
	tl.deliver(t, burst)
	tl.net.RunFor(time.Second) // the last SACK may be delayed
	p1 := tl.a.Status().Primary
	st := tl.cn.Host.Stats()
	t.Logf("before: cwnd %d ssthresh %d; after: cwnd %d ssthresh %d; probes %d finding %d, fast retransmits %d, T3 %d",
		p0.Cwnd, p0.Ssthresh, p1.Cwnd, p1.Ssthresh, st.TailLossProbes, st.TailLossProbeLosses, st.FastRetransmits, st.T3RtxExpireds)
	if st.TailLossProbes != 1 || st.TailLossProbeLosses != 2 {
		t.Fatalf("%d probes finding %d: the scenario did not happen", st.TailLossProbes, st.TailLossProbeLosses)
	}
	if p1.Ssthresh < p0.Cwnd/2-1500 {
		t.Fatalf("one loss event took ssthresh from cwnd %d to %d: halved more than once", p0.Cwnd, p1.Ssthresh)
	}
}

// TestTailProbeEpisodeEndsAtT3: T3-rtx expires while a probe's episode is
// open (the probe was answered and showed a chunk lost, whose
// retransmission is lost too; the path's PTO, moved by a later message's
// acknowledgement, came due just before T3-rtx and left it to T3). T3-rtx
// is the congestion response (cwnd 1 MTU, ssthresh halved, Fast Recovery
// left); the old episode must not add a Fast Recovery halving of its own
// once the retransmission is acknowledged, which sets ssthresh and cwnd to
// 4 MTU. The send time of the later message is swept over 40 ms so that
// one run lands the PTO in T3-rtx's last 10 ms.
func TestTailProbeEpisodeEndsAtT3(t *testing.T) {
	const burst = 10
	hit := 0
	for k := 0; k < 40; k += 2 {
		var from uint32 = 1 << 30
		tl := newTailLab(t, 82, engine.Config{NoDelay: true}, func(off uint32, nth int) bool {
			switch off - from {
			case burst - 2:
				return nth < 3 // lost, then its retransmissions after the probe and after strikeResent
			case burst - 1:
				return nth == 0 // the tail: the probe repeats it
			}
			return false
		})
		for i := 0; i < 6; i++ {
			tl.deliver(t, 200)
		}
		tl.net.RunFor(100 * time.Millisecond)
		from = tl.srv.assoc.RecvCumAck() + 1 - tl.base
		tl.send(t, burst)
		x := from + burst - 2
		if !tl.net.RunUntil(func() bool { return len(tl.sentAt[x]) >= 2 }, time.Second) {
			t.Fatalf("chunk %d not retransmitted: the scenario did not happen", x)
		}
		rto := tl.a.Status().Primary.RTO
		at := tl.sentAt[x][1].Add(rto - 285*time.Millisecond + time.Duration(k)*time.Millisecond)
		// Messages every 100 ms keep the PTO from expiring, their
		// acknowledgements moving it on; the last one's lands it near T3-rtx.
		for tl.net.Now().Add(100 * time.Millisecond).Before(at) {
			tl.send(t, 1)
			tl.net.RunFor(100 * time.Millisecond)
		}
		tl.net.RunFor(at.Sub(tl.net.Now()))
		tl.send(t, 1)
		if !tl.net.RunUntil(func() bool { return tl.cn.Host.Stats().T3RtxExpireds > 0 || len(tl.sentAt[x]) > 3 }, 2*time.Second) {
			t.Fatalf("k=%d: no T3-rtx expiry; x sent at %v (first rtx + RTO %v), now %v, stats %+v", k, tl.sentAt[x], rto, tl.net.Now(), tl.cn.Host.Stats())
		}
		if tl.cn.Host.Stats().T3RtxExpireds == 0 {
			continue // a probe went first: the PTO fell short of T3-rtx's last 10 ms
		}
		p0 := tl.a.Status().Primary
		tl.deliver(t, 0)
		tl.net.RunFor(time.Second)
		p1 := tl.a.Status().Primary
		st := tl.cn.Host.Stats()
		t.Logf("k=%d: after T3-rtx cwnd %d ssthresh %d; later cwnd %d ssthresh %d; probes %d, T3 %d", k, p0.Cwnd, p0.Ssthresh, p1.Cwnd, p1.Ssthresh, st.TailLossProbes, st.T3RtxExpireds)
		if st.TailLossProbes == 1 && st.T3RtxExpireds == 1 {
			hit++
		}
		if p1.Ssthresh < p0.Ssthresh {
			t.Errorf("k=%d: ssthresh %d after T3-rtx, then %d: a probe episode older than T3-rtx reacted after it", k, p0.Ssthresh, p1.Ssthresh)
		}
	}
	if hit == 0 {
		t.Fatal("no run had T3-rtx expire with one probe: the scenario did not happen")
	}
}

// TestTailProbeCrossingSackNoResponse: the peer delays its SACK a little
// more than a lone packet's PTO allows for (RFC 9260 6.2 allows up to
// 500 ms), so its SACK of the original leaves just before the needless
// probe arrives. That SACK acknowledges everything the probe's episode
// covers and carries no duplicate; the probe's own answer, which reports
// it as one, comes half a round trip later. Nothing was lost, so cwnd
// must not be halved. The delay is swept over 40 ms to find the crossing.
func TestTailProbeCrossingSackNoResponse(t *testing.T) {
	crossed := 0
	for d := 240; d < 280; d += 2 {
		l, a := slowSackLab(t, 93, time.Duration(d)*time.Millisecond)
		ss0 := a.Status().Primary.Ssthresh
		for i := 0; i < 2; i++ { // the second settles what the first's probe meant
			a.Send(l.net.Now(), make([]byte, 100), engine.SndInfo{})
			l.net.RunFor(time.Second)
		}
		st := l.cn.Host.Stats()
		p := a.Status().Primary
		if st.TailLossProbes == 0 {
			continue
		}
		crossed++
		t.Logf("peer SACK delay %d ms: %d probe, ssthresh %d -> %d", d, st.TailLossProbes, ss0, p.Ssthresh)
		if p.Ssthresh != ss0 {
			t.Errorf("peer SACK delay %d ms, nothing lost: a needless probe halved cwnd (ssthresh %d -> %d)", d, ss0, p.Ssthresh)
		}
	}
	if crossed == 0 {
		t.Fatal("no probe went: the scenario did not happen")
	}
}
