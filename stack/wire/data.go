package wire

import "encoding/binary"

// DATA chunk flag bits (RFC 9260 3.3.1; I from RFC 7053).
const (
	flagEnding     = 0x01
	flagBeginning  = 0x02
	flagUnordered  = 0x04
	flagImmediate  = 0x08
	dataHeaderLen  = 12 // TSN, stream id, SSN, PPID
	DataHeaderSize = ChunkHeaderLen + dataHeaderLen
)

// Data is a DATA chunk (RFC 9260 3.3.1). Payload aliases the parsed buffer.
type Data struct {
	TSN       uint32
	StreamID  uint16
	SSN       uint16
	PPID      uint32
	Unordered bool // U
	Beginning bool // B: first fragment of a user message
	Ending    bool // E: last fragment of a user message
	Immediate bool // I: the receiver should SACK at once (RFC 7053)
	Payload   []byte
}

func (*Data) ChunkType() ChunkType { return TypeData }

// Unmarshal decodes c into d without allocating. A DATA chunk with no user
// data parses; RFC 9260 6.2 has the receiver answer it with an ABORT carrying
// "No User Data", which is the association's decision, not the codec's.
func (d *Data) Unmarshal(c RawChunk) error {
	if err := checkType(c, TypeData); err != nil {
		return err
	}
	v := c.Value
	if err := need("DATA", v, dataHeaderLen); err != nil {
		return err
	}
	d.TSN = binary.BigEndian.Uint32(v[0:4])
	d.StreamID = binary.BigEndian.Uint16(v[4:6])
	d.SSN = binary.BigEndian.Uint16(v[6:8])
	d.PPID = binary.BigEndian.Uint32(v[8:12])
	d.setFlags(c.Flags)
	d.Payload = v[dataHeaderLen:]
	if len(d.Payload) == 0 {
		d.Payload = nil // canonical empty value, so decoded chunks compare equal
	}
	return nil
}

func (d *Data) setFlags(f uint8) {
	d.Ending = f&flagEnding != 0
	d.Beginning = f&flagBeginning != 0
	d.Unordered = f&flagUnordered != 0
	d.Immediate = f&flagImmediate != 0
}

// Flags is the chunk's flags byte.
func (d *Data) Flags() uint8 {
	return dataFlags(d.Unordered, d.Beginning, d.Ending, d.Immediate)
}

func dataFlags(u, b, e, i bool) uint8 {
	var f uint8
	if e {
		f |= flagEnding
	}
	if b {
		f |= flagBeginning
	}
	if u {
		f |= flagUnordered
	}
	if i {
		f |= flagImmediate
	}
	return f
}

func (d *Data) AppendTo(b []byte) []byte {
	start := len(b)
	b = appendChunkHeader(b, TypeData, d.Flags(), dataHeaderLen+len(d.Payload))
	b = binary.BigEndian.AppendUint32(b, d.TSN)
	b = binary.BigEndian.AppendUint16(b, d.StreamID)
	b = binary.BigEndian.AppendUint16(b, d.SSN)
	b = binary.BigEndian.AppendUint32(b, d.PPID)
	b = append(b, d.Payload...)
	return appendPadding(b, start)
}
