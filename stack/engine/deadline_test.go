package engine_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// TestAbortDeadlineBoundsDial: a deadline ends a dial to a silent peer when
// it passes, long before T1 and Max.Init.Retransmits would, with
// CANT_STR_ASSOC ErrDeadline and nothing on the wire (COOKIE-WAIT: the peer
// holds no state).
func TestAbortDeadlineBoundsDial(t *testing.T) {
	cfg := engine.Config{}
	l := newLab(t, 630, link.UDP, cfg)
	l.sn.Down = true
	start := l.net.Now()
	a, rec := l.dial(cfg)
	a.SetAbortDeadline(l.net.Now(), start.Add(3*time.Second), wire.AppendCauses(nil, []wire.Cause{&wire.UserInitiatedAbortCause{Reason: []byte("x")}}))
	aborts := 0
	l.net.Offered = func(_ time.Time, from *simNode, _ int, p link.Packet) {
		if from == l.cn && len(p.Buf) > wire.CommonHeaderLen && wire.ChunkType(p.Buf[wire.CommonHeaderLen]) == wire.TypeAbort {
			aborts++
		}
	}
	if !l.net.RunUntil(rec.ended, 10*time.Minute) {
		t.Fatalf("dial still going: %s", rec.types())
	}
	ev := rec.find(engine.CantStartAssoc)
	if ev == nil || ev.Err != engine.ErrDeadline || !rec.at[len(rec.at)-1].Equal(start.Add(3*time.Second)) {
		t.Fatalf("events %s at %v, want CANT_STR_ASSOC ErrDeadline after 3s", rec.types(), rec.at[len(rec.at)-1].Sub(start))
	}
	if aborts != 0 {
		t.Fatalf("%d ABORTs sent from COOKIE-WAIT", aborts)
	}
}

// TestAbortDeadlineCookieEchoed: in COOKIE-ECHOED the peer may hold a TCB
// already, so the ABORT goes, with the causes given, and the peer's pending
// association ends.
func TestAbortDeadlineCookieEchoed(t *testing.T) {
	cfg := engine.Config{}
	l := newLab(t, 631, link.Native, cfg)
	l.deferAccept = true
	a, rec := l.dial(cfg)
	if !l.net.RunUntil(func() bool { return len(l.reqs) == 1 }, time.Minute) || a.State() != engine.StateCookieEchoed {
		t.Fatalf("setup: state %v, %d accept requests", a.State(), len(l.reqs))
	}
	a.SetAbortDeadline(l.net.Now(), l.net.Now().Add(time.Second), nil)
	l.net.RunFor(2 * time.Second)
	if ev := rec.find(engine.CantStartAssoc); ev == nil || ev.Err != engine.ErrDeadline {
		t.Fatalf("events %s", rec.types())
	}
	if st := l.reqs[0].Association().State(); st != engine.StateClosed {
		t.Fatalf("the peer's pending association is %v after our ABORT", st)
	}
}

// TestAbortDeadlineEstablished: on an established association the ABORT
// carries the causes byte for byte; a cancelled deadline does nothing, and
// a later call replaces an earlier one.
func TestAbortDeadlineEstablished(t *testing.T) {
	cfg := engine.Config{}
	l := newLab(t, 632, link.Native, cfg)
	a, rec := l.up(cfg)
	now := l.net.Now()
	a.SetAbortDeadline(now, now.Add(time.Second), []byte{1})
	a.SetAbortDeadline(now, time.Time{}, nil)
	l.net.RunFor(5 * time.Second)
	if rec.ended() || l.srv.ended() {
		t.Fatalf("a cancelled deadline ended it: %s / %s", rec.types(), l.srv.types())
	}
	causes := wire.AppendCauses(nil, []wire.Cause{&wire.UserInitiatedAbortCause{Reason: []byte("sctpgw: test")}})
	now = l.net.Now()
	a.SetAbortDeadline(now, now.Add(time.Hour), nil)
	a.SetAbortDeadline(now, now.Add(2*time.Second), causes)
	l.net.RunFor(time.Second)
	if rec.ended() {
		t.Fatal("ended before its deadline")
	}
	l.net.RunFor(2 * time.Second)
	if ev := rec.find(engine.CommLost); ev == nil || ev.Err != engine.ErrDeadline {
		t.Fatalf("events %s", rec.types())
	}
	ev := l.srv.find(engine.CommLost)
	if ev == nil || ev.Err != engine.ErrPeerAborted || !bytes.Equal(padded(ev.CauseBytes), causes) {
		t.Fatalf("peer events %s, event %+v", l.srv.types(), ev)
	}
}

func padded(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}
