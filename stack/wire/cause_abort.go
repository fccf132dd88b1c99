package wire

// UserInitiatedAbortCause is cause 12 (RFC 9260 3.3.10.12). Reason is the
// upper layer's text, kept byte for byte: the gateway relays it verbatim.
type UserInitiatedAbortCause struct{ Reason []byte }

func (*UserInitiatedAbortCause) CauseCode() CauseCode { return CauseUserInitiatedAbort }

func (c *UserInitiatedAbortCause) AppendTo(b []byte) []byte {
	return RawCause{Code: CauseUserInitiatedAbort, Value: c.Reason}.AppendTo(b)
}

func (c *UserInitiatedAbortCause) unmarshalValue(v []byte) error {
	c.Reason = v
	return nil
}
