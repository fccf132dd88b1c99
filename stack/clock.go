package stack

import "time"

// Clock is the runtime's source of time and timers; tests inject their own.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer the runtime uses.
type Timer interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	Stop()
}

// TimerAt is implemented by a Timer that can be armed for an absolute
// time. The runtime arms its timer for the next deadline with it when it
// can: with Reset, a deadline is relative to when the runtime read the
// clock, and an injected clock moved between that read and the Reset puts
// the deadline late by as much (a virtual clock moved by a test from
// another goroutine does that).
type TimerAt interface {
	ResetAt(at time.Time)
}

// SystemClock is the real clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }

func (SystemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (s sysTimer) C() <-chan time.Time   { return s.t.C }
func (s sysTimer) Reset(d time.Duration) { s.t.Reset(d) }
func (s sysTimer) Stop()                 { s.t.Stop() }
