package wire

import "encoding/binary"

const (
	idataHeaderLen = 16 // TSN, stream id, reserved, MID, PPID/FSN
	// IDataHeaderSize is the I-DATA chunk's size before its user data.
	IDataHeaderSize = ChunkHeaderLen + idataHeaderLen
)

// IData is an I-DATA chunk (RFC 8260 2.1). Its flags mean what DATA's do.
// Payload aliases the parsed buffer.
//
// One 32-bit field carries the PPID on the first fragment (B set) and the
// FSN on every other: RFC 8260 2.1 takes the FSN of a first fragment to be
// 0, and only first fragments say what the message's PPID is. So PPID is
// meaningful when Beginning is set and FSN otherwise; the unused one is zero
// after Unmarshal and ignored by AppendTo.
type IData struct {
	TSN       uint32
	StreamID  uint16
	MID       uint32 // Message Identifier
	PPID      uint32 // when Beginning
	FSN       uint32 // Fragment Sequence Number, when not Beginning
	Unordered bool   // U
	Beginning bool   // B
	Ending    bool   // E
	Immediate bool   // I (RFC 7053 semantics)
	Payload   []byte
}

func (*IData) ChunkType() ChunkType { return TypeIData }

// Unmarshal decodes c into d without allocating. As with DATA, an empty
// payload parses and is the association's to reject (RFC 9260 6.2).
func (d *IData) Unmarshal(c RawChunk) error {
	if err := checkType(c, TypeIData); err != nil {
		return err
	}
	v := c.Value
	if err := need("I-DATA", v, idataHeaderLen); err != nil {
		return err
	}
	d.TSN = binary.BigEndian.Uint32(v[0:4])
	d.StreamID = binary.BigEndian.Uint16(v[4:6])
	// v[6:8] is reserved: ignored on receipt (RFC 8260 2.1).
	d.MID = binary.BigEndian.Uint32(v[8:12])
	d.Ending = c.Flags&flagEnding != 0
	d.Beginning = c.Flags&flagBeginning != 0
	d.Unordered = c.Flags&flagUnordered != 0
	d.Immediate = c.Flags&flagImmediate != 0
	word := binary.BigEndian.Uint32(v[12:16])
	if d.Beginning {
		d.PPID, d.FSN = word, 0
	} else {
		d.PPID, d.FSN = 0, word
	}
	d.Payload = v[idataHeaderLen:]
	if len(d.Payload) == 0 {
		d.Payload = nil
	}
	return nil
}

// Flags is the chunk's flags byte.
func (d *IData) Flags() uint8 {
	return dataFlags(d.Unordered, d.Beginning, d.Ending, d.Immediate)
}

func (d *IData) AppendTo(b []byte) []byte {
	start := len(b)
	b = appendChunkHeader(b, TypeIData, d.Flags(), idataHeaderLen+len(d.Payload))
	b = binary.BigEndian.AppendUint32(b, d.TSN)
	b = binary.BigEndian.AppendUint16(b, d.StreamID)
	b = append(b, 0, 0)
	b = binary.BigEndian.AppendUint32(b, d.MID)
	if d.Beginning {
		b = binary.BigEndian.AppendUint32(b, d.PPID)
	} else {
		b = binary.BigEndian.AppendUint32(b, d.FSN)
	}
	b = append(b, d.Payload...)
	return appendPadding(b, start)
}
