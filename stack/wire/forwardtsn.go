package wire

import "encoding/binary"

// ForwardTSNStream is one {Stream, Stream Sequence} entry of a FORWARD TSN
// chunk: the largest SSN skipped on that stream.
type ForwardTSNStream struct {
	StreamID uint16
	SSN      uint16
}

// ForwardTSN is a FORWARD TSN chunk (RFC 3758 3.2). Unmarshal reuses the
// Streams slice, as Sack does with its blocks.
type ForwardTSN struct {
	NewCumTSN uint32
	Streams   []ForwardTSNStream
}

func (*ForwardTSN) ChunkType() ChunkType { return TypeForwardTSN }

func (f *ForwardTSN) AppendTo(b []byte) []byte {
	b = appendChunkHeader(b, TypeForwardTSN, 0, 4+4*len(f.Streams))
	b = binary.BigEndian.AppendUint32(b, f.NewCumTSN)
	for _, s := range f.Streams {
		b = binary.BigEndian.AppendUint16(b, s.StreamID)
		b = binary.BigEndian.AppendUint16(b, s.SSN)
	}
	return b // always a multiple of four
}

func (f *ForwardTSN) Unmarshal(c RawChunk) error {
	if err := checkType(c, TypeForwardTSN); err != nil {
		return err
	}
	v := c.Value
	if err := need("FORWARD TSN", v, 4); err != nil {
		return err
	}
	if (len(v)-4)%4 != 0 {
		return perr("FORWARD TSN", 2, ErrBadLength, "%d bytes after the new cumulative TSN are not whole stream entries", len(v)-4)
	}
	f.NewCumTSN = binary.BigEndian.Uint32(v)
	f.Streams = f.Streams[:0]
	for off := 4; off < len(v); off += 4 {
		f.Streams = append(f.Streams, ForwardTSNStream{
			StreamID: binary.BigEndian.Uint16(v[off:]),
			SSN:      binary.BigEndian.Uint16(v[off+2:]),
		})
	}
	return nil
}

// iforwardUnordered is the U bit of an I-FORWARD-TSN entry's flags field.
const iforwardUnordered = 0x0001

// IForwardTSNStream is one entry of an I-FORWARD-TSN chunk: the largest MID
// skipped on a stream, for its ordered or (Unordered) unordered messages.
type IForwardTSNStream struct {
	StreamID  uint16
	Unordered bool // U
	MID       uint32
}

// IForwardTSN is an I-FORWARD-TSN chunk (RFC 8260 2.3.1), the FORWARD TSN of
// associations that use I-DATA. Unmarshal reuses the Streams slice.
type IForwardTSN struct {
	NewCumTSN uint32
	Streams   []IForwardTSNStream
}

func (*IForwardTSN) ChunkType() ChunkType { return TypeIForwardTSN }

func (f *IForwardTSN) AppendTo(b []byte) []byte {
	b = appendChunkHeader(b, TypeIForwardTSN, 0, 4+8*len(f.Streams))
	b = binary.BigEndian.AppendUint32(b, f.NewCumTSN)
	for _, s := range f.Streams {
		var flags uint16
		if s.Unordered {
			flags = iforwardUnordered
		}
		b = binary.BigEndian.AppendUint16(b, s.StreamID)
		b = binary.BigEndian.AppendUint16(b, flags)
		b = binary.BigEndian.AppendUint32(b, s.MID)
	}
	return b // always a multiple of four
}

// Unmarshal decodes c into f. The 15 reserved bits beside U are ignored, as
// RFC 8260 2.3.1 requires of receivers.
func (f *IForwardTSN) Unmarshal(c RawChunk) error {
	if err := checkType(c, TypeIForwardTSN); err != nil {
		return err
	}
	v := c.Value
	if err := need("I-FORWARD-TSN", v, 4); err != nil {
		return err
	}
	if (len(v)-4)%8 != 0 {
		return perr("I-FORWARD-TSN", 2, ErrBadLength, "%d bytes after the new cumulative TSN are not whole stream entries", len(v)-4)
	}
	f.NewCumTSN = binary.BigEndian.Uint32(v)
	f.Streams = f.Streams[:0]
	for off := 4; off < len(v); off += 8 {
		f.Streams = append(f.Streams, IForwardTSNStream{
			StreamID:  binary.BigEndian.Uint16(v[off:]),
			Unordered: binary.BigEndian.Uint16(v[off+2:])&iforwardUnordered != 0,
			MID:       binary.BigEndian.Uint32(v[off+4:]),
		})
	}
	return nil
}
