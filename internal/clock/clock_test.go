package clock

import (
	"testing"
	"time"
)

// TestSystem: the real clock reads the wall clock, and its timers fire,
// can be stopped and re-armed.
func TestSystem(t *testing.T) {
	var c Clock = System{}
	before := time.Now()
	if now := c.Now(); now.Before(before) || now.Sub(before) > time.Minute {
		t.Fatalf("Now %v, the wall clock %v", now, before)
	}
	tm := c.NewTimer(time.Hour)
	tm.Stop()
	tm.Reset(time.Millisecond)
	select {
	case <-tm.C():
	case <-time.After(10 * time.Second):
		t.Fatal("a 1 ms timer re-armed after Stop did not fire in 10 s")
	}
}

var nowSink time.Time

// BenchmarkSystemNow is what one read of the real clock costs: the stack
// reads it three times per relayed batch to time it (docs/design.md 6.5).
func BenchmarkSystemNow(b *testing.B) {
	var c Clock = System{}
	for b.Loop() {
		nowSink = c.Now()
	}
}
