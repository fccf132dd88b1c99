//go:build linux

package udpencap

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/stack/link"
)

const (
	// rxOOBSize holds the control messages of one received datagram: an
	// IPV6_PKTINFO and, for IPv4 peers of a dual-stack socket, an
	// IP_PKTINFO (40 + 32 bytes on 64-bit systems), with room to spare.
	// A multiple of 8 keeps every slot aligned for a cmsghdr.
	rxOOBSize = 128
	// txOOBSize holds one IP_PKTINFO or IPV6_PKTINFO.
	txOOBSize = 64
	// errOOBSize holds an error queue entry's control messages: the
	// extended error with the offender's address, and a pktinfo.
	errOOBSize = 256
)

// batchIO moves datagrams with recvmmsg and sendmmsg on a real Linux socket,
// reads local addresses from pktinfo control messages and ICMP reports from
// the socket error queue. The rx half belongs to the ReadBatch goroutine, the
// tx half to the WriteBatch goroutine.
type batchIO struct {
	conn  *net.UDPConn
	rc    syscall.RawConn
	v6    bool       // an AF_INET6 socket: IPv4 peers come and go v4-mapped
	bound netip.Addr // bind address when specific: Path.Local without pktinfo
	stats *counters

	// errPending says an ICMP error may wait in the error queue: set when
	// a system call returned an error the kernel derives from ICMP, which
	// it reports once on whichever call comes next, send or receive.
	errPending atomic.Bool
	// tooBig carries packets refused with EMSGSIZE from writer to reader.
	tooBig tooBigQueue
	// gso: the socket sends runs of equal packets as UDP GSO
	// super-datagrams (gso_linux.go); cleared when the kernel refuses one.
	gso atomic.Bool
	// gro: the socket may deliver coalesced datagrams (gro_linux.go).
	gro bool

	rx rxState
	tx txState
}

type rxState struct {
	hs    []unix.Mmsghdr
	iov   []unix.Iovec
	names []unix.RawSockaddrInet6
	oob   []byte
	fn    func(fd uintptr) bool // b.readFD, bound once so Read does not allocate

	// The call in progress.
	pkts []link.Packet
	n    int
	err  error

	// One error queue message at a time: ICMP reports are rare.
	eh    unix.Msghdr
	eiov  unix.Iovec
	ename unix.RawSockaddrInet6
	eoob  []byte

	zones   map[uint32]string // interface index -> zone, for link-local peers
	orphans orphans           // local errors awaiting their packet

	// UDP GRO (gro_linux.go): each kept datagram's segment size, and what
	// a batch had no slot for.
	segs  []int
	carry carry
}

type txState struct {
	hs    []unix.Mmsghdr
	iov   []unix.Iovec
	names []unix.RawSockaddrInet6
	oob   []byte
	fn    func(fd uintptr) bool

	// The batch in progress: messages hs[moff:nmsg] remain to be sent,
	// holding pkts[off:]; message m carries cnt[m] packets (more than one
	// as a UDP GSO super-datagram, gso_linux.go). retried is the packet
	// index already retried after an error (-1: none).
	pkts            []link.Packet
	cnt             []int
	nmsg, moff, off int
	retried         int
	err             error
	noGSO           bool // this batch goes one datagram per packet (see writeBatch)
	// frag says the batch is one packet with link.Packet.Fragment, sent
	// with DF lifted at level fragLevel (IPv4 options govern IPv4 peers
	// even on a dual-stack socket).
	frag      bool
	fragLevel int

	scopes map[string]uint32 // zone -> interface index
}

// newBatchIO prepares uc for batched I/O. It fails only when the socket
// cannot report destination addresses, which replies depend on.
func newBatchIO(uc *net.UDPConn, bound netip.Addr, stats *counters, log *slog.Logger) (packetIO, error) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("udpencap: raw socket: %w", err)
	}
	b := &batchIO{conn: uc, rc: rc, bound: bound, stats: stats}
	var serr error
	err = rc.Control(func(fd uintptr) { serr = b.setup(int(fd), log) })
	if err == nil {
		err = serr
	}
	if err != nil {
		return nil, fmt.Errorf("udpencap: socket options: %w", err)
	}
	b.rx.init()
	b.tx.init()
	b.rx.fn = b.readFD
	b.tx.fn = b.writeFD
	return b, nil
}

