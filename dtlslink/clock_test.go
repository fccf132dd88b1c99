package dtlslink

import (
	"slices"
	"sync"
	"time"
)

// fakeClock is a Clock whose time moves only when the test says, so that
// the handshake rate and timeouts are exact while datagrams still cross
// real sockets. It starts at the wall clock's now because the test
// certificates are valid from an hour before the test to a day after it,
// and certificates are checked on the link's clock.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	armed map[*fakeTimer]bool
}

type fakeTimer struct {
	clk *fakeClock
	c   chan time.Time
	at  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Now(), armed: map[*fakeTimer]bool{}}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{clk: c, c: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

// advance moves the clock by d and fires the timers then due: by the
// time it returns, each has its time in its channel.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for t := range c.armed {
		t.fireLocked()
	}
}

// deadlines lists when the armed timers fire, earliest first.
func (c *fakeClock) deadlines() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var at []time.Time
	for t := range c.armed {
		at = append(at, t.at)
	}
	slices.SortFunc(at, time.Time.Compare)
	return at
}

func (t *fakeTimer) fireLocked() {
	if t.at.After(t.clk.now) {
		return
	}
	delete(t.clk.armed, t)
	select {
	case t.c <- t.clk.now:
	default:
	}
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Reset(d time.Duration) {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	t.at = t.clk.now.Add(d)
	t.clk.armed[t] = true
	t.fireLocked()
}

func (t *fakeTimer) Stop() {
	t.clk.mu.Lock()
	delete(t.clk.armed, t)
	t.clk.mu.Unlock()
}
