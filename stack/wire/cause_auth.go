package wire

import "encoding/binary"

// UnsupportedHMACCause is cause 0x0105, Unsupported HMAC Identifier (RFC
// 4895 4.1): an AUTH chunk used an HMAC the receiver does not support.
type UnsupportedHMACCause struct{ HMACID HMACID }

func (*UnsupportedHMACCause) CauseCode() CauseCode { return CauseUnsupportedHMAC }

// AppendTo writes a cause length of 6, as RFC 4895 4.1 specifies: the two
// bytes after the identifier are the cause's padding, not part of it.
func (c *UnsupportedHMACCause) AppendTo(b []byte) []byte {
	start := len(b)
	b = appendCauseHeader(b, CauseUnsupportedHMAC, 2)
	b = binary.BigEndian.AppendUint16(b, uint16(c.HMACID))
	return appendPadding(b, start)
}

// unmarshalValue also accepts a length of 8, from senders that count the
// padding drawn in RFC 4895's figure as part of the cause.
func (c *UnsupportedHMACCause) unmarshalValue(v []byte) error {
	if len(v) != 2 && len(v) != 4 {
		return perr("Unsupported HMAC Identifier cause", 2, ErrBadLength, "value is %d bytes, want 2", len(v))
	}
	c.HMACID = HMACID(binary.BigEndian.Uint16(v))
	return nil
}
