package wire

import "encoding/binary"

// UnrecognizedParam is the Unrecognized Parameter parameter of an INIT ACK
// (RFC 9260 3.3.3.1.2). Param holds the reported parameter as the INIT's
// receiver copied it, header included. It stays bytes because senders differ
// on whether the copy includes its padding, and only bytes re-encode exactly
// either way; ParseParams decodes it when needed.
type UnrecognizedParam struct{ Param []byte }

func (*UnrecognizedParam) ParamType() ParamType { return ParamUnrecognized }

func (p *UnrecognizedParam) AppendTo(b []byte) []byte {
	return RawParam{Type: ParamUnrecognized, Value: p.Param}.AppendTo(b)
}

func (p *UnrecognizedParam) unmarshalValue(v []byte) error {
	p.Param = v
	return nil
}

// CookiePreservativeParam is the Cookie Preservative parameter of an INIT
// (RFC 9260 3.3.2.1.3), sent after a Stale Cookie error.
type CookiePreservativeParam struct {
	// LifeSpanIncrement is the suggested cookie life-span increment, in
	// milliseconds.
	LifeSpanIncrement uint32
}

func (*CookiePreservativeParam) ParamType() ParamType { return ParamCookiePreservative }

func (p *CookiePreservativeParam) AppendTo(b []byte) []byte {
	b = appendParamHeader(b, ParamCookiePreservative, 4)
	return binary.BigEndian.AppendUint32(b, p.LifeSpanIncrement)
}

func (p *CookiePreservativeParam) unmarshalValue(v []byte) error {
	if err := checkValueLen("Cookie Preservative parameter", v, 4); err != nil {
		return err
	}
	p.LifeSpanIncrement = binary.BigEndian.Uint32(v)
	return nil
}

// HostNameAddressParam is the deprecated Host Name Address parameter (RFC
// 9260 3.3.2.1.4). It is decoded only so that an INIT carrying it can be
// answered with an ABORT citing it as an Unresolvable Address. HostName keeps
// the NUL terminator(s) the sender counted in the length.
type HostNameAddressParam struct{ HostName []byte }

func (*HostNameAddressParam) ParamType() ParamType { return ParamHostNameAddress }

func (p *HostNameAddressParam) AppendTo(b []byte) []byte {
	return RawParam{Type: ParamHostNameAddress, Value: p.HostName}.AppendTo(b)
}

func (p *HostNameAddressParam) unmarshalValue(v []byte) error {
	p.HostName = v
	return nil
}

// SupportedAddrTypesParam is the Supported Address Types parameter of an
// INIT (RFC 9260 3.3.2.1.5): the address parameter types the sender can use.
// An odd number of types leaves two bytes of padding.
type SupportedAddrTypesParam struct{ Types []ParamType }

func (*SupportedAddrTypesParam) ParamType() ParamType { return ParamSupportedAddrTypes }

func (p *SupportedAddrTypesParam) AppendTo(b []byte) []byte {
	start := len(b)
	b = appendParamHeader(b, ParamSupportedAddrTypes, 2*len(p.Types))
	b = appendU16s(b, p.Types)
	return appendPadding(b, start)
}

func (p *SupportedAddrTypesParam) unmarshalValue(v []byte) error {
	ts, err := parseU16s[ParamType]("Supported Address Types parameter", v)
	if err != nil {
		return err
	}
	p.Types = ts
	return nil
}
