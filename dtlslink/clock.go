package dtlslink

import "time"

// Clock is the link's source of time and timers: what admits handshakes
// (HandshakeRate), ends them (HandshakeTimeout), holds a failed peer down,
// rate-limits refusal lines and ages sessions. Tests inject their own.
// It has the shape of stack.Clock; the links import no stack (docs/design.md
// 1.2), so it is declared again here.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer the link uses.
type Timer interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	Stop()
}

// SystemClock is the real clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }

func (SystemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (s sysTimer) C() <-chan time.Time   { return s.t.C }
func (s sysTimer) Reset(d time.Duration) { s.t.Reset(d) }
func (s sysTimer) Stop()                 { s.t.Stop() }
