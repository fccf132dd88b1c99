//go:build linux

package routemtu

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"
)

// Prober holds a UDP socket per address family. Connecting one to a
// destination only looks the route up (a UDP connect sends nothing); the
// socket's IP_MTU is then that route's MTU. Safe for concurrent use.
type Prober struct {
	mu       sync.Mutex
	fd4, fd6 int
}

// Open opens a Prober in the calling thread's network namespace. A host
// without IPv6 gets one for IPv4 only.
func Open() (*Prober, error) {
	p := &Prober{fd4: -1, fd6: -1}
	var err error
	if p.fd4, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
		return nil, fmt.Errorf("routemtu: IPv4 socket: %w", err)
	}
	p.fd6, err = unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		p.fd6 = -1
		if !errors.Is(err, unix.EAFNOSUPPORT) {
			unix.Close(p.fd4)
			return nil, fmt.Errorf("routemtu: IPv6 socket: %w", err)
		}
	}
	return p, nil
}

// discardPort is the port the sockets connect to: any would do, nothing
// is sent.
const discardPort = 9

// MTU returns the IP-level MTU of the route to remote, or 0 when there is
// none (no route, an unspecified or multicast address, a closed Prober).
func (p *Prober) MTU(remote netip.Addr) int {
	if p == nil || !remote.IsValid() || remote.IsUnspecified() || remote.IsMulticast() {
		return 0
	}
	remote = remote.Unmap()
	p.mu.Lock()
	defer p.mu.Unlock()
	if remote.Is4() {
		if p.fd4 < 0 || unix.Connect(p.fd4, &unix.SockaddrInet4{Port: discardPort, Addr: remote.As4()}) != nil {
			return 0
		}
		mtu, err := unix.GetsockoptInt(p.fd4, unix.IPPROTO_IP, unix.IP_MTU)
		if err != nil {
			return 0
		}
		return mtu
	}
	if p.fd6 < 0 || remote.Zone() != "" {
		return 0
	}
	if unix.Connect(p.fd6, &unix.SockaddrInet6{Port: discardPort, Addr: remote.As16()}) != nil {
		return 0
	}
	mtu, err := unix.GetsockoptInt(p.fd6, unix.IPPROTO_IPV6, unix.IPV6_MTU)
	if err != nil {
		return 0
	}
	return mtu
}

// Close releases the sockets; MTU then returns 0.
func (p *Prober) Close() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, fd := range []*int{&p.fd4, &p.fd6} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
	return nil
}
