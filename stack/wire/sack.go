package wire

import "encoding/binary"

const sackFixedLen = 12

// GapBlock is one Gap Ack Block: TSNs CumTSNAck+Start through CumTSNAck+End
// were received (RFC 9260 3.3.4).
type GapBlock struct {
	Start, End uint16
}

// Sack is a SACK chunk (RFC 9260 3.3.4). Unmarshal reuses the GapBlocks and
// DupTSNs slices, so a Sack kept across calls decodes without allocating.
type Sack struct {
	CumTSNAck uint32
	ARwnd     uint32
	GapBlocks []GapBlock
	DupTSNs   []uint32
}

func (*Sack) ChunkType() ChunkType { return TypeSack }

func (s *Sack) Unmarshal(c RawChunk) error {
	if err := checkType(c, TypeSack); err != nil {
		return err
	}
	v := c.Value
	if err := need("SACK", v, sackFixedLen); err != nil {
		return err
	}
	s.CumTSNAck = binary.BigEndian.Uint32(v[0:4])
	s.ARwnd = binary.BigEndian.Uint32(v[4:8])
	ngap := int(binary.BigEndian.Uint16(v[8:10]))
	ndup := int(binary.BigEndian.Uint16(v[10:12]))
	if want := sackFixedLen + 4*ngap + 4*ndup; len(v) != want {
		return perr("SACK", 8, ErrBadLength, "%d gap blocks and %d duplicate TSNs need %d bytes, value has %d", ngap, ndup, want, len(v))
	}
	s.GapBlocks = s.GapBlocks[:0]
	s.DupTSNs = s.DupTSNs[:0]
	off := sackFixedLen
	for i := 0; i < ngap; i++ {
		s.GapBlocks = append(s.GapBlocks, GapBlock{
			Start: binary.BigEndian.Uint16(v[off:]),
			End:   binary.BigEndian.Uint16(v[off+2:]),
		})
		off += 4
	}
	for i := 0; i < ndup; i++ {
		s.DupTSNs = append(s.DupTSNs, binary.BigEndian.Uint32(v[off:]))
		off += 4
	}
	return nil
}

func (s *Sack) AppendTo(b []byte) []byte {
	b = appendChunkHeader(b, TypeSack, 0, sackFixedLen+4*len(s.GapBlocks)+4*len(s.DupTSNs))
	b = binary.BigEndian.AppendUint32(b, s.CumTSNAck)
	b = binary.BigEndian.AppendUint32(b, s.ARwnd)
	b = binary.BigEndian.AppendUint16(b, uint16(len(s.GapBlocks)))
	b = binary.BigEndian.AppendUint16(b, uint16(len(s.DupTSNs)))
	for _, g := range s.GapBlocks {
		b = binary.BigEndian.AppendUint16(b, g.Start)
		b = binary.BigEndian.AppendUint16(b, g.End)
	}
	for _, t := range s.DupTSNs {
		b = binary.BigEndian.AppendUint32(b, t)
	}
	return b // always a multiple of four
}
