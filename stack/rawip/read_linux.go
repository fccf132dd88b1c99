//go:build linux

package rawip

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// ipv4HeaderLen is the IPv4 header without options. A raw IPv4 socket
// receives the IP header with the packet; it is scattered into a per-slot
// scratch array so the SCTP packet lands at the start of the caller's buffer.
// Only a header with options costs a move.
const ipv4HeaderLen = 20

// maxErrRun bounds how many reads in a row may fail with an unexpected
// socket error before ReadBatch reports it instead of retrying.
const maxErrRun = 64

// reader holds the syscall arguments for ReadBatch, allocated once.
type reader struct {
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec // two per message: IPv4 header scratch, packet buffer
	ip4   [][ipv4HeaderLen]byte
	names []unix.RawSockaddrInet6
	oob   [][oobRead]byte
	next  int // socket to try first, rotated for fairness
	// drained[i] says socket i's last read left it empty (EAGAIN, or fewer
	// packets than asked for): it is read again only after its poll set
	// reports it readable. Without it every batch cost a read of each
	// socket that returned EAGAIN before the wait: in the lab, three
	// syscalls per batch where one wait and one recvmmsg do.
	drained []bool
	// errRun counts consecutive failed reads.
	errRun int
	// poll is a read in Go's network poller (read_poller_linux.go).
	poll polled

	// One error-queue message at a time: errors are rare.
	ehdr  unix.Msghdr
	eiov  unix.Iovec
	ename unix.RawSockaddrInet6
	eoob  [oobErr]byte
}

func (r *reader) init(batch, socks int) {
	r.drained = make([]bool, socks)
	r.hdrs = make([]unix.Mmsghdr, batch)
	r.iovs = make([]unix.Iovec, 2*batch)
	r.ip4 = make([][ipv4HeaderLen]byte, batch)
	r.names = make([]unix.RawSockaddrInet6, batch)
	r.oob = make([][oobRead]byte, batch)
}

// prepare points message i at buf for a socket of the given family.
func (r *reader) prepare(i int, v6 bool, buf []byte) {
	h := &r.hdrs[i].Hdr
	*h = unix.Msghdr{}
	r.hdrs[i].Len = 0
	data := &r.iovs[2*i+1]
	*data = unix.Iovec{}
	if cap(buf) > 0 {
		buf = buf[:cap(buf)]
		data.Base = &buf[0]
		data.SetLen(len(buf))
	}
	if v6 {
		// The IPv6 socket delivers from the transport header on: the
		// source comes in msg_name, the destination in IPV6_PKTINFO.
		h.Iov = data
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Namelen = unix.SizeofSockaddrInet6
		h.Control = &r.oob[i][0]
		h.SetControllen(oobRead)
		return
	}
	// The IPv4 socket delivers the IP header, which holds both addresses;
	// IP_PKTINFO names the interface, read only for a packet whose CRC32c
	// fails (see localOffload).
	hdr := &r.iovs[2*i]
	hdr.Base = &r.ip4[i][0]
	hdr.SetLen(ipv4HeaderLen)
	h.Iov = hdr
	h.SetIovlen(2)
	h.Control = &r.oob[i][0]
	h.SetControllen(oobRead)
}

// ifindex is the interface message i arrived on, from its IP_PKTINFO or
// IPV6_PKTINFO (0 when absent).
func (r *reader) ifindex(i int, v6 bool) int32 {
	oob := r.oob[i][:r.hdrs[i].Hdr.Controllen]
	for {
		c, rest, ok := nextCmsg(oob)
		if !ok {
			return 0
		}
		switch {
		case !v6 && c.level == unix.IPPROTO_IP && c.typ == unix.IP_PKTINFO && len(c.data) >= 4:
			return int32(binary.NativeEndian.Uint32(c.data[0:4])) // in_pktinfo.ipi_ifindex
		case v6 && c.level == unix.IPPROTO_IPV6 && c.typ == unix.IPV6_PKTINFO && len(c.data) >= 20:
			return int32(binary.NativeEndian.Uint32(c.data[16:20])) // in6_pktinfo.ipi6_ifindex
		}
		oob = rest
	}
}

