package wire

import (
	"encoding/binary"
	"fmt"
)

// ParamType is the type of a TLV parameter (RFC 9260 3.2.1 and extensions).
type ParamType uint16

// Parameter types sctpgw knows.
const (
	ParamHeartbeatInfo        ParamType = 1
	ParamIPv4Address          ParamType = 5
	ParamIPv6Address          ParamType = 6
	ParamStateCookie          ParamType = 7
	ParamUnrecognized         ParamType = 8
	ParamCookiePreservative   ParamType = 9
	ParamHostNameAddress      ParamType = 11
	ParamSupportedAddrTypes   ParamType = 12
	ParamOutgoingSSNReset     ParamType = 13 // RFC 6525
	ParamIncomingSSNReset     ParamType = 14
	ParamSSNTSNReset          ParamType = 15
	ParamReconfigResponse     ParamType = 16
	ParamAddOutgoingStreams   ParamType = 17
	ParamAddIncomingStreams   ParamType = 18
	ParamECNCapable           ParamType = 0x8000 // RFC 4960 appendix A
	ParamZeroChecksum         ParamType = 0x8001 // RFC 9653
	ParamRandom               ParamType = 0x8002 // RFC 4895
	ParamChunkList            ParamType = 0x8003
	ParamRequestedHMACAlgo    ParamType = 0x8004
	ParamPadding              ParamType = 0x8005 // RFC 4820
	ParamSupportedExtensions  ParamType = 0x8008 // RFC 5061
	ParamForwardTSNSupported  ParamType = 0xC000 // RFC 3758
	ParamAddIPAddress         ParamType = 0xC001 // RFC 5061
	ParamDeleteIPAddress      ParamType = 0xC002
	ParamErrorCauseIndication ParamType = 0xC003
	ParamSetPrimaryAddress    ParamType = 0xC004
	ParamSuccessIndication    ParamType = 0xC005
	ParamAdaptationLayer      ParamType = 0xC006
)

var paramNames = map[ParamType]string{
	ParamHeartbeatInfo: "Heartbeat Info", ParamIPv4Address: "IPv4 Address", ParamIPv6Address: "IPv6 Address",
	ParamStateCookie: "State Cookie", ParamUnrecognized: "Unrecognized Parameter",
	ParamCookiePreservative: "Cookie Preservative", ParamHostNameAddress: "Host Name Address",
	ParamSupportedAddrTypes: "Supported Address Types", ParamOutgoingSSNReset: "Outgoing SSN Reset Request",
	ParamIncomingSSNReset: "Incoming SSN Reset Request", ParamSSNTSNReset: "SSN/TSN Reset Request",
	ParamReconfigResponse: "Re-configuration Response", ParamAddOutgoingStreams: "Add Outgoing Streams Request",
	ParamAddIncomingStreams: "Add Incoming Streams Request", ParamECNCapable: "ECN Capable",
	ParamZeroChecksum: "Zero Checksum Acceptable", ParamRandom: "Random", ParamChunkList: "Chunk List",
	ParamRequestedHMACAlgo: "Requested HMAC Algorithm", ParamPadding: "Padding",
	ParamSupportedExtensions: "Supported Extensions", ParamForwardTSNSupported: "Forward-TSN-Supported",
	ParamAddIPAddress: "Add IP Address", ParamDeleteIPAddress: "Delete IP Address",
	ParamErrorCauseIndication: "Error Cause Indication", ParamSetPrimaryAddress: "Set Primary Address",
	ParamSuccessIndication: "Success Indication", ParamAdaptationLayer: "Adaptation Layer Indication",
}

func (t ParamType) String() string {
	if s, ok := paramNames[t]; ok {
		return s
	}
	return fmt.Sprintf("parameter type %#04x", uint16(t))
}

// Action is what to do with this parameter type when it is not understood
// (RFC 9260 3.2.1).
func (t ParamType) Action() UnrecognizedAction { return UnrecognizedAction(t >> 14) }

// ParamHeaderLen is the size of a parameter's type and length fields.
const ParamHeaderLen = 4

// Param is anything that encodes itself as one TLV parameter.
type Param interface {
	ParamType() ParamType
	// AppendTo appends the parameter, header and padding included, to b.
	AppendTo(b []byte) []byte
}

