package engine_test

import (
	"slices"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// TestZeroWindowProbing: with heartbeats off nothing but the window probes
// keeps a stalled association alive. A receiver that stops reading for 20
// minutes must not make the sender declare the peer unreachable (RFC 9260
// 6.1 rule A: probes answered by SACKs count no errors), the sender never
// puts more than the advertised window in flight (one probe aside), probes
// start one RTO after the window closes and back off exponentially, and
// once the reader resumes everything arrives exactly once.
func TestZeroWindowProbing(t *testing.T) {
	cfg := engine.Config{
		RecvBuffer: 16 << 10, SendBuffer: 64 << 10, NoDelay: true,
		PeerAddr: engine.PeerAddrParams{Heartbeat: engine.HeartbeatOff},
	}
	l := newLab(t, 40, link.Native, cfg)
	const delay = 5 * time.Millisecond
	l.cn.Imp.Delay, l.sn.Imp.Delay = delay, delay
	a, crec := l.up(cfg)
	l.srv.noRead = true

	// The sender's view: the latest SACK it was given, and every TSN sent
	// above its cumulative ack.
	var (
		lastCum   uint32
		lastRwnd  = uint32(cfg.RecvBuffer)
		haveSack  bool
		sentBytes = map[uint32]int{}
		aborts    int
		closedAt  time.Time // when a SACK acked everything and left no room
		probes    []time.Time
		probeTSNs []uint32
		rtoAtShut time.Duration
		stalled   = true
		fragPoint = a.Status().FragPoint
	)
	l.net.Trace = func(now time.Time, from, _ *simNode, pkt []byte) {
		var p wire.Packet
		if p.Unmarshal(append([]byte(nil), pkt...)) != nil {
			return
		}
		for _, c := range p.Chunks {
			if c.Type == wire.TypeAbort {
				aborts++
			}
			if from != l.sn || c.Type != wire.TypeSack {
				continue
			}
			var s wire.Sack
			if s.Unmarshal(c) != nil {
				continue
			}
			lastCum, lastRwnd, haveSack = s.CumTSNAck, s.ARwnd, true
			for tsn := range sentBytes {
				if !serialAfterT(tsn, lastCum) {
					delete(sentBytes, tsn)
				}
			}
			if len(sentBytes) == 0 && lastRwnd < uint32(fragPoint) && closedAt.IsZero() {
				closedAt, rtoAtShut = now, a.Status().Primary.RTO
			}
		}
	}
	l.cn.Imp.Drop = func(_ *simNode, pkt []byte) bool {
		var p wire.Packet
		if p.Unmarshal(append([]byte(nil), pkt...)) != nil {
			return false
		}
		for _, c := range p.Chunks {
			var d wire.Data
			if c.Type != wire.TypeData || d.Unmarshal(c) != nil {
				continue
			}
			if !haveSack || !serialAfterT(d.TSN, lastCum) {
				continue
			}
			_, again := sentBytes[d.TSN]
			if stalled && !closedAt.IsZero() && (len(sentBytes) == 0 || len(sentBytes) == 1 && again) {
				probes = append(probes, l.net.Now())
				probeTSNs = append(probeTSNs, d.TSN)
			}
			sentBytes[d.TSN] = len(d.Payload)
			total := 0
			for _, n := range sentBytes {
				total += n
			}
			if len(sentBytes) > 1 && total > int(lastRwnd) {
				t.Errorf("at %v: %d bytes outstanding above cum %d, peer advertised %d", l.net.Now(), total, lastCum, lastRwnd)
			}
		}
		return false
	}

	msgs := randomMessages(l.net.Rand(), 200, 4, 3<<10)
	for i := range msgs {
		if len(msgs[i].data) < 1024 {
			// Messages at least as large as the closed window's slack, so
			// the window really closes to the sender.
			msgs[i].data = append(msgs[i].data, make([]byte, 1024)...)
		}
	}
	p := &pump{a: a, msgs: msgs}
	const stall = 20 * time.Minute
	l.net.RunUntil(func() bool {
		if a.State() != engine.StateEstablished {
			return true
		}
		p.run(l.net.Now())
		return false
	}, stall)
	if t.Failed() {
		t.FailNow()
	}
	if a.State() != engine.StateEstablished || crec.has(engine.CommLost) || l.srv.has(engine.CommLost) || aborts > 0 {
		t.Fatalf("after %v stalled: state %v, client %s, server %s, %d ABORTs", stall, a.State(), crec.types(), l.srv.types(), aborts)
	}
	if closedAt.IsZero() || len(probes) < 3 {
		t.Fatalf("window closed at %v, %d probes: the test did not probe", closedAt, len(probes))
	}
	// 6.1 rule A: the first probe one RTO after the window closed.
	if gap := probes[0].Sub(closedAt); gap < rtoAtShut {
		t.Fatalf("first probe %v after the window closed, want at least one RTO (%v)", gap, rtoAtShut)
	}
	if n := a.Status().Primary.Cwnd; n < 4*(1500-20-12) {
		t.Fatalf("cwnd %d after probing: probe timeouts collapsed it", n)
	}
	t.Logf("window closed at %v; %d probes of %d TSNs, the last at %v", closedAt.Sub(sim.Epoch), len(probes), len(slices.Compact(slices.Clone(probeTSNs))), probes[len(probes)-1].Sub(closedAt))

	// 6.1 rule A: a probe sent again is exponentially spaced (up to
	// RTO.Max). (A probe the receiver could take ends that cycle.)
	for i := 2; i < len(probes); i++ {
		if probeTSNs[i] != probeTSNs[i-1] || probeTSNs[i-1] != probeTSNs[i-2] {
			continue
		}
		prev, gap := probes[i-1].Sub(probes[i-2]), probes[i].Sub(probes[i-1])
		if want := min(2*prev, engine.DefaultRTOMax); gap < want-2*delay {
			t.Fatalf("probe %d %v after the previous one, want about %v (doubling)", i, gap, want)
		}
	}
	stalled = false
	l.srv.noRead = false
	l.srv.drain(l.srv.assoc)
	if !l.net.RunUntil(func() bool {
		p.run(l.net.Now())
		l.srv.drain(l.srv.assoc)
		return len(l.srv.msgs) == len(msgs)
	}, 5*time.Minute) {
		t.Fatalf("after resuming only %d of %d arrived", len(l.srv.msgs), len(msgs))
	}
	checkDelivery(t, "resumed", msgs, l.srv.msgs)
	if a.State() != engine.StateEstablished {
		t.Fatalf("state %v after resuming", a.State())
	}
}

func serialAfterT(a, b uint32) bool { return a != b && a-b < 1<<31 }

// TestZeroWindowProbeSilentPeer: probes that get no answer at all still
// count as errors, so a peer that dies while its window is closed is
// detected even with heartbeats off (6.1 rule A exempts only probes the
// peer keeps answering).
func TestZeroWindowProbeSilentPeer(t *testing.T) {
	cfg := engine.Config{
		RecvBuffer: 8 << 10, SendBuffer: 32 << 10, NoDelay: true,
		Assoc:    engine.AssocParams{MaxRetrans: 4},
		PeerAddr: engine.PeerAddrParams{Heartbeat: engine.HeartbeatOff, PathMaxRetrans: 4},
	}
	l := newLab(t, 41, link.Native, cfg)
	l.cn.Imp.Delay, l.sn.Imp.Delay = 5*time.Millisecond, 5*time.Millisecond
	a, crec := l.up(cfg)
	l.srv.noRead = true
	msg := make([]byte, 2000)
	for a.Send(l.net.Now(), msg, engine.SndInfo{}) == nil {
	}
	l.net.RunFor(10 * time.Second) // the window closes; probes are answered
	if a.State() != engine.StateEstablished {
		t.Fatalf("state %v while the peer answers probes", a.State())
	}
	l.sn.Down = true
	if !l.net.RunUntil(func() bool { return crec.has(engine.CommLost) }, time.Hour) {
		t.Fatalf("a silent peer was never declared unreachable: %s", crec.types())
	}
	if ev := crec.find(engine.CommLost); ev.Err != engine.ErrPeerUnreachable {
		t.Fatalf("COMM_LOST with %v, want %v", ev.Err, engine.ErrPeerUnreachable)
	}
}
