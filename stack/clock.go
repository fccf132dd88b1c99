package stack

import (
	"time"

	"github.com/sctpgw/sctpgw/internal/clock"
)

// Clock is the runtime's source of time and timers; tests inject their own.
// The links take the same one (internal/clock).
type Clock = clock.Clock

// Timer is the part of *time.Timer the runtime uses.
type Timer = clock.Timer

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
type SystemClock = clock.System
