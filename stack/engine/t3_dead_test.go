package engine_test

import (
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// TestDeadPeerWhileSending: the peer goes silent while the application
// keeps sending a little every 100 ms, heartbeats off. Retransmissions
// wait for cwnd, and every Send's flush used to restart T3-rtx (6.3.2 R1
// only starts one that is not running): one expiry in ten minutes and the
// association never ended. Now T3-rtx expires, backs off, and the
// association ends after Association.Max.Retrans (8.1) with COMM_LOST.
func TestDeadPeerWhileSending(t *testing.T) {
	l := newLab(t, 95, link.Native, engine.Config{})
	a, rec := l.up(engine.Config{NoDelay: true, PeerAddr: hbOff})
	for i := 0; i < 5; i++ {
		a.Send(l.net.Now(), make([]byte, 1000), engine.SndInfo{})
		l.net.RunFor(100 * time.Millisecond)
	}
	drop := func(*simNode, []byte) bool { return true }
	l.cn.Imp.Drop, l.sn.Imp.Drop = drop, drop
	for i := 0; i < 5; i++ {
		a.Send(l.net.Now(), make([]byte, 1000), engine.SndInfo{})
	}
	t0 := l.net.Now()
	for l.net.Now().Sub(t0) < 10*time.Minute && !rec.ended() {
		a.Send(l.net.Now(), make([]byte, 100), engine.SndInfo{})
		l.net.RunFor(100 * time.Millisecond)
	}
	st := l.cn.Host.Stats()
	if !rec.ended() || !rec.has(engine.CommLost) {
		t.Fatalf("a dead peer undetected for %v: %d T3-rtx expiries, events %s", l.net.Now().Sub(t0), st.T3RtxExpireds, rec.types())
	}
	t.Logf("COMM_LOST after %v, %d T3-rtx expiries", l.net.Now().Sub(t0), st.T3RtxExpireds)
}