// ReadBatch blocks until at least one packet or notice is ready, then fills
// pkts from the front and returns how many it filled. Each filled packet's
// Buf is resliced to the SCTP packet (common header onwards). Packets the
// link drops leave their slots behind: ReadBatch may swap whole Packet
// values within pkts, so a caller must not rely on which buffer ends up in
// which slot. It returns link.ErrClosed once Close has been called.
func (l *Link) ReadBatch(pkts []link.Packet) (int, error) {
	if len(pkts) == 0 {
		return 0, nil
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if len(l.socks) == 1 && l.socks[0].rc != nil {
		return l.readPolled(l.socks[0], pkts)
	}
	return l.readSet(pkts)
}

// readReady reads, into pkts, the sockets not known to be drained, first
// the one after the socket first last time (fairness). It returns what it
// read and whether every socket is drained now.
func (l *Link) readReady(pkts []link.Packet) (n int, allDrained bool, err error) {
	r := &l.r
	defer func() { r.next++ }()
	for j := range l.socks {
		k := (r.next + j) % len(l.socks)
		s := l.socks[k]
		if r.drained[k] && !s.errPending.Load() {
			continue
		}
		m, drained, err := l.readSock(s, pkts[n:])
		r.drained[k] = drained
		n += m
		if err != nil || n == len(pkts) {
			return n, false, err
		}
	}
	for k, s := range l.socks {
		if !r.drained[k] || s.errPending.Load() {
			return n, false, nil
		}
	}
	return n, true, nil
}

// readSock reads what socket s has ready without blocking: first its error
// queue if it may hold entries, then one recvmmsg. drained says the socket
// had no more than it returned.
func (l *Link) readSock(s *sock, pkts []link.Packet) (n int, drained bool, err error) {
	if s.errPending.Swap(false) {
		n = l.readErrQueue(s, pkts)
	}
	k := min(len(pkts)-n, l.batch)
	if k == 0 {
		return n, false, nil
	}
	r := &l.r
	for i := range k {
		r.prepare(i, s.v6, pkts[n+i].Buf)
	}
	got, errno := recvmmsg(s.fd, r.hdrs[:k], unix.MSG_DONTWAIT)
	switch errno {
	case 0:
		r.errRun = 0
	case unix.EAGAIN:
		return n, true, nil
	case unix.EINTR:
		return n, false, nil
	default:
		// A pending socket error (sk_err) is returned by the next read:
		// with IP_RECVERR it comes with an error-queue entry, which the
		// next round drains.
		s.errPending.Store(true)
		if r.errRun++; r.errRun > maxErrRun {
			return n, false, fmt.Errorf("rawip: %s socket: receiving: %w", s.family, errno)
		}
		return n, false, nil
	}
	ports := &l.ports
	var kept, filtered, bad uint64
	w := n
	for i := range got {
		p := &pkts[n+i]
		var v verdict
		if s.v6 {
			v = l.parse6(i, p, ports)
		} else {
			v = l.parse4(i, p, ports)
		}
		switch v {
		case keep:
			if n+i != w {
				pkts[w], pkts[n+i] = pkts[n+i], pkts[w]
			}
			w++
			kept++
		case dropFiltered:
			filtered++
		case dropChecksum:
			bad++
		}
	}
	l.nReceived.Add(kept)
	if filtered > 0 {
		l.nFiltered.Add(filtered)
	}
	if bad > 0 {
		l.nChecksum.Add(bad)
	}
	return w, got < k, nil
}

type verdict uint8

const (
	keep verdict = iota
	dropFiltered
	dropChecksum
)

func (l *Link) parse4(i int, p *link.Packet, ports *portSet) verdict {
	r := &l.r
	total := int(r.hdrs[i].Len)
	if r.hdrs[i].Hdr.Flags&unix.MSG_TRUNC != 0 || total < ipv4HeaderLen {
		return dropFiltered
	}
	h := &r.ip4[i]
	ihl := int(h[0]&0x0f) * 4
	if h[0]>>4 != 4 || ihl < ipv4HeaderLen || ihl > total {
		return dropFiltered
	}
	buf := p.Buf[:cap(p.Buf)]
	n := total - ipv4HeaderLen
	if opt := ihl - ipv4HeaderLen; opt > 0 {
		// IP options were scattered into the buffer ahead of the packet.
		copy(buf, buf[opt:n])
		n -= opt
	}
	src := netip.AddrFrom4([4]byte(h[12:16]))
	dst := netip.AddrFrom4([4]byte(h[16:20]))
	v := l.check(p, buf[:n], src, dst, ports, i, false, 0)
	if v == keep {
		// Its only control message walk, for a packet kept (IP_PKTINFO is
		// read only for a failed checksum: ifindex).
		p.Arrived = arrivalTime(r.oob[i][:r.hdrs[i].Hdr.Controllen])
	}
	return v
}

func (l *Link) parse6(i int, p *link.Packet, ports *portSet) verdict {
	r := &l.r
	hdr := &r.hdrs[i]
	if hdr.Hdr.Flags&unix.MSG_TRUNC != 0 || r.names[i].Family != unix.AF_INET6 {
		return dropFiltered
	}
	// One walk of the control messages: the destination and the
	// receive time.
	var dst netip.Addr
	var arrived int64
	oob := r.oob[i][:hdr.Hdr.Controllen]
	for {
		c, rest, ok := nextCmsg(oob)
		if !ok {
			break
		}
		if c.level == unix.IPPROTO_IPV6 && c.typ == unix.IPV6_PKTINFO && len(c.data) >= 16 {
			dst = netip.AddrFrom16([16]byte(c.data[:16]))
		} else if at, ok := timestampOf(c); ok {
			arrived = at
		}
		oob = rest
	}
	if !dst.IsValid() {
		return dropFiltered
	}
	src := netip.AddrFrom16(r.names[i].Addr)
	return l.check(p, p.Buf[:int(hdr.Len)], src, dst, ports, i, true, arrived)
}

// check applies the user-space filter and the checksum to one received
// packet (message i of the batch, the kernel's receive time arrived) and,
// if it is kept, fills p.
func (l *Link) check(p *link.Packet, pkt []byte, src, dst netip.Addr, ports *portSet, i int, v6 bool, arrived int64) verdict {
	if len(pkt) < wire.CommonHeaderLen || !ports.has(binary.BigEndian.Uint16(pkt[2:4])) {
		return dropFiltered
	}
	// RFC 9260 8.4 (1): packets to or from a non-unicast address are
	// discarded. Only the link sees how the IP packet was addressed.
	if !unicast(src) || !unicast(dst) || !l.serves(dst) {
		return dropFiltered
	}
	// RFC 9260 6.8: a packet with an invalid CRC32c is silently discarded,
	// but for one the kernel of this host sent with its CRC left to the
	// device (see localOffload).
	if !wire.VerifyChecksum(pkt) {
		if binary.BigEndian.Uint32(pkt[8:12]) != 0 || !l.offload.local(l.nl, l.r.ifindex(i, v6)) {
			return dropChecksum
		}
		l.nUnchecked.Add(1)
	}
	*p = link.Packet{Path: link.Path{Local: dst, Remote: src}, Buf: pkt, Arrived: arrived}
	return keep
}

func unicast(a netip.Addr) bool {
	return !a.IsUnspecified() && !a.IsMulticast() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

func (l *Link) serves(a netip.Addr) bool {
	if len(l.addrs) == 0 {
		return true
	}
	for _, b := range l.addrs {
		if a == b {
			return true
		}
	}
	return false
}

// readErrQueue turns the entries of s's error queue into notices at the
// front of pkts and returns how many it filled. It stops at an empty queue
// or a full pkts (then leaving errPending set).
func (l *Link) readErrQueue(s *sock, pkts []link.Packet) int {
	r := &l.r
	ports := &l.ports
	n := 0
	var filtered uint64
	for n < len(pkts) {
		p := &pkts[n]
		buf := p.Buf[:cap(p.Buf)]
		r.eiov = unix.Iovec{}
		if len(buf) > 0 {
			r.eiov.Base = &buf[0]
			r.eiov.SetLen(len(buf))
		}
		r.ename = unix.RawSockaddrInet6{}
		r.ehdr = unix.Msghdr{
			Name:    (*byte)(unsafe.Pointer(&r.ename)),
			Namelen: unix.SizeofSockaddrInet6,
			Iov:     &r.eiov,
			Control: &r.eoob[0],
		}
		r.ehdr.SetIovlen(1)
		r.ehdr.SetControllen(oobErr)
		got, errno := recvmsg(s.fd, &r.ehdr, unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			break // EAGAIN: the queue is empty
		}
		e, ok := r.errEntry(s.v6)
		if !ok {
			filtered++
			continue
		}
		notice, ok := classify(s.v6, e)
		if !ok {
			continue // an ICMP message SCTP ignores (RFC 9260 10)
		}
		quoted := buf[:got]
		// The quote starts with our SCTP common header; an error about a
		// packet from a port we do not serve belongs to another stack.
		// Local errors (EMSGSIZE) quote nothing and are ours by definition.
		if e.origin != unix.SO_EE_ORIGIN_LOCAL &&
			(len(quoted) < 4 || !ports.has(binary.BigEndian.Uint16(quoted[0:2]))) {
			filtered++
			continue
		}
		*p = link.Packet{
			Path:   link.Path{Local: e.local, Remote: e.remote},
			Buf:    quoted,
			Notice: notice,
		}
		if notice == link.NoticeFragNeeded {
			p.MTU = int(e.info)
		}
		n++
	}
	if n == len(pkts) {
		s.errPending.Store(true) // there may be more
	}
	if n > 0 {
		l.nNotices.Add(uint64(n))
	}
	if filtered > 0 {
		l.nFiltered.Add(filtered)
	}
	return n
}

// errEntry is what an error-queue message says.
type errEntry struct {
	errno             uint32
	origin, typ, code uint8
	info              uint32 // the MTU for "fragmentation needed" / "packet too big"
	local, remote     netip.Addr
}

// errEntry decodes the message last read into ehdr: sock_extended_err from
// IP(V6)_RECVERR, our address from IP(V6)_PKTINFO (the ICMP message's
// destination), and the quoted packet's destination from msg_name.
func (r *reader) errEntry(v6 bool) (errEntry, bool) {
	var e errEntry
	found := false
	oob := r.eoob[:r.ehdr.Controllen]
	for {
		c, rest, ok := nextCmsg(oob)
		if !ok {
			break
		}
		oob = rest
		switch {
		case (c.level == unix.IPPROTO_IP && c.typ == unix.IP_RECVERR) ||
			(c.level == unix.IPPROTO_IPV6 && c.typ == unix.IPV6_RECVERR):
			if len(c.data) < sizeofSockExtendedErr {
				continue
			}
			e.errno = binary.NativeEndian.Uint32(c.data[0:4])
			e.origin, e.typ, e.code = c.data[4], c.data[5], c.data[6]
			e.info = binary.NativeEndian.Uint32(c.data[8:12])
			found = true
		case c.level == unix.IPPROTO_IP && c.typ == unix.IP_PKTINFO && len(c.data) >= unix.SizeofInet4Pktinfo:
			e.local = netip.AddrFrom4([4]byte(c.data[8:12])) // ipi_addr
		case c.level == unix.IPPROTO_IPV6 && c.typ == unix.IPV6_PKTINFO && len(c.data) >= unix.SizeofInet6Pktinfo:
			e.local = netip.AddrFrom16([16]byte(c.data[0:16]))
		}
	}
	if r.ehdr.Namelen > 0 {
		switch r.ename.Family {
		case unix.AF_INET:
			sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&r.ename))
			e.remote = netip.AddrFrom4(sa.Addr)
		case unix.AF_INET6:
			e.remote = netip.AddrFrom16(r.ename.Addr)
		}
	}
	if v6 {
		e.local, e.remote = e.local.Unmap(), e.remote.Unmap()
	}
	return e, found
}

