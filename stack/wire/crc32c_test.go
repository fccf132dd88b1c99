package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/sctpgw/sctpgw/stack/wire"
)

// crcReference is CRC32c computed one bit at a time straight from RFC 9260
// appendix A: bytes taken in order, bits least significant first (the
// "reflected" convention, hence the reversed polynomial 0x82F63B78 for
// 0x1EDC6F41), register initialised to all ones, result complemented. It
// shares nothing with hash/crc32, so it checks the table-driven (and
// hardware-accelerated) wire.CRC32c rather than restating it.
func crcReference(b []byte) uint32 {
	c := ^uint32(0)
	for _, x := range b {
		c ^= uint32(x)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0x82F63B78
			} else {
				c >>= 1
			}
		}
	}
	return ^c
}

// crcFromWire reads a CRC as RFC 3720 B.4 prints it: the bytes in the order
// they are transmitted, least significant first.
func crcFromWire(b0, b1, b2, b3 byte) uint32 {
	return binary.LittleEndian.Uint32([]byte{b0, b1, b2, b3})
}

// RFC 3720 appendix B.4, the CRC32c examples SCTP's checksum is defined by.
func TestCRC32cRFC3720(t *testing.T) {
	inc := make([]byte, 32)
	dec := make([]byte, 32)
	for i := range 32 {
		inc[i] = byte(i)
		dec[i] = byte(31 - i)
	}
	// An iSCSI SCSI Read (10) Command PDU, as B.4 lists it.
	iscsiRead := vecHex(
		"01 c0 00 00",
		"00 00 00 00",
		"00 00 00 00",
		"00 00 00 00",
		"14 00 00 00",
		"00 00 04 00",
		"00 00 00 14",
		"00 00 00 18",
		"28 00 00 00",
		"00 00 00 00",
		"02 00 00 00",
		"00 00 00 00",
	)
	for _, tc := range []struct {
		name string
		in   []byte
		want uint32
	}{
		{"32 bytes of zeroes", make([]byte, 32), crcFromWire(0xaa, 0x36, 0x91, 0x8a)},
		{"32 bytes of ones", bytes.Repeat([]byte{0xff}, 32), crcFromWire(0x43, 0xab, 0xa8, 0x62)},
		{"32 bytes incrementing 00..1f", inc, crcFromWire(0x4e, 0x79, 0xdd, 0x46)},
		{"32 bytes decrementing 1f..00", dec, crcFromWire(0x5c, 0xdb, 0x3f, 0x11)},
		{"iSCSI SCSI Read (10) Command PDU", iscsiRead, crcFromWire(0x56, 0x3a, 0x96, 0xd9)},
	} {
		if got := wire.CRC32c(tc.in); got != tc.want {
			t.Errorf("%s: CRC32c %#08x, want %#08x", tc.name, got, tc.want)
		}
		if got := crcReference(tc.in); got != tc.want {
			t.Errorf("%s: reference %#08x, want %#08x (the reference is wrong)", tc.name, got, tc.want)
		}
	}
}

// The hardware and table paths of hash/crc32 switch on length and alignment;
// compare them with the bitwise reference over every length up to a few
// hundred bytes and at every alignment.
func TestCRC32cMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 600)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	for off := range 8 {
		for n := 0; n+off <= 520; n++ {
			b := buf[off : off+n]
			if got, want := wire.CRC32c(b), crcReference(b); got != want {
				t.Fatalf("offset %d length %d: CRC32c %#08x, reference %#08x", off, n, got, want)
			}
		}
	}
}

// Checksum is the CRC32c of the packet with the checksum field taken as zero
// (RFC 9260 6.8), whatever the field holds.
func TestPacketChecksumVector(t *testing.T) {
	const want = 0xbdbdc61f // vecPktInit's checksum; bytes 1f c6 bd bd on the wire
	pkt := bytes.Clone(vecPktInit)
	if got := wire.Checksum(pkt); got != want {
		t.Errorf("Checksum %#08x, want %#08x", got, want)
	}
	if !wire.VerifyChecksum(pkt) {
		t.Error("VerifyChecksum rejects the vector")
	}
	copy(pkt[8:12], []byte{0xde, 0xad, 0xbe, 0xef})
	if got := wire.Checksum(pkt); got != want {
		t.Errorf("Checksum with garbage in the field %#08x, want %#08x", got, want)
	}
	if wire.VerifyChecksum(pkt) {
		t.Error("VerifyChecksum accepts garbage in the field")
	}
	wire.SetChecksum(pkt)
	if !bytes.Equal(pkt, vecPktInit) {
		t.Errorf("SetChecksum wrote % x, want % x", pkt[8:12], vecPktInit[8:12])
	}
	zeroed := vecCat(vecPktInit[:8], make([]byte, 4), vecPktInit[12:])
	if got := wire.CRC32c(zeroed); got != want {
		t.Errorf("CRC32c of the zeroed packet %#08x, want %#08x", got, want)
	}
}

