package wire

import (
	"net/netip"
)

// IPv4AddressParam is an IPv4 Address parameter (RFC 9260 3.3.2.1). Addr
// must be IPv4 or IPv4-mapped IPv6 (written as plain IPv4); for an address
// of either family, appendAddressParam picks the parameter.
type IPv4AddressParam struct{ Addr netip.Addr }

func (*IPv4AddressParam) ParamType() ParamType { return ParamIPv4Address }

func (p *IPv4AddressParam) AppendTo(b []byte) []byte {
	a := p.Addr.Unmap().As4()
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

// appendAddressParam writes a as an IPv4 or IPv6 Address parameter. An
// IPv4-mapped IPv6 address stays IPv6, so it re-encodes as it was received.
func appendAddressParam(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		return (&IPv4AddressParam{Addr: a}).AppendTo(b)
	}
	return (&IPv6AddressParam{Addr: a}).AppendTo(b)
}

// addressParamLen is what appendAddressParam writes for a; both sizes are
// multiples of four, so there is never padding.
func addressParamLen(a netip.Addr) int {
	if a.Is4() {
		return ParamHeaderLen + 4
	}
	return ParamHeaderLen + 16
}

// parseAddressParam reads the IPv4 or IPv6 Address parameter at the front of
// v (for the RFC 5061 structures that embed one) and returns the address and
// the bytes it occupies with its padding.
func parseAddressParam(where string, v []byte) (netip.Addr, int, error) {
	t, av, n, err := nextTLV(where+" address parameter", v)
	if err != nil {
		return netip.Addr{}, 0, err
	}
	var a netip.Addr
	switch ParamType(t) {
	case ParamIPv4Address:
		var p IPv4AddressParam
		err = p.unmarshalValue(av)
		a = p.Addr
	case ParamIPv6Address:
		var p IPv6AddressParam
		err = p.unmarshalValue(av)
		a = p.Addr
	default:
		return netip.Addr{}, 0, perr(where, 0, ErrBadValue, "%v where an IPv4 or IPv6 Address parameter belongs", ParamType(t))
	}
	if err != nil {
		return netip.Addr{}, 0, shiftErr(err, where, 0)
	}
	return a, n, nil
}
