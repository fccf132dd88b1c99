//go:build linux

package ksock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Socket options of <linux/sctp.h> for multi-homing (RFC 6458 9.1, 9.9:
// sctp_bindx and sctp_connectx are these setsockopts in libsctp).
const (
	optBindxAdd     = 100 // SCTP_SOCKOPT_BINDX_ADD
	optConnectx     = 110 // SCTP_SOCKOPT_CONNECTX
	optGetPeerAddrs = 108 // SCTP_GET_PEER_ADDRS
)

// packAddrs lays addrs out as the packed array of struct sockaddr_in /
// sockaddr_in6 the bindx and connectx options take.
func packAddrs(addrs []netip.AddrPort) []byte {
	var b []byte
	for _, ap := range addrs {
		a := ap.Addr().Unmap()
		if a.Is4() {
			sa := make([]byte, unix.SizeofSockaddrInet4)
			binary.NativeEndian.PutUint16(sa[0:], unix.AF_INET)
			binary.BigEndian.PutUint16(sa[2:], ap.Port())
			v := a.As4()
			copy(sa[4:], v[:])
			b = append(b, sa...)
			continue
		}
		sa := make([]byte, unix.SizeofSockaddrInet6)
		binary.NativeEndian.PutUint16(sa[0:], unix.AF_INET6)
		binary.BigEndian.PutUint16(sa[2:], ap.Port())
		v := a.As16()
		copy(sa[8:], v[:])
		b = append(b, sa...)
	}
	return b
}

// Bindx binds the socket to every one of addrs on port (0: an ephemeral
// one, the same for all), as sctp_bindx(SCTP_BINDX_ADD_ADDR) does: the
// association's INIT lists them.
func (c *Conn) Bindx(addrs []netip.Addr, port uint16) error {
	aps := make([]netip.AddrPort, len(addrs))
	for i, a := range addrs {
		aps[i] = netip.AddrPortFrom(a, port)
	}
	if err := unix.SetsockoptString(c.fd, unix.IPPROTO_SCTP, optBindxAdd, string(packAddrs(aps))); err != nil {
		return fmt.Errorf("ksock: bindx %v: %w", addrs, err)
	}
	return nil
}

// Connectx sets the association up with a peer at several addresses, as
// sctp_connectx does, waiting up to timeout.
func (c *Conn) Connectx(peers []netip.AddrPort, timeout time.Duration) error {
	if err := unix.SetNonblock(c.fd, true); err != nil {
		return err
	}
	defer unix.SetNonblock(c.fd, false)
	err := unix.SetsockoptString(c.fd, unix.IPPROTO_SCTP, optConnectx, string(packAddrs(peers)))
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINPROGRESS) {
		return fmt.Errorf("ksock: connectx %v: %w", peers, err)
	}
	if _, err := c.wait(unix.POLLOUT, time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("ksock: connectx %v: %w", peers, err)
	}
	soerr, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return fmt.Errorf("ksock: connectx %v: SO_ERROR: %w", peers, err)
	}
	if soerr != 0 {
		return fmt.Errorf("ksock: connectx %v: %w", peers, unix.Errno(soerr))
	}
	return nil
}

// PeerAddrs lists the peer's addresses the association knows
// (SCTP_GET_PEER_ADDRS): what the peer's INIT or INIT ACK listed.
func (c *Conn) PeerAddrs() ([]netip.Addr, error) {
	// struct sctp_getaddrs: assoc_id (int32), addr_num (uint32), then the
	// packed addresses.
	buf := make([]byte, 8+8*unix.SizeofSockaddrInet6)
	l := uint32(len(buf))
	if _, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(c.fd), unix.IPPROTO_SCTP, optGetPeerAddrs,
		uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&l)), 0); errno != 0 {
		return nil, fmt.Errorf("ksock: SCTP_GET_PEER_ADDRS: %w", errno)
	}
	n := int(binary.NativeEndian.Uint32(buf[4:]))
	var out []netip.Addr
	for off := 8; len(out) < n && off+2 <= int(l); {
		switch binary.NativeEndian.Uint16(buf[off:]) {
		case unix.AF_INET:
			out = append(out, netip.AddrFrom4([4]byte(buf[off+4:off+8])))
			off += unix.SizeofSockaddrInet4
		case unix.AF_INET6:
			out = append(out, netip.AddrFrom16([16]byte(buf[off+8:off+24])))
			off += unix.SizeofSockaddrInet6
		default:
			return out, fmt.Errorf("ksock: SCTP_GET_PEER_ADDRS: address family %d", binary.NativeEndian.Uint16(buf[off:]))
		}
	}
	return out, nil
}
