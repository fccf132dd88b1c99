package stack

import (
	"time"

	"github.com/sctpgw/sctpgw/internal/stackhost"
	"github.com/sctpgw/sctpgw/stack/engine"
)

// The engine Host is reached from outside the package only through
// internal/stackhost, by sctpgw's own packages (the gateway, tests): the
// public API does not hand it out.
func init() {
	stackhost.Register(func(st any, f stackhost.Func) error { return st.(*Stack).do(f) })
}

// do runs f with the engine Host under the Stack's lock and then sends what
// it produced.
func (s *Stack) do(f func(h *engine.Host, now time.Time)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	now := s.clock.Now()
	f(s.host, now)
	// What f queued goes out now, and the events it caused are delivered
	// (engine calls that finish themselves make this a no-op).
	s.host.Flush(now)
	s.flushLocked()
	return nil
}
