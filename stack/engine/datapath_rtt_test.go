package engine_test

import (
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// TestRTTSampledAfterRestartInPlace: a chunk timed for a round-trip sample
// (6.3.1) when the peer restarts the association in place goes with the old
// incarnation's TSNs; the new incarnation times its own chunks, so with
// heartbeats off its data measures the path again (the restart reset the
// path's RTO, 5.2.4 A).
func TestRTTSampledAfterRestartInPlace(t *testing.T) {
	cfg := engine.Config{PeerAddr: engine.PeerAddrParams{Heartbeat: engine.HeartbeatOff}, NoDelay: true, DelayedAck: engine.DelayedAck{Freq: 1}}
	l := newLab(t, 6, link.Native, cfg)
	l.cn.Imp.Delay, l.sn.Imp.Delay = 20*time.Millisecond, 20*time.Millisecond
	a, rec := l.up(cfg)
	// The chunk timed when the peer restarts never arrives.
	l.cn.Imp.Drop = func(_ *simNode, pkt []byte) bool { return firstChunk(pkt) == wire.TypeData }
	if err := a.Send(l.net.Now(), []byte("lost with the old incarnation"), engine.SndInfo{}); err != nil {
		t.Fatal(err)
	}
	l.net.RunFor(time.Millisecond)
	l.cn.Imp.Drop = nil
	brec := l.restartServerInPlace(a, rec, cfg)
	if srtt := a.Status().Primary.SRTT; srtt != 0 {
		t.Fatalf("SRTT %v right after the restart, want the path measured afresh", srtt)
	}
	for i := 0; i < 5; i++ {
		if err := a.Send(l.net.Now(), []byte("after the restart"), engine.SndInfo{}); err != nil {
			t.Fatal(err)
		}
		l.net.RunFor(200 * time.Millisecond)
	}
	if len(brec.msgs) != 5 {
		t.Fatalf("B got %d of 5 messages", len(brec.msgs))
	}
	if srtt := a.Status().Primary.SRTT; srtt < 40*time.Millisecond || srtt > 50*time.Millisecond {
		t.Fatalf("SRTT %v after 5 messages acknowledged, want the 40 ms round trip", srtt)
	}
}

// restartServerInPlace restarts the server's host and has it dial the
// client's association a again from the same ports: the client restarts
// in place (RFC 9260 5.2.4 A), which rec must show. It returns the new
// server association's recorder.
func (l *lab) restartServerInPlace(a *engine.Association, rec *recorder, cfg engine.Config) *recorder {
	l.t.Helper()
	l.sn.Restart()
	brec := &recorder{net: l.net}
	if _, err := l.sn.Host.Dial(0, l.sn.PathTo(l.cn), serverPort, a.LocalPort(), cfg, brec, l.net.Now()); err != nil {
		l.t.Fatal(err)
	}
	if !l.net.RunUntil(func() bool { return brec.has(engine.CommUp) }, time.Minute) || !rec.has(engine.Restart) {
		l.t.Fatalf("no restart in place: A %s, B %s", rec.types(), brec.types())
	}
	return brec
}
