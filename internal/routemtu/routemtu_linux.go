//go:build linux

package routemtu

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/stack/link"
)

// Prober holds UDP sockets that only look routes up: connecting one to a
// destination sends nothing, and its IP_MTU is then that route's MTU. The
// kernel picks the route from the socket's bound source address (policy
// routing's `ip rule from`) and its SO_MARK (`ip rule fwmark`), as for the
// link's own packets: one socket per family is left unbound, for paths
// whose source the kernel chooses, and one is bound (IP_FREEBIND) to each
// source asked about, a few at most. Answers are cached for a TTL, so a
// peer that makes the engine ask often (an INIT flood) costs a map lookup
// per question rather than system calls. Safe for concurrent use.
type Prober struct {
	mu       sync.Mutex
	closed   bool
	mark     uint32
	ns       netns // where fd4 and fd6 were opened, and bound ones are
	now      func() time.Time
	cache    *cache
	fd4, fd6 int         // unbound; -1 when the family is missing
	bound    []boundSock // least recently used first, at most maxBound
	probes   int         // questions the kernel answered; for tests
}

// boundSock is a socket bound to one source address.
type boundSock struct {
	local netip.Addr
	fd    int
}

// maxBound bounds the sockets bound to a source address. A link's paths
// leave from its own addresses, a handful; past that the socket least
// recently asked through is closed to make room. A peer can make the
// engine ask from many sources (its packets to many of the host's
// addresses, AnyIP), but then the sources in use keep their sockets,
// which the oldest-opened ones would not.
const maxBound = 16

// Open opens a Prober in the calling thread's network namespace. A host
// without IPv6 gets one for IPv4 only. A Mark needs CAP_NET_ADMIN, as for
// the link's own sockets.
func Open(o Options) (*Prober, error) {
	p := &Prober{fd4: -1, fd6: -1, mark: o.Mark, now: o.Now, cache: newCache(o.TTL, o.Entries)}
	if p.now == nil {
		p.now = time.Now
	}
	var err error
	if p.fd4, err = p.socket(false); err != nil {
		return nil, fmt.Errorf("routemtu: IPv4 socket: %w", err)
	}
	if p.fd6, err = p.socket(true); err != nil {
		p.fd6 = -1
		if !errors.Is(err, unix.EAFNOSUPPORT) {
			unix.Close(p.fd4)
			return nil, fmt.Errorf("routemtu: IPv6 socket: %w", err)
		}
	}
	p.ns = callerNetns()
	return p, nil
}

// socket opens a UDP socket of the family, carrying the Prober's mark.
func (p *Prober) socket(v6 bool) (int, error) {
	family := unix.AF_INET
	if v6 {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if p.mark != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(p.mark)); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("SO_MARK: %w", err)
		}
	}
	return fd, nil
}

// discardPort is the port the sockets connect to: any would do, nothing
// is sent.
const discardPort = 9

// MTU returns the IP-level MTU of the route the kernel takes for a packet
// from path.Local (the kernel's choice of source when it is unset or can
// be no source: probeSource) to path.Remote, with the Prober's mark; 0
// when there is none (no route, an unspecified, multicast or zoned
// remote, a source it cannot bind, a closed Prober).
// The answer may be up to Options.TTL old.
func (p *Prober) MTU(path link.Path) int {
	if p == nil {
		return 0
	}
	remote := path.Remote.Unmap()
	if !remote.IsValid() || remote.IsUnspecified() || remote.IsMulticast() || remote.Zone() != "" {
		return 0
	}
	local := probeSource(path.Local, remote)
	k := cacheKey{local: local, remote: remote}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0
	}
	now := p.now()
	if mtu, ok := p.cache.get(k, now); ok {
		return mtu
	}
	// Failures are cached too: an unroutable source asks once per TTL.
	mtu := p.probe(local, remote)
	p.cache.put(k, mtu, now)
	return mtu
}

