package engine

import (
	"time"

	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// Status mirrors SCTP_STATUS (RFC 6458 8.2.1) plus the figures of
// /proc/net/sctp/assocs.
type Status struct {
	State      State
	LocalTag   uint32
	PeerTag    uint32
	LocalPort  uint16
	RemotePort uint16
	PeerRwnd   uint32 // the peer's current receive window as we track it
	Rwnd       uint32 // the window we advertise
	Unacked    int    // DATA chunks sent and not acknowledged
	Pending    int    // user bytes queued, not yet sent
	InStreams  uint16
	OutStreams uint16
	FragPoint  int // largest DATA payload per packet
	// Primary is the primary path; Paths every destination, the primary
	// among them, in the order they were learnt.
	Primary     PathStatus
	Paths       []PathStatus
	Outstanding int // user bytes sent and not acknowledged
	Delivered   int // messages waiting in the receive queue
	// WindowClosed: CloseWindow was called; Refused counts the DATA chunks
	// dropped since.
	WindowClosed bool
	Refused      int
	// ErrorCount is the overall error counter of RFC 9260 8.1, which ends
	// the association past Association.Max.Retrans.
	ErrorCount int
}

// PathStatus mirrors sctp_paddrinfo (RFC 6458 8.2.2) for one destination.
type PathStatus struct {
	Link     int
	Path     link.Path
	State    PathState
	Primary  bool // the primary path (SCTP_PRIMARY_ADDR)
	Cwnd     int
	Ssthresh int
	SRTT     time.Duration
	RTTVar   time.Duration
	RTO      time.Duration
	MTU      int
	// Errors is the destination's error counter (RFC 9260 8.2);
	// Outstanding the DATA chunk bytes in flight to it.
	Errors      int
	Outstanding int
}

// Status reports the association's current figures.
func (a *Association) Status() Status {
	d := &a.data
	s := Status{
		State: a.state, LocalTag: a.localTag, PeerTag: a.peerTag,
		LocalPort: a.key.localPort, RemotePort: a.key.remotePort,
		InStreams: a.inStreams, OutStreams: a.outStreams,
		FragPoint: a.fragPoint(),
		Primary:   a.pathStatus(a.primaryPath()),
		Paths:     make([]PathStatus, len(a.paths.list)),
	}
	for i, pa := range a.paths.list {
		s.Paths[i] = a.pathStatus(pa)
	}
	if d.inited {
		s.PeerRwnd = d.out.PeerRwnd()
		s.Rwnd = d.rwnd(a)
		s.Unacked = d.out.Len()
		s.Outstanding = d.out.Bytes()
		s.Delivered = d.rq.Ready()
	}
	if d.sq != nil {
		s.Pending = d.sq.Buffered()
	}
	s.WindowClosed, s.Refused = d.windowClosed, d.refused
	s.ErrorCount = a.errorCount
	return s
}

// Close aborts every association (with a User-Initiated Abort carrying
// reason, when given) and stops the Host.
func (h *Host) Close(now time.Time, reason string) {
	if h.closed {
		return
	}
	var causes []wire.Cause
	if reason != "" {
		causes = []wire.Cause{&wire.UserInitiatedAbortCause{Reason: []byte(reason)}}
	}
	h.input(now, func() {
		for k, a := range h.assocs {
			if k == a.key { // once each, not per peer address
				a.abortWith(now, causes, ErrHostClosed)
			}
		}
		for port := range h.listeners {
			h.Unlisten(port)
		}
	})
	h.closed = true
}
