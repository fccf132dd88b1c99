package wire

import "encoding/binary"

// ECNE is an ECN Echo chunk (RFC 4960 appendix A; RFC 9260 only reserves the
// type).
type ECNE struct {
	// LowestTSN is the lowest TSN of the packet that arrived with CE set.
	LowestTSN uint32
	// NumPackets counts CE-marked packets since the last CWR. It exists only
	// in the 12-byte ECNE of draft-stewart-tsvwg-sctpecn, which FreeBSD and
	// usrsctp send; HasNumPackets tells the two layouts apart so that either
	// re-encodes as received.
	NumPackets    uint32
	HasNumPackets bool
}

func (*ECNE) ChunkType() ChunkType { return TypeECNE }

func (e *ECNE) AppendTo(b []byte) []byte {
	if !e.HasNumPackets {
		b = appendChunkHeader(b, TypeECNE, 0, 4)
		return binary.BigEndian.AppendUint32(b, e.LowestTSN)
	}
	b = appendChunkHeader(b, TypeECNE, 0, 8)
	b = binary.BigEndian.AppendUint32(b, e.LowestTSN)
	return binary.BigEndian.AppendUint32(b, e.NumPackets)
}

func (e *ECNE) Unmarshal(c RawChunk) error {
	if err := checkType(c, TypeECNE); err != nil {
		return err
	}
	v := c.Value
	switch len(v) {
	case 4:
		*e = ECNE{LowestTSN: binary.BigEndian.Uint32(v)}
	case 8:
		*e = ECNE{
			LowestTSN:     binary.BigEndian.Uint32(v),
			NumPackets:    binary.BigEndian.Uint32(v[4:]),
			HasNumPackets: true,
		}
	default:
		return perr("ECNE", 2, ErrBadLength, "value is %d bytes, want 4 or 8", len(v))
	}
	return nil
}

// CWR is a Congestion Window Reduced chunk (RFC 4960 appendix A). Flags some
// BSD stacks set on it are not defined by any RFC and are dropped.
type CWR struct {
	// LowestTSN is the TSN from the ECNE this CWR answers.
	LowestTSN uint32
}

func (*CWR) ChunkType() ChunkType { return TypeCWR }

func (w *CWR) AppendTo(b []byte) []byte {
	b = appendChunkHeader(b, TypeCWR, 0, 4)
	return binary.BigEndian.AppendUint32(b, w.LowestTSN)
}

func (w *CWR) Unmarshal(c RawChunk) error {
	if err := checkType(c, TypeCWR); err != nil {
		return err
	}
	if len(c.Value) != 4 {
		return perr("CWR", 2, ErrBadLength, "value is %d bytes, want 4", len(c.Value))
	}
	w.LowestTSN = binary.BigEndian.Uint32(c.Value)
	return nil
}
