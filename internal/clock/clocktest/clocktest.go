// Package clocktest is a fake clock.Clock for tests: its time moves only
// when the test says, so timeouts, rates and timer deadlines are exact while
// the code under test still runs its own goroutines (and, often, crosses
// real sockets). It is test support: production code does not import it
// (TestNoProductionImport).
package clocktest

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/sctpgw/sctpgw/internal/clock"
)

// Fake is a clock.Clock moved by Advance and Set. Moving it fires every
// timer then due, at once, with the clock's new time: it jumps, it does not
// step through the deadlines in between (a timer re-armed by its user is
// due again only after the next move).
type Fake struct {
	mu  sync.Mutex
	now time.Time
	seq uint64
	// live holds the timers armed or owed (see Owed): the only ones a move
	// or a question about deadlines needs to look at. A timer neither
	// armed nor owed is the user's alone, and garbage once dropped.
	live map[*Timer]struct{}
}

// New is a Fake reading start. A test whose code checks certificates on
// the clock starts at time.Now() (certificates are valid around the wall
// clock's now); others start at a fixed date for reproducible times.
func New(start time.Time) *Fake {
	return &Fake{now: start, live: map[*Timer]struct{}{}}
}

// Now is the fake time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer is a timer due d from now (at once if d <= 0, as
// time.NewTimer). The result is a *Timer.
func (c *Fake) NewTimer(d time.Duration) clock.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &Timer{c: c, seq: c.seq, ch: make(chan time.Time, 1)}
	t.armLocked(c.now.Add(d))
	return t
}

// Advance moves the clock by d and fires the timers then due: by the time
// it returns, each has the new time in its channel.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(c.now.Add(d))
}

// Set moves the clock to now (backwards too, as a wall clock can) and
// fires the timers then due.
func (c *Fake) Set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(now)
}

// setLocked fires the due timers earliest deadline first, ties in the order
// the timers were made: the order is the same in every run, whatever the
// map's.
func (c *Fake) setLocked(now time.Time) {
	c.now = now
	var due []*Timer
	for t := range c.live {
		if t.on && !t.at.After(now) {
			due = append(due, t)
		}
	}
	slices.SortFunc(due, func(a, b *Timer) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.seq, b.seq))
	})
	for _, t := range due {
		t.fireLocked()
	}
}

// Deadlines lists when the armed timers fire, earliest first.
func (c *Fake) Deadlines() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var at []time.Time
	for t := range c.live {
		if t.on {
			at = append(at, t.at)
		}
	}
	slices.SortFunc(at, time.Time.Compare)
	return at
}

// ArmedAt tells whether a timer is armed for exactly at (time.Time.Equal):
// a goroutine that arms its timer for a deadline it was told of has taken
// it in.
func (c *Fake) ArmedAt(at time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for t := range c.live {
		if t.on && t.at.Equal(at) {
			return true
		}
	}
	return false
}

// Owed tells whether a timer that fired is still owed its user's answer: a
// re-arm (Reset, ResetAt), or a Stop after reading the expiry. A loop that
// handles an expiry and then re-arms its timer has handled every expiry
// once nothing is owed, so a test can look at its state right after a move.
func (c *Fake) Owed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for t := range c.live {
		if t.owed {
			return true
		}
	}
	return false
}

// Timer is a timer of a Fake. Like a *time.Timer since Go 1.23, Reset,
// ResetAt and Stop discard an expiry not yet read, so its user never reads
// one from before them.
type Timer struct {
	c   *Fake
	seq uint64 // creation order, for a firing order that does not vary
	ch  chan time.Time
	at  time.Time
	on  bool // armed for at
	// owed: fired, and its user has not re-armed it nor stopped it after
	// reading the expiry.
	owed bool
}

// C is the channel the expiry is sent on. It holds one: the Fake never
// waits for a reader.
func (t *Timer) C() <-chan time.Time { return t.ch }

// Reset re-arms the timer d from now; nothing is owed unless that is due
// at once.
func (t *Timer) Reset(d time.Duration) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.armLocked(t.c.now.Add(d))
}

// ResetAt re-arms the timer for at: due at once if the clock is already
// past it, however far it moved since the user read it. This is the
// stack's TimerAt: with Reset, the stack's timer loop computed the duration
// from its own read of the clock, and a test moving the clock between that
// read and the Reset put the deadline late ("the stacks did not run their
// timers due at ...", seen once in CI).
func (t *Timer) ResetAt(at time.Time) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.armLocked(at)
}

// Stop disarms the timer. An expiry still unread stays owed: the user
// stopped without having seen it (the stack's timer loop does so when a
// kick beat the expiry, and re-arms, for a due time, right after).
func (t *Timer) Stop() {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.owed = t.drainLocked()
	t.on = false
	t.trackLocked()
}

func (t *Timer) armLocked(at time.Time) {
	t.drainLocked()
	t.at, t.on, t.owed = at, true, false
	t.trackLocked()
	if !at.After(t.c.now) {
		t.fireLocked()
	}
}

func (t *Timer) fireLocked() {
	t.on, t.owed = false, true
	select {
	case t.ch <- t.c.now:
	default: // an expiry unread already: a time.Timer would not send twice either
	}
	t.trackLocked()
}

func (t *Timer) drainLocked() bool {
	select {
	case <-t.ch:
		return true
	default:
		return false
	}
}

// trackLocked keeps t in the Fake's live set while it is armed or owed.
func (t *Timer) trackLocked() {
	if t.on || t.owed {
		t.c.live[t] = struct{}{}
	} else {
		delete(t.c.live, t)
	}
}