// setup sets the socket options the link relies on. Pktinfo is required;
// extended errors and DF are best effort (documented in the package doc).
func (b *batchIO) setup(fd int, log *slog.Logger) error {
	domain, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return fmt.Errorf("SO_DOMAIN: %w", err)
	}
	b.v6 = domain == unix.AF_INET6
	v4 := !b.v6
	if b.v6 {
		only, err := unix.GetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
		v4 = err == nil && only == 0
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1); err != nil {
			return fmt.Errorf("IPV6_RECVPKTINFO: %w", err)
		}
		bestEffort(log, "IPV6_RECVERR", unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVERR, 1))
		// DF always, never fragment locally, ignore the kernel's
		// cached path MTU: SCTP does its own PMTU discovery. Only a
		// packet with link.Packet.Fragment is let through with DF
		// lifted (setFragment).
		bestEffort(log, "IPV6_MTU_DISCOVER", unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_PROBE))
	}
	if v4 {
		// On a dual-stack socket the IPv4 options govern IPv4 traffic:
		// errors about IPv4 peers are queued only with IP_RECVERR.
		err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
		if err != nil && !b.v6 {
			return fmt.Errorf("IP_PKTINFO: %w", err)
		}
		bestEffort(log, "IP_RECVERR", unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVERR, 1))
		bestEffort(log, "IP_MTU_DISCOVER", unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE))
	}
	return nil
}

func bestEffort(log *slog.Logger, opt string, err error) {
	if err != nil {
		log.Debug("udpencap: socket option not set", "option", opt, "err", err)
	}
}

func (r *rxState) init() {
	r.hs = make([]unix.Mmsghdr, maxBatch)
	r.iov = make([]unix.Iovec, maxBatch)
	r.names = make([]unix.RawSockaddrInet6, maxBatch)
	r.oob = make([]byte, maxBatch*rxOOBSize)
	for i := range r.hs {
		h := &r.hs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Iov = &r.iov[i]
		h.SetIovlen(1)
		h.Control = &r.oob[i*rxOOBSize]
	}
	r.eoob = make([]byte, errOOBSize)
	r.eh.Name = (*byte)(unsafe.Pointer(&r.ename))
	r.eh.Iov = &r.eiov
	r.eh.SetIovlen(1)
	r.eh.Control = &r.eoob[0]
	r.zones = make(map[uint32]string)
	r.segs = make([]int, maxBatch)
}

func (t *txState) init() {
	t.hs = make([]unix.Mmsghdr, maxBatch)
	t.iov = make([]unix.Iovec, maxBatch)
	t.names = make([]unix.RawSockaddrInet6, maxBatch)
	t.oob = make([]byte, maxBatch*txOOBSize)
	t.cnt = make([]int, maxBatch)
	for i := range t.hs {
		h := &t.hs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&t.names[i]))
		h.Iov = &t.iov[i]
		h.SetIovlen(1)
	}
	t.scopes = make(map[string]uint32)
}

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
		n, errno := mmsg(fd, unix.SYS_RECVMMSG, r.hs[:k])
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
		oob := r.oob[i*rxOOBSize : i*rxOOBSize+int(h.Hdr.Controllen)]
		local := r.pktinfo(oob)
		if !local.IsValid() {
			local = b.bound
		}
		r.segs[m] = 0
		if b.gro {
			if seg := groSize(oob); seg > 0 && int(h.Len) > seg {
				r.segs[m] = seg
				coalesced = true
			}
		}
		if m != i {
			pkts[m].Buf, pkts[i].Buf = pkts[i].Buf, pkts[m].Buf
		}
		p := &pkts[m]
		p.Buf = p.Buf[:h.Len]
		p.Path = link.Path{Local: local, Remote: remote, RemotePort: port}
		p.Notice, p.MTU = link.NoticeNone, 0
		m++
	}
	if coalesced {
		return b.expand(pkts, m, r.segs[:m])
	}
	return m
}

