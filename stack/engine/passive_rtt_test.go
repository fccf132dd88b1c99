package engine_test

import (
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// The side that accepted an association measures its RTT right after the
// handshake (one HEARTBEAT bundled after the COOKIE ACK), instead of
// showing an SRTT of 0 until its first heartbeat period.
func TestPassiveSideMeasuresRTTAtOnce(t *testing.T) {
	l := newLab(t, 91, link.UDP, engine.Config{})
	l.cn.Imp.Delay = 5 * time.Millisecond
	l.sn.Imp.Delay = 5 * time.Millisecond
	a, _ := l.up(engine.Config{})
	l.net.RunFor(100 * time.Millisecond)
	if got := l.srv.assoc.Status().Primary.SRTT; got < 9*time.Millisecond || got > 11*time.Millisecond {
		t.Fatalf("server SRTT %v after the handshake, want about 10ms", got)
	}
	if got := a.Status().Primary.SRTT; got < 9*time.Millisecond || got > 11*time.Millisecond {
		t.Fatalf("client SRTT %v", got)
	}
	// With heartbeats off no HEARTBEAT is sent.
	off := newLab(t, 92, link.UDP, engine.Config{PeerAddr: engine.PeerAddrParams{Heartbeat: engine.HeartbeatOff}})
	off.up(engine.Config{})
	off.net.RunFor(100 * time.Millisecond)
	if got := off.srv.assoc.Status().Primary.SRTT; got != 0 {
		t.Fatalf("server SRTT %v with heartbeats off", got)
	}
}
