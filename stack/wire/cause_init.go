package wire

import "encoding/binary"

// Error causes about association setup (RFC 9260 3.3.10).

// MissingMandatoryParamCause is cause 2, Missing Mandatory Parameter (RFC
// 9260 3.3.10.2): the parameter types an INIT or INIT ACK lacked.
type MissingMandatoryParamCause struct{ Types []ParamType }

func (*MissingMandatoryParamCause) CauseCode() CauseCode { return CauseMissingMandatoryParam }

func (c *MissingMandatoryParamCause) AppendTo(b []byte) []byte {
	start := len(b)
	b = appendCauseHeader(b, CauseMissingMandatoryParam, 4+2*len(c.Types))
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Types)))
	b = appendU16s(b, c.Types)
	return appendPadding(b, start)
}

// unmarshalValue insists that the count and the length agree: a cause whose
// count points past its end would otherwise be read short or long.
func (c *MissingMandatoryParamCause) unmarshalValue(v []byte) error {
	const where = "Missing Mandatory Parameter cause"
	if err := need(where, v, 4); err != nil {
		return err
	}
	n := uint64(binary.BigEndian.Uint32(v))
	if want := 4 + 2*n; uint64(len(v)) != want {
		return perr(where, 2, ErrBadLength, "%d missing parameters need a %d-byte value, have %d", n, want, len(v))
	}
	ts, err := parseU16s[ParamType](where, v[4:])
	if err != nil {
		return err
	}
	c.Types = ts
	return nil
}

// StaleCookieCause is cause 3, Stale Cookie (RFC 9260 3.3.10.3).
type StaleCookieCause struct {
	// Staleness is how long ago the cookie expired, in microseconds, rounded
	// up; zero if the sender chose not to say. RFC 9260 5.2.6 has the INIT
	// sender turn it into a Cookie Preservative.
	Staleness uint32
}

func (*StaleCookieCause) CauseCode() CauseCode { return CauseStaleCookie }

func (c *StaleCookieCause) AppendTo(b []byte) []byte {
	b = appendCauseHeader(b, CauseStaleCookie, 4)
	return binary.BigEndian.AppendUint32(b, c.Staleness)
}

func (c *StaleCookieCause) unmarshalValue(v []byte) error {
	if err := checkValueLen("Stale Cookie cause", v, 4); err != nil {
		return err
	}
	c.Staleness = binary.BigEndian.Uint32(v)
	return nil
}

// OutOfResourceCause is cause 4, Out of Resource (RFC 9260 3.3.10.4).
type OutOfResourceCause struct{}

func (*OutOfResourceCause) CauseCode() CauseCode { return CauseOutOfResource }

func (*OutOfResourceCause) AppendTo(b []byte) []byte {
	return appendCauseHeader(b, CauseOutOfResource, 0)
}

func (*OutOfResourceCause) unmarshalValue(v []byte) error {
	return checkValueLen("Out of Resource cause", v, 0)
}

// UnresolvableAddressCause is cause 5, Unresolvable Address (RFC 9260
// 3.3.10.5). Address is the address or host name parameter, TLV header
// included, as the sender copied it; ParseParams decodes it. Keeping the
// bytes re-encodes them exactly whether or not the sender counted the
// parameter's padding.
type UnresolvableAddressCause struct{ Address []byte }

func (*UnresolvableAddressCause) CauseCode() CauseCode { return CauseUnresolvableAddress }

func (c *UnresolvableAddressCause) AppendTo(b []byte) []byte {
	return RawCause{Code: CauseUnresolvableAddress, Value: c.Address}.AppendTo(b)
}

func (c *UnresolvableAddressCause) unmarshalValue(v []byte) error {
	c.Address = v
	return nil
}

// InvalidMandatoryParamCause is cause 7, Invalid Mandatory Parameter (RFC
// 9260 3.3.10.7).
type InvalidMandatoryParamCause struct{}

func (*InvalidMandatoryParamCause) CauseCode() CauseCode { return CauseInvalidMandatoryParam }

func (*InvalidMandatoryParamCause) AppendTo(b []byte) []byte {
	return appendCauseHeader(b, CauseInvalidMandatoryParam, 0)
}

func (*InvalidMandatoryParamCause) unmarshalValue(v []byte) error {
	return checkValueLen("Invalid Mandatory Parameter cause", v, 0)
}

// UnrecognizedParamsCause is cause 8, Unrecognized Parameters (RFC 9260
// 3.3.10.8). Params holds the reported parameters, TLV headers included, as
// the sender copied them (Linux counts each one's padding, others do not);
// ParseParams decodes them.
type UnrecognizedParamsCause struct{ Params []byte }

func (*UnrecognizedParamsCause) CauseCode() CauseCode { return CauseUnrecognizedParams }

func (c *UnrecognizedParamsCause) AppendTo(b []byte) []byte {
	return RawCause{Code: CauseUnrecognizedParams, Value: c.Params}.AppendTo(b)
}

func (c *UnrecognizedParamsCause) unmarshalValue(v []byte) error {
	c.Params = v
	return nil
}

// CookieWhileShuttingDownCause is cause 10, Cookie Received While Shutting
// Down (RFC 9260 3.3.10.10).
type CookieWhileShuttingDownCause struct{}

func (*CookieWhileShuttingDownCause) CauseCode() CauseCode { return CauseCookieWhileShuttingDown }

func (*CookieWhileShuttingDownCause) AppendTo(b []byte) []byte {
	return appendCauseHeader(b, CauseCookieWhileShuttingDown, 0)
}

func (*CookieWhileShuttingDownCause) unmarshalValue(v []byte) error {
	return checkValueLen("Cookie Received While Shutting Down cause", v, 0)
}

// RestartWithNewAddressesCause is cause 11, Restart of an Association with
// New Addresses (RFC 9260 3.3.10.11). Addresses holds exact copies of the
// INIT's new address parameters, TLV headers included; ParseParams decodes
// them.
type RestartWithNewAddressesCause struct{ Addresses []byte }

func (*RestartWithNewAddressesCause) CauseCode() CauseCode { return CauseRestartWithNewAddresses }

func (c *RestartWithNewAddressesCause) AppendTo(b []byte) []byte {
	return RawCause{Code: CauseRestartWithNewAddresses, Value: c.Addresses}.AppendTo(b)
}

func (c *RestartWithNewAddressesCause) unmarshalValue(v []byte) error {
	c.Addresses = v
	return nil
}