// probeSource is the source a probe toward remote (unmapped) is bound to:
// local, unmapped, unless it cannot be a packet's source, when it is unset
// (the kernel's choice). A path's local address is where a peer's packet
// came to, so a peer picks it: an unspecified, multicast or broadcast one
// (RFC 1122 3.2.1.3, RFC 4291 2.7) is no source the kernel routes from. A
// socket bound to one routes as an unbound one (Linux's inet_bind keeps no
// source for a multicast or broadcast address), so the answer is the
// same, but it would take a cache entry and a bound socket of its own.
// A subnet's broadcast address (198.18.7.255 of a /24) is only known to
// the kernel's routing tables and is not recognised here: it is then
// asked about as any other address the host may have (AnyIP), one more
// source among those the bounds of cache and sockets already allow.
func probeSource(local, remote netip.Addr) netip.Addr {
	local = local.Unmap()
	switch {
	case !local.IsValid(), local.IsUnspecified(), local.IsMulticast(), local.Is4() != remote.Is4():
		return netip.Addr{}
	case local.Is4() && local.As4() == [4]byte{255, 255, 255, 255}: // the limited broadcast
		return netip.Addr{}
	}
	return local
}

// probe asks the kernel; p.mu is held.
func (p *Prober) probe(local, remote netip.Addr) int {
	p.probes++
	fd := p.sockFor(local, remote.Is6())
	if fd < 0 {
		return 0
	}
	if remote.Is4() {
		if unix.Connect(fd, &unix.SockaddrInet4{Port: discardPort, Addr: remote.As4()}) != nil {
			return 0
		}
		mtu, err := unix.GetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU)
		if err != nil {
			return 0
		}
		return mtu
	}
	if unix.Connect(fd, &unix.SockaddrInet6{Port: discardPort, Addr: remote.As16()}) != nil {
		return 0
	}
	mtu, err := unix.GetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MTU)
	if err != nil {
		return 0
	}
	return mtu
}

// sockFor returns the socket for a source: the family's unbound one when
// local is unset, else one bound to local, opened on first use. -1 when
// there is none.
func (p *Prober) sockFor(local netip.Addr, v6 bool) int {
	if !local.IsValid() {
		if v6 {
			return p.fd6
		}
		return p.fd4
	}
	for i, b := range p.bound {
		if b.local == local {
			// Now the most recently used: to the end. A cached answer
			// does not count (its hit stays one map lookup): a source
			// needs its socket when its answers expire, not before.
			copy(p.bound[i:], p.bound[i+1:])
			p.bound[len(p.bound)-1] = b
			return b.fd
		}
	}
	fd, err := -1, error(nil)
	if !p.ns.run(func() { fd, err = p.bindTo(local) }) || err != nil {
		return -1
	}
	if len(p.bound) == maxBound { // the least recently used goes
		unix.Close(p.bound[0].fd)
		p.bound = append(p.bound[:0], p.bound[1:]...)
	}
	p.bound = append(p.bound, boundSock{local: local, fd: fd})
	return fd
}

// bindTo opens a socket bound to local, port 0. IP_FREEBIND lets it bind
// to an address the host does not have (yet, or any more: a tentative
// IPv6 address, an interface down): the socket is kept. The kernel routes
// nothing from an address it lacks, though, so the answer is then 0 until
// the address is back.
func (p *Prober) bindTo(local netip.Addr) (int, error) {
	fd, err := p.socket(local.Is6())
	if err != nil {
		return -1, err
	}
	var sa unix.Sockaddr
	if local.Is4() {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_FREEBIND, 1)
		sa = &unix.SockaddrInet4{Addr: local.As4()}
	} else {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_FREEBIND, 1)
		sa = &unix.SockaddrInet6{Addr: local.As16(), ZoneId: scopeID(local.Zone())}
	}
	if err == nil {
		err = unix.Bind(fd, sa)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// scopeID is an IPv6 zone's interface index (udpencap names the zone of a
// link-local address by its interface); 0 when unknown.
func scopeID(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n)
	}
	if ifc, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifc.Index)
	}
	return 0
}

// Close releases the sockets; MTU then returns 0.
func (p *Prober) Close() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, fd := range []*int{&p.fd4, &p.fd6} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
	for _, b := range p.bound {
		unix.Close(b.fd)
	}
	p.bound = nil
	p.ns.close()
	p.ns.fd = -1
	p.cache.clear()
	return nil
}
