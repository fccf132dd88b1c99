//go:build linux

package udpencap

import (
	"net"
	"net/netip"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pktinfo returns the destination address from the first IP_PKTINFO or
// IPV6_PKTINFO control message, or the zero Addr.
func (r *rxState) pktinfo(oob []byte) netip.Addr {
	for lvl, typ, data, rest, ok := nextCmsg(oob); ok; lvl, typ, data, rest, ok = nextCmsg(rest) {
		if a := r.pktinfoOf(lvl, typ, data); a.IsValid() {
			return a
		}
	}
	return netip.Addr{}
}

// pktinfoOf is the destination address in one control message if it is an
// IP_PKTINFO or IPV6_PKTINFO, else the zero Addr.
func (r *rxState) pktinfoOf(lvl, typ int32, data []byte) netip.Addr {
	switch {
	case lvl == unix.IPPROTO_IP && typ == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
		pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
		// ipi_addr is the header's destination: the address the peer
		// sent to (ipi_spec_dst is the routing's choice).
		return netip.AddrFrom4(pi.Addr)
	case lvl == unix.IPPROTO_IPV6 && typ == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
		pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
		a := netip.AddrFrom16(pi.Addr).Unmap()
		if a.Is6() && a.IsLinkLocalUnicast() && pi.Ifindex != 0 {
			a = a.WithZone(r.zone(pi.Ifindex))
		}
		return a
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
