package engine

import (
	"time"

	"github.com/sctpgw/sctpgw/stack/internal/cookie"
)

// OpenCookie opens a cookie this host sealed, so tests can read what an
// INIT ACK's opaque State Cookie carries.
func (h *Host) OpenCookie(c []byte, now time.Time) (cookie.State, error) { return h.jar.Open(c, now) }

// RTTVar is the primary path's RTTVAR (RFC 9260 6.3.1), which Status does
// not report.
func (a *Association) RTTVar() time.Duration { return a.primaryPath().rto.RTTVar() }
