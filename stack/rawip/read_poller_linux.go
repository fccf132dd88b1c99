//go:build linux

package rawip

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/internal/nbsys"

	"github.com/sctpgw/sctpgw/stack/link"
)

// A link's reader waits in Go's network poller, not in poll(2). poll
// blocks the reader's thread in a system call: each wake-up is then a
// thread wake-up, and the runtime hands the thread's processor to another
// thread while it sleeps, so a packet costs a thread hand-off both ways. In
// the poller the goroutine parks, the thread runs other goroutines (the UDP
// link's reader, the timer goroutine) or waits in the one epoll of the
// process, and a packet wakes the goroutine like any network read.
//
// A link with one socket (one address family served: a gateway that names
// its addresses) hands that socket to the poller. A link with two (IPv4
// and IPv6: a gateway that only dials, as the lab's core does) gathers
// them in an epoll instance of its own, a pollSet, and hands that to the
// poller: an epoll descriptor is readable while one of its sockets is, and
// each packet arriving on either wakes the poller's epoll in turn. Before
// this the two-socket link waited in poll(2), and the lab's core spent a
// thread hand-off per wake-up on it.

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
// Nothing for a socket of a poll set (see pollSet.wakeReader).
func (s *sock) wakeReader() {
	if s.f != nil {
		s.f.SetReadDeadline(time.Unix(1, 0))
	}
}

// polled is the state of one readPolled call, kept in the Link so that
// the callback handed to RawConn.Read is bound once (a closure per call
// would allocate).
type polled struct {
	s     *sock
	pkts  []link.Packet
	n     int
	err   error
	fn    func(uintptr) bool // Link.pollRead
	setFn func(uintptr) bool // Link.setRead
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

// pollSet is an epoll instance holding every socket of a link with more
// than one, itself watched by Go's network poller through f. An event's
// data is the socket's index in Link.socks.
type pollSet struct {
	epfd   int
	f      *os.File // owns epfd
	rc     syscall.RawConn
	events []unix.EpollEvent
}

// openPollSet gathers socks (level-triggered, for input; errors are
// always reported) and hands the set to the network poller.
func openPollSet(socks []*sock) (*pollSet, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("rawip: epoll_create1: %w", err)
	}
	for i, s := range socks {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(i)}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, s.fd, &ev); err != nil {
			unix.Close(epfd)
			return nil, fmt.Errorf("rawip: adding the %s socket to its poll set: %w", s.family, err)
		}
	}
	// The poller takes only a non-blocking descriptor (epoll_create1 has
	// no flag for it); nothing ever reads this one.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("rawip: poll set: %w", err)
	}
	f := os.NewFile(uintptr(epfd), "rawip-pollset")
	if f == nil {
		unix.Close(epfd)
		return nil, errors.New("rawip: poll set: not a valid descriptor")
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("rawip: poll set: %w", err)
	}
	return &pollSet{epfd: epfd, f: f, rc: rc, events: make([]unix.EpollEvent, len(socks))}, nil
}

// wakeReader makes a reader parked on the set look again, as
// sock.wakeReader does; nil-safe.
func (ps *pollSet) wakeReader() {
	if ps != nil {
		ps.f.SetReadDeadline(time.Unix(1, 0))
	}
}

// close closes the epoll descriptor; nil-safe.
func (ps *pollSet) close() error {
	if ps == nil {
		return nil
	}
	if err := ps.f.Close(); err != nil {
		return fmt.Errorf("rawip: closing the poll set: %w", err)
	}
	return nil
}

// setRead is the body of one RawConn.Read on the poll set: it reads the
// sockets not known to be drained; when all are, it asks the set which
// are readable now (without waiting) and reads those, and returns false to
// park when none is.
func (l *Link) setRead(uintptr) bool {
	p := &l.r.poll
	for range 2 {
		n, allDrained, err := l.readReady(p.pkts)
		if p.n, p.err = n, err; n > 0 || err != nil || !allDrained {
			return true
		}
		if !l.markReady() {
			return false
		}
	}
	return true // readable sockets that gave nothing (filtered packets): again
}

// markReady asks the poll set which sockets are readable or have an
// error, marks them not drained, and reports whether there was one.
func (l *Link) markReady() bool {
	ps := l.set
	k, errno := nbsys.EpollReady(ps.epfd, ps.events)
	if errno != 0 {
		// EINTR: look again at once; nothing else is expected of a
		// valid epoll descriptor with a valid buffer.
		return true
	}
	for _, ev := range ps.events[:k] {
		i := int(ev.Fd)
		if i < 0 || i >= len(l.socks) {
			continue
		}
		l.r.drained[i] = false
		if ev.Events&unix.EPOLLERR != 0 {
			l.socks[i].errPending.Store(true)
		}
	}
	return k > 0
}

// readSet is ReadBatch for a link whose sockets are in a poll set.
func (l *Link) readSet(pkts []link.Packet) (int, error) {
	p := &l.r.poll
	if p.setFn == nil {
		p.setFn = l.setRead
	}
	for {
		if l.closed.Load() {
			return 0, link.ErrClosed
		}
		p.pkts, p.n, p.err = pkts, 0, nil
		err := l.set.rc.Read(p.setFn)
		n, rerr := p.n, p.err
		p.pkts, p.err = nil, nil
		switch {
		case n > 0 || rerr != nil:
			return n, rerr
		case errors.Is(err, os.ErrDeadlineExceeded):
			// Close, or the writer saw a local error: look again.
			if !l.closed.Load() {
				l.set.f.SetReadDeadline(time.Time{})
			}
		case err != nil:
			if l.closed.Load() {
				return 0, link.ErrClosed
			}
			return 0, fmt.Errorf("rawip: waiting to read: %w", err)
		}
	}
}
