package wire

import (
	"net/netip"
)

// IPv4AddressParam is an IPv4 Address parameter (RFC 9260 3.3.2.1).
type IPv4AddressParam struct{ Addr netip.Addr }

func (*IPv4AddressParam) ParamType() ParamType { return ParamIPv4Address }

func (p *IPv4AddressParam) AppendTo(b []byte) []byte {
	a := p.Addr.As4()
	b = appendParamHeader(b, ParamIPv4Address, 4)
	return append(b, a[:]...)
}

func (p *IPv4AddressParam) unmarshalValue(v []byte) error {
	if len(v) != 4 {
		return perr("IPv4 Address parameter", 2, ErrBadLength, "value is %d bytes, want 4", len(v))
	}
	p.Addr = netip.AddrFrom4([4]byte(v))
	return nil
}

// IPv6AddressParam is an IPv6 Address parameter (RFC 9260 3.3.2.1).
type IPv6AddressParam struct{ Addr netip.Addr }

func (*IPv6AddressParam) ParamType() ParamType { return ParamIPv6Address }

func (p *IPv6AddressParam) AppendTo(b []byte) []byte {
	a := p.Addr.As16()
	b = appendParamHeader(b, ParamIPv6Address, 16)
	return append(b, a[:]...)
}

func (p *IPv6AddressParam) unmarshalValue(v []byte) error {
	if len(v) != 16 {
		return perr("IPv6 Address parameter", 2, ErrBadLength, "value is %d bytes, want 16", len(v))
	}
	p.Addr = netip.AddrFrom16([16]byte(v))
	return nil
}
