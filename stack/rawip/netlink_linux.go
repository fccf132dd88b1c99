//go:build linux

package rawip

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// netlinkConn asks the kernel for the addresses of the network namespace it
// was opened in. A socket keeps its namespace, while a goroutine may run on
// any thread, and threads can be in different namespaces: that is why the
// link keeps its own socket instead of calling net.InterfaceAddrs.
type netlinkConn struct {
	mu  sync.Mutex
	fd  int
	seq uint32
	buf []byte
}

func openNetlink() (*netlinkConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("rawip: opening a netlink socket to list addresses: %w", err)
	}
	// A dump answers within milliseconds; the timeout only keeps a
	// misbehaving kernel from hanging LocalAddrs.
	tv := unix.Timeval{Sec: 2}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("rawip: netlink socket: SO_RCVTIMEO: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("rawip: binding a netlink socket: %w", err)
	}
	return &netlinkConn{fd: fd, buf: make([]byte, 1<<16)}, nil
}

func (c *netlinkConn) close() { unix.Close(c.fd) }

// addrs dumps the namespace's interface addresses (RTM_GETADDR).
func (c *netlinkConn) addrs() ([]netip.Addr, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	// struct nlmsghdr, then struct rtgenmsg asking for every family.
	b := make([]byte, syscall.NLMSG_HDRLEN+syscall.SizeofRtGenmsg)
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:6], syscall.RTM_GETADDR)
	binary.NativeEndian.PutUint16(b[6:8], syscall.NLM_F_DUMP|syscall.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(b[8:12], c.seq)
	b[syscall.NLMSG_HDRLEN] = syscall.AF_UNSPEC
	if err := unix.Sendto(c.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("rawip: netlink RTM_GETADDR: %w", err)
	}
	var out []netip.Addr
	// A dump of a host's addresses takes a few messages; the bound only
	// guards against a reply that never ends.
	for range 1024 {
		n, _, err := unix.Recvfrom(c.fd, c.buf, 0)
		if err != nil {
			return nil, fmt.Errorf("rawip: netlink RTM_GETADDR reply: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(c.buf[:n])
		if err != nil {
			return nil, fmt.Errorf("rawip: parsing a netlink reply: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != c.seq {
				continue
			}
			switch m.Header.Type {
			case syscall.NLMSG_DONE:
				return out, nil
			case syscall.NLMSG_ERROR:
				return nil, fmt.Errorf("rawip: netlink RTM_GETADDR: error reply")
			case syscall.RTM_NEWADDR:
				out = appendIfaddr(out, m)
			}
		}
	}
	return nil, fmt.Errorf("rawip: netlink RTM_GETADDR: reply did not end")
}

func appendIfaddr(out []netip.Addr, m syscall.NetlinkMessage) []netip.Addr {
	attrs, err := syscall.ParseNetlinkRouteAttr(&m)
	if err != nil {
		return out
	}
	// IFA_LOCAL is the address itself on point-to-point links, where
	// IFA_ADDRESS is the peer; elsewhere only IFA_ADDRESS is present.
	var addr, local netip.Addr
	for _, a := range attrs {
		v, ok := netip.AddrFromSlice(a.Value)
		if !ok {
			continue
		}
		switch a.Attr.Type {
		case syscall.IFA_ADDRESS:
			addr = v
		case syscall.IFA_LOCAL:
			local = v
		}
	}
	if local.IsValid() {
		addr = local
	}
	if addr.IsValid() {
		out = append(out, addr)
	}
	return out
}
