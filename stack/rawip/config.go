package rawip

import (
	"log/slog"
	"net/netip"
)

// Config describes a native link.
type Config struct {
	// Addrs are the local addresses served. Empty means every address of
	// the network namespace, IPv4 and IPv6 (IPv6 is skipped when the host
	// has no IPv6). Only the families listed get a socket. Packets to other
	// addresses are dropped (counted as filtered).
	Addrs []netip.Addr
	// Ports are the SCTP ports served. Packets to any other port never reach
	// the engine and are never answered: another SCTP stack may own them.
	// The set can change at run time with AddPort and RemovePort.
	Ports []uint16
	// Logger receives warnings; nil logs nothing.
	Logger *slog.Logger
	// Batch is the most packets moved by one recvmmsg/sendmmsg; 0 means 64.
	Batch int
	// RecvBuffer and SendBuffer set SO_RCVBUF and SO_SNDBUF in bytes; 0
	// keeps the default. A size above net.core.rmem_max/wmem_max is forced
	// (SO_RCVBUFFORCE) where the process has CAP_NET_ADMIN, and otherwise
	// granted up to that cap, with a warning in the log.
	RecvBuffer, SendBuffer int
	// Mark, when not zero, is set as SO_MARK on every packet sent (it needs
	// CAP_NET_ADMIN). It lets an nftables rule tell our packets from the
	// kernel SCTP's own replies on a host where that module is loaded; see
	// README.md, "Running beside kernel SCTP".
	Mark uint32
}

const defaultBatch = 64

// Stats counts what the link saw. Packets the kernel's filter dropped are
// never seen and so never counted.
type Stats struct {
	// Received is the SCTP packets delivered by ReadBatch.
	Received uint64
	// Notices is the ICMP-derived notices delivered by ReadBatch.
	Notices uint64
	// ChecksumErrors is the packets dropped for a wrong CRC32c
	// (SctpChecksumErrors in /proc/net/sctp/snmp terms).
	ChecksumErrors uint64
	// Filtered is the packets dropped before the checksum: to a port or
	// address not served, from or to a non-unicast address, too short,
	// truncated, or ICMP errors about packets we did not send.
	Filtered uint64
	// Sent is the packets handed to the kernel by WriteBatch.
	Sent uint64
	// SendErrors is the WriteBatch calls that ended with an error.
	SendErrors uint64
	// Fragmented is the packets with link.Packet.Fragment sent with
	// fragmentation allowed (part of Sent).
	Fragmented uint64
	// FragmentErrors is the failures to lift or restore DF around such a
	// send (setsockopt IP(V6)_MTU_DISCOVER).
	FragmentErrors uint64
	// UncheckedLocal is the packets accepted (part of Received) with a
	// CRC32c of zero from a veth, bridge, macvlan, ipvlan or loopback
	// interface: a kernel SCTP of this host left the CRC to a device that
	// never computes it (checksum offload between namespaces).
	UncheckedLocal uint64
}