// readErrQueue turns queued ICMP reports into notices, up to len(pkts).
func (b *batchIO) readErrQueue(fd uintptr, pkts []link.Packet) int {
	r := &b.rx
	m := b.pairOrphans(pkts)
	for m < len(pkts) {
		buf := pkts[m].Buf[:cap(pkts[m].Buf)]
		r.eiov.Base = &buf[0]
		r.eiov.SetLen(len(buf))
		r.eh.Namelen = unix.SizeofSockaddrInet6
		r.eh.SetControllen(len(r.eoob))
		r.eh.Flags = 0
		n, _, e := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&r.eh)), unix.MSG_ERRQUEUE)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return m // EAGAIN: the queue is empty
		}
		oob := r.eoob[:r.eh.Controllen]
		notice, mtu, local := extendedError(oob)
		if notice == link.NoticeNone {
			continue
		}
		remote, port := r.sockaddr(&r.ename)
		if !remote.IsValid() {
			continue
		}
		if local {
			if e, ok := b.tooBig.take(remote); ok {
				e.notice(&pkts[m], mtu)
				m++
			} else {
				r.orphans.add(remote, mtu)
			}
			continue
		}
		src := r.pktinfo(oob)
		if !src.IsValid() {
			src = b.bound
		}
		pkts[m].Buf = buf[:n]
		pkts[m].Path = link.Path{Local: src, Remote: remote, RemotePort: port}
		pkts[m].Notice, pkts[m].MTU = notice, mtu
		m++
	}
	return m
}

func (b *batchIO) writeBatch(pkts []link.Packet) (int, error) {
	t := &b.tx
	sent := 0
	t.noGSO = false
	for sent < len(pkts) {
		end := fragmentRun(pkts, sent, min(len(pkts), sent+maxBatch))
		k, perr := b.prepare(pkts[sent:end])
		if k > 0 {
			t.pkts, t.moff, t.off, t.retried, t.err = pkts[sent:sent+k], 0, 0, -1, nil
			t.frag, t.fragLevel = pkts[sent].Fragment, unix.IPPROTO_IP
			if b.v6 && !pkts[sent].Path.Remote.Unmap().Is4() {
				t.fragLevel = unix.IPPROTO_IPV6
			}
			err := b.rc.Write(t.fn)
			t.pkts = nil
			sent += t.off
			if err != nil {
				return sent, err
			}
			if t.err == errGSORefused {
				// Sent again one datagram per packet, from the
				// super-datagram the kernel refused.
				t.noGSO = true
				continue
			}
			if t.err != nil {
				if t.err == unix.EMSGSIZE {
					b.wakeReader()
				}
				return sent, t.err
			}
		}
		if perr != nil {
			return sent, perr
		}
	}
	return sent, nil
}

// fragmentRun cuts pkts[sent:end] short so that a packet with Fragment goes
// in a system call of its own: DF is a socket option, not a per-datagram one.
func fragmentRun(pkts []link.Packet, sent, end int) int {
	if pkts[sent].Fragment {
		return sent + 1
	}
	for i := sent + 1; i < end; i++ {
		if pkts[i].Fragment {
			return i
		}
	}
	return end
}

// setFragment lifts DF on fd for a packet with link.Packet.Fragment (on) or
// puts it back (off). Such a packet carries a chunk cut for an MTU that has
// since dropped, whose TSN is assigned: RFC 9260 6.9 forbids cutting it
// again and has IP fragment it. PMTUDISC_DONT makes the kernel fragment it
// at the path MTU it learnt from ICMP, with DF clear on IPv4. A failure
// leaves DF set: the packet goes as it did before, no worse.
func (b *batchIO) setFragment(fd uintptr, level int, on bool) {
	opt, dont, probe := unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DONT, unix.IP_PMTUDISC_PROBE
	if level == unix.IPPROTO_IPV6 {
		opt, dont, probe = unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_DONT, unix.IPV6_PMTUDISC_PROBE
	}
	val := probe
	if on {
		val = dont
	}
	if err := unix.SetsockoptInt(int(fd), level, opt, val); err != nil {
		b.stats.txFragErrors.Add(1)
	}
}

