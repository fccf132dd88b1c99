package udpencap

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/pion/transport/v3"

	"github.com/sctpgw/sctpgw/internal/routemtu"
	"github.com/sctpgw/sctpgw/stack/link"
)

// udpHeaderLen is what encapsulation adds below the SCTP common header
// (RFC 6951 5.6).
const udpHeaderLen = 8

// maxBatch bounds the datagrams moved per system call. 64 amortises the
// system call well past the point of diminishing returns and keeps the
// preallocated headers small.
const maxBatch = 64

// packetIO is one way of moving datagrams: batched system calls on a real
// Linux socket, or one ReadFrom/WriteTo per datagram on any transport.UDPConn.
// readBatch never returns 0 packets with a nil error.
type packetIO interface {
	readBatch(pkts []link.Packet) (int, error)
	writeBatch(pkts []link.Packet) (int, error)
}

// Link is an RFC 6951 link over one UDP socket. It implements link.Link.
// ReadBatch and WriteBatch may run concurrently with each other, each from
// one goroutine at a time; everything else may be called from anywhere.
type Link struct {
	conn  transport.UDPConn
	io    packetIO
	net   transport.Net
	bound netip.Addr // bind address; unspecified for a wildcard socket
	dual  bool       // one socket for IPv6 and IPv4
	port  uint16
	log   *slog.Logger
	mtu   *routemtu.Prober // MTUHint's; nil over a network that is not the host's

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	stats counters
}

var _ link.Link = (*Link)(nil)

// Listen opens the link's socket.
func Listen(cfg Config) (*Link, error) {
	spec, err := cfg.spec()
	if err != nil {
		return nil, err
	}
	nw, err := cfg.network()
	if err != nil {
		return nil, err
	}
	conn, err := nw.ListenUDP(spec.network, spec.addr)
	if err != nil {
		return nil, fmt.Errorf("udpencap: listen %s %s: %w", spec.network, spec.addr, err)
	}
	l := &Link{conn: conn, net: nw, log: cfg.logger()}
	la, ok := conn.LocalAddr().(*net.UDPAddr)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("udpencap: listen: local address %v is not UDP", conn.LocalAddr())
	}
	l.port = uint16(la.Port)
	if a, ok := netip.AddrFromSlice(la.IP); ok {
		l.bound = a.Unmap()
	} else {
		l.bound = netip.IPv6Unspecified()
	}
	// A wildcard socket opened as "udp" is dual stack wherever Go made it
	// an IPv6 socket; vnet and IPv4-only hosts give an IPv4 one.
	l.dual = spec.network == "udp" && l.bound.Is6() && l.bound.IsUnspecified()

	if err := setBuffers(conn, cfg.ReadBuffer, cfg.WriteBuffer, l.log); err != nil {
		conn.Close()
		return nil, err
	}
	if _, ok := conn.(*net.UDPConn); ok {
		if l.mtu, err = routemtu.Open(routemtu.Options{}); err != nil {
			conn.Close()
			return nil, fmt.Errorf("udpencap: %w", err)
		}
	}
	if uc, ok := conn.(*net.UDPConn); ok {
		bio, err := newBatchIO(uc, l.specificBound(), &l.stats, l.log)
		if err != nil {
			conn.Close()
			l.mtu.Close() // its two sockets leaked here before
			return nil, err
		}
		if bio != nil {
			l.io = bio
			if g, ok := bio.(interface{ enableGRO() }); ok && cfg.GRO {
				g.enableGRO()
			}
			if g, ok := bio.(interface{ enableGSO() }); ok && cfg.GSO {
				g.enableGSO()
			}
		}
	}
	batching := l.io != nil
	if !batching {
		l.io = &portableIO{conn: conn, local: l.specificBound(), stats: &l.stats}
	}
	l.log.Debug("udpencap: listening", "addr", conn.LocalAddr().String(), "batching", batching)
	return l, nil
}

// setBuffers applies the configured socket buffer sizes. A network that has
// no socket buffers (vnet) is not an error.
func setBuffers(conn transport.UDPConn, rd, wr int, log *slog.Logger) error {
	if uc, ok := conn.(*net.UDPConn); ok {
		return setBuffersForced(uc, rd, wr, log)
	}
	if rd > 0 {
		if err := conn.SetReadBuffer(rd); err != nil && !errors.Is(err, transport.ErrNotSupported) {
			return fmt.Errorf("udpencap: read buffer %d: %w", rd, err)
		}
	}
	if wr > 0 {
		if err := conn.SetWriteBuffer(wr); err != nil && !errors.Is(err, transport.ErrNotSupported) {
			return fmt.Errorf("udpencap: write buffer %d: %w", wr, err)
		}
	}
	return nil
}

