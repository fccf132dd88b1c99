//go:build linux

package rawip

import (
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/stack/link"
)

// writer holds the syscall arguments for WriteBatch, allocated once.
type writer struct {
	hdrs   []unix.Mmsghdr
	iovs   []unix.Iovec
	names4 []unix.RawSockaddrInet4
	names6 []unix.RawSockaddrInet6
	oob    [][oobWrite]byte
	pfds   [2]unix.PollFd
}

func (w *writer) init(batch int) {
	w.hdrs = make([]unix.Mmsghdr, batch)
	w.iovs = make([]unix.Iovec, batch)
	w.names4 = make([]unix.RawSockaddrInet4, batch)
	w.names6 = make([]unix.RawSockaddrInet6, batch)
	w.oob = make([][oobWrite]byte, batch)
}

// WriteBatch sends pkts, each to its Path.Remote from its Path.Local, and
// returns how many the kernel took. The packets go out byte for byte: the
// engine has set their CRC32c. A short count comes with an error naming the
// packet that failed; EMSGSIZE means the packet exceeds the path MTU the
// kernel knows, and a NoticeFragNeeded with that MTU follows on ReadBatch.
//
// When Path.Local is unset the source is the only configured address of
// the family, or else the one the kernel's route picks.
func (l *Link) WriteBatch(pkts []link.Packet) (int, error) {
	if len(pkts) == 0 {
		return 0, nil
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	sent := 0
	for sent < len(pkts) {
		if l.closed.Load() {
			return sent, link.ErrClosed
		}
		p := &pkts[sent]
		remote := p.Path.Remote.Unmap()
		if !remote.IsValid() || remote.IsUnspecified() {
			l.nSendErrors.Add(1)
			return sent, fmt.Errorf("rawip: sending on %v: no remote address", p.Path)
		}
		s := l.sockFor(remote)
		if s == nil {
			l.nSendErrors.Add(1)
			return sent, fmt.Errorf("rawip: sending on %v: the link has no %s socket", p.Path, family(remote))
		}
		k, err := l.fill(s, pkts[sent:])
		if err != nil {
			l.nSendErrors.Add(1)
			return sent, err
		}
		var n int
		var errno unix.Errno
		if p.Fragment {
			n, errno = l.sendFragmentable(s)
		} else {
			n, errno = sendmmsg(s.fd, l.w.hdrs[:k], unix.MSG_DONTWAIT)
		}
		if n > 0 {
			// A failure after the first message is reported by the next
			// call, which starts with the message that failed.
			sent += n
			l.nSent.Add(uint64(n))
			continue
		}
		switch errno {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			if err := l.waitWritable(s); err != nil {
				return sent, err
			}
			continue
		case unix.EMSGSIZE:
			s.errPending.Store(true) // the kernel queued a local error with the MTU
			s.wakeReader()           // which a reader in the poller may have slept through
			l.set.wakeReader()
		}
		l.nSendErrors.Add(1)
		return sent, fmt.Errorf("rawip: sending %d bytes on %v: %w", len(p.Buf), p.Path, errno)
	}
	return sent, nil
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// fill prepares messages for the leading packets of pkts that go to the
// family of socket s, at most one batch, and returns how many it prepared.
func (l *Link) fill(s *sock, pkts []link.Packet) (int, error) {
	w := &l.w
	k := 0
	for ; k < len(pkts) && k < l.batch; k++ {
		p := &pkts[k]
		remote := p.Path.Remote.Unmap()
		if !remote.IsValid() || remote.IsUnspecified() || remote.Is4() == s.v6 {
			break
		}
		if k > 0 && (p.Fragment || pkts[0].Fragment) {
			break // a packet to fragment goes in a call of its own
		}
		src := p.Path.Local.Unmap()
		if !src.IsValid() || src.IsUnspecified() {
			src = l.src4
			if s.v6 {
				src = l.src6
			}
		} else if src.Is4() != remote.Is4() {
			if k == 0 {
				return 0, fmt.Errorf("rawip: sending on %v: local and remote address families differ", p.Path)
			}
			break
		}
		h := &w.hdrs[k].Hdr
		*h = unix.Msghdr{}
		w.hdrs[k].Len = 0
		if s.v6 {
			sa := &w.names6[k]
			*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: remote.As16()}
			h.Name = (*byte)(unsafe.Pointer(sa))
			h.Namelen = unix.SizeofSockaddrInet6
		} else {
			sa := &w.names4[k]
			*sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: remote.As4()}
			h.Name = (*byte)(unsafe.Pointer(sa))
			h.Namelen = unix.SizeofSockaddrInet4
		}
		iov := &w.iovs[k]
		*iov = unix.Iovec{}
		if len(p.Buf) > 0 {
			iov.Base = &p.Buf[0]
			iov.SetLen(len(p.Buf))
		}
		h.Iov = iov
		h.SetIovlen(1)
		if src.IsValid() {
			n := putPktinfo(w.oob[k][:], src)
			h.Control = &w.oob[k][0]
			h.SetControllen(n)
		}
	}
	return k, nil
}

// sendFragmentable sends the one prepared message with fragmentation
// allowed: the kernel fragments it at the path MTU it knows, with DF clear on
// IPv4, where routers may fragment it further. The socket's DF setting is
// socket-wide, so it is lifted for this send only; WriteBatch runs on one
// goroutine at a time, so no other send sees it. The packet holds a chunk
// whose TSN is assigned and which cannot be cut again (RFC 9260 6.9).
func (l *Link) sendFragmentable(s *sock) (int, unix.Errno) {
	level, opt, dont, do := unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DONT, unix.IP_PMTUDISC_DO
	if s.v6 {
		level, opt, dont, do = unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_DONT, unix.IPV6_PMTUDISC_DO
	}
	if err := unix.SetsockoptInt(s.fd, level, opt, dont); err != nil {
		// Sent with DF all the same: it fails as before, no worse.
		l.nFragErrors.Add(1)
	}
	n, errno := sendmmsg(s.fd, l.w.hdrs[:1], unix.MSG_DONTWAIT)
	if err := unix.SetsockoptInt(s.fd, level, opt, do); err != nil {
		l.nFragErrors.Add(1)
		l.log.Warn("rawip: cannot set DF again after a fragmentable send", "family", s.family, "err", err)
	}
	if n > 0 {
		l.nFragmented.Add(1)
	}
	return n, errno
}

// waitWritable blocks until s can take more or Close has begun.
func (l *Link) waitWritable(s *sock) error {
	w := &l.w
	w.pfds[0] = unix.PollFd{Fd: int32(l.wake), Events: unix.POLLIN}
	w.pfds[1] = unix.PollFd{Fd: int32(s.fd), Events: unix.POLLOUT}
	if _, err := unix.Poll(w.pfds[:], -1); err != nil && err != unix.EINTR {
		return fmt.Errorf("rawip: waiting to send: %w", err)
	}
	if l.closed.Load() {
		return link.ErrClosed
	}
	return nil
}
