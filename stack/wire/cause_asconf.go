package wire

// Error causes of RFC 5061 4.3, carried mostly in the Error Cause Indication
// parameters of an ASCONF-ACK. All but 0x00A3 hold the ASCONF parameter that
// failed, TLV header included, as the sender copied it; it stays bytes so
// that it re-encodes exactly, and ParseParams decodes it.

// DeleteLastAddressCause is cause 0x00A0, Request to Delete Last Remaining
// IP Address (RFC 5061 4.3.1).
type DeleteLastAddressCause struct{ Param []byte }

func (*DeleteLastAddressCause) CauseCode() CauseCode { return CauseDeleteLastAddress }

func (c *DeleteLastAddressCause) AppendTo(b []byte) []byte {
	return RawCause{Code: CauseDeleteLastAddress, Value: c.Param}.AppendTo(b)
}

func (c *DeleteLastAddressCause) unmarshalValue(v []byte) error {
	c.Param = v
	return nil
}

// ResourceShortageCause is cause 0x00A1, Operation Refused Due to Resource
// Shortage (RFC 5061 4.3.2).
type ResourceShortageCause struct{ Param []byte }

func (*ResourceShortageCause) CauseCode() CauseCode { return CauseResourceShortage }

func (c *ResourceShortageCause) AppendTo(b []byte) []byte {
	return RawCause{Code: CauseResourceShortage, Value: c.Param}.AppendTo(b)
}

func (c *ResourceShortageCause) unmarshalValue(v []byte) error {
	c.Param = v
	return nil
}

// DeleteSourceAddressCause is cause 0x00A2, Request to Delete Source IP
// Address (RFC 5061 4.3.3).
type DeleteSourceAddressCause struct{ Param []byte }

func (*DeleteSourceAddressCause) CauseCode() CauseCode { return CauseDeleteSourceAddress }

func (c *DeleteSourceAddressCause) AppendTo(b []byte) []byte {
	return RawCause{Code: CauseDeleteSourceAddress, Value: c.Param}.AppendTo(b)
}

func (c *DeleteSourceAddressCause) unmarshalValue(v []byte) error {
	c.Param = v
	return nil
}

// IllegalAsconfAckCause is cause 0x00A3, Association Aborted Due to Illegal
// ASCONF-ACK (RFC 5061 4.3.4), sent in an ABORT. It normally has no value;
// Info keeps whatever a sender put there.
type IllegalAsconfAckCause struct{ Info []byte }

func (*IllegalAsconfAckCause) CauseCode() CauseCode { return CauseIllegalAsconfAck }

func (c *IllegalAsconfAckCause) AppendTo(b []byte) []byte {
	return RawCause{Code: CauseIllegalAsconfAck, Value: c.Info}.AppendTo(b)
}

func (c *IllegalAsconfAckCause) unmarshalValue(v []byte) error {
	c.Info = v
	return nil
}

// NoAuthorizationCause is cause 0x00A4, Request Refused - No Authorization
// (RFC 5061 4.3.5).
type NoAuthorizationCause struct{ Param []byte }

func (*NoAuthorizationCause) CauseCode() CauseCode { return CauseNoAuthorization }

func (c *NoAuthorizationCause) AppendTo(b []byte) []byte {
	return RawCause{Code: CauseNoAuthorization, Value: c.Param}.AppendTo(b)
}

func (c *NoAuthorizationCause) unmarshalValue(v []byte) error {
	c.Param = v
	return nil
}