// prepare fills the send headers for pkts, one message per packet or per
// run of packets sent as one UDP GSO super-datagram (gsoRun), and returns
// how many packets are ready; an error is about pkts[k].
func (b *batchIO) prepare(pkts []link.Packet) (int, error) {
	t := &b.tx
	t.nmsg = 0
	gso := !t.noGSO && b.gso.Load()
	for i := 0; i < len(pkts); {
		p := &pkts[i]
		if err := checkPath(p.Path); err != nil {
			return i, err
		}
		n := 1
		if gso {
			n = gsoRun(pkts, i)
		}
		m := t.nmsg
		h := &t.hs[m].Hdr
		remote := p.Path.Remote.Unmap()
		if b.v6 {
			sa := &t.names[m]
			*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: remote.As16()}
			if z := remote.Zone(); z != "" {
				sa.Scope_id = t.scope(z)
			}
			putPort(&sa.Port, p.Path.RemotePort)
			h.Namelen = unix.SizeofSockaddrInet6
		} else {
			if !remote.Is4() {
				return i, fmt.Errorf("%w: IPv6 peer on an IPv4 socket", errBadPath)
			}
			sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&t.names[m]))
			*sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: remote.As4()}
			putPort(&sa.Port, p.Path.RemotePort)
			h.Namelen = unix.SizeofSockaddrInet4
		}
		for j := i; j < i+n; j++ {
			if len(pkts[j].Buf) == 0 {
				t.iov[j].Base = nil
			} else {
				t.iov[j].Base = &pkts[j].Buf[0]
			}
			t.iov[j].SetLen(len(pkts[j].Buf))
		}
		h.Iov = &t.iov[i]
		h.SetIovlen(n)
		oob := t.oob[m*txOOBSize : (m+1)*txOOBSize]
		c, err := b.sourceControl(oob, p.Path.Local)
		if err != nil {
			return i, err
		}
		if n > 1 {
			c += putSegment(oob[c:], len(p.Buf))
		}
		if c == 0 {
			h.Control = nil
		} else {
			h.Control = &oob[0]
		}
		h.SetControllen(c)
		t.cnt[m] = n
		t.nmsg++
		i += n
	}
	return len(pkts), nil
}

// sourceControl writes the pktinfo control message that makes the kernel
// send from local, and returns its length; 0 when the kernel chooses.
func (b *batchIO) sourceControl(oob []byte, local netip.Addr) (int, error) {
	if !local.IsValid() || local.IsUnspecified() {
		return 0, nil
	}
	local = local.Unmap()
	ch := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	data := unsafe.Pointer(&oob[unix.CmsgLen(0)])
	if b.v6 {
		ch.Level, ch.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
		ch.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
		pi := (*unix.Inet6Pktinfo)(data)
		*pi = unix.Inet6Pktinfo{Addr: local.As16()}
		if z := local.Zone(); z != "" {
			pi.Ifindex = b.tx.scope(z)
		}
		return unix.CmsgSpace(unix.SizeofInet6Pktinfo), nil
	}
	if !local.Is4() {
		return 0, fmt.Errorf("%w: IPv6 source on an IPv4 socket", errBadPath)
	}
	ch.Level, ch.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
	ch.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
	*(*unix.Inet4Pktinfo)(data) = unix.Inet4Pktinfo{Spec_dst: local.As4()}
	return unix.CmsgSpace(unix.SizeofInet4Pktinfo), nil
}

// writeFD is the body of one RawConn.Write: it returns false to wait until
// the socket is writable.
func (b *batchIO) writeFD(fd uintptr) bool {
	t := &b.tx
	for t.moff < t.nmsg {
		if t.frag {
			b.setFragment(fd, t.fragLevel, true)
		}
		n, errno := mmsg(fd, unix.SYS_SENDMMSG, t.hs[t.moff:t.nmsg])
		if t.frag {
			b.setFragment(fd, t.fragLevel, false)
			if errno == 0 {
				b.stats.txFragmented.Add(1)
			}
		}
		switch {
		case errno == 0:
			for _, c := range t.cnt[t.moff : t.moff+n] {
				t.off += c
				if c > 1 {
					b.stats.txGSO.Add(uint64(c))
				}
			}
			t.moff += n
		case errno == unix.EINTR:
		case errno == unix.EAGAIN:
			return false
		case t.cnt[t.moff] > 1 && b.gsoRefused(errno):
			t.err = errGSORefused
			return true
		default:
			if icmpErrno(errno) {
				b.errPending.Store(true)
				if errno != unix.EMSGSIZE {
					// The reader may sleep with the report queued:
					// it reads the error queue only when told.
					b.wakeReader()
				}
				// The error may be an earlier ICMP report about
				// another peer, which the kernel hands to the next
				// call whatever it is; the retry tells.
				if t.retried != t.off {
					t.retried = t.off
					continue
				}
			}
			if errno == unix.EMSGSIZE {
				// Larger than the interface MTU: let the reader
				// pair it with the kernel's MTU report.
				p := &t.pkts[t.off]
				b.tooBig.push(p.Path, p.Buf)
				b.errPending.Store(true)
			}
			t.err = errno
			return true
		}
	}
	return true
}

