// Package rawip is the native SCTP link: SCTP packets carried directly in IP
// (protocol 132, RFC 9260) through raw IPv4 and IPv6 sockets.
//
// One job: move SCTP packets between the association engine and the IP
// layer. The link delivers only packets addressed to the ports the endpoint
// serves (filtered in the kernel with a classic BPF program, and again in
// user space), verifies their CRC32c, learns the local address each packet
// was sent to, and turns the ICMP errors the kernel reports for packets we
// sent into notices. It parses nothing of SCTP beyond the common header and
// decides nothing about associations.
//
// # Sockets
//
// There is one raw socket per address family, bound to no address: a raw
// socket sees every SCTP packet of its network namespace, so binding would
// only narrow the destination address, and one unbound socket per family
// leaves room for multi-homing (RFC 9260 6.4) without one socket per
// address. Config.Addrs narrows the served addresses in user space.
//
// The kernel builds the IP header on send (IP_HDRINCL is off); the source
// address comes from Path.Local through IP_PKTINFO / IPV6_PKTINFO, so a reply
// leaves from the address the peer used. Path MTU discovery is strict
// (IP_PMTUDISC_DO, IPV6_PMTUDISC_DO): the kernel does not fragment our
// packets (RFC 9260 7.3: SCTP sizes its packets to the path MTU), a packet
// above the known path MTU fails with EMSGSIZE, and the engine learns the
// MTU from a NoticeFragNeeded. The exception is a packet with
// link.Packet.Fragment, a chunk built before the MTU dropped that must not
// be cut again (RFC 9260 6.9): it goes alone with IP(V6)_PMTUDISC_DONT set
// for that one send, so the kernel fragments it at the path MTU (IPv4 with
// DF clear, so routers may fragment it further).
//
// # Checksums
//
// The engine sets the CRC32c of every packet it sends (wire.AppendPacket or
// wire.FinishPacket). The link sends the bytes unchanged: the kernel neither
// computes nor offloads an SCTP checksum for raw sockets. On receive the
// link verifies the CRC32c (RFC 9260 6.8) and drops and counts packets
// whose checksum is wrong.
//
// # ICMP
//
// IP_RECVERR / IPV6_RECVERR queue the ICMP errors for packets of this socket
// (raw_icmp_error matches them on protocol and addresses) on the socket's
// error queue, with the ICMP type, code, the reported MTU and the start of
// our packet as quoted. That is exact and needs no second socket, so the link
// uses it instead of an ICMP listener. Only errors quoting a packet from a
// served port become notices.
//
// # I/O
//
// Reads and writes use recvmmsg/sendmmsg on non-blocking sockets, as raw
// system calls that keep the goroutine's P (internal/nbsys: a gateway's
// scheduler otherwise woke sysmon and handed Ps between threads thousands
// of times a second). The reader waits in Go's network poller, as any network read does, so a
// wake-up is a goroutine's and not a thread's: a link with one socket hands
// it to the poller, a link with two (IPv4 and IPv6) gathers them in an
// epoll instance of its own and hands that over (read_poller_linux.go).
// The poller is edge-triggered, so the reader reads a socket until it is
// drained before it parks, asks the epoll instance (level-triggered) which
// sockets are ready before it decides none is, and POLLERR marks a socket
// whose error queue holds an entry, so an ICMP error is never lost between
// two reads. A writer that finds a socket full waits in ppoll with Close's
// eventfd (rare: a veth or a NIC queue takes a batch at once).
// The message headers, the IPv4 header scatter buffers and the control
// buffers are allocated once, so no allocation happens per packet.
package rawip
