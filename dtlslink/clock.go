package dtlslink

import "github.com/sctpgw/sctpgw/internal/clock"

// Clock is the link's source of time and timers: what admits handshakes
// (HandshakeRate), ends them (HandshakeTimeout), holds a failed peer down,
// rate-limits refusal lines and ages sessions. Tests inject their own; the
// gateway passes the stack's, the same type (internal/clock).
type Clock = clock.Clock

// Timer is the part of *time.Timer the link uses.
type Timer = clock.Timer

// SystemClock is the real clock.
type SystemClock = clock.System