// wakeReader makes a ReadBatch blocked in the poller look at errPending
// again: the kernel's local error may have been read, unpaired, before the
// writer handed over the packet, and nothing else would wake the reader on
// an idle socket. A read deadline in the past is Go's one way to wake a
// blocked reader without closing the socket.
func (b *batchIO) wakeReader() {
	b.conn.SetReadDeadline(time.Unix(1, 0))
}

// mmsg runs recvmmsg or sendmmsg on hs.
func mmsg(fd, trap uintptr, hs []unix.Mmsghdr) (int, unix.Errno) {
	r, _, e := unix.Syscall6(trap, fd, uintptr(unsafe.Pointer(&hs[0])), uintptr(len(hs)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}

// icmpErrno reports whether the kernel makes e out of an ICMP or ICMPv6
// error (icmp_err_convert, icmpv6_err_convert) and so may report it on an
// unrelated call of an IP_RECVERR socket.
func icmpErrno(e unix.Errno) bool {
	switch e {
	case unix.ECONNREFUSED, unix.EHOSTUNREACH, unix.ENETUNREACH, unix.EHOSTDOWN,
		unix.ENONET, unix.ENOPROTOOPT, unix.EMSGSIZE, unix.EOPNOTSUPP, unix.EACCES,
		unix.EPROTO:
		return true
	}
	return false
}

// ICMP types and codes the link turns into notices (RFC 792, RFC 4443).
const (
	icmpDestUnreach    = 3
	icmpProtoUnreach   = 2
	icmpPortUnreach    = 3
	icmpFragNeeded     = 4
	icmp6DestUnreach   = 1
	icmp6PortUnreach   = 4
	icmp6PacketTooBig  = 2
	sizeofExtendedErr  = int(unsafe.Sizeof(unix.SockExtendedErr{}))
	cmsgHeaderLenBytes = unix.SizeofCmsghdr
)

// extendedError finds the IP_RECVERR / IPV6_RECVERR control message and
// classifies it; NoticeNone means the report is not delivered, local that
// the kernel refused one of our packets as larger than the interface MTU.
func extendedError(oob []byte) (notice link.Notice, mtu int, local bool) {
	for len(oob) >= cmsgHeaderLenBytes {
		ch := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(ch.Len)
		if l < cmsgHeaderLenBytes || l > len(oob) {
			break
		}
		data := oob[unix.CmsgLen(0):l]
		if ((ch.Level == unix.IPPROTO_IP && ch.Type == unix.IP_RECVERR) ||
			(ch.Level == unix.IPPROTO_IPV6 && ch.Type == unix.IPV6_RECVERR)) &&
			len(data) >= sizeofExtendedErr {
			ee := (*unix.SockExtendedErr)(unsafe.Pointer(&data[0]))
			switch {
			case ee.Origin == unix.SO_EE_ORIGIN_LOCAL && ee.Errno == uint32(unix.EMSGSIZE):
				return link.NoticeFragNeeded, int(ee.Info), true
			case ee.Origin == unix.SO_EE_ORIGIN_ICMP && ee.Type == icmpDestUnreach && ee.Code == icmpFragNeeded,
				ee.Origin == unix.SO_EE_ORIGIN_ICMP6 && ee.Type == icmp6PacketTooBig:
				return link.NoticeFragNeeded, int(ee.Info), false
			case ee.Origin == unix.SO_EE_ORIGIN_ICMP && ee.Type == icmpDestUnreach && (ee.Code == icmpPortUnreach || ee.Code == icmpProtoUnreach),
				ee.Origin == unix.SO_EE_ORIGIN_ICMP6 && ee.Type == icmp6DestUnreach && ee.Code == icmp6PortUnreach:
				// Nothing listens there: RFC 6951 5.5 treats a port
				// unreachable as SCTP's protocol unreachable.
				return link.NoticeProtoUnreachable, 0, false
			case ee.Origin == unix.SO_EE_ORIGIN_ICMP && ee.Type == icmpDestUnreach,
				ee.Origin == unix.SO_EE_ORIGIN_ICMP6 && ee.Type == icmp6DestUnreach:
				return link.NoticeUnreachable, 0, false
			}
			// Time exceeded, parameter problems, other local errors.
			return link.NoticeNone, 0, false
		}
		oob = oob[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(oob)):]
	}
	return link.NoticeNone, 0, false
}

// pktinfo returns the destination address from an IP_PKTINFO or
// IPV6_PKTINFO control message, or the zero Addr.
func (r *rxState) pktinfo(oob []byte) netip.Addr {
	for len(oob) >= cmsgHeaderLenBytes {
		ch := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(ch.Len)
		if l < cmsgHeaderLenBytes || l > len(oob) {
			break
		}
		data := oob[unix.CmsgLen(0):l]
		switch {
		case ch.Level == unix.IPPROTO_IP && ch.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
			// ipi_addr is the header's destination: the address the
			// peer sent to (ipi_spec_dst is the routing's choice).
			return netip.AddrFrom4(pi.Addr)
		case ch.Level == unix.IPPROTO_IPV6 && ch.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
			a := netip.AddrFrom16(pi.Addr).Unmap()
			if a.Is6() && a.IsLinkLocalUnicast() && pi.Ifindex != 0 {
				a = a.WithZone(r.zone(pi.Ifindex))
			}
			return a
		}
		oob = oob[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(oob)):]
	}
	return netip.Addr{}
}

