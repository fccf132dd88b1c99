//go:build linux

package rawip

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/stack/link"
)

// A link with one socket (one address family served: the usual gateway,
// which names its addresses) waits in Go's network poller instead of in
// poll(2). poll blocks the reader's thread in a system call: each wake-up
// is then a thread wake-up, and the runtime hands the thread's processor to
// another thread while it sleeps, so a packet costs a thread hand-off both
// ways. In the poller the goroutine parks, the thread runs other goroutines
// (the UDP link's reader, the timer goroutine) or waits in the one epoll of
// the process, and a packet wakes the goroutine like any network read.
// Two sockets still wait in poll, which watches both.

// usePoller hands s's descriptor to the network poller. The descriptor is
// non-blocking, so os.NewFile registers it; the File owns it from now on.
func (s *sock) usePoller() error {
	f := os.NewFile(uintptr(s.fd), "rawip-"+s.family)
	if f == nil {
		return fmt.Errorf("rawip: %s socket: not a valid descriptor", s.family)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		s.fd = -1
		return fmt.Errorf("rawip: %s socket: %w", s.family, err)
	}
	s.f, s.rc = f, rc
	return nil
}

// close closes the descriptor, through its File when the poller has it.
func (s *sock) close() error {
	if s.f != nil {
		return s.f.Close()
	}
	if s.fd < 0 {
		return nil
	}
	return unix.Close(s.fd)
}

// wakeReader makes a reader parked in the poller look again (at Close, or
// at errPending set by the writer): a read deadline in the past is the
// poller's one way to wake a reader without closing the descriptor.
// Nothing for a socket polled with poll(2), which the eventfd and POLLERR
// wake.
func (s *sock) wakeReader() {
	if s.f != nil {
		s.f.SetReadDeadline(time.Unix(1, 0))
	}
}

// polled is the state of one readPolled call, kept in the Link so that
// the callback handed to RawConn.Read is bound once (a closure per call
// would allocate).
type polled struct {
	s    *sock
	pkts []link.Packet
	n    int
	err  error
	fn   func(uintptr) bool // Link.pollRead
}

// pollRead is the body of one RawConn.Read: it returns false to park until
// the socket is readable (data, or an error the kernel reports with
// EPOLLERR).
func (l *Link) pollRead(uintptr) bool {
	p := &l.r.poll
	var drained bool
	p.n, drained, p.err = l.readSock(p.s, p.pkts)
	// Nothing read and nothing more to read: wait. A failed read (EINTR,
	// a socket error) is retried at once, as is an error queue the writer
	// has flagged meanwhile.
	return p.n > 0 || p.err != nil || !drained || p.s.errPending.Load()
}

// readPolled is ReadBatch for a link whose one socket is in the poller.
func (l *Link) readPolled(s *sock, pkts []link.Packet) (int, error) {
	p := &l.r.poll
	if p.fn == nil {
		p.fn = l.pollRead
	}
	for {
		if l.closed.Load() {
			return 0, link.ErrClosed
		}
		p.s, p.pkts, p.n, p.err = s, pkts, 0, nil
		err := s.rc.Read(p.fn)
		n, rerr := p.n, p.err
		p.s, p.pkts, p.err = nil, nil, nil
		l.r.drained[0] = false
		switch {
		case n > 0 || rerr != nil:
			return n, rerr
		case errors.Is(err, os.ErrDeadlineExceeded):
			// Close, or the writer saw a local error: look again.
			if !l.closed.Load() {
				s.f.SetReadDeadline(time.Time{})
			}
		case err != nil:
			if l.closed.Load() {
				return 0, link.ErrClosed
			}
			return 0, fmt.Errorf("rawip: waiting to read: %w", err)
		}
	}
}