func TestPacketWrongChecksumRejected(t *testing.T) {
	pkt := bytes.Clone(vecPktDataSack)
	pkt[8] ^= 0x01
	var p wire.Packet
	err := p.Unmarshal(pkt)
	if !errors.Is(err, wire.ErrChecksum) {
		t.Fatalf("Unmarshal: %v, want %v", err, wire.ErrChecksum)
	}
	var pe *wire.ParseError
	if !errors.As(err, &pe) || pe.Offset != 8 {
		t.Errorf("error %#v should be a *ParseError at offset 8, the checksum field", err)
	}
	// The unverified path is for callers that checked already (or RFC 9653
	// zero-checksum packets): it must parse the same packet.
	if err := p.UnmarshalUnverified(pkt); err != nil {
		t.Errorf("UnmarshalUnverified: %v", err)
	}
	// A zero checksum is not special unless the caller makes it so (RFC 9653
	// is negotiated, so the codec cannot know).
	clear(pkt[8:12])
	if err := p.Unmarshal(pkt); !errors.Is(err, wire.ErrChecksum) {
		t.Errorf("Unmarshal with a zero checksum: %v, want %v", err, wire.ErrChecksum)
	}
}

// CRC32c detects every single-bit error and every burst of up to 32 bits in
// the message it covers; the codec must turn each into ErrChecksum. Single
// bits are flipped everywhere, checksum field included (the stored value
// changes, the computed one does not). Bursts stay clear of the checksum
// field: one that straddles it is not a burst of the checksummed message
// (whose field reads as zero), so the guarantee does not apply to it.
func TestPacketBitFlipsDetected(t *testing.T) {
	for _, v := range packetVectors() {
		var p wire.Packet
		pkt := bytes.Clone(v.bytes)
		for bit := range 8 * len(pkt) {
			pkt[bit/8] ^= 1 << (bit % 8)
			if err := p.Unmarshal(pkt); !errors.Is(err, wire.ErrChecksum) {
				t.Errorf("%s: bit %d flipped: Unmarshal %v, want %v", v.name, bit, err, wire.ErrChecksum)
			}
			pkt[bit/8] ^= 1 << (bit % 8)
		}
		rng := rand.New(rand.NewPCG(3, uint64(len(pkt))))
		for range 2000 {
			n := 2 + rng.IntN(31) // burst length in bits, both ends flipped
			start := rng.IntN(8*len(pkt) - n + 1)
			if start < 12*8 && start+n > 8*8 {
				continue // touches the checksum field
			}
			pattern := rng.Uint32() | 1 | 1<<(n-1)
			for i := range n {
				if pattern&(1<<i) != 0 {
					b := start + i
					pkt[b/8] ^= 1 << (b % 8)
				}
			}
			if err := p.Unmarshal(pkt); !errors.Is(err, wire.ErrChecksum) {
				t.Errorf("%s: %d-bit burst at bit %d: Unmarshal %v, want %v", v.name, n, start, err, wire.ErrChecksum)
			}
			copy(pkt, v.bytes)
		}
	}
}

func TestPacketTooShortForChecksum(t *testing.T) {
	for n := range wire.CommonHeaderLen {
		b := vecPktInit[:n]
		if wire.VerifyChecksum(b) {
			t.Errorf("%d bytes: VerifyChecksum accepts a packet shorter than the common header", n)
		}
		var p wire.Packet
		if err := p.Unmarshal(b); !errors.Is(err, wire.ErrTruncated) {
			t.Errorf("%d bytes: Unmarshal %v, want %v", n, err, wire.ErrTruncated)
		}
	}
}
