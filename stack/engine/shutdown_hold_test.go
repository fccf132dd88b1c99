package engine_test

import (
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// TestHoldShutdownComplete: with the hold, our SHUTDOWN acknowledged by the
// peer raises SHUTDOWN_ACKED and nothing ends until the release; the peer
// waits in SHUTDOWN-ACK-SENT. Released, both complete gracefully; aborted
// instead, the peer learns it (COMM_LOST); never released, T5 ends it.
// Released before the peer's SHUTDOWN ACK, nothing changes.
func TestHoldShutdownComplete(t *testing.T) {
	cfg := engine.Config{RTO: engine.RTOInfo{Max: 10 * time.Second}}
	for _, end := range []string{"release", "abort", "guard"} {
		t.Run(end, func(t *testing.T) {
			l := newLab(t, 640, link.Native, cfg)
			a, crec := l.up(cfg)
			a.HoldShutdownComplete()
			a.ReleaseShutdownComplete(l.net.Now()) // too early: no effect
			a.Shutdown(l.net.Now())
			if !l.net.RunUntil(func() bool { return crec.signaled(engine.ShutdownAcked) > 0 }, time.Minute) {
				t.Fatalf("client %s", crec.types())
			}
			l.net.RunFor(20 * time.Second)
			if crec.ended() || l.srv.ended() || l.srv.assoc.State() != engine.StateShutdownAckSent {
				t.Fatalf("the hold did not hold: client %s server %s (%v)", crec.types(), l.srv.types(), l.srv.assoc.State())
			}
			switch end {
			case "release":
				a.ReleaseShutdownComplete(l.net.Now())
			case "abort":
				a.Abort(l.net.Now())
			}
			if !l.net.RunUntil(func() bool { return crec.ended() && l.srv.ended() }, 10*time.Minute) {
				t.Fatalf("client %s server %s", crec.types(), l.srv.types())
			}
			want := engine.ShutdownComp
			if end != "release" {
				want = engine.CommLost
			}
			if !crec.has(want) || !l.srv.has(want) {
				t.Fatalf("want %v on both: client %s server %s", want, crec.types(), l.srv.types())
			}
			if end == "guard" && crec.find(engine.CommLost).Err != engine.ErrShutdownGuard {
				t.Fatalf("client ended with %v", crec.find(engine.CommLost).Err)
			}
		})
	}
}
