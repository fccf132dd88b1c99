package wire

import (
	"encoding/binary"
	"hash/crc32"
)

// castagnoli uses the SSE4.2/ARMv8 CRC instructions where the CPU has them.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var zeroCRC [4]byte

// Checksum computes the CRC32c of an SCTP packet as RFC 9260 appendix A
// defines it: over the whole packet with the checksum field taken as zero.
func Checksum(pkt []byte) uint32 {
	if len(pkt) < CommonHeaderLen {
		return crc32.Checksum(pkt, castagnoli)
	}
	c := crc32.Update(0, castagnoli, pkt[:8])
	c = crc32.Update(c, castagnoli, zeroCRC[:])
	return crc32.Update(c, castagnoli, pkt[CommonHeaderLen:])
}

// CRC32c is the plain Castagnoli CRC of b, for known-answer tests.
func CRC32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// SetChecksum writes the CRC32c of pkt into its common header. Unlike every
// other field it goes out least significant byte first: the CRC is computed
// bit-reflected (RFC 9260 appendix A), so the byte order that keeps the
// polynomial's bit order on the wire is little-endian (RFC 3720 B.4 shows the
// same bytes).
func SetChecksum(pkt []byte) {
	if len(pkt) < CommonHeaderLen {
		return
	}
	binary.LittleEndian.PutUint32(pkt[8:12], Checksum(pkt))
}

// VerifyChecksum reports whether pkt carries a correct CRC32c.
func VerifyChecksum(pkt []byte) bool {
	if len(pkt) < CommonHeaderLen {
		return false
	}
	return binary.LittleEndian.Uint32(pkt[8:12]) == Checksum(pkt)
}
