package udpencap

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"github.com/pion/transport/v3"
	"github.com/pion/transport/v3/stdnet"
)

// DefaultPort is the IANA-assigned sctp-tunneling port (RFC 6951 5.1, 7).
const DefaultPort = 9899

// Config configures a Link. The zero Config listens on port 9899 of every
// local address, IPv4 and IPv6, of the real network.
type Config struct {
	// Net is the network to listen on: nil means the real network (stdnet);
	// tests pass a pion vnet.Net.
	Net transport.Net
	// Addr is the local address and UDP port. A zero port means DefaultPort
	// unless EphemeralPort is set. The address may be a wildcard: 0.0.0.0
	// serves IPv4 only; :: or the zero Addr serve IPv6 and IPv4 on one
	// dual-stack socket.
	Addr netip.AddrPort
	// EphemeralPort lets the system choose a free port instead of the
	// default one (Addr's port must then be zero). RFC 6951 5.1 allows any
	// local port since peers learn it from the packets they receive; it
	// suits a gateway that only dials out, and tests.
	EphemeralPort bool
	// ReadBuffer and WriteBuffer size the socket's receive and send buffers
	// in bytes; zero leaves the system default. On Linux a size above
	// net.core.rmem_max / wmem_max is forced when the process may
	// (CAP_NET_ADMIN), since a gateway's burst of small packets overflows
	// the default receive buffer quickly.
	ReadBuffer  int
	WriteBuffer int
	// Logger receives the link's rare diagnostics; nil discards them. The
	// link never logs per packet.
	Logger *slog.Logger
	// GRO lets the kernel coalesce datagrams of one flow (UDP_GRO, Linux
	// 5.0; elsewhere ignored): one receive then moves up to 64 packets of
	// a peer sending GSO super-datagrams, as another sctpgw does, and the
	// link cuts them apart. Every ReadBatch buffer must then hold
	// link.MaxPacket bytes, as stack.Stack's do: a coalesced datagram that
	// does not fit is dropped whole.
	GRO bool
	// GSO sends runs of equal packets to one peer as UDP GSO
	// super-datagrams (UDP_SEGMENT, Linux 4.18; elsewhere ignored): the
	// kernel handles each once and cuts it into datagrams, over a veth or
	// loopback only at the receiving socket (so a capture on the way shows
	// one large datagram where a real NIC's wire has several).
	GSO bool
}

// listenSpec is what Config asks the network for, after defaults.
type listenSpec struct {
	network string // "udp4", "udp6" or "udp" (dual stack)
	addr    *net.UDPAddr
	bound   netip.Addr // the bind address; unspecified or invalid for a wildcard
}

func (c *Config) spec() (listenSpec, error) {
	port := c.Addr.Port()
	switch {
	case c.EphemeralPort && port != 0:
		return listenSpec{}, fmt.Errorf("udpencap: config: EphemeralPort with port %d", port)
	case !c.EphemeralPort && port == 0:
		port = DefaultPort
	}
	a := c.Addr.Addr().Unmap()
	s := listenSpec{addr: &net.UDPAddr{Port: int(port)}, bound: a}
	switch {
	case !a.IsValid():
		// nil IP with network "udp": the Go runtime opens a dual-stack
		// socket where the system has IPv6, and IPv4 otherwise.
		s.network = "udp"
	case a.Is4():
		s.network = "udp4"
		s.addr.IP = a.AsSlice()
	case a.IsUnspecified():
		// "::" with network "udp" is Go's spelling of dual stack
		// (IPV6_V6ONLY off); "udp6" would refuse IPv4 peers.
		s.network = "udp"
		s.addr.IP = net.IPv6unspecified
	default:
		s.network = "udp6"
		s.addr.IP = a.AsSlice()
		s.addr.Zone = a.Zone()
	}
	return s, nil
}

func (c *Config) network() (transport.Net, error) {
	if c.Net != nil {
		return c.Net, nil
	}
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, fmt.Errorf("udpencap: real network: %w", err)
	}
	return n, nil
}

func (c *Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}
