package wire

import (
	"encoding/binary"
	"net/netip"
)

// The ASCONF request and response parameters of RFC 5061 4.2. Each starts
// with a 32-bit correlation ID that pairs a response in the ASCONF-ACK with
// its request in the ASCONF.

// AddIPAddressParam asks the peer to add Address to the association (RFC
// 5061 4.2.1). The wildcard address stands for the packet's source address.
type AddIPAddressParam struct {
	CorrelationID uint32
	Address       netip.Addr // sent as an IPv4 Address parameter if Is4, else IPv6
}

func (*AddIPAddressParam) ParamType() ParamType { return ParamAddIPAddress }

func (p *AddIPAddressParam) AppendTo(b []byte) []byte {
	return appendAsconfAddr(b, ParamAddIPAddress, p.CorrelationID, p.Address)
}

func (p *AddIPAddressParam) unmarshalValue(v []byte) (err error) {
	p.CorrelationID, p.Address, err = parseAsconfAddr("Add IP Address parameter", v)
	return err
}

// DeleteIPAddressParam asks the peer to remove Address from the association
// (RFC 5061 4.2.2).
type DeleteIPAddressParam struct {
	CorrelationID uint32
	Address       netip.Addr
}

func (*DeleteIPAddressParam) ParamType() ParamType { return ParamDeleteIPAddress }

func (p *DeleteIPAddressParam) AppendTo(b []byte) []byte {
	return appendAsconfAddr(b, ParamDeleteIPAddress, p.CorrelationID, p.Address)
}

func (p *DeleteIPAddressParam) unmarshalValue(v []byte) (err error) {
	p.CorrelationID, p.Address, err = parseAsconfAddr("Delete IP Address parameter", v)
	return err
}

// SetPrimaryAddressParam asks the peer to make Address its primary
// destination (RFC 5061 4.2.4); it may also appear in INIT and INIT ACK.
type SetPrimaryAddressParam struct {
	CorrelationID uint32
	Address       netip.Addr
}

func (*SetPrimaryAddressParam) ParamType() ParamType { return ParamSetPrimaryAddress }

func (p *SetPrimaryAddressParam) AppendTo(b []byte) []byte {
	return appendAsconfAddr(b, ParamSetPrimaryAddress, p.CorrelationID, p.Address)
}

func (p *SetPrimaryAddressParam) unmarshalValue(v []byte) (err error) {
	p.CorrelationID, p.Address, err = parseAsconfAddr("Set Primary Address parameter", v)
	return err
}

// appendAsconfAddr writes the layout Add IP Address, Delete IP Address and
// Set Primary Address share: correlation ID, then an address parameter.
func appendAsconfAddr(b []byte, t ParamType, id uint32, a netip.Addr) []byte {
	b = appendParamHeader(b, t, 4+addressParamLen(a))
	b = binary.BigEndian.AppendUint32(b, id)
	return appendAddressParam(b, a)
}

func parseAsconfAddr(where string, v []byte) (uint32, netip.Addr, error) {
	if err := need(where, v, 4); err != nil {
		return 0, netip.Addr{}, err
	}
	addr, n, err := parseAddressParam(where, v[4:])
	if err != nil {
		return 0, netip.Addr{}, shiftErr(err, "", ParamHeaderLen+4)
	}
	if 4+n != len(v) {
		return 0, netip.Addr{}, perr(where, 2, ErrBadLength, "%d bytes follow the address parameter", len(v)-4-n)
	}
	return binary.BigEndian.Uint32(v), addr, nil
}

// ErrorCauseIndicationParam reports in an ASCONF-ACK that the request with
// CorrelationID failed, and why (RFC 5061 4.2.3).
type ErrorCauseIndicationParam struct {
	CorrelationID uint32
	Causes        []Cause
}

func (*ErrorCauseIndicationParam) ParamType() ParamType { return ParamErrorCauseIndication }

// AppendTo leaves the last cause's padding out of the parameter length, the
// rule RFC 9260 3.2 states for chunks that end in TLVs.
func (p *ErrorCauseIndicationParam) AppendTo(b []byte) []byte {
	start := len(b)
	b = appendParamHeader(b, ParamErrorCauseIndication, 0)
	b = binary.BigEndian.AppendUint32(b, p.CorrelationID)
	b, last := appendCauseList(b, p.Causes)
	setTLVChunkLength(b, start, last)
	return b
}

func (p *ErrorCauseIndicationParam) unmarshalValue(v []byte) error {
	const where = "Error Cause Indication parameter"
	if err := need(where, v, 4); err != nil {
		return err
	}
	cs, err := parseNestedCauses(where, v, 4)
	if err != nil {
		return shiftErr(err, "", ParamHeaderLen)
	}
	p.CorrelationID = binary.BigEndian.Uint32(v)
	p.Causes = cs
	return nil
}

// SuccessIndicationParam reports in an ASCONF-ACK that the request with
// CorrelationID succeeded (RFC 5061 4.2.5).
type SuccessIndicationParam struct{ CorrelationID uint32 }

func (*SuccessIndicationParam) ParamType() ParamType { return ParamSuccessIndication }

func (p *SuccessIndicationParam) AppendTo(b []byte) []byte {
	b = appendParamHeader(b, ParamSuccessIndication, 4)
	return binary.BigEndian.AppendUint32(b, p.CorrelationID)
}

func (p *SuccessIndicationParam) unmarshalValue(v []byte) error {
	if err := checkValueLen("Success Indication parameter", v, 4); err != nil {
		return err
	}
	p.CorrelationID = binary.BigEndian.Uint32(v)
	return nil
}
