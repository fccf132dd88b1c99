//go:build linux

package rawip

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/internal/routemtu"
	"github.com/sctpgw/sctpgw/stack/link"
)

// sock is one raw socket of protocol 132.
type sock struct {
	fd     int
	v6     bool
	family string
	// errPending says the error queue may hold entries: poll reported
	// POLLERR, a read returned a socket error, or a send failed with
	// EMSGSIZE. The reader drains the queue before reading data.
	errPending atomic.Bool
	// f and rc, when set, hand the descriptor to Go's network poller
	// (read_poller_linux.go): the link's only socket. f owns the
	// descriptor then. The sockets of a two-socket link are in its
	// pollSet instead.
	f  *os.File
	rc syscall.RawConn
}

// Link is a native SCTP link over raw IPv4 and IPv6 sockets. It implements
// link.Link.
type Link struct {
	log   *slog.Logger
	batch int
	socks []*sock // v4 first, then v6; fixed after Listen
	v4    *sock
	v6    *sock
	// wake is an eventfd that becomes readable, and stays so, when Close
	// begins; a writer's poll includes it, so Close unblocks writers.
	wake int
	// set gathers the sockets of a link with more than one (IPv4 and
	// IPv6) for Go's network poller (read_poller_linux.go).
	set *pollSet
	nl  *netlinkConn
	mtu *routemtu.Prober // MTUHint's; opened here, so in the link's namespace

	addrs      []netip.Addr // served addresses; empty: all
	src4, src6 netip.Addr   // source when Path.Local is unset: the only configured address of its family

	// mu is held shared around every use of the file descriptors and
	// exclusively by Close to close them, so a descriptor number is never
	// used after it may have been reused.
	mu     sync.RWMutex
	closed atomic.Bool

	portMu sync.Mutex // serialises port changes
	ports  portSet
	kf     kernelFilter // what the sockets' kernel filters admit; under portMu

	nReceived, nNotices, nChecksum, nFiltered, nSent, nSendErrors atomic.Uint64
	nFragmented, nFragErrors, nUnchecked                          atomic.Uint64

	offload localOffload

	r reader
	w writer
}

var _ link.Link = (*Link)(nil)

// Listen opens the raw sockets described by cfg. It fails with a
// *PermissionError when the process lacks CAP_NET_RAW.
//
// The sockets belong to the network namespace of the calling thread.
func Listen(cfg Config) (*Link, error) {
	l := &Link{log: cfg.Logger, batch: cfg.Batch, wake: -1}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.batch <= 0 {
		l.batch = defaultBatch
	}
	want4, want6 := len(cfg.Addrs) == 0, len(cfg.Addrs) == 0
	for _, a := range cfg.Addrs {
		a = a.Unmap()
		if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() {
			return nil, fmt.Errorf("rawip: local address %v: want a unicast address (leave Addrs empty for all)", a)
		}
		if a.Zone() != "" {
			return nil, fmt.Errorf("rawip: local address %v: zoned addresses are not supported", a)
		}
		if !slices.Contains(l.addrs, a) {
			l.addrs = append(l.addrs, a)
		}
		if a.Is4() {
			want4 = true
		} else {
			want6 = true
		}
	}
	l.src4, l.src6 = onlyAddr(l.addrs, true), onlyAddr(l.addrs, false)
	for _, p := range cfg.Ports {
		l.ports.set(p, true)
	}
	l.kf = coverFilter(l.ports.list(), maxKernelRanges)

	ok := false
	defer func() {
		if !ok {
			l.release()
		}
	}()
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("rawip: eventfd: %w", err)
	}
	l.wake = fd
	if want4 {
		if l.v4, err = l.openSock(false, cfg); err != nil {
			return nil, err
		}
		l.socks = append(l.socks, l.v4)
	}
	if want6 {
		l.v6, err = l.openSock(true, cfg)
		switch {
		case err == nil:
			l.socks = append(l.socks, l.v6)
		case len(cfg.Addrs) == 0 && errors.Is(err, unix.EAFNOSUPPORT):
			l.log.Warn("rawip: no IPv6 on this host; serving IPv4 only", "err", err)
		default:
			return nil, err
		}
	}
	if l.nl, err = openNetlink(); err != nil {
		return nil, err
	}
	if l.mtu, err = routemtu.Open(routemtu.Options{Mark: cfg.Mark}); err != nil {
		return nil, fmt.Errorf("rawip: %w", err)
	}
	l.warnForeignAddrs()
	if len(l.socks) == 1 {
		if err := l.socks[0].usePoller(); err != nil {
			return nil, err
		}
	} else if l.set, err = openPollSet(l.socks); err != nil {
		return nil, err
	}
	l.r.init(l.batch, len(l.socks))
	l.w.init(l.batch)
	ok = true
	return l, nil
}

