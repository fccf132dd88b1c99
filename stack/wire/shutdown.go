package wire

import "encoding/binary"

// Shutdown is a SHUTDOWN chunk (RFC 9260 3.3.8).
type Shutdown struct {
	CumTSNAck uint32
}

func (*Shutdown) ChunkType() ChunkType { return TypeShutdown }

func (s *Shutdown) AppendTo(b []byte) []byte {
	b = appendChunkHeader(b, TypeShutdown, 0, 4)
	return binary.BigEndian.AppendUint32(b, s.CumTSNAck)
}

func (s *Shutdown) Unmarshal(c RawChunk) error {
	if err := checkType(c, TypeShutdown); err != nil {
		return err
	}
	if len(c.Value) != 4 {
		return perr("SHUTDOWN", 2, ErrBadLength, "value is %d bytes, want 4", len(c.Value))
	}
	s.CumTSNAck = binary.BigEndian.Uint32(c.Value)
	return nil
}