// RawParam is a parameter as found in a chunk. It also stands for parameter
// types this package does not decode, and re-encodes byte for byte.
type RawParam struct {
	Type  ParamType
	Value []byte
}

func (p RawParam) ParamType() ParamType { return p.Type }

func (p RawParam) AppendTo(b []byte) []byte {
	start := len(b)
	b = appendParamHeader(b, p.Type, len(p.Value))
	b = append(b, p.Value...)
	return appendPadding(b, start)
}

func appendParamHeader(b []byte, t ParamType, valueLen int) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(t))
	return binary.BigEndian.AppendUint16(b, length16(ParamHeaderLen+valueLen))
}

// nextTLV cuts one type-length-value item (parameter or error cause: they
// share the layout) off the front of b, returning its type, value and the
// bytes it occupies with padding. A last item without padding is accepted.
func nextTLV(where string, b []byte) (typ uint16, value []byte, n int, err error) {
	if len(b) < 4 {
		return 0, nil, 0, perr(where, 0, ErrTruncated, "%d trailing bytes are not a header", len(b))
	}
	l := int(binary.BigEndian.Uint16(b[2:4]))
	if l < 4 {
		return 0, nil, 0, perr(where, 2, ErrBadLength, "type %#04x length %d is below the header size", binary.BigEndian.Uint16(b), l)
	}
	if l > len(b) {
		return 0, nil, 0, perr(where, 2, ErrBadLength, "type %#04x length %d exceeds the %d bytes left", binary.BigEndian.Uint16(b), l, len(b))
	}
	n = pad4(l)
	if n > len(b) {
		n = len(b)
	}
	return binary.BigEndian.Uint16(b), b[4:l:l], n, nil
}

