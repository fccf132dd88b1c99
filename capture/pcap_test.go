package capture_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sctpgw/sctpgw/capture"
)

// These tests read the records back with pcapgo and check every header field
// and checksum by hand (RFC 791, 768, 8200, 1071), independently of the
// gopacket serializers that wrote them.

var (
	v4a = netip.MustParseAddr("192.0.2.1")
	v4b = netip.MustParseAddr("198.51.100.2")
	v6a = netip.MustParseAddr("2001:db8::1")
	v6b = netip.MustParseAddr("2001:db8::2")
	ts0 = time.Date(2026, 11, 22, 8, 0, 0, 123456789, time.UTC)
)

// sctpBytes stands for an SCTP packet; capture does not look inside.
func sctpBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	return b
}

type record struct {
	ts   time.Time
	data []byte
}

func readAll(t *testing.T, file []byte, wantLink layers.LinkType) []record {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("reading the file header: %v", err)
	}
	if r.LinkType() != wantLink {
		t.Fatalf("link type %v, want %v", r.LinkType(), wantLink)
	}
	if r.Resolution().ToDuration() != time.Nanosecond {
		t.Errorf("timestamp resolution %v, want nanoseconds", r.Resolution())
	}
	var out []record
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("record %d: %v", len(out), err)
		}
		if ci.CaptureLength != ci.Length {
			t.Errorf("record %d truncated: %d of %d bytes", len(out), ci.CaptureLength, ci.Length)
		}
		out = append(out, record{ci.Timestamp, data})
	}
}

// onesSum is the RFC 1071 Internet checksum sum of b on top of sum, folded.
// A header or segment with a correct checksum sums to 0xffff.
func onesSum(sum uint32, b []byte) uint16 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

// ipPacket checks an IP header (RFC 791 / RFC 8200) and returns the
// transport protocol, the source and destination, and the payload.
func ipPacket(t *testing.T, b []byte) (proto byte, src, dst netip.Addr, payload []byte) {
	t.Helper()
	switch b[0] >> 4 {
	case 4:
		if b[0]&0xf != 5 {
			t.Fatalf("IHL %d, want 5 (no options)", b[0]&0xf)
		}
		if got := int(binary.BigEndian.Uint16(b[2:4])); got != len(b) {
			t.Errorf("IPv4 Total Length %d, record %d bytes", got, len(b))
		}
		if binary.BigEndian.Uint16(b[6:8]) != 0x4000 {
			t.Errorf("IPv4 flags/fragment offset %#04x, want DF only", binary.BigEndian.Uint16(b[6:8]))
		}
		if b[8] != 64 {
			t.Errorf("TTL %d, want 64", b[8])
		}
		if s := onesSum(0, b[:20]); s != 0xffff {
			t.Errorf("IPv4 header checksum %#04x is wrong (sum %#04x)", binary.BigEndian.Uint16(b[10:12]), s)
		}
		return b[9], netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20])), b[20:]
	case 6:
		if got := int(binary.BigEndian.Uint16(b[4:6])); got != len(b)-40 {
			t.Errorf("IPv6 Payload Length %d, record has %d bytes after the header", got, len(b)-40)
		}
		if binary.BigEndian.Uint32(b[0:4]) != 6<<28 {
			t.Errorf("IPv6 traffic class / flow label %#08x, want zero", binary.BigEndian.Uint32(b[0:4]))
		}
		if b[7] != 64 {
			t.Errorf("hop limit %d, want 64", b[7])
		}
		return b[6], netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40])), b[40:]
	}
	t.Fatalf("IP version %d", b[0]>>4)
	return
}

// udpDatagram checks a UDP header and its checksum (RFC 768; RFC 8200 8.1
// for the IPv6 pseudo-header) and returns the ports and payload.
func udpDatagram(t *testing.T, src, dst netip.Addr, b []byte) (sport, dport uint16, payload []byte) {
	t.Helper()
	if got := int(binary.BigEndian.Uint16(b[4:6])); got != len(b) {
		t.Errorf("UDP Length %d, datagram %d bytes", got, len(b))
	}
	if binary.BigEndian.Uint16(b[6:8]) == 0 {
		t.Errorf("UDP checksum absent; RFC 6951 5.3: it SHOULD be computed")
	}
	var pseudo []byte
	pseudo = append(pseudo, src.AsSlice()...)
	pseudo = append(pseudo, dst.AsSlice()...)
	if src.Is4() {
		pseudo = append(pseudo, 0, 17)
		pseudo = binary.BigEndian.AppendUint16(pseudo, uint16(len(b)))
	} else {
		pseudo = binary.BigEndian.AppendUint32(pseudo, uint32(len(b)))
		pseudo = append(pseudo, 0, 0, 0, 17)
	}
	if s := onesSum(uint32(onesSum(0, pseudo)), b); s != 0xffff {
		t.Errorf("UDP checksum %#04x is wrong (sum %#04x)", binary.BigEndian.Uint16(b[6:8]), s)
	}
	return binary.BigEndian.Uint16(b[0:2]), binary.BigEndian.Uint16(b[2:4]), b[8:]
}

