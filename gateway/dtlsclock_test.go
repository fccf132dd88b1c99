package gateway

import (
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack"
)

// fixedClock is a stack.Clock at a fixed time whose timers record what
// they were asked for.
type fixedClock struct {
	now   time.Time
	asked []time.Duration
	ch    chan time.Time
}

func (c *fixedClock) Now() time.Time { return c.now }
func (c *fixedClock) NewTimer(d time.Duration) stack.Timer {
	c.asked = append(c.asked, d)
	return fixedTimer{c.ch}
}

type fixedTimer struct{ ch chan time.Time }

func (t fixedTimer) C() <-chan time.Time { return t.ch }
func (fixedTimer) Reset(time.Duration)   {}
func (fixedTimer) Stop()                 {}

// TestDTLSClockIsTheGatewayClock: the DTLS link gets the gateway's clock
// (Options.Clock) for its handshake admission and timeouts, time and
// timers alike; no clock stays no clock (the link's wall clock).
func TestDTLSClockIsTheGatewayClock(t *testing.T) {
	if dtlsClockOf(nil) != nil {
		t.Fatal("no gateway clock gave the DTLS link a clock")
	}
	c := &fixedClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ch: make(chan time.Time)}
	d := dtlsClockOf(c)
	if !d.Now().Equal(c.now) {
		t.Fatalf("Now %v, the gateway's clock says %v", d.Now(), c.now)
	}
	tm := d.NewTimer(30 * time.Second)
	if len(c.asked) != 1 || c.asked[0] != 30*time.Second || tm.C() != (<-chan time.Time)(c.ch) {
		t.Fatalf("timer not the gateway clock's: asked %v", c.asked)
	}
}
