package stack_test

import (
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/clock/clocktest"
	"github.com/sctpgw/sctpgw/stack"
)

// The stack's timer loop arms its timer with ResetAt when the Timer has it;
// with Reset, a deadline would land late whenever a test moved the clock
// between the loop's read of it and the Reset.
var _ stack.TimerAt = (*clocktest.Timer)(nil)

// vclock is a virtual stack.Clock: time moves only in Advance, which returns
// once the stack's timer goroutine has handled every timer that came due, so
// a test can look at the stack's state right after.
type vclock struct{ *clocktest.Fake }

func newVClock() *vclock { return &vclock{clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))} }

// Advance moves time by d and waits until the timers due have been handled
// (their user stopped or re-armed them: the stack's timer loop does so at the
// top of every round, after handling the expiry under the Stack's lock).
func (c *vclock) Advance(t testing.TB, d time.Duration) {
	t.Helper()
	c.Fake.Advance(d)
	for end := time.Now().Add(10 * time.Second); c.Owed(); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("vclock: a fired timer was not handled within 10 s")
		}
	}
}

// WaitArmed waits until a timer is armed for exactly at: the stack's timer
// goroutine has taken in a deadline set by another goroutine.
func (c *vclock) WaitArmed(t testing.TB, at time.Time) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !c.ArmedAt(at); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("vclock: no timer armed for %v", at)
		}
	}
}
