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

// ShutdownAck is a SHUTDOWN ACK chunk (RFC 9260 3.3.9); it has no value.
type ShutdownAck struct{}

func (*ShutdownAck) ChunkType() ChunkType { return TypeShutdownAck }

func (*ShutdownAck) AppendTo(b []byte) []byte {
	return appendChunkHeader(b, TypeShutdownAck, 0, 0)
}

func (*ShutdownAck) Unmarshal(c RawChunk) error { return checkEmptyChunk(c, TypeShutdownAck) }

// ShutdownComplete is a SHUTDOWN COMPLETE chunk (RFC 9260 3.3.13).
type ShutdownComplete struct {
	// TagReflected is the T bit: the sender had no TCB and reflected the
	// receiver's own verification tag (8.5.1 C).
	TagReflected bool
}

func (*ShutdownComplete) ChunkType() ChunkType { return TypeShutdownComplete }

func (s *ShutdownComplete) AppendTo(b []byte) []byte {
	return appendChunkHeader(b, TypeShutdownComplete, tbit(s.TagReflected), 0)
}

func (s *ShutdownComplete) Unmarshal(c RawChunk) error {
	if err := checkEmptyChunk(c, TypeShutdownComplete); err != nil {
		return err
	}
	s.TagReflected = c.Flags&flagT != 0
	return nil
}

// checkEmptyChunk accepts a chunk of type t whose length is exactly the
// header: these chunks have no value to skip, so extra bytes mean the sender
// and we disagree about what the chunk is.
func checkEmptyChunk(c RawChunk, t ChunkType) error {
	if err := checkType(c, t); err != nil {
		return err
	}
	if len(c.Value) != 0 {
		return perr(t.String(), 2, ErrBadLength, "value is %d bytes, want none", len(c.Value))
	}
	return nil
}
