// Package udpencap is the RFC 6951 link: it carries SCTP packets in UDP over
// one socket that serves every encapsulated association of a gateway, in
// both directions (dialled and accepted).
//
// # What the link does and does not do
//
// The link moves bytes. Every received datagram is delivered as a
// link.Packet whose Buf is the UDP payload (the SCTP common header onwards,
// RFC 6951 5.2) and whose Path names the peer's address, the peer's UDP
// source port (Path.RemotePort) and the local address the datagram was sent
// to (Path.Local). Outgoing packets go to Path.Remote on UDP port
// Path.RemotePort from the link's one local port (RFC 6951 5.3).
//
// The link keeps no per-peer state. RFC 6951 5.4 makes the remote
// encapsulation port of a path the UDP source port of the last received
// packet that passed the verification tag check, so only the association
// engine, which checks tags, may adopt Path.RemotePort; the link reports it
// on every packet and otherwise forgets it. Demultiplexing by ports and
// verification tags, the out-of-the-blue rules of
// draft-tuexen-tsvwg-sctp-udp-encaps-cons section 3 and the INIT rules of its
// section 4 are the engine's job too.
//
// # Ports and addresses
//
// The default port is 9899, IANA's sctp-tunneling (RFC 6951 7). Config.Addr
// picks the bind address: an unspecified IPv4 address (0.0.0.0) serves IPv4
// only, the unspecified IPv6 address (::) or the zero Config.Addr serve IPv6
// and IPv4 on one dual-stack socket, and a specific address serves just that
// address. IPv4 peers of a dual-stack socket appear as plain IPv4 addresses,
// never as IPv4-mapped IPv6.
//
// On a wildcard socket the link learns each datagram's destination address
// from IP_PKTINFO / IPV6_PKTINFO and reports it in Path.Local; when sending
// it puts Path.Local back as the source address, so a reply leaves from the
// address the peer talked to. A peer (or its NAT) drops replies from any
// other address, and the routing table's choice of source is not always the
// one the peer used. A zero Path.Local lets the kernel choose.
//
// # Checksums and MTU
//
// The SCTP CRC32c is the engine's (stack/wire). The UDP checksum is always
// computed: the kernel does it for every datagram (RFC 6951 5.3 says SHOULD;
// NATs need it).
//
// Overhead adds the 8-byte UDP header to the IP header (RFC 6951 5.6). The
// socket sets the Don't Fragment bit on every datagram and never fragments
// locally (IP_PMTUDISC_PROBE): SCTP fragments its own messages and does its
// own path MTU discovery, and IP fragments rarely survive NATs. The one
// exception is a datagram with link.Packet.Fragment, a DATA chunk cut for an
// MTU that has since dropped, which RFC 9260 6.9 forbids cutting again: on
// Linux it is sent alone with IP(V6)_PMTUDISC_DONT for that send, so the
// kernel fragments it at the path MTU it learnt (Stats.TxFragmented).
//
// # ICMP (best effort)
//
// On Linux the socket asks for extended errors (IP_RECVERR, IPV6_RECVERR) and
// the link reads the socket error queue. An ICMP "fragmentation needed" or
// ICMPv6 "packet too big" about a datagram we sent becomes a Packet with
// Notice link.NoticeFragNeeded and MTU set to the reported next-hop MTU (it
// may be 0 when an old router does not report one); an ICMP/ICMPv6 port
// unreachable (nothing listens on that UDP port) becomes
// link.NoticeProtoUnreachable, as RFC 6951 5.5 has it treated like SCTP's
// protocol unreachable; any other destination unreachable (host, network,
// administratively prohibited) becomes link.NoticeUnreachable. Path is the
// path the offending datagram was sent on and Buf holds the quoted start of
// our SCTP packet, as much as the router quoted (enough for the verification
// tag when the router follows RFC 1812; possibly nothing). RFC 6951 5.5 has
// the engine discard a notice whose verification tag it cannot verify. A datagram larger than the
// outgoing interface's MTU never leaves: WriteBatch fails with EMSGSIZE and
// a NoticeFragNeeded with the interface MTU, quoting the packet, follows on
// ReadBatch, as if the interface were a router (see toobig_linux.go). Time
// exceeded and parameter problem reports are dropped. Nothing must rely on
// ICMP arriving at all: it is filtered often, and elsewhere than Linux, or
// over a transport.Net that is not the real network, no notices are
// produced.
//
// # NAT keepalive
//
// A NAT forgets a UDP binding that carries no traffic: RFC 4787 REQ-5 asks
// for at least 2 minutes, but common home and carrier NATs time UDP out after
// 30 s or even less. The link sends nothing by itself; the engine's default
// heartbeat interval on encapsulated paths is therefore 15 s
// (DefaultHBIntervalUDP in stack/engine), as
// draft-tuexen-tsvwg-sctp-udp-encaps-cons section 5 asks instead of RFC
// 9260's 30 s, so that an idle association refreshes its binding about twice
// per 30 s timeout. When a binding is lost anyway, the NAT picks a new
// external port; the next packet that passes the verification tag check
// carries it in Path.RemotePort, and the engine adopts it (RFC 6951 5.4).
//
// # Speed
//
// On Linux, when transport.Net hands out a real *net.UDPConn (stdnet), the
// link reads and writes in batches with recvmmsg and sendmmsg, up to 64
// datagrams per system call, into and out of the caller's buffers, with its
// own preallocated headers, addresses and control messages: steady-state
// ReadBatch and WriteBatch allocate nothing. It issues those system calls
// itself (raw system calls that keep the goroutine's P, internal/nbsys,
// over the socket's syscall.RawConn) instead
// of using golang.org/x/net's ipv4/ipv6 PacketConn ReadBatch: that API
// allocates a net.UDPAddr for every received datagram and a slice for every
// parsed control message, and it cannot read the error queue. Other conns
// (pion's vnet, other systems) are served one datagram per call through
// ReadFrom and WriteTo, and report the bound address as Path.Local.
package udpencap
