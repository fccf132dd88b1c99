package engine_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// pendingLab dials a listener whose acceptor leaves the request unanswered
// and runs until the request is there: the listener's association is in
// ACCEPT-PENDING, the dialer's in COOKIE-ECHOED, retransmitting its COOKIE
// ECHO on T1. It returns the request and when the acceptor saw it.
func pendingLab(t *testing.T, seed uint64) (*lab, *recorder, *engine.AcceptRequest, time.Time) {
	t.Helper()
	cfg := engine.Config{}
	l := newLab(t, seed, link.Native, cfg)
	l.deferAccept = true
	a, rec := l.dial(cfg)
	if !l.net.RunUntil(func() bool { return len(l.reqs) == 1 }, time.Minute) || a.State() != engine.StateCookieEchoed {
		t.Fatalf("setup: dialer %v, %d accept requests", a.State(), len(l.reqs))
	}
	r := l.reqs[0]
	if st := r.Association().State(); st != engine.StateAcceptPending {
		t.Fatalf("setup: listener's association %v", st)
	}
	return l, rec, r, l.net.Now()
}

// chunkTap records when the listener sends an ABORT, with its causes, and
// counts the dialer's COOKIE ECHOs.
type chunkTap struct {
	aborts      []time.Time
	causes      [][]byte
	cookieEchos int
}

func tapChunks(l *lab) *chunkTap {
	ct := &chunkTap{}
	l.net.Offered = func(now time.Time, from *simNode, _ int, p link.Packet) {
		var pk wire.Packet
		if pk.Unmarshal(append([]byte(nil), p.Buf...)) != nil {
			return
		}
		for _, c := range pk.Chunks {
			switch {
			case from == l.sn && c.Type == wire.TypeAbort:
				ct.aborts = append(ct.aborts, now)
				ct.causes = append(ct.causes, append([]byte(nil), c.Value...))
			case from == l.cn && c.Type == wire.TypeCookieEcho:
				ct.cookieEchos++
			}
		}
	}
	return ct
}

// TestAcceptPendingTimerRejects: a request nobody answers is rejected by
// the ACCEPT-PENDING timer at its deadline to the nanosecond of virtual
// time, not before, while the dialer's COOKIE ECHO retransmissions find the
// association still pending: one ABORT with the causes given, the dialer
// hears CANT_STR_ASSOC with them, the listener holds nothing, and an answer
// afterwards is refused.
func TestAcceptPendingTimerRejects(t *testing.T) {
	l, rec, r, start := pendingLab(t, 640)
	ct := tapChunks(l)
	reason := []byte("accept timed out")
	r.SetDeadline(l.net.Now(), start.Add(5*time.Second), &wire.UserInitiatedAbortCause{Reason: reason})
	l.net.RunFor(5*time.Second - time.Nanosecond)
	if st := r.Association().State(); st != engine.StateAcceptPending || len(ct.aborts) != 0 || r.TimedOut() {
		t.Fatalf("1 ns before the deadline: listener's association %v, %d ABORTs, timed out %v", st, len(ct.aborts), r.TimedOut())
	}
	if ct.cookieEchos == 0 {
		t.Fatal("the dialer retransmitted no COOKIE ECHO in 5 s")
	}
	if !l.net.RunUntil(rec.ended, time.Minute) {
		t.Fatalf("the dialer did not end: %s", rec.types())
	}
	if len(ct.aborts) != 1 || !ct.aborts[0].Equal(start.Add(5*time.Second)) {
		t.Fatalf("ABORTs from the listener at %v, want one at +5s (start %v)", ct.aborts, start)
	}
	want := wire.AppendCauses(nil, []wire.Cause{&wire.UserInitiatedAbortCause{Reason: reason}})
	if !bytes.Equal(ct.causes[0], want) {
		t.Fatalf("ABORT causes % x, want % x", ct.causes[0], want)
	}
	ev := rec.find(engine.CantStartAssoc)
	if ev == nil || !errors.Is(ev.Err, engine.ErrPeerAborted) || !bytes.Equal(ev.CauseBytes, want) {
		t.Fatalf("dialer's events %s (%+v), want CANT_STR_ASSOC with the listener's causes", rec.types(), ev)
	}
	if !r.TimedOut() || r.Association().State() != engine.StateClosed {
		t.Fatalf("after the deadline: timed out %v, listener's association %v", r.TimedOut(), r.Association().State())
	}
	n := 0
	l.sn.Host.Associations(func(*engine.Association) { n++ })
	if n != 0 || l.sn.Host.Stats().Aborteds != 1 {
		t.Fatalf("listener holds %d associations, %d aborted; want none held, one aborted", n, l.sn.Host.Stats().Aborteds)
	}
	if err := r.Accept(l.net.Now(), &recorder{net: l.net}); err == nil {
		t.Fatal("Accept after the timeout succeeded")
	}
	if d, ok := l.sn.Host.NextDeadline(); ok {
		t.Fatalf("listener still has a timer at %v", d.Sub(start))
	}
}

// TestAcceptPendingTimerAnswered: an answer before the deadline stops the
// timer (the association lives on past it); a later SetDeadline replaces
// the earlier deadline, and the zero time cancels it.
func TestAcceptPendingTimerAnswered(t *testing.T) {
	t.Run("accepted", func(t *testing.T) {
		l, rec, r, start := pendingLab(t, 641)
		ct := tapChunks(l)
		r.SetDeadline(l.net.Now(), start.Add(5*time.Second))
		l.net.RunFor(2 * time.Second)
		l.accept(r)
		l.net.RunFor(10 * time.Second)
		if !rec.has(engine.CommUp) || rec.ended() || !l.srv.has(engine.CommUp) || len(ct.aborts) != 0 || r.TimedOut() {
			t.Fatalf("dialer %s, listener %s, %d ABORTs, timed out %v", rec.types(), l.srv.types(), len(ct.aborts), r.TimedOut())
		}
	})
	t.Run("replaced", func(t *testing.T) {
		l, rec, r, start := pendingLab(t, 642)
		ct := tapChunks(l)
		r.SetDeadline(l.net.Now(), start.Add(5*time.Second))
		l.net.RunFor(time.Second)
		r.SetDeadline(l.net.Now(), start.Add(8*time.Second))
		if !l.net.RunUntil(rec.ended, time.Minute) {
			t.Fatalf("the dialer did not end: %s", rec.types())
		}
		if len(ct.aborts) != 1 || !ct.aborts[0].Equal(start.Add(8*time.Second)) || !r.TimedOut() {
			t.Fatalf("ABORTs at %v (start %v), timed out %v; want one at +8s", ct.aborts, start, r.TimedOut())
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		l, rec, r, start := pendingLab(t, 643)
		ct := tapChunks(l)
		r.SetDeadline(l.net.Now(), start.Add(5*time.Second))
		r.SetDeadline(l.net.Now(), time.Time{})
		l.net.RunFor(10 * time.Second)
		if st := r.Association().State(); st != engine.StateAcceptPending || len(ct.aborts) != 0 || r.TimedOut() {
			t.Fatalf("10 s after a cancelled deadline: %v, %d ABORTs, timed out %v", st, len(ct.aborts), r.TimedOut())
		}
		l.accept(r)
		if !l.net.RunUntil(func() bool { return rec.has(engine.CommUp) }, time.Minute) {
			t.Fatalf("dialer %s after the late accept", rec.types())
		}
	})
}