// ForEachParam calls f for each parameter in b without decoding or copying.
// It stops at the first malformed parameter or when f returns an error.
func ForEachParam(b []byte, f func(RawParam) error) error {
	off := 0
	for off < len(b) {
		t, v, n, err := nextTLV("parameter", b[off:])
		if err != nil {
			err.(*ParseError).Offset += off
			return err
		}
		if err := f(RawParam{Type: ParamType(t), Value: v}); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// ParseParams decodes every parameter in b. Unknown types come back as
// RawParam; values are copied, so the result does not alias b.
func ParseParams(b []byte) ([]Param, error) {
	var out []Param
	off := 0
	err := ForEachParam(b, func(rp RawParam) error {
		p, err := DecodeParam(rp)
		if err != nil {
			if pe, ok := err.(*ParseError); ok {
				pe.Offset += off
			}
			return err
		}
		out = append(out, p)
		off += pad4(ParamHeaderLen + len(rp.Value))
		return nil
	})
	return out, err
}

// AppendParams appends each parameter in order.
func AppendParams(b []byte, ps []Param) []byte {
	for _, p := range ps {
		b = p.AppendTo(b)
	}
	return b
}

// DecodeParam decodes one raw parameter into its typed form. The value is
// copied. Unknown types come back as RawParam.
func DecodeParam(rp RawParam) (Param, error) {
	d := newParam(rp.Type)
	if d == nil {
		v := RawParam{Type: rp.Type}
		if len(rp.Value) > 0 {
			v.Value = append([]byte(nil), rp.Value...)
		}
		return v, nil
	}
	if err := d.unmarshalValue(cloneBytes(rp.Value)); err != nil {
		return nil, err
	}
	return d, nil
}

// decodableParam decodes its value (the bytes after the TLV header).
type decodableParam interface {
	Param
	unmarshalValue(v []byte) error
}

// newParam returns an empty typed parameter for t, or nil for an unknown type.
func newParam(t ParamType) decodableParam {
	switch t {
	case ParamHeartbeatInfo:
		return new(HeartbeatInfoParam)
	case ParamIPv4Address:
		return new(IPv4AddressParam)
	case ParamIPv6Address:
		return new(IPv6AddressParam)
	case ParamStateCookie:
		return new(StateCookieParam)
	case ParamUnrecognized:
		return new(UnrecognizedParam)
	case ParamCookiePreservative:
		return new(CookiePreservativeParam)
	case ParamHostNameAddress:
		return new(HostNameAddressParam)
	case ParamSupportedAddrTypes:
		return new(SupportedAddrTypesParam)
	case ParamOutgoingSSNReset:
		return new(OutgoingSSNResetParam)
	case ParamIncomingSSNReset:
		return new(IncomingSSNResetParam)
	case ParamSSNTSNReset:
		return new(SSNTSNResetParam)
	case ParamReconfigResponse:
		return new(ReconfigResponseParam)
	case ParamAddOutgoingStreams:
		return new(AddOutgoingStreamsParam)
	case ParamAddIncomingStreams:
		return new(AddIncomingStreamsParam)
	case ParamECNCapable:
		return new(ECNCapableParam)
	case ParamZeroChecksum:
		return new(ZeroChecksumParam)
	case ParamRandom:
		return new(RandomParam)
	case ParamChunkList:
		return new(ChunkListParam)
	case ParamRequestedHMACAlgo:
		return new(RequestedHMACAlgoParam)
	case ParamPadding:
		return new(PaddingParam)
	case ParamSupportedExtensions:
		return new(SupportedExtensionsParam)
	case ParamForwardTSNSupported:
		return new(ForwardTSNSupportedParam)
	case ParamAddIPAddress:
		return new(AddIPAddressParam)
	case ParamDeleteIPAddress:
		return new(DeleteIPAddressParam)
	case ParamErrorCauseIndication:
		return new(ErrorCauseIndicationParam)
	case ParamSetPrimaryAddress:
		return new(SetPrimaryAddressParam)
	case ParamSuccessIndication:
		return new(SuccessIndicationParam)
	case ParamAdaptationLayer:
		return new(AdaptationLayerParam)
	}
	return nil
}

func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// appendParamList appends ps in order and returns the offset where the last
// one begins (len(b) on entry when there is none), for setTLVChunkLength.
func appendParamList(b []byte, ps []Param) ([]byte, int) {
	last := len(b)
	for _, p := range ps {
		last = len(b)
		b = p.AppendTo(b)
	}
	return b, last
}

// parseNestedParams decodes the parameters filling v[off:], v being the value
// of the structure named where, and points any error at the right place.
// Offsets come back counted from v; a TLV decoder adds its header with
// shiftErr, since offsets inside a parameter or cause count from its type
// field (2 is its length).
func parseNestedParams(where string, v []byte, off int) ([]Param, error) {
	ps, err := ParseParams(v[off:])
	if err != nil {
		return nil, shiftErr(err, where, off)
	}
	return ps, nil
}

// shiftErr re-bases a *ParseError from a nested structure: it prefixes the
// enclosing structure's name (unless where is empty) and adds the nested
// structure's offset.
func shiftErr(err error, where string, off int) error {
	if pe, ok := err.(*ParseError); ok {
		if where != "" {
			pe.Where = where + " " + pe.Where
		}
		pe.Offset += off
	}
	return err
}

// Helpers for fixed-layout values, shared by parameters and error causes
// (their TLV headers are alike).

// checkValueLen reports a value whose length differs from the only one its
// type allows, pointing at the TLV's length field.
func checkValueLen(where string, v []byte, want int) error {
	if len(v) != want {
		return perr(where, 2, ErrBadLength, "value is %d bytes, want %d", len(v), want)
	}
	return nil
}

// appendU16s appends each value big-endian; the caller pads.
func appendU16s[T ~uint16](b []byte, vs []T) []byte {
	for _, x := range vs {
		b = binary.BigEndian.AppendUint16(b, uint16(x))
	}
	return b
}

// parseU16s decodes v as a list of 16-bit values, nil when empty. An odd
// length cannot be a list of them: it is a length field that counted part of
// the padding or lost a byte.
func parseU16s[T ~uint16](where string, v []byte) ([]T, error) {
	if len(v)%2 != 0 {
		return nil, perr(where, 2, ErrBadLength, "value is %d bytes, not a whole number of 16-bit entries", len(v))
	}
	var out []T
	for off := 0; off < len(v); off += 2 {
		out = append(out, T(binary.BigEndian.Uint16(v[off:])))
	}
	return out, nil
}

// chunkTypeList converts a list of chunk type bytes, nil when empty.
func chunkTypeList(v []byte) []ChunkType {
	var out []ChunkType
	for _, t := range v {
		out = append(out, ChunkType(t))
	}
	return out
}

// appendChunkTypes appends one byte per chunk type; the caller pads.
func appendChunkTypes(b []byte, ts []ChunkType) []byte {
	for _, t := range ts {
		b = append(b, byte(t))
	}
	return b
}
