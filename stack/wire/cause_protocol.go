package wire

import "encoding/binary"

// Error causes about chunks a peer should not have sent (RFC 9260 3.3.10).

// UnrecognizedChunkCause is cause 6, Unrecognized Chunk Type (RFC 9260
// 3.3.10.6). Chunk is the reported chunk, header included, as the sender
// copied it; senders may include its padding or cut a long one short, so it
// is kept as bytes rather than reparsed.
type UnrecognizedChunkCause struct{ Chunk []byte }

func (*UnrecognizedChunkCause) CauseCode() CauseCode { return CauseUnrecognizedChunk }

func (c *UnrecognizedChunkCause) AppendTo(b []byte) []byte {
	return RawCause{Code: CauseUnrecognizedChunk, Value: c.Chunk}.AppendTo(b)
}

func (c *UnrecognizedChunkCause) unmarshalValue(v []byte) error {
	c.Chunk = v
	return nil
}

// ReportedType is the type of the reported chunk, and false if the copy is too
// short to hold one.
func (c *UnrecognizedChunkCause) ReportedType() (ChunkType, bool) {
	if len(c.Chunk) == 0 {
		return 0, false
	}
	return ChunkType(c.Chunk[0]), true
}

// NoUserDataCause is cause 9, No User Data (RFC 9260 3.3.10.9): the DATA
// chunk with that TSN had an empty payload.
type NoUserDataCause struct{ TSN uint32 }

func (*NoUserDataCause) CauseCode() CauseCode { return CauseNoUserData }

func (c *NoUserDataCause) AppendTo(b []byte) []byte {
	b = appendCauseHeader(b, CauseNoUserData, 4)
	return binary.BigEndian.AppendUint32(b, c.TSN)
}

func (c *NoUserDataCause) unmarshalValue(v []byte) error {
	if err := checkValueLen("No User Data cause", v, 4); err != nil {
		return err
	}
	c.TSN = binary.BigEndian.Uint32(v)
	return nil
}

// ProtocolViolationCause is cause 13, Protocol Violation (RFC 9260
// 3.3.10.13). Info is the optional free-form additional information.
type ProtocolViolationCause struct{ Info []byte }

func (*ProtocolViolationCause) CauseCode() CauseCode { return CauseProtocolViolation }

func (c *ProtocolViolationCause) AppendTo(b []byte) []byte {
	return RawCause{Code: CauseProtocolViolation, Value: c.Info}.AppendTo(b)
}

func (c *ProtocolViolationCause) unmarshalValue(v []byte) error {
	c.Info = v
	return nil
}