func newWriter(t *testing.T, link capture.Link) (*capture.Writer, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	w, err := capture.NewWriter(&buf, link)
	if err != nil {
		t.Fatal(err)
	}
	if w.Link() != link {
		t.Errorf("Link() = %v, want %v", w.Link(), link)
	}
	return w, &buf
}

func TestNativeIPv4(t *testing.T) {
	w, buf := newWriter(t, capture.LinkRaw)
	pkts := [][]byte{sctpBytes(12), sctpBytes(1037), sctpBytes(65535 - 20)}
	for i, p := range pkts {
		if err := w.WriteSCTP(ts0.Add(time.Duration(i)*time.Millisecond), v4a, v4b, p); err != nil {
			t.Fatal(err)
		}
	}
	recs := readAll(t, buf.Bytes(), layers.LinkTypeRaw)
	if len(recs) != len(pkts) {
		t.Fatalf("%d records, want %d", len(recs), len(pkts))
	}
	var ids []uint16
	for i, r := range recs {
		if want := ts0.Add(time.Duration(i) * time.Millisecond); !r.ts.Equal(want) {
			t.Errorf("record %d at %v, want %v", i, r.ts, want)
		}
		proto, src, dst, payload := ipPacket(t, r.data)
		if proto != 132 || src != v4a || dst != v4b {
			t.Errorf("record %d: protocol %d %v -> %v, want 132 %v -> %v", i, proto, src, dst, v4a, v4b)
		}
		if !bytes.Equal(payload, pkts[i]) {
			t.Errorf("record %d: SCTP packet changed", i)
		}
		ids = append(ids, binary.BigEndian.Uint16(r.data[4:6]))
	}
	if ids[0] == ids[1] || ids[1] == ids[2] {
		t.Errorf("IPv4 Identification repeats: %v", ids)
	}
}

func TestEncapsulatedIPv4(t *testing.T) {
	w, buf := newWriter(t, capture.LinkRaw)
	p := sctpBytes(101) // odd, so the checksum covers a padded last word
	if err := w.WriteSCTPInUDP(ts0, netip.AddrPortFrom(v4a, 40000), netip.AddrPortFrom(v4b, 9899), p); err != nil {
		t.Fatal(err)
	}
	// A zero port is the IANA port (RFC 6951 5.1).
	if err := w.WriteSCTPInUDP(ts0, netip.AddrPortFrom(v4b, 0), netip.AddrPortFrom(v4a, 40000), p); err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, buf.Bytes(), layers.LinkTypeRaw)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	for i, want := range [][2]uint16{{40000, 9899}, {9899, 40000}} {
		proto, src, dst, payload := ipPacket(t, recs[i].data)
		if proto != 17 {
			t.Fatalf("record %d: protocol %d, want 17", i, proto)
		}
		sport, dport, sctp := udpDatagram(t, src, dst, payload)
		if sport != want[0] || dport != want[1] {
			t.Errorf("record %d: ports %d -> %d, want %d -> %d", i, sport, dport, want[0], want[1])
		}
		if !bytes.Equal(sctp, p) {
			t.Errorf("record %d: SCTP packet changed", i)
		}
	}
}

func TestIPv6(t *testing.T) {
	w, buf := newWriter(t, capture.LinkRaw)
	p := sctpBytes(203)
	if err := w.WriteSCTP(ts0, v6a, v6b, p); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteSCTPInUDP(ts0, netip.AddrPortFrom(v6a, 9899), netip.AddrPortFrom(v6b, 9899), p); err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, buf.Bytes(), layers.LinkTypeRaw)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	proto, src, dst, payload := ipPacket(t, recs[0].data)
	if proto != 132 || src != v6a || dst != v6b || !bytes.Equal(payload, p) {
		t.Errorf("native IPv6: protocol %d %v -> %v", proto, src, dst)
	}
	proto, src, dst, payload = ipPacket(t, recs[1].data)
	if proto != 17 {
		t.Fatalf("encapsulated IPv6: next header %d, want 17", proto)
	}
	if _, _, sctp := udpDatagram(t, src, dst, payload); !bytes.Equal(sctp, p) {
		t.Errorf("encapsulated IPv6: SCTP packet changed")
	}
}

// IPv4-mapped IPv6 addresses are IPv4 on the wire.
func TestMappedAddressesAreIPv4(t *testing.T) {
	w, buf := newWriter(t, capture.LinkRaw)
	mapped := netip.AddrFrom16(v4a.As16())
	if err := w.WriteSCTP(ts0, mapped, v4b, sctpBytes(16)); err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, buf.Bytes(), layers.LinkTypeRaw)
	if _, src, _, _ := ipPacket(t, recs[0].data); src != v4a {
		t.Errorf("source %v, want %v", src, v4a)
	}
}

