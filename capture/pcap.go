// Package capture writes SCTP packets to pcap files as they would appear on
// the wire, so that Wireshark and tshark decode what sctpgw sent and
// received: the gateway's --pcap option and tests use it.
//
// Each record is an IP packet built around the SCTP packet given: native SCTP
// is IP protocol 132 (RFC 9260), encapsulated SCTP sits in UDP right after
// the UDP header (RFC 6951 5). IPv4 and IPv6 headers carry correct lengths
// and checksums (the IPv4 header checksum, and the UDP checksum that RFC 6951
// 5.3 says senders SHOULD compute), so a capture shows only the errors that
// the SCTP packets themselves carry. The pcap format and the IP and UDP headers
// come from gopacket (pcapgo and layers), pure Go with no libpcap.
package capture

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// UDPEncapsulationPort is the IANA port of SCTP over UDP (RFC 6951 5.1);
// WriteSCTPInUDP uses it for a zero port, and Wireshark decodes it as SCTP
// (tshark: -d udp.port==9899,sctp where it does not).
const UDPEncapsulationPort = 9899

// Link is the link-layer framing of the records in a capture file.
type Link int

const (
	// LinkRaw records start with the IP header, version 4 or 6
	// (LINKTYPE_RAW, 101): nothing is invented below IP.
	LinkRaw Link = iota
	// LinkEthernet records start with an Ethernet II header between two
	// fixed locally administered addresses (LINKTYPE_ETHERNET, 1), for tools
	// that read Ethernet captures only.
	LinkEthernet
)

func (l Link) String() string {
	switch l {
	case LinkRaw:
		return "raw IP"
	case LinkEthernet:
		return "Ethernet"
	}
	return fmt.Sprintf("Link(%d)", int(l))
}

func (l Link) pcapType() (layers.LinkType, bool) {
	switch l {
	case LinkRaw:
		return layers.LinkTypeRaw, true
	case LinkEthernet:
		return layers.LinkTypeEthernet, true
	}
	return 0, false
}

// snaplen is what the file header declares: every record is whole, and the
// largest is an IPv4 or IPv6 packet of 65535 bytes behind an Ethernet header.
const snaplen = 262144

// Header values of the synthetic lower layers. TTL and hop limit are the
// usual host defaults. IPv4 packets carry DF, as SCTP does for path MTU
// discovery (RFC 9260 7.3; RFC 8899).
const ttl = 64

var (
	ethSrc = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	ethDst = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
)

// Errors a write can return besides those of the underlying io.Writer.
var (
	ErrAddress  = errors.New("capture: source and destination must be valid addresses of one family")
	ErrTooLarge = errors.New("capture: packet does not fit in an IP packet")
)

// Writer writes one pcap file. It is safe for concurrent use: records are
// written whole, in the order the calls take the lock.
type Writer struct {
	mu   sync.Mutex
	pw   *pcapgo.Writer
	link Link
	id   uint16 // IPv4 Identification, one per packet as a host would
	buf  gopacket.SerializeBuffer
}

// NewWriter writes the pcap file header to w (nanosecond timestamps) and
// returns a Writer for its records. w is not buffered here: give a
// bufio.Writer (and flush it) for files written at packet rate.
func NewWriter(w io.Writer, link Link) (*Writer, error) {
	lt, ok := link.pcapType()
	if !ok {
		return nil, fmt.Errorf("capture: unknown link type %v", link)
	}
	pw := pcapgo.NewWriterNanos(w)
	if err := pw.WriteFileHeader(snaplen, lt); err != nil {
		return nil, fmt.Errorf("capture: writing the file header: %w", err)
	}
	return &Writer{pw: pw, link: link, buf: gopacket.NewSerializeBuffer()}, nil
}

// Link is the link type the file was created with.
func (w *Writer) Link() Link { return w.link }

// WriteSCTP records a native SCTP packet (IP protocol 132) sent from src to
// dst at ts (a zero ts is taken as the current time). The SCTP ports are the
// ones in sctp's common header; sctp is written as given, valid or not, so
// that captures show malformed input too. IPv4-mapped IPv6 addresses count as
// IPv4.
func (w *Writer) WriteSCTP(ts time.Time, src, dst netip.Addr, sctp []byte) error {
	return w.write(ts, src, dst, layers.IPProtocolSCTP, nil, sctp)
}

// WriteSCTPInUDP records an SCTP packet encapsulated in UDP (RFC 6951) from
// src to dst at ts. A zero port stands for UDPEncapsulationPort.
func (w *Writer) WriteSCTPInUDP(ts time.Time, src, dst netip.AddrPort, sctp []byte) error {
	udp := &layers.UDP{
		SrcPort: layers.UDPPort(portOrDefault(src.Port())),
		DstPort: layers.UDPPort(portOrDefault(dst.Port())),
	}
	return w.write(ts, src.Addr(), dst.Addr(), layers.IPProtocolUDP, udp, sctp)
}

func portOrDefault(p uint16) uint16 {
	if p == 0 {
		return UDPEncapsulationPort
	}
	return p
}

// maxIPPayload is the most an IPv4 packet (its 16-bit Total Length counts
// the 20-byte header) or an IPv6 packet without jumbogram option (its
// Payload Length does not) can carry.
func maxIPPayload(v4 bool) int {
	if v4 {
		return 65535 - 20
	}
	return 65535
}

func (w *Writer) write(ts time.Time, src, dst netip.Addr, proto layers.IPProtocol, udp *layers.UDP, sctp []byte) error {
	src, dst = src.Unmap(), dst.Unmap()
	if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() {
		return fmt.Errorf("%w: %v -> %v", ErrAddress, src, dst)
	}
	size := len(sctp)
	if udp != nil {
		size += 8
	}
	if size > maxIPPayload(src.Is4()) {
		return fmt.Errorf("%w: %d bytes of %v", ErrTooLarge, size, proto)
	}

	w.mu.Lock()
	defer w.mu.Unlock()

	var stack []gopacket.SerializableLayer
	var ether *layers.Ethernet
	if w.link == LinkEthernet {
		ether = &layers.Ethernet{SrcMAC: ethSrc, DstMAC: ethDst}
		stack = append(stack, ether)
	}
	var network gopacket.NetworkLayer
	if src.Is4() {
		w.id++
		ip := &layers.IPv4{
			Version: 4, TTL: ttl, Flags: layers.IPv4DontFragment, Id: w.id,
			Protocol: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice(),
		}
		if ether != nil {
			ether.EthernetType = layers.EthernetTypeIPv4
		}
		stack, network = append(stack, ip), ip
	} else {
		ip := &layers.IPv6{
			Version: 6, HopLimit: ttl, NextHeader: proto,
			SrcIP: src.AsSlice(), DstIP: dst.AsSlice(),
		}
		if ether != nil {
			ether.EthernetType = layers.EthernetTypeIPv6
		}
		stack, network = append(stack, ip), ip
	}
	if udp != nil {
		if err := udp.SetNetworkLayerForChecksum(network); err != nil {
			return fmt.Errorf("capture: %w", err)
		}
		stack = append(stack, udp)
	}
	stack = append(stack, gopacket.Payload(sctp))

	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(w.buf, opts, stack...); err != nil {
		return fmt.Errorf("capture: building the packet: %w", err)
	}
	b := w.buf.Bytes()
	ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(b), Length: len(b)}
	if err := w.pw.WritePacket(ci, b); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	return nil
}
