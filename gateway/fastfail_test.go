package gateway_test

import (
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// reasonOf is the reason of the User-Initiated Abort an event carries.
func reasonOf(ev *engine.Event) string {
	if ev == nil || len(ev.Causes) != 1 {
		return ""
	}
	u, _ := ev.Causes[0].(*wire.UserInitiatedAbortCause)
	if u == nil {
		return ""
	}
	return string(u.Reason)
}

const refusedReason = "sctpgw: egress peer unreachable: refused (ICMP protocol or port unreachable)"

// Issue 13 part 4: a far side that is not there is found in a round trip.
// The core is stopped (its UDP port answers port unreachable) or the MME's
// host has no SCTP (protocol unreachable): the gateway that dials fails at
// once on the ICMP report quoting its INIT, and the eNB's connect fails
// with an ABORT naming the side, relayed byte for byte by the edge when the
// core is the one that found out; no pair is left.
func TestRefusedEgressFailsAtOnce(t *testing.T) {
	for _, who := range []string{"core", "MME"} {
		t.Run(who, func(t *testing.T) {
			g := newGLab(t, labOpts{seed: 800})
			if who == "core" {
				g.core.Refuse = true
			} else {
				g.mme.Refuse = true
			}
			start := g.net.Now()
			_, rec := g.dial(0, engine.Config{})
			if !g.net.RunUntil(rec.ended, 10*time.Minute) {
				t.Fatal("the connect never ended")
			}
			took := g.net.Now().Sub(start)
			ev := rec.find(engine.CantStartAssoc)
			if reasonOf(ev) != refusedReason {
				t.Fatalf("eNB events %s, cause %q, want CANT_STR_ASSOC with %q", rec.types(), reasonOf(ev), refusedReason)
			}
			// Each hop is 2 ms one way: a few round trips, not T1 retries.
			if took > 100*time.Millisecond {
				t.Fatalf("the connect failed after %v", took)
			}
			g.net.RunFor(time.Second)
			failing := g.edgeGW
			if who == "MME" {
				failing = g.coreGW
			}
			if g.edgeGW.Pairs()+g.coreGW.Pairs() != 0 || failing.Counters().PairsFailed != 1 {
				t.Fatalf("pairs %d/%d, failed %d", g.edgeGW.Pairs(), g.coreGW.Pairs(), failing.Counters().PairsFailed)
			}
		})
	}
}

// Issue 13 part 4: dial_timeout bounds the egress handshake whatever the
// network does. A silent MME: the core gives up after its dial_timeout and
// the eNB's connect fails with the core's reason, relayed by the edge (whose
// own, longer dial_timeout does not fire), long before the eNB's INIT/COOKIE
// retransmissions would give up; a silent core: the edge's own timeout. No
// pair is left, and while the dial goes on its pair shows when it began.
func TestDialTimeout(t *testing.T) {
	for _, silent := range []string{"MME", "core"} {
		t.Run(silent, func(t *testing.T) {
			g := newGLab(t, labOpts{seed: 801, routeFn: func(edge, core *gateway.Route) {
				edge.DialTimeout, core.DialTimeout = 8*time.Second, 5*time.Second
			}})
			want, after := "sctpgw: egress peer unreachable: no answer in 5s (dial_timeout)", 5*time.Second
			if silent == "core" {
				g.core.Down = true
				want, after = "sctpgw: egress peer unreachable: no answer in 8s (dial_timeout)", 8*time.Second
			} else {
				g.mme.Down = true
			}
			start := g.net.Now()
			_, rec := g.dial(0, engine.Config{})
			g.net.RunFor(time.Second)
			var since []time.Time
			g.edgeGW.EachPair(func(p gateway.PairStatus) { since = append(since, p.Since) })
			// Since its COOKIE ECHO, a moment after the eNB's INIT.
			if len(since) != 1 || since[0].Before(start) || since[0].After(start.Add(100*time.Millisecond)) {
				t.Fatalf("dialling pair shows since %v, want just after %v", since, start)
			}
			if !g.net.RunUntil(rec.ended, 10*time.Minute) {
				t.Fatal("the connect never ended")
			}
			took := g.net.Now().Sub(start)
			if got := reasonOf(rec.find(engine.CantStartAssoc)); got != want || took < after || took > after+time.Second {
				t.Fatalf("eNB %s after %v with %q, want %q after %v", rec.types(), took, got, want, after)
			}
			g.net.RunFor(time.Second)
			if g.edgeGW.Pairs()+g.coreGW.Pairs() != 0 {
				t.Fatalf("pairs left: %d/%d", g.edgeGW.Pairs(), g.coreGW.Pairs())
			}
		})
	}
}

// Issue 13 part 4: a pair whose ingress ends while it dials is gone at
// once, its dial abandoned: the eNB gives up and aborts, or restarts and
// connects again from the same port (the new association gets a pair of
// its own). Before, the pair stayed with its ingress CLOSED and its egress
// in COOKIE-WAIT until the dial ended.
func TestPendingIngressEndsPair(t *testing.T) {
	for _, how := range []string{"abort", "restart"} {
		t.Run(how, func(t *testing.T) {
			g := newGLab(t, labOpts{seed: 802})
			g.mme.Down = true
			a, _ := g.dial(4000, engine.Config{})
			g.net.RunFor(time.Second)
			if g.edgeGW.Pairs() != 1 || g.coreGW.Pairs() != 1 {
				t.Fatalf("setup: pairs %d/%d", g.edgeGW.Pairs(), g.coreGW.Pairs())
			}
			if how == "abort" {
				a.Abort(g.net.Now())
			} else {
				g.enb.Restart()
				g.dial(4000, engine.Config{})
			}
			g.net.RunFor(time.Second)
			want := 0
			if how == "restart" {
				want = 1 // the new association's pair, dialling
			}
			if g.edgeGW.Pairs() != want || g.coreGW.Pairs() != want {
				t.Fatalf("pairs %d/%d after the eNB's %s, want %d", g.edgeGW.Pairs(), g.coreGW.Pairs(), how, want)
			}
			var states []string
			g.edgeGW.EachPair(func(p gateway.PairStatus) { states = append(states, p.Ingress.State) })
			for _, s := range states {
				if s == "CLOSED" {
					t.Fatalf("a pair with its ingress CLOSED: %v", states)
				}
			}
			if c := g.edgeGW.Counters(); c.PairsFailed != 0 {
				t.Fatalf("the eNB's own end counted as an egress failure (%d)", c.PairsFailed)
			}
		})
	}
}
