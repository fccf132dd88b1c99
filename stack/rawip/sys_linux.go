//go:build linux

package rawip

import (
	"encoding/binary"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/internal/nbsys"
)

// Control-message sizes. sock_extended_err (16 bytes) is followed by the
// offender's sockaddr (at most a sockaddr_in6, 28 bytes).
var (
	cmsgHdrLen   = unix.CmsgLen(0)
	pktinfo4Size = unix.CmsgSpace(unix.SizeofInet4Pktinfo)
	pktinfo6Size = unix.CmsgSpace(unix.SizeofInet6Pktinfo)
)

const (
	// oobRead holds a received packet's IP_PKTINFO or IPV6_PKTINFO (32 or
	// 40 bytes on 64-bit systems) and its SCM_TIMESTAMPNS (32), with room
	// to spare.
	oobRead = 128
	// oobErr holds IP(V6)_RECVERR and IP(V6)_PKTINFO from the error queue.
	oobErr = 256
	// oobWrite holds one IP_PKTINFO or IPV6_PKTINFO.
	oobWrite = 48
)

// The packet path's system calls cannot block (MSG_DONTWAIT) and go
// through nbsys, which keeps the goroutine's P (see there why).

func recvmmsg(fd int, hdrs []unix.Mmsghdr, flags int) (int, syscall.Errno) {
	return nbsys.Recvmmsg(uintptr(fd), hdrs, flags)
}

func sendmmsg(fd int, hdrs []unix.Mmsghdr, flags int) (int, syscall.Errno) {
	return nbsys.Sendmmsg(uintptr(fd), hdrs, flags)
}

func recvmsg(fd int, hdr *unix.Msghdr, flags int) (int, syscall.Errno) {
	return nbsys.Recvmsg(uintptr(fd), hdr, flags)
}

// attachFilter installs the port filter on a socket; SO_ATTACH_FILTER
// replaces any previous program atomically.
func attachFilter(fd int, v6 bool, kf kernelFilter) error {
	raw, err := filterProgram(!v6, kf.rs)
	if err != nil {
		return err
	}
	ins := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		ins[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	prog := unix.SockFprog{Len: uint16(len(ins)), Filter: &ins[0]}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog)
}

// cmsg is one control message found in a received control buffer.
type cmsg struct {
	level, typ int32
	data       []byte
}

// nextCmsg cuts the first control message off b. It reads the header with
// encoding/binary rather than through an unsafe cast: the buffers are byte
// arrays with no alignment guarantee.
func nextCmsg(b []byte) (cmsg, []byte, bool) {
	if len(b) < cmsgHdrLen {
		return cmsg{}, nil, false
	}
	var l int
	var lvl, typ int32
	if unix.SizeofCmsghdr == 16 {
		l = int(binary.NativeEndian.Uint64(b[0:8]))
		lvl = int32(binary.NativeEndian.Uint32(b[8:12]))
		typ = int32(binary.NativeEndian.Uint32(b[12:16]))
	} else {
		l = int(binary.NativeEndian.Uint32(b[0:4]))
		lvl = int32(binary.NativeEndian.Uint32(b[4:8]))
		typ = int32(binary.NativeEndian.Uint32(b[8:12]))
	}
	if l < cmsgHdrLen || l > len(b) {
		return cmsg{}, nil, false
	}
	c := cmsg{level: lvl, typ: typ, data: b[cmsgHdrLen:l]}
	adv := unix.CmsgSpace(l - cmsgHdrLen)
	if adv > len(b) {
		adv = len(b)
	}
	return c, b[adv:], true
}

// arrivalTime is the time in a received packet's SCM_TIMESTAMPNS control
// message (SO_TIMESTAMPNS: a struct timespec of CLOCK_REALTIME) in
// nanoseconds since the Unix epoch, or zero without one. Only the 64-bit
// timespec is read: on 32-bit systems packets come without a time.
func arrivalTime(oob []byte) int64 {
	for {
		c, rest, ok := nextCmsg(oob)
		if !ok {
			return 0
		}
		if at, ok := timestampOf(c); ok {
			return at
		}
		oob = rest
	}
}

// timestampOf is the time of c if it is an SCM_TIMESTAMPNS (see
// arrivalTime).
func timestampOf(c cmsg) (int64, bool) {
	if c.level != unix.SOL_SOCKET || c.typ != unix.SCM_TIMESTAMPNS || len(c.data) < 16 {
		return 0, false
	}
	sec := int64(binary.NativeEndian.Uint64(c.data[0:8]))
	nsec := int64(binary.NativeEndian.Uint64(c.data[8:16]))
	return sec*1e9 + nsec, true
}

// putCmsg writes a control message header for dataLen bytes of data at the
// start of b and returns the data area.
func putCmsg(b []byte, level, typ int32, dataLen int) []byte {
	l := unix.CmsgLen(dataLen)
	if unix.SizeofCmsghdr == 16 {
		binary.NativeEndian.PutUint64(b[0:8], uint64(l))
		binary.NativeEndian.PutUint32(b[8:12], uint32(level))
		binary.NativeEndian.PutUint32(b[12:16], uint32(typ))
	} else {
		binary.NativeEndian.PutUint32(b[0:4], uint32(l))
		binary.NativeEndian.PutUint32(b[4:8], uint32(level))
		binary.NativeEndian.PutUint32(b[8:12], uint32(typ))
	}
	return b[cmsgHdrLen:l]
}

// putPktinfo writes the control message that sets a packet's source address:
// IP_PKTINFO's ipi_spec_dst (ip(7): "the local source address of the packet")
// or IPV6_PKTINFO's ipi6_addr (RFC 3542 6.1). It returns the bytes used.
func putPktinfo(b []byte, src netip.Addr) int {
	if src.Is4() {
		d := putCmsg(b, unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo)
		clear(d)
		a := src.As4()
		copy(d[4:8], a[:]) // ifindex 0, ipi_spec_dst, ipi_addr unused
		return pktinfo4Size
	}
	d := putCmsg(b, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo)
	clear(d)
	a := src.As16()
	copy(d[0:16], a[:]) // ipi6_addr, ifindex 0: the route decides
	return pktinfo6Size
}