// sockaddr decodes a peer address; IPv4-mapped addresses come back as IPv4.
func (r *rxState) sockaddr(sa *unix.RawSockaddrInet6) (netip.Addr, uint16) {
	switch sa.Family {
	case unix.AF_INET:
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrFrom4(s4.Addr), getPort(&s4.Port)
	case unix.AF_INET6:
		a := netip.AddrFrom16(sa.Addr).Unmap()
		if a.Is6() && sa.Scope_id != 0 {
			a = a.WithZone(r.zone(sa.Scope_id))
		}
		return a, getPort(&sa.Port)
	}
	return netip.Addr{}, 0
}

// zone names interface index i, cached: link-local peers are rare but each
// of their packets needs it.
func (r *rxState) zone(i uint32) string {
	if z, ok := r.zones[i]; ok {
		return z
	}
	z := strconv.FormatUint(uint64(i), 10)
	if ifc, err := net.InterfaceByIndex(int(i)); err == nil {
		z = ifc.Name
	}
	r.zones[i] = z
	return z
}

// scope is zone's interface index, cached.
func (t *txState) scope(zone string) uint32 {
	if i, ok := t.scopes[zone]; ok {
		return i
	}
	var i uint32
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		i = uint32(n)
	} else if ifc, err := net.InterfaceByName(zone); err == nil {
		i = uint32(ifc.Index)
	}
	t.scopes[zone] = i
	return i
}

// Ports in sockaddrs are in network byte order whatever the host's.
func getPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// setBuffersForced sets the socket buffers and, where the kernel capped a
// size at its rmem_max / wmem_max, forces it when the process may
// (CAP_NET_ADMIN); a size still capped is logged, since it costs drops
// under bursts.
func setBuffersForced(uc *net.UDPConn, rd, wr int, log *slog.Logger) error {
	rc, err := uc.SyscallConn()
	if err != nil {
		return fmt.Errorf("udpencap: raw socket: %w", err)
	}
	for _, b := range []struct {
		size       int
		set        func(int) error
		opt, force int
		name       string
	}{
		{rd, uc.SetReadBuffer, unix.SO_RCVBUF, unix.SO_RCVBUFFORCE, "read buffer"},
		{wr, uc.SetWriteBuffer, unix.SO_SNDBUF, unix.SO_SNDBUFFORCE, "write buffer"},
	} {
		if b.size <= 0 {
			continue
		}
		if err := b.set(b.size); err != nil {
			return fmt.Errorf("udpencap: %s %d: %w", b.name, b.size, err)
		}
		var got int
		rc.Control(func(fd uintptr) {
			// Linux reports double the size asked for (bookkeeping).
			got, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, b.opt)
			if got < 2*b.size && unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, b.force, b.size) == nil {
				got, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, b.opt)
			}
		})
		if got < 2*b.size {
			log.Warn("udpencap: socket buffer capped by the system (raise net.core.rmem_max / wmem_max)",
				"buffer", b.name, "asked", b.size, "got", got/2)
		}
	}
	return nil
}
