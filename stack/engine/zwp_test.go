package engine

import (
	"testing"
	"time"
)

// TestZeroWindowProbeAlone drives the probe type without an association:
// the delay before the first probe, its doubling interval while the peer
// answers with a closed window, and what ends probing (6.1 rule A).
func TestZeroWindowProbeAlone(t *testing.T) {
	const rto, maxWait = time.Second, 5 * time.Second
	t0 := time.Unix(0, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type step struct {
		name string
		do   func(z *zeroWindowProbe) any
		want any
	}
	steps := []step{
		{"closed window: no probe yet, the delay starts", func(z *zeroWindowProbe) any { return z.mayProbe(at(0), rto) }, false},
		{"the delay is one RTO", func(z *zeroWindowProbe) any { return z.delay.at.Sub(t0) }, rto},
		{"asked again: the delay is not restarted", func(z *zeroWindowProbe) any {
			z.mayProbe(at(500*time.Millisecond), 3*rto)
			return z.delay.at.Sub(t0)
		}, rto},
		{"before the delay: still no probe", func(z *zeroWindowProbe) any {
			z.onTimeout(at(999 * time.Millisecond))
			return z.mayProbe(at(999*time.Millisecond), rto)
		}, false},
		{"the delay ran out: a probe may go", func(z *zeroWindowProbe) any {
			z.onTimeout(at(rto))
			return z.mayProbe(at(rto), rto)
		}, true},
		{"the probe's T3 is the interval", func(z *zeroWindowProbe) any { return z.sent(100) }, rto},
		{"no second probe while one is out", func(z *zeroWindowProbe) any { return z.due }, false},
		{"T3 before any answer: an ordinary timeout", func(z *zeroWindowProbe) any {
			_, ok := z.again(true, 100, 10, maxWait)
			return ok
		}, false},
		{"a SACK leaving it unacknowledged answers it", func(z *zeroWindowProbe) any { return z.onAck(99, 1, 0, true) }, true},
		{"a SHUTDOWN's cumulative ack is no answer", func(z *zeroWindowProbe) any { return z.onAck(99, 1, 0, false) }, false},
		{"answered, window still closed: again at twice the interval", func(z *zeroWindowProbe) any {
			w, _ := z.again(true, 100, 10, maxWait)
			return w
		}, 2 * rto},
		{"not answered since: an ordinary timeout", func(z *zeroWindowProbe) any {
			_, ok := z.again(true, 100, 10, maxWait)
			return ok
		}, false},
		{"answered again: four times", func(z *zeroWindowProbe) any {
			z.onAck(99, 1, 0, true)
			w, _ := z.again(true, 100, 10, maxWait)
			return w
		}, 4 * rto},
		{"the interval stops at RTO.Max", func(z *zeroWindowProbe) any {
			z.onAck(99, 1, 0, true)
			w, _ := z.again(true, 100, 10, maxWait)
			return w
		}, maxWait},
		{"a window that holds the probe: no reprobe", func(z *zeroWindowProbe) any {
			z.onAck(99, 1, 10, true)
			_, ok := z.again(true, 100, 10, maxWait)
			return ok
		}, false},
		{"another chunk outstanding: no reprobe", func(z *zeroWindowProbe) any {
			z.onAck(99, 2, 0, true)
			_, ok := z.again(false, 100, 10, maxWait)
			return ok
		}, false},
		{"the probe acknowledged: probing ends", func(z *zeroWindowProbe) any {
			z.onAck(100, 0, 0, true)
			return [2]any{z.out, z.wait}
		}, [2]any{false, time.Duration(0)}},
		{"closed again: the first probe waits an RTO anew", func(z *zeroWindowProbe) any {
			z.windowOpen()
			z.mayProbe(at(10*time.Second), 2*rto)
			return z.delay.at.Sub(at(10 * time.Second))
		}, 2 * rto},
	}
	var z zeroWindowProbe
	z.reset(0)
	for _, s := range steps {
		if got := s.do(&z); got != s.want {
			t.Fatalf("%s: got %v, want %v", s.name, got, s.want)
		}
	}
}