func onlyAddr(addrs []netip.Addr, v4 bool) netip.Addr {
	var found netip.Addr
	for _, a := range addrs {
		if a.Is4() != v4 {
			continue
		}
		if found.IsValid() {
			return netip.Addr{}
		}
		found = a
	}
	return found
}

func (l *Link) openSock(v6 bool, cfg Config) (*sock, error) {
	s := &sock{fd: -1, v6: v6, family: "IPv4"}
	af := unix.AF_INET
	if v6 {
		s.family, af = "IPv6", unix.AF_INET6
	}
	fd, err := unix.Socket(af, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, protoSCTP)
	if err != nil {
		return nil, socketError(s.family, err)
	}
	s.fd = fd
	fail := func(what string, err error) (*sock, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("rawip: %s socket: %s: %w", s.family, what, err)
	}
	// The filter goes on first, so the least possible foreign traffic is
	// queued; anything that slipped in before is caught by the user-space
	// port check.
	if err := attachFilter(fd, v6, l.kf); err != nil {
		return fail("attaching the port filter (SO_ATTACH_FILTER)", err)
	}
	type opt struct {
		level, name, val int
		what             string
	}
	opts := []opt{
		{unix.IPPROTO_IP, unix.IP_RECVERR, 1, "IP_RECVERR"},
		{unix.IPPROTO_IP, unix.IP_PKTINFO, 1, "IP_PKTINFO"},
		{unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO, "IP_MTU_DISCOVER"},
	}
	if v6 {
		opts = []opt{
			{unix.IPPROTO_IPV6, unix.IPV6_RECVERR, 1, "IPV6_RECVERR"},
			{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO"},
			{unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_DO, "IPV6_MTU_DISCOVER"},
		}
	}
	// The kernel's receive time of each packet (link.Packet.Arrived).
	opts = append(opts, opt{unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS"})
	if cfg.Mark != 0 {
		opts = append(opts, opt{unix.SOL_SOCKET, unix.SO_MARK, int(cfg.Mark), "SO_MARK"})
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.name, o.val); err != nil {
			return fail("setting "+o.what, err)
		}
	}
	for _, b := range []struct {
		size, opt, force int
		what             string
	}{
		{cfg.RecvBuffer, unix.SO_RCVBUF, unix.SO_RCVBUFFORCE, "SO_RCVBUF"},
		{cfg.SendBuffer, unix.SO_SNDBUF, unix.SO_SNDBUFFORCE, "SO_SNDBUF"},
	} {
		if b.size <= 0 {
			continue
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, b.opt, b.size); err != nil {
			return fail("setting "+b.what, err)
		}
		// Linux reports double the size granted (its bookkeeping); a size
		// capped at rmem_max / wmem_max is forced where the process may
		// (CAP_NET_ADMIN), else logged: a small receive buffer drops
		// bursts while the reader waits for a CPU.
		got, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, b.opt)
		if got < 2*b.size && unix.SetsockoptInt(fd, unix.SOL_SOCKET, b.force, b.size) == nil {
			got, _ = unix.GetsockoptInt(fd, unix.SOL_SOCKET, b.opt)
		}
		if got < 2*b.size && cfg.Logger != nil {
			cfg.Logger.Warn("rawip: socket buffer capped by the system (raise net.core.rmem_max / wmem_max)",
				"buffer", b.what, "asked", b.size, "got", got/2)
		}
	}
	return s, nil
}

// warnForeignAddrs logs configured addresses the namespace does not have:
// packets to them cannot arrive and sends from them fail. It only warns, as
// an address may be added later (a floating address, say).
func (l *Link) warnForeignAddrs() {
	if len(l.addrs) == 0 {
		return
	}
	have, err := l.nl.addrs()
	if err != nil {
		l.log.Warn("rawip: cannot list local addresses", "err", err)
		return
	}
	for _, a := range l.addrs {
		if !slices.Contains(have, a) {
			l.log.Warn("rawip: configured address is not assigned in this network namespace", "addr", a)
		}
	}
}

// VerifiesChecksum reports true: ReadBatch checks every packet's CRC32c
// (link.ChecksumVerifier).
func (l *Link) VerifiesChecksum() bool { return true }

// Kind reports link.Native.
func (l *Link) Kind() link.Kind { return link.Native }

// Overhead is the IP header the kernel puts in front of every packet: 20
// bytes for IPv4 (we set no options) and 40 for IPv6 (no extension headers).
func (l *Link) Overhead(remote netip.Addr) int { return link.IPOverhead(remote) }

// LocalAddrs lists the served addresses: Config.Addrs, or when that was
// empty the addresses of the families served that the network namespace has
// now (asked over a netlink socket opened in that namespace, so the answer
// does not depend on the calling thread).
func (l *Link) LocalAddrs() []netip.Addr {
	if len(l.addrs) > 0 {
		return slices.Clone(l.addrs)
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed.Load() {
		return nil
	}
	all, err := l.nl.addrs()
	if err != nil {
		l.log.Warn("rawip: cannot list local addresses", "err", err)
		return nil
	}
	out := all[:0]
	for _, a := range all {
		if (a.Is4() && l.v4 != nil) || (!a.Is4() && l.v6 != nil) {
			out = append(out, a)
		}
	}
	return out
}

// Ports returns the served ports in ascending order.
func (l *Link) Ports() []uint16 { return l.ports.list() }

// AddPort starts serving port: the kernel filter and the user-space check
// let its packets through from now on.
func (l *Link) AddPort(port uint16) error { return l.setPort(port, true) }

// RemovePort stops serving port. Packets to it already queued are dropped
// by the user-space check.
func (l *Link) RemovePort(port uint16) error { return l.setPort(port, false) }

func (l *Link) setPort(port uint16, on bool) error {
	l.portMu.Lock()
	defer l.portMu.Unlock()
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed.Load() {
		return link.ErrClosed
	}
	next := &l.ports
	if next.has(port) == on {
		return nil
	}
	// The user-space set is the authority and changes first; the kernel
	// filter only saves the work of copying foreign packets.
	next.set(port, on)
	switch {
	case on && l.kf.admits(port):
		return nil // inside the cover already
	case !on && !l.kf.exact && next.runs() > maxKernelRanges:
		return nil // the cover still covers; exact again once the ports fit
	}
	kf := coverFilter(next.list(), maxKernelRanges)
	for _, s := range l.socks {
		if err := attachFilter(s.fd, s.v6, kf); err != nil {
			next.set(port, !on)
			for _, s2 := range l.socks {
				attachFilter(s2.fd, s2.v6, l.kf) // best effort back to the old filter
			}
			return fmt.Errorf("rawip: %s socket: updating the port filter for port %d: %w", s.family, port, err)
		}
	}
	if l.kf.exact && !kf.exact {
		l.log.Debug("rawip: more port ranges than the kernel filter keeps; it admits a cover of them, user space checks each packet",
			"ports", len(next.list()), "ranges", maxKernelRanges)
	}
	l.kf = kf
	return nil
}

// Stats returns the link's counters.
func (l *Link) Stats() Stats {
	return Stats{
		Received:       l.nReceived.Load(),
		Notices:        l.nNotices.Load(),
		ChecksumErrors: l.nChecksum.Load(),
		Filtered:       l.nFiltered.Load(),
		Sent:           l.nSent.Load(),
		SendErrors:     l.nSendErrors.Load(),
		Fragmented:     l.nFragmented.Load(),
		FragmentErrors: l.nFragErrors.Load(),
		UncheckedLocal: l.nUnchecked.Load(),
	}
}

// Close unblocks ReadBatch and WriteBatch with link.ErrClosed, waits for
// them to return, and closes the sockets. Closing twice is harmless.
func (l *Link) Close() error {
	if !l.closed.CompareAndSwap(false, true) {
		return nil
	}
	var one = [8]byte{1}
	unix.Write(l.wake, one[:]) // an eventfd write of 1 cannot fail short of overflow
	for _, s := range l.socks {
		s.wakeReader() // a reader in the network poller
	}
	l.set.wakeReader()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.release()
}

func (l *Link) release() error {
	var errs []error
	for _, s := range l.socks {
		if err := s.close(); err != nil {
			errs = append(errs, fmt.Errorf("rawip: closing the %s socket: %w", s.family, err))
		}
	}
	l.socks = nil
	if err := l.set.close(); err != nil {
		errs = append(errs, err)
	}
	if l.nl != nil {
		l.nl.close()
	}
	l.mtu.Close() // nil-safe
	if l.wake >= 0 {
		unix.Close(l.wake)
		l.wake = -1
	}
	return errors.Join(errs...)
}

func (l *Link) sockFor(a netip.Addr) *sock {
	if a.Is4() {
		return l.v4
	}
	return l.v6
}
