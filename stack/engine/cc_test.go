package engine_test

import (
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

type ccSample struct {
	at             time.Duration
	cwnd, ssthresh int
}

// TestCongestionControlTrace drives a bulk transfer through a bandwidth-
// limited path, drops one DATA packet by script, and checks the congestion
// window against RFC 9260 7.2: the initial window, slow start growth,
// halving on fast retransmit (not a timeout), no growth in fast recovery,
// then congestion avoidance growing by at most one PMDCS per round trip.
func TestCongestionControlTrace(t *testing.T) {
	cfg := engine.Config{NoDelay: true, RecvBuffer: 4 << 20, SendBuffer: 4 << 20, MaxBurst: 64}
	l := newLab(t, 50, link.Native, cfg)
	const delay = 20 * time.Millisecond
	l.cn.Imp.Delay, l.sn.Imp.Delay = delay, delay
	l.cn.Imp.Bandwidth = 2 << 20 // 2 MB/s: the queue, not the window, limits later
	a, _ := l.up(cfg)
	// Path MTU 1500, IPv4: PMDCS = 1500 - 20 (IP) - 12 (common header).
	const pmdcs = 1500 - 20 - 12
	initial := min(4*pmdcs, max(2*pmdcs, 4404))
	st := a.Status().Primary
	if st.Cwnd != initial {
		t.Fatalf("initial cwnd %d, want %d (7.2.1)", st.Cwnd, initial)
	}
	ssthresh0 := st.Ssthresh

	dataPackets, dropAt, dropped := 0, 120, false
	l.cn.Imp.Drop = func(_ *simNode, pkt []byte) bool {
		if firstChunk(pkt) != wire.TypeData {
			return false
		}
		dataPackets++
		if dataPackets == dropAt && !dropped {
			dropped = true
			return true
		}
		return false
	}
	var samples []ccSample
	start := l.net.Now()
	l.net.Trace = func(now time.Time, from, to *simNode, pkt []byte) {
		s := a.Status().Primary
		if n := len(samples); n == 0 || samples[n-1].cwnd != s.Cwnd || samples[n-1].ssthresh != s.Ssthresh {
			samples = append(samples, ccSample{now.Sub(start), s.Cwnd, s.Ssthresh})
		}
	}
	msg := make([]byte, 1000)
	sent := 0
	l.net.RunUntil(func() bool {
		for sent < 3000 && a.Send(l.net.Now(), msg, engine.SndInfo{}) == nil {
			sent++
		}
		return len(l.srv.msgs) == 3000
	}, 5*time.Minute)
	if len(l.srv.msgs) != 3000 || !dropped {
		t.Fatalf("delivered %d, dropped %v", len(l.srv.msgs), dropped)
	}
	if n := l.cn.Host.Stats().T3RtxExpireds; n != 0 {
		t.Fatalf("T3 expired %d times: one loss must be repaired by fast retransmit", n)
	}
	// Find the halving: the first sample whose ssthresh changed.
	cut := -1
	for i, s := range samples {
		if s.ssthresh != ssthresh0 {
			cut = i
			break
		}
	}
	if cut < 1 {
		t.Fatalf("ssthresh never changed: no reaction to the loss (samples %v)", samples)
	}
	before := samples[cut-1].cwnd
	// The SACK that triggers Fast Retransmit first grows cwnd by what it
	// acknowledges (at most one PMDCS in slow start), then halves it: the
	// note ending 7.2.4 has the 7.2.1/7.2.2 adjustments applied first.
	want, wantMax := max(before/2, 4*pmdcs), max((before+pmdcs)/2, 4*pmdcs)
	if s := samples[cut]; s.ssthresh < want || s.ssthresh > wantMax || s.cwnd != s.ssthresh {
		t.Fatalf("after fast retransmit cwnd %d ssthresh %d, want both in [%d, %d] = max((%d + acked)/2, 4*PMDCS) (7.2.3, 7.2.4)", s.cwnd, s.ssthresh, want, wantMax, before)
	}
	want = samples[cut].ssthresh
	// Slow start before the loss: cwnd only grew, by at most one PMDCS per
	// SACK (7.2.1, L=1).
	for i := 1; i < cut; i++ {
		if d := samples[i].cwnd - samples[i-1].cwnd; d < 0 || d > pmdcs {
			t.Fatalf("slow start step %d: cwnd %d -> %d", i, samples[i-1].cwnd, samples[i].cwnd)
		}
	}
	if before <= 2*initial {
		t.Fatalf("slow start hardly grew: %d from %d", before, initial)
	}
	// Congestion avoidance after recovery: growth of at most one PMDCS per
	// change, and no faster than one per RTT (2*delay plus queueing).
	grew := 0
	for i := cut + 1; i < len(samples); i++ {
		prev, s := samples[i-1], samples[i]
		if s.ssthresh != prev.ssthresh {
			break // another loss event: stop checking
		}
		d := s.cwnd - prev.cwnd
		if d > pmdcs || d < 0 {
			t.Fatalf("congestion avoidance step: cwnd %d -> %d", prev.cwnd, s.cwnd)
		}
		if d > 0 {
			if grew > 0 && s.at-prev.at < 2*delay {
				t.Fatalf("cwnd grew twice within %v, faster than once per RTT (7.2.2)", s.at-prev.at)
			}
			grew++
		}
	}
	if grew == 0 {
		t.Fatal("cwnd never grew in congestion avoidance")
	}
	t.Logf("slow start %d -> %d over %d steps; halved to %d at %v; %d congestion avoidance increments after",
		initial, before, cut, want, samples[cut].at, grew)
}