func TestEthernet(t *testing.T) {
	w, buf := newWriter(t, capture.LinkEthernet)
	small := sctpBytes(16) // 14 + 20 + 16 < 60: Ethernet pads the frame
	if err := w.WriteSCTP(ts0, v4a, v4b, small); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteSCTPInUDP(ts0, netip.AddrPortFrom(v6a, 1), netip.AddrPortFrom(v6b, 2), sctpBytes(300)); err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, buf.Bytes(), layers.LinkTypeEthernet)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	for i, wantType := range []uint16{0x0800, 0x86dd} {
		f := recs[i].data
		if got := binary.BigEndian.Uint16(f[12:14]); got != wantType {
			t.Errorf("record %d: EtherType %#04x, want %#04x", i, got, wantType)
		}
		if f[0]&2 == 0 || f[6]&2 == 0 || f[0]&1 != 0 {
			t.Errorf("record %d: MACs % x / % x are not locally administered unicast", i, f[0:6], f[6:12])
		}
	}
	// The IPv4 Total Length, not the frame, bounds the packet.
	ip := recs[0].data[14:]
	if n := int(binary.BigEndian.Uint16(ip[2:4])); n != 20+len(small) || len(ip) < n {
		t.Fatalf("IPv4 Total Length %d in a %d-byte frame payload", n, len(ip))
	}
	if _, _, _, payload := ipPacket(t, ip[:20+len(small)]); !bytes.Equal(payload, small) {
		t.Errorf("SCTP packet changed")
	}
	if len(recs[0].data) != 60 {
		t.Errorf("short frame is %d bytes, want the 60-byte minimum", len(recs[0].data))
	}
}

func TestWriteErrors(t *testing.T) {
	w, buf := newWriter(t, capture.LinkRaw)
	before := buf.Len()
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"mixed families", w.WriteSCTP(ts0, v4a, v6b, sctpBytes(12)), capture.ErrAddress},
		{"invalid source", w.WriteSCTP(ts0, netip.Addr{}, v4b, sctpBytes(12)), capture.ErrAddress},
		{"invalid UDP destination", w.WriteSCTPInUDP(ts0, netip.AddrPortFrom(v4a, 1), netip.AddrPort{}, sctpBytes(12)), capture.ErrAddress},
		{"IPv4 too large", w.WriteSCTP(ts0, v4a, v4b, sctpBytes(65535-19)), capture.ErrTooLarge},
		{"IPv4 UDP too large", w.WriteSCTPInUDP(ts0, netip.AddrPortFrom(v4a, 1), netip.AddrPortFrom(v4b, 2), sctpBytes(65535-27)), capture.ErrTooLarge},
		{"IPv6 UDP too large", w.WriteSCTPInUDP(ts0, netip.AddrPortFrom(v6a, 1), netip.AddrPortFrom(v6b, 2), sctpBytes(65535-7)), capture.ErrTooLarge},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	if buf.Len() != before {
		t.Errorf("failed writes left %d bytes in the file", buf.Len()-before)
	}
	if _, err := capture.NewWriter(io.Discard, capture.Link(7)); err == nil {
		t.Errorf("NewWriter accepted an unknown link type")
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("disk full")
	}
	f.after--
	return len(p), nil
}

func TestWriterErrorsPropagate(t *testing.T) {
	if _, err := capture.NewWriter(&failWriter{}, capture.LinkRaw); err == nil {
		t.Errorf("NewWriter hid a failed file header write")
	}
	w, err := capture.NewWriter(&failWriter{after: 1}, capture.LinkRaw)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteSCTP(ts0, v4a, v4b, sctpBytes(12)); err == nil {
		t.Errorf("WriteSCTP hid a failed record write")
	}
}

// Links write from several goroutines; each record must come out whole.
func TestConcurrentWriters(t *testing.T) {
	w, buf := newWriter(t, capture.LinkRaw)
	const goroutines, each = 8, 50
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				p := sctpBytes(12 + g*4 + i)
				var err error
				if i%2 == 0 {
					err = w.WriteSCTP(ts0, v4a, v4b, p)
				} else {
					err = w.WriteSCTPInUDP(ts0, netip.AddrPortFrom(v6a, 9899), netip.AddrPortFrom(v6b, uint16(g+1)), p)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	recs := readAll(t, buf.Bytes(), layers.LinkTypeRaw)
	if len(recs) != goroutines*each {
		t.Fatalf("%d records, want %d", len(recs), goroutines*each)
	}
	ids := map[uint16]bool{}
	for _, r := range recs {
		proto, src, dst, payload := ipPacket(t, r.data)
		if proto == 17 {
			_, _, payload = udpDatagram(t, src, dst, payload)
		} else {
			ids[binary.BigEndian.Uint16(r.data[4:6])] = true
		}
		if !bytes.Equal(payload, sctpBytes(len(payload))) {
			t.Fatalf("a record's SCTP packet is corrupt")
		}
	}
	if len(ids) != goroutines*each/2 {
		t.Errorf("%d distinct IPv4 Identifications for %d IPv4 packets", len(ids), goroutines*each/2)
	}
}
