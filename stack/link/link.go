// Package link defines what carries SCTP packets: a native link (raw IP,
// stack/rawip), an RFC 6951 UDP link (udpencap) or an RFC 8261 DTLS link
// (dtlslink). A link is the only thing
// that differs between the two; the association engine sees packets with the
// path they came on and hands back packets with the path to send them on.
//
// Links move bytes. They parse nothing beyond what they need to deliver (the
// IP and UDP headers) and decide nothing about SCTP.
package link

import (
	"errors"
	"fmt"
	"net/netip"
)

// Kind tells the two kinds of link apart; ACLs and MTU arithmetic care.
type Kind uint8

const (
	// Native carries SCTP directly over IP (protocol 132).
	Native Kind = iota + 1
	// UDP carries SCTP in UDP (RFC 6951).
	UDP
	// DTLS carries SCTP as DTLS application data over UDP (RFC 8261), one
	// DTLS session per peer gateway. To the engine it is an encapsulating
	// link like UDP: paths are the link's, a peer's listed addresses are
	// never used, heartbeats keep NAT bindings.
	DTLS
)

// Encapsulated reports whether packets of this kind travel inside UDP
// (RFC 6951 or RFC 8261): the link, not IP, names the peer's path.
func (k Kind) Encapsulated() bool { return k == UDP || k == DTLS }

func (k Kind) String() string {
	switch k {
	case Native:
		return "native"
	case UDP:
		return "udp"
	case DTLS:
		return "dtls"
	}
	return fmt.Sprintf("link kind %d", uint8(k))
}

// Path names one direction-independent way between two SCTP endpoints.
//
// For a UDP link, RemotePort is the peer's UDP encapsulation port: on receive
// the UDP source port of the packet, on send the UDP destination port. RFC
// 6951 5.4 has the association adopt a received packet's source port only
// after the verification tag check, so links report it and never remember it.
// For a native link RemotePort is zero.
type Path struct {
	Local      netip.Addr
	Remote     netip.Addr
	RemotePort uint16
}

func (p Path) String() string {
	local := "*"
	if p.Local.IsValid() {
		local = p.Local.String()
	}
	if p.RemotePort != 0 {
		return fmt.Sprintf("%s -> %s udp/%d", local, p.Remote, p.RemotePort)
	}
	return fmt.Sprintf("%s -> %s", local, p.Remote)
}

// Notice qualifies a received Packet that is not an SCTP packet from a peer
// but a report about one we sent.
type Notice uint8

const (
	// NoticeNone: Buf is an SCTP packet received on Path.
	NoticeNone Notice = iota
	// NoticeFragNeeded: ICMP "fragmentation needed" / ICMPv6 "packet too
	// big" for a packet we sent on Path; MTU holds the reported next-hop MTU
	// and Buf the start of our SCTP packet as quoted by the ICMP message.
	NoticeFragNeeded
	// NoticeUnreachable: ICMP destination unreachable (network, host,
	// administratively prohibited, ...) for a packet we sent on Path; Buf
	// is the quoted start of our SCTP packet. RFC 9260 section 10 lets the
	// association treat it like an ABORT or a path failure after checking
	// the quoted verification tag.
	NoticeUnreachable
	// NoticeProtoUnreachable: the peer's host itself refused our packet:
	// ICMP protocol unreachable or ICMPv6 "unrecognized next header" (no
	// SCTP there) on a native link, port unreachable (nothing listens on
	// the UDP port) on a UDP link, which RFC 6951 5.5 treats alike. Buf is
	// the quoted start of our SCTP packet. RFC 9260 section 10 (ICMP8)
	// makes it an ABORT.
	NoticeProtoUnreachable
	// NoticeDown: the link lost its only way to Path for good (a DTLS
	// session failed its handshake, was closed by the peer or died); Err
	// says why and Buf is empty. Every association on that path ends with
	// an error wrapping Err: nothing it sends could arrive.
	NoticeDown
)

// Packet is one SCTP packet (common header onwards) with the path it came on
// or goes on. Buf is owned by whoever supplied the batch.
type Packet struct {
	Path   Path
	Buf    []byte
	Notice Notice
	// MTU is the path MTU reported with NoticeFragNeeded, as the IP-level MTU.
	MTU int
	// Fragment, on a packet to send, says it is larger than the path MTU on
	// purpose and IP must fragment it instead of refusing it: it carries a
	// chunk built for a larger MTU that already has its TSN and so cannot
	// be split again (RFC 9260 6.9, 7.3). A link sends such a packet with DF
	// clear (IPv4) or lets the kernel fragment it at the source (IPv6), and
	// every other packet with DF set as before. Links that cannot choose
	// per packet send it as any other. Received packets never have it.
	Fragment bool
	// Err is why the link went down with NoticeDown; nil otherwise.
	Err error
	// Arrived, on a received packet, is when the kernel took it in
	// (SO_TIMESTAMPNS: CLOCK_REALTIME, in nanoseconds since the Unix
	// epoch); zero when the link cannot tell. The stack counts how long
	// packets waited before it read them (Stack.Delays): a gateway short
	// of CPU shows there first.
	Arrived int64
}