// sizeofSockExtendedErr is the size of struct sock_extended_err.
const sizeofSockExtendedErr = 16

// ICMP types and codes the link tells apart (RFC 792, RFC 4443).
const (
	icmpDestUnreach     = 3
	icmpCodeProtoUnr    = 2
	icmpCodePortUnr     = 3
	icmpCodeFragNeeded  = 4
	icmp6DestUnreach    = 1
	icmp6CodePortUnr    = 4
	icmp6PacketTooBig   = 2
	icmp6ParamProb      = 4
	icmp6CodeUnrecogNxt = 1
)

// classify maps an error-queue entry to a notice, following RFC 9260
// section 10 (appendix C of RFC 4960): only Destination Unreachable
// (ICMPv4), and Destination Unreachable, Packet Too Big and Parameter
// Problem "unrecognized next header" (ICMPv6) matter (ICMP1, ICMP2, ICMP4),
// and Port Unreachable is ignored (ICMP3). Protocol Unreachable and its
// ICMPv6 counterpart, Parameter Problem "unrecognized next header", are
// NoticeProtoUnreachable (ICMP8: the peer's host has no SCTP); every other
// Destination Unreachable code is NoticeUnreachable. The engine checks the
// quoted tag either way. A local EMSGSIZE
// (our packet exceeded the path MTU the kernel already knows) is
// NoticeFragNeeded with that MTU.
func classify(v6 bool, e errEntry) (link.Notice, bool) {
	switch e.origin {
	case unix.SO_EE_ORIGIN_LOCAL:
		if e.errno == uint32(unix.EMSGSIZE) {
			return link.NoticeFragNeeded, true
		}
	case unix.SO_EE_ORIGIN_ICMP:
		if v6 || e.typ != icmpDestUnreach {
			return link.NoticeNone, false
		}
		switch e.code {
		case icmpCodeFragNeeded:
			return link.NoticeFragNeeded, true
		case icmpCodePortUnr:
			return link.NoticeNone, false
		case icmpCodeProtoUnr:
			return link.NoticeProtoUnreachable, true
		}
		return link.NoticeUnreachable, true
	case unix.SO_EE_ORIGIN_ICMP6:
		if !v6 {
			return link.NoticeNone, false
		}
		switch e.typ {
		case icmp6PacketTooBig:
			return link.NoticeFragNeeded, true
		case icmp6DestUnreach:
			if e.code == icmp6CodePortUnr {
				return link.NoticeNone, false
			}
			return link.NoticeUnreachable, true
		case icmp6ParamProb:
			if e.code == icmp6CodeUnrecogNxt {
				return link.NoticeProtoUnreachable, true
			}
		}
	}
	return link.NoticeNone, false
}
