package engine_test

import (
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// TestSilentPeerWithDataOutstanding: the peer vanishes while we have data in
// flight. T3-rtx expires at RTO, 2 RTO, 4 RTO ... (capped at RTO.Max); the
// (MaxRetrans+1)-th expiry ends the association with COMM_LOST. The expected
// time is computed from the settings.
func TestSilentPeerWithDataOutstanding(t *testing.T) {
	cfg := engine.Config{
		RTO:      engine.RTOInfo{Initial: time.Second, Min: time.Second, Max: 8 * time.Second},
		Assoc:    engine.AssocParams{MaxRetrans: 6},
		PeerAddr: engine.PeerAddrParams{Heartbeat: engine.HeartbeatOff},
	}
	l := newLab(t, 20, link.Native, cfg)
	a, rec := l.up(cfg)
	rto := a.Status().Primary.RTO
	l.sn.Down = true
	start := l.net.Now()
	if err := a.Send(start, []byte("into the void"), engine.SndInfo{}); err != nil {
		t.Fatal(err)
	}
	if !l.net.RunUntil(rec.ended, time.Hour) {
		t.Fatal("never gave up")
	}
	var want time.Duration
	r := rto
	for i := 0; i <= cfg.Assoc.MaxRetrans; i++ {
		want += r
		r = min(2*r, cfg.RTO.Max)
	}
	ev := rec.find(engine.CommLost)
	if ev == nil || ev.Err != engine.ErrPeerUnreachable {
		t.Fatalf("events %s, want COMM_LOST ErrPeerUnreachable", rec.types())
	}
	if got := rec.at[len(rec.at)-1].Sub(start); got != want {
		t.Fatalf("COMM_LOST after %v, want %v", got, want)
	}
	if sf := rec.find(engine.SendFailed); sf == nil || len(sf.Failed) != 1 || string(sf.Failed[0].Data) != "into the void" || !sf.Failed[0].Sent {
		t.Fatalf("SEND_FAILED missing or wrong: %+v", sf)
	}
	if n := l.cn.Host.Stats().T3RtxExpireds; n != uint64(cfg.Assoc.MaxRetrans+1) {
		t.Fatalf("T3 expired %d times", n)
	}
}

// TestSilentPeerIdle: heartbeats detect an idle peer's death. Each heartbeat
// goes RTO + HB.interval +/- RTO/2 after the previous; an unanswered one counts
// an error at the next expiry and doubles the RTO. The bounds of the jitter
// give the window COMM_LOST must fall in.
func TestSilentPeerIdle(t *testing.T) {
	cfg := engine.Config{
		RTO:      engine.RTOInfo{Initial: time.Second, Min: time.Second, Max: 4 * time.Second},
		Assoc:    engine.AssocParams{MaxRetrans: 4},
		PeerAddr: engine.PeerAddrParams{HBInterval: 10 * time.Second, PathMaxRetrans: 2},
	}
	l := newLab(t, 21, link.Native, cfg)
	a, rec := l.up(cfg)
	l.sn.Down = true
	start := l.net.Now()
	rto0 := a.Status().Primary.RTO
	if !l.net.RunUntil(rec.ended, time.Hour) {
		t.Fatal("never gave up")
	}
	// Intervals: the first heartbeat was armed at COMM_UP with rto0; the
	// k-th unanswered one is found at the (k+1)-th expiry, whose interval
	// used the RTO after k-1 backoffs... bound each interval by RTO/2.
	var lo, hi time.Duration
	r := rto0
	for i := 0; i <= cfg.Assoc.MaxRetrans+1; i++ {
		lo += cfg.PeerAddr.HBInterval + r/2
		hi += cfg.PeerAddr.HBInterval + r + r/2
		if i > 0 {
			r = min(2*r, cfg.RTO.Max)
		}
	}
	got := rec.at[len(rec.at)-1].Sub(start)
	if ev := rec.find(engine.CommLost); ev == nil || ev.Err != engine.ErrPeerUnreachable {
		t.Fatalf("events %s", rec.types())
	}
	if got < lo || got > hi {
		t.Fatalf("COMM_LOST after %v, want within [%v, %v]", got, lo, hi)
	}
	if pc := rec.find(engine.PeerAddrChange); pc == nil || pc.PathState != engine.PathInactive {
		t.Fatalf("no PEER_ADDR_CHANGE to inactive after Path.Max.Retrans: %s", rec.types())
	}
}

// TestHeartbeatUpdatesRTO: with 50 ms each way, the first HEARTBEAT ACK sets
// SRTT to the 100 ms round trip and RTO = SRTT + 4 * SRTT/2 (6.3.1 rule 2).
func TestHeartbeatUpdatesRTO(t *testing.T) {
	cfg := engine.Config{
		RTO:      engine.RTOInfo{Initial: 3 * time.Second, Min: 10 * time.Millisecond, Max: 60 * time.Second},
		PeerAddr: engine.PeerAddrParams{HBInterval: time.Second},
	}
	l := newLab(t, 22, link.UDP, cfg)
	l.cn.Imp.Delay, l.sn.Imp.Delay = 50*time.Millisecond, 50*time.Millisecond
	a, _ := l.dial(cfg)
	l.net.RunUntil(func() bool { return a.State() == engine.StateEstablished }, time.Minute)
	// The handshake already sampled INIT -> INIT ACK; remember it and wait
	// for the heartbeat's sample to arrive.
	before := a.Status().Primary
	if before.SRTT != 100*time.Millisecond {
		t.Fatalf("SRTT after the handshake %v, want 100ms", before.SRTT)
	}
	l.net.RunFor(10 * time.Second)
	st := a.Status().Primary
	if l.cn.Host.Stats().HBExpireds == 0 {
		t.Fatal("no heartbeat was sent")
	}
	// Constant RTT: SRTT stays 100 ms, RTTVAR decays by 3/4 per sample.
	if st.SRTT != 100*time.Millisecond || st.RTO >= before.RTO {
		t.Fatalf("after heartbeats SRTT %v RTO %v (before %v / %v)", st.SRTT, st.RTO, before.SRTT, before.RTO)
	}
}
