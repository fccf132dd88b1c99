package wire

// StateCookieParam is the State Cookie parameter of an INIT ACK (RFC 9260
// 3.3.3.1); its contents are opaque to everyone but the endpoint that made it.
type StateCookieParam struct{ Cookie []byte }

func (*StateCookieParam) ParamType() ParamType { return ParamStateCookie }

func (p *StateCookieParam) AppendTo(b []byte) []byte {
	return RawParam{Type: ParamStateCookie, Value: p.Cookie}.AppendTo(b)
}

func (p *StateCookieParam) unmarshalValue(v []byte) error {
	p.Cookie = v
	return nil
}
