package wire

import "encoding/binary"

// CommonHeaderLen is the size of the SCTP common header (RFC 9260 3.1).
const CommonHeaderLen = 12

// ChunkHeaderLen is the size of every chunk's type, flags and length fields.
const ChunkHeaderLen = 4

// CommonHeader is the RFC 9260 3.1 common header.
type CommonHeader struct {
	SrcPort         uint16
	DstPort         uint16
	VerificationTag uint32
	// Checksum is the value read from the packet; encoders ignore it and
	// compute the CRC32c themselves.
	Checksum uint32
}

// Packet is a parsed SCTP packet: its header and views of its chunks. The
// chunk values alias the buffer that was parsed.
type Packet struct {
	CommonHeader
	Chunks []RawChunk
}

// Unmarshal parses b into p after verifying its CRC32c. p.Chunks is reused, so
// a Packet kept across calls parses without allocating.
//
// When a chunk's framing is bad (a length past the end of the packet or
// below the header size, or trailing bytes that are no chunk header), the
// error comes with p.Chunks holding every whole chunk before it: RFC 9260
// 6.10 has the receiver process those in order and drop only the partial
// chunk. After any other error p.Chunks is empty.
func (p *Packet) Unmarshal(b []byte) error {
	p.Chunks = p.Chunks[:0]
	if err := need("common header", b, CommonHeaderLen); err != nil {
		return err
	}
	if !VerifyChecksum(b) {
		return perr("common header", 8, ErrChecksum, "have %#08x, computed %#08x",
			binary.LittleEndian.Uint32(b[8:12]), Checksum(b))
	}
	return p.UnmarshalUnverified(b)
}

// UnmarshalUnverified parses b without checking the CRC32c, for callers that
// already did (or for RFC 9653 zero-checksum packets). Errors leave p.Chunks
// as Unmarshal does.
func (p *Packet) UnmarshalUnverified(b []byte) error {
	p.Chunks = p.Chunks[:0]
	if err := need("common header", b, CommonHeaderLen); err != nil {
		return err
	}
	p.SrcPort = binary.BigEndian.Uint16(b[0:2])
	p.DstPort = binary.BigEndian.Uint16(b[2:4])
	p.VerificationTag = binary.BigEndian.Uint32(b[4:8])
	p.Checksum = binary.LittleEndian.Uint32(b[8:12])
	rest := b[CommonHeaderLen:]
	off := CommonHeaderLen
	for len(rest) > 0 {
		c, n, err := nextChunk(rest)
		if err != nil {
			if pe, ok := err.(*ParseError); ok {
				pe.Where = "packet chunk"
				pe.Offset += off
			}
			return err
		}
		p.Chunks = append(p.Chunks, c)
		rest = rest[n:]
		off += n
	}
	return nil
}

// nextChunk cuts one chunk off the front of b and returns it with the number
// of bytes it occupies including padding. A final chunk whose padding is
// missing is accepted: RFC 9260 3.2 has the receiver ignore padding, and some
// stacks omit it at the end of a packet.
func nextChunk(b []byte) (RawChunk, int, error) {
	if len(b) < ChunkHeaderLen {
		return RawChunk{}, 0, perr("chunk", 0, ErrTruncated, "%d trailing bytes are not a chunk header", len(b))
	}
	l := int(binary.BigEndian.Uint16(b[2:4]))
	if l < ChunkHeaderLen {
		return RawChunk{}, 0, perr("chunk", 2, ErrBadLength, "type %d length %d is below the header size", b[0], l)
	}
	if l > len(b) {
		return RawChunk{}, 0, perr("chunk", 2, ErrBadLength, "type %d length %d exceeds the %d bytes left", b[0], l, len(b))
	}
	c := RawChunk{Type: ChunkType(b[0]), Flags: b[1], Value: b[ChunkHeaderLen:l:l]}
	n := pad4(l)
	if n > len(b) {
		n = len(b)
	}
	return c, n, nil
}

// AppendHeader starts a packet in b. Finish it with FinishPacket once every
// chunk has been appended.
func AppendHeader(b []byte, h CommonHeader) []byte {
	b = binary.BigEndian.AppendUint16(b, h.SrcPort)
	b = binary.BigEndian.AppendUint16(b, h.DstPort)
	b = binary.BigEndian.AppendUint32(b, h.VerificationTag)
	return append(b, 0, 0, 0, 0)
}

// FinishPacket computes the CRC32c of the packet that starts at b[start:] and
// writes it into the packet's common header.
func FinishPacket(b []byte, start int) {
	SetChecksum(b[start:])
}

// AppendPacket encodes a whole packet: header, chunks, checksum.
func AppendPacket(b []byte, h CommonHeader, chunks ...Chunk) []byte {
	start := len(b)
	b = AppendHeader(b, h)
	for _, c := range chunks {
		b = c.AppendTo(b)
	}
	FinishPacket(b, start)
	return b
}

func pad4(n int) int { return (n + 3) &^ 3 }

// appendPadding pads b to a multiple of four bytes counted from start.
func appendPadding(b []byte, start int) []byte {
	for (len(b)-start)&3 != 0 {
		b = append(b, 0)
	}
	return b
}
