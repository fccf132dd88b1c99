//go:build linux

package rawip

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// localOffload says which interfaces carry packets only between network
// namespaces of this host. The kernel's SCTP leaves the CRC32c to the device
// when the route's device offers SCTP checksum offload (NETIF_F_SCTP_CRC:
// veth, bridges, macvlan, loopback), writing 0 in its place. A real NIC
// fills it in on the way out; between namespaces nothing ever does, and the
// receiving kernel trusts the packet unchecked (CHECKSUM_PARTIAL). A raw
// socket is not told, so without this every packet from a kernel SCTP
// client in a container on this host, connected through a veth or a bridge,
// would fail RFC 9260 6.8's check. A zero CRC32c is therefore taken as "not
// computed" on those interfaces only; from a NIC or a tunnel it is an error
// as before. (usrsctp skips the check on loopback for the same reason.)
type localOffload struct {
	mu    sync.Mutex
	known map[int32]bool // ifindex -> local; bounded, cleared when full
}

// localKinds are the rtnetlink link kinds that only join namespaces of one
// host. Tunnels (vxlan, geneve, gre, ipip) carry packets from other hosts.
var localKinds = map[string]bool{"veth": true, "bridge": true, "macvlan": true, "ipvlan": true}

const maxKnownIfaces = 256

// local reports whether interface ifindex is local, asking the kernel the
// first time. A failed question is not remembered.
func (o *localOffload) local(nl *netlinkConn, ifindex int32) bool {
	if ifindex <= 0 || nl == nil {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if v, ok := o.known[ifindex]; ok {
		return v
	}
	kind, loopback, err := nl.linkKind(ifindex)
	if err != nil {
		return false
	}
	if o.known == nil || len(o.known) >= maxKnownIfaces {
		o.known = map[int32]bool{}
	}
	v := loopback || localKinds[kind]
	o.known[ifindex] = v
	return v
}

// linkKind asks for one interface (RTM_GETLINK) and returns its kind
// (IFLA_INFO_KIND: "veth", "bridge", ...; "" for a physical NIC) and whether
// it is a loopback.
func (c *netlinkConn) linkKind(ifindex int32) (kind string, loopback bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	// struct nlmsghdr, then struct ifinfomsg naming the interface.
	b := make([]byte, syscall.NLMSG_HDRLEN+syscall.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:6], syscall.RTM_GETLINK)
	binary.NativeEndian.PutUint16(b[6:8], syscall.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(b[8:12], c.seq)
	binary.NativeEndian.PutUint32(b[syscall.NLMSG_HDRLEN+4:], uint32(ifindex))
	if err := unix.Sendto(c.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return "", false, fmt.Errorf("rawip: netlink RTM_GETLINK: %w", err)
	}
	for range 16 { // stale replies of an earlier, timed-out question are skipped
		n, _, err := unix.Recvfrom(c.fd, c.buf, 0)
		if err != nil {
			return "", false, fmt.Errorf("rawip: netlink RTM_GETLINK reply: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(c.buf[:n])
		if err != nil {
			return "", false, fmt.Errorf("rawip: parsing a netlink reply: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != c.seq {
				continue
			}
			if m.Header.Type != syscall.RTM_NEWLINK || len(m.Data) < syscall.SizeofIfInfomsg {
				return "", false, fmt.Errorf("rawip: netlink RTM_GETLINK %d: no such interface", ifindex)
			}
			flags := binary.NativeEndian.Uint32(m.Data[8:12])
			return linkInfoKind(&m), flags&syscall.IFF_LOOPBACK != 0, nil
		}
	}
	return "", false, fmt.Errorf("rawip: netlink RTM_GETLINK %d: no reply", ifindex)
}

// linkInfoKind finds IFLA_INFO_KIND inside IFLA_LINKINFO.
func linkInfoKind(m *syscall.NetlinkMessage) string {
	attrs, err := syscall.ParseNetlinkRouteAttr(m)
	if err != nil {
		return ""
	}
	for _, a := range attrs {
		if a.Attr.Type != syscall.IFLA_LINKINFO {
			continue
		}
		for b := a.Value; len(b) >= syscall.SizeofRtAttr; {
			l := int(binary.NativeEndian.Uint16(b[0:2]))
			typ := binary.NativeEndian.Uint16(b[2:4])
			if l < syscall.SizeofRtAttr || l > len(b) {
				return ""
			}
			if typ == unix.IFLA_INFO_KIND {
				return string(bytes.TrimRight(b[syscall.SizeofRtAttr:l], "\x00"))
			}
			b = b[min((l+3)&^3, len(b)):]
		}
	}
	return ""
}
