package gateway

import (
	"time"

	"github.com/sctpgw/sctpgw/dtlslink"
	"github.com/sctpgw/sctpgw/stack"
)

// dtlsClock gives the DTLS link the gateway's clock (Options.Clock), so
// that its handshake admission and timeouts run on the time the stack
// runs on. The link declares its own Clock of the same shape, as links
// import no stack (docs/design.md 1.2); a stack.Timer has dtlslink.Timer's
// methods.
type dtlsClock struct{ c stack.Clock }

func (d dtlsClock) Now() time.Time                          { return d.c.Now() }
func (d dtlsClock) NewTimer(t time.Duration) dtlslink.Timer { return d.c.NewTimer(t) }

// dtlsClockOf is c for the DTLS link; nil (the wall clock) stays nil.
func dtlsClockOf(c stack.Clock) dtlslink.Clock {
	if c == nil {
		return nil
	}
	return dtlsClock{c}
}