// specificBound is the bind address when it is a specific one, else zero.
func (l *Link) specificBound() netip.Addr {
	if l.bound.IsUnspecified() {
		return netip.Addr{}
	}
	return l.bound
}

// Kind reports link.UDP.
func (l *Link) Kind() link.Kind { return link.UDP }

// LocalPort is the link's UDP encapsulation port: the source port of every
// packet it sends (RFC 6951 5.3).
func (l *Link) LocalPort() uint16 { return l.port }

// LocalAddr is the address and port the socket is bound to; the address is
// unspecified for a wildcard socket.
func (l *Link) LocalAddr() netip.AddrPort { return netip.AddrPortFrom(l.bound, l.port) }

// Overhead is the IP header plus the 8-byte UDP header (RFC 6951 5.6).
func (l *Link) Overhead(remote netip.Addr) int {
	return link.IPOverhead(remote) + udpHeaderLen
}

// LocalAddrs lists the addresses the link receives on: the bind address, or
// for a wildcard socket every address of the socket's families on an
// interface that is up, loopback included.
func (l *Link) LocalAddrs() []netip.Addr {
	if b := l.specificBound(); b.IsValid() {
		return []netip.Addr{b}
	}
	ifs, err := l.net.Interfaces()
	if err != nil {
		l.log.Warn("udpencap: listing interfaces", "err", err)
		return nil
	}
	want4, want6 := l.bound.Is4() || l.dual, l.bound.Is6()
	var out []netip.Addr
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			var ip net.IP
			switch a := a.(type) {
			case *net.IPNet:
				ip = a.IP
			case *net.IPAddr:
				ip = a.IP
			}
			na, ok := netip.AddrFromSlice(ip)
			if !ok {
				continue
			}
			na = na.Unmap()
			if (na.Is4() && !want4) || (na.Is6() && !want6) {
				continue
			}
			if na.Is6() && na.IsLinkLocalUnicast() {
				na = na.WithZone(ifc.Name)
			}
			out = append(out, na)
		}
	}
	return out
}

// ReadBatch blocks until at least one datagram or ICMP notice is there, then
// fills as many of pkts as are ready (link.Link). Every pkts[i].Buf must have
// capacity; link.MaxPacket never truncates. A datagram larger than its
// buffer is dropped and counted in Stats.RxTruncated. Buffers may come back
// in a different order than they went in.
func (l *Link) ReadBatch(pkts []link.Packet) (int, error) {
	if l.closed.Load() {
		return 0, link.ErrClosed
	}
	if len(pkts) == 0 {
		return 0, nil
	}
	for i := range pkts {
		if cap(pkts[i].Buf) == 0 {
			return 0, fmt.Errorf("udpencap: read: packet %d has a buffer without capacity", i)
		}
	}
	n, err := l.io.readBatch(pkts)
	if err != nil {
		if l.closed.Load() || errors.Is(err, net.ErrClosed) {
			return 0, link.ErrClosed
		}
		return 0, fmt.Errorf("udpencap: read: %w", err)
	}
	l.stats.rx(pkts[:n])
	return n, nil
}

// WriteBatch sends pkts, each to Path.Remote port Path.RemotePort from
// Path.Local (zero: the kernel's choice), and returns how many went out. A
// short count comes with an error about pkts[n]; the caller decides whether
// to drop that packet and go on with pkts[n+1:].
func (l *Link) WriteBatch(pkts []link.Packet) (int, error) {
	if l.closed.Load() {
		return 0, link.ErrClosed
	}
	n, err := l.io.writeBatch(pkts)
	l.stats.tx(pkts[:n])
	if err != nil {
		if l.closed.Load() || errors.Is(err, net.ErrClosed) {
			return n, link.ErrClosed
		}
		l.stats.txErrors.Add(1)
		if n < len(pkts) {
			return n, fmt.Errorf("udpencap: write to %v: %w", pkts[n].Path, err)
		}
		return n, fmt.Errorf("udpencap: write: %w", err)
	}
	return n, nil
}

// Close closes the socket; a blocked ReadBatch returns link.ErrClosed.
func (l *Link) Close() error {
	l.closeOnce.Do(func() {
		l.closed.Store(true)
		l.mtu.Close()
		if err := l.conn.Close(); err != nil {
			l.closeErr = fmt.Errorf("udpencap: close: %w", err)
		}
	})
	return l.closeErr
}

// checkPath validates a path to send on before any system call sees it.
func checkPath(p link.Path) error {
	if !p.Remote.IsValid() || p.Remote.IsUnspecified() {
		return fmt.Errorf("%w: no remote address", errBadPath)
	}
	if p.RemotePort == 0 {
		// Port 0 is "not encapsulated" in RFC 6951 6.1's socket API; a
		// native packet has no business on this link.
		return fmt.Errorf("%w: remote UDP port 0", errBadPath)
	}
	return nil
}

var errBadPath = errors.New("bad path")
