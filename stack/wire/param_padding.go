package wire

// PaddingParam is the Padding parameter (RFC 4820 4), which only makes an
// INIT bigger (to probe the path MTU during setup). Its content is ignored by
// the receiver but kept so that it re-encodes exactly.
type PaddingParam struct{ Padding []byte }

func (*PaddingParam) ParamType() ParamType { return ParamPadding }

func (p *PaddingParam) AppendTo(b []byte) []byte {
	return RawParam{Type: ParamPadding, Value: p.Padding}.AppendTo(b)
}

func (p *PaddingParam) unmarshalValue(v []byte) error {
	p.Padding = v
	return nil
}
