//go:build linux

package udpencap

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/internal/nbsys"

	"github.com/sctpgw/sctpgw/stack/link"
)

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
		n, e := nbsys.Recvmsg(fd, &r.eh, unix.MSG_ERRQUEUE)
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
		pkts[m].Arrived = 0 // a notice, not a packet: no receive time
		m++
	}
	return m
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
	icmpDestUnreach   = 3
	icmpProtoUnreach  = 2
	icmpPortUnreach   = 3
	icmpFragNeeded    = 4
	icmp6DestUnreach  = 1
	icmp6PortUnreach  = 4
	icmp6PacketTooBig = 2
	sizeofExtendedErr = int(unsafe.Sizeof(unix.SockExtendedErr{}))
)

// extendedError finds the IP_RECVERR / IPV6_RECVERR control message and
// classifies it; NoticeNone means the report is not delivered, local that
// the kernel refused one of our packets as larger than the interface MTU.
func extendedError(oob []byte) (notice link.Notice, mtu int, local bool) {
	for lvl, typ, data, rest, ok := nextCmsg(oob); ok; lvl, typ, data, rest, ok = nextCmsg(rest) {
		if ((lvl == unix.IPPROTO_IP && typ == unix.IP_RECVERR) ||
			(lvl == unix.IPPROTO_IPV6 && typ == unix.IPV6_RECVERR)) &&
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
	}
	return link.NoticeNone, 0, false
}
