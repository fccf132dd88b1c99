package stack_test

import (
	"sync"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack"
)

// vclock is a virtual stack.Clock: time moves only in Advance, which returns
// once the stack's timer goroutine has handled every timer that came due, so
// a test can look at the stack's state right after.
type vclock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*vtimer
}

type vtimer struct {
	c    *vclock
	ch   chan time.Time
	at   time.Time
	on   bool
	owed bool // fired and not yet re-armed or stopped by its user
}

func newVClock() *vclock { return &vclock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *vclock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *vclock) NewTimer(d time.Duration) stack.Timer {
	t := &vtimer{c: c, ch: make(chan time.Time, 1)}
	c.mu.Lock()
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	t.Reset(d)
	return t
}

// Advance moves time by d and waits until the timers due have been handled
// (their user stopped or re-armed them: the stack's timer loop does so at the
// top of every round, after handling the expiry under the Stack's lock).
func (c *vclock) Advance(t testing.TB, d time.Duration) {
	t.Helper()
	c.mu.Lock()
	c.now = c.now.Add(d)
	for _, tm := range c.timers {
		tm.fireLocked()
	}
	c.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		owed := false
		for _, tm := range c.timers {
			owed = owed || tm.owed
		}
		c.mu.Unlock()
		if !owed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("vclock: a fired timer was not handled within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// WaitArmed waits until a timer is armed for exactly at: the stack's timer
// goroutine has taken in a deadline set by another goroutine.
func (c *vclock) WaitArmed(t testing.TB, at time.Time) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); ; {
		c.mu.Lock()
		armed := false
		for _, tm := range c.timers {
			armed = armed || (tm.on && tm.at.Equal(at))
		}
		c.mu.Unlock()
		if armed {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("vclock: no timer armed for %v", at)
		}
		time.Sleep(time.Millisecond)
	}
}

func (t *vtimer) fireLocked() {
	if t.on && !t.at.After(t.c.now) {
		t.on, t.owed = false, true
		select {
		case t.ch <- t.c.now:
		default:
		}
	}
}

func (t *vtimer) C() <-chan time.Time { return t.ch }

// Reset re-arms; an expiry is owed again only if the new time is due.
func (t *vtimer) Reset(d time.Duration) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.resetAtLocked(t.c.now.Add(d))
}

// ResetAt re-arms for at (stack.TimerAt): due at once if the clock is past
// it, however far it moved since the stack read it.
func (t *vtimer) ResetAt(at time.Time) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.resetAtLocked(at)
}

func (t *vtimer) resetAtLocked(at time.Time) {
	t.drain()
	t.owed = false
	t.at, t.on = at, true
	t.fireLocked()
}

// Stop disarms. An expiry still unread in the channel stays owed: the
// stack's loop stops and re-arms (to a due time) when a kick beat it.
func (t *vtimer) Stop() {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.owed = t.drain()
	t.on = false
}

func (t *vtimer) drain() bool {
	select {
	case <-t.ch:
		return true
	default:
		return false
	}
}