// ChecksumVerifier is implemented by a link that checks the CRC32c of every
// packet it delivers (RFC 9260 6.8), and answers for the ones it lets
// through unchecked (rawip: a zero CRC32c from a kernel of this host that
// left it to a device). The engine then does not check again.
type ChecksumVerifier interface {
	VerifiesChecksum() bool
}

// MTUHinter is implemented by a link that can tell the IP-level MTU of the
// way to a path's peer before anything was sent on it: for a socket link,
// what the kernel's route says (the outgoing interface's MTU, a route's mtu
// attribute, or what path MTU discovery cached). The engine sizes nothing
// above it, however large its configured PathMTU: on a tunnel interface of
// 1280 or 1420 bytes, a listener's INIT ACK, which it sends without
// keeping state and so cannot resize after a refusal, and an
// association's first packets fit from the start.
type MTUHinter interface {
	// MTUHint returns that MTU for the route p's packets take (from
	// p.Local, with whatever mark the link's packets carry: policy
	// routing may give each source its own), or 0 when the link does not
	// know. It is called by the engine's driver, under its lock, for
	// every INIT answered, off-path HEARTBEAT and path made, at a rate a
	// peer chooses: it must be cheap (a cached answer, not system calls
	// per call) and bounded (a miss may open one socket, never wait on
	// the network). A link's answer is for the route an IP packet from
	// p.Local with the link's mark takes; rules that match on the
	// protocol or on ports (ip rule ipproto/sport/dport, a netfilter
	// reroute) are not seen.
	MTUHint(p Path) int
}

// AddrBinder is implemented by a link that can say whether it is bound to
// fixed addresses (bind(2) with specific addresses): a packet to any other
// address never reaches it, so an endpoint given another local address
// (sctp_bindx, RFC 6458 9.1) would never hear a packet. A link bound to
// the wildcard returns nil: it receives on whatever addresses the host has
// now or gets later (an AnyIP route, a floating address taken over), and
// any address may be meant.
type AddrBinder interface {
	BoundAddrs() []netip.Addr
}

// Link is a packet transport for SCTP. ReadBatch and WriteBatch may be called
// from different goroutines, but each from one goroutine at a time.
type Link interface {
	// Kind reports whether this link is native or UDP-encapsulated.
	Kind() Kind
	// ReadBatch blocks until at least one packet has arrived, then fills
	// pkts[i].Buf[:cap] (reslicing Buf to the packet's length) and Path for
	// as many packets as are ready, and returns how many it filled. Callers
	// supply Buf with enough capacity for the largest packet (MaxPacket).
	// A link may swap whole Packet values within pkts (to skip a slot it
	// dropped), so which buffer ends in which slot is not fixed. A notice
	// about a local error (EMSGSIZE) may come with an empty Buf. An error
	// may come with n > 0: the n packets are good, the error was met
	// after them.
	ReadBatch(pkts []Packet) (int, error)
	// WriteBatch sends pkts and returns how many were sent. A short count
	// n comes with an error about pkts[n].
	WriteBatch(pkts []Packet) (int, error)
	// Overhead is the number of bytes below the SCTP common header that the
	// link adds to every packet toward remote: the IP header, plus 8 for the
	// UDP header on a UDP link (RFC 6951 5.6).
	Overhead(remote netip.Addr) int
	// LocalAddrs lists the addresses the link receives on.
	LocalAddrs() []netip.Addr
	// Close unblocks ReadBatch with ErrClosed and releases the link.
	Close() error
}

// MaxPacket is the largest SCTP packet a link delivers: an IPv4 datagram's
// limit less the minimal headers. Buffers of this size never truncate.
const MaxPacket = 65535

// ErrClosed is returned by ReadBatch and WriteBatch after Close.
var ErrClosed = errors.New("link: closed")

// IPOverhead is the IP header size for remote's family (no options or
// extension headers).
func IPOverhead(remote netip.Addr) int {
	if remote.Is4() || remote.Is4In6() {
		return 20
	}
	return 40
}
