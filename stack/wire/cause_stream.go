package wire

import "encoding/binary"

// InvalidStreamCause is cause 1, Invalid Stream Identifier (RFC 9260 3.3.10.1).
type InvalidStreamCause struct{ StreamID uint16 }

func (*InvalidStreamCause) CauseCode() CauseCode { return CauseInvalidStream }

func (c *InvalidStreamCause) AppendTo(b []byte) []byte {
	b = appendCauseHeader(b, CauseInvalidStream, 4)
	b = binary.BigEndian.AppendUint16(b, c.StreamID)
	return append(b, 0, 0)
}

func (c *InvalidStreamCause) unmarshalValue(v []byte) error {
	if len(v) != 4 {
		return perr("Invalid Stream Identifier cause", 2, ErrBadLength, "value is %d bytes, want 4", len(v))
	}
	c.StreamID = binary.BigEndian.Uint16(v)
	return nil
}
