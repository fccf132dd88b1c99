//go:build linux

package udpencap

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/internal/nbsys"

	"github.com/sctpgw/sctpgw/stack/link"
)

func (b *batchIO) readBatch(pkts []link.Packet) (int, error) {
	r := &b.rx
	if len(pkts) > maxBatch {
		pkts = pkts[:maxBatch]
	}
	if r.carry.pending() {
		// The rest of a coalesced datagram, before anything newer.
		if n := r.carry.deliver(pkts, b.stats); n > 0 {
			return n, nil
		}
	}
	r.pkts, r.n, r.err = pkts, 0, nil
	err := b.rc.Read(r.fn)
	for errors.Is(err, os.ErrDeadlineExceeded) {
		// The writer's wake-up (wakeReader); errPending is already set.
		if err := b.conn.SetReadDeadline(time.Time{}); err != nil {
			return 0, err
		}
		err = b.rc.Read(r.fn)
	}
	n, rerr := r.n, r.err
	r.pkts, r.err = nil, nil
	if err != nil {
		return 0, err
	}
	if rerr != nil {
		return 0, rerr
	}
	return n, nil
}

// readFD is the body of one RawConn.Read: it returns false to wait until
// the socket is readable.
func (b *batchIO) readFD(fd uintptr) bool {
	r := &b.rx
	for {
		if b.errPending.Load() {
			b.errPending.Store(false)
			if n := b.readErrQueue(fd, r.pkts); n > 0 {
				r.n = n
				return true
			}
		}
		k := len(r.pkts)
		for i := 0; i < k; i++ {
			buf := r.pkts[i].Buf[:cap(r.pkts[i].Buf)]
			r.iov[i].Base = &buf[0]
			r.iov[i].SetLen(len(buf))
			h := &r.hs[i].Hdr
			h.Namelen = unix.SizeofSockaddrInet6
			h.SetControllen(rxOOBSize)
			h.Flags = 0
		}
		n, errno := nbsys.Recvmmsg(fd, r.hs[:k], 0)
		switch {
		case errno == 0:
			if m := b.unpack(r.pkts, n); m > 0 {
				r.n = m
				return true
			}
		case errno == unix.EINTR:
		case errno == unix.EAGAIN:
			// Drained. No error-queue read before sleeping: every ICMP
			// report the kernel queues also sets the socket error, which
			// the next receive or send returns (icmpErrno); a receive
			// sets errPending itself, a send sets it and wakes this
			// reader (wakeReader). One system call less per sleep.
			if b.errPending.Load() {
				continue
			}
			return false
		case icmpErrno(errno):
			// A pending ICMP error, reported (and cleared) here
			// instead of the datagrams behind it.
			b.errPending.Store(true)
		default:
			r.err = errno
			return true
		}
	}
}

// unpack turns the first n received messages into packets, dropping
// truncated ones, and returns how many packets it filled. Buffers move to
// keep the filled packets at the front.
func (b *batchIO) unpack(pkts []link.Packet, n int) int {
	r := &b.rx
	m := 0
	coalesced := false
	for i := 0; i < n; i++ {
		h := &r.hs[i]
		if h.Hdr.Flags&unix.MSG_TRUNC != 0 {
			b.stats.rxTruncated.Add(1)
			continue
		}
		remote, port := r.sockaddr(&r.names[i])
		if !remote.IsValid() {
			continue
		}
		// One pass over the control messages: the destination, GRO's
		// segment size, the receive time.
		ctl := r.control(r.oob[i*rxOOBSize : i*rxOOBSize+int(h.Hdr.Controllen)])
		local := ctl.local
		if !local.IsValid() {
			local = b.bound
		}
		r.segs[m] = 0
		if b.gro && ctl.seg > 0 && int(h.Len) > ctl.seg {
			r.segs[m] = ctl.seg
			coalesced = true
		}
		if m != i {
			pkts[m].Buf, pkts[i].Buf = pkts[i].Buf, pkts[m].Buf
		}
		p := &pkts[m]
		p.Buf = p.Buf[:h.Len]
		p.Path = link.Path{Local: local, Remote: remote, RemotePort: port}
		p.Notice, p.MTU = link.NoticeNone, 0
		p.Arrived = ctl.arrived
		m++
	}
	if coalesced {
		return b.expand(pkts, m, r.segs[:m])
	}
	return m
}

// wakeReader makes a ReadBatch blocked in the poller look at errPending
// again: the kernel's local error may have been read, unpaired, before the
// writer handed over the packet, and nothing else would wake the reader on
// an idle socket. A read deadline in the past is Go's one way to wake a
// blocked reader without closing the socket.
func (b *batchIO) wakeReader() {
	b.conn.SetReadDeadline(time.Unix(1, 0))
}
