package wire

import (
	"encoding/binary"
	"fmt"
)

// CauseCode identifies an error cause in ABORT and ERROR chunks (RFC 9260
// 3.3.10 and extensions).
type CauseCode uint16

// Error cause codes sctpgw knows.
const (
	CauseInvalidStream           CauseCode = 1
	CauseMissingMandatoryParam   CauseCode = 2
	CauseStaleCookie             CauseCode = 3
	CauseOutOfResource           CauseCode = 4
	CauseUnresolvableAddress     CauseCode = 5
	CauseUnrecognizedChunk       CauseCode = 6
	CauseInvalidMandatoryParam   CauseCode = 7
	CauseUnrecognizedParams      CauseCode = 8
	CauseNoUserData              CauseCode = 9
	CauseCookieWhileShuttingDown CauseCode = 10
	CauseRestartWithNewAddresses CauseCode = 11
	CauseUserInitiatedAbort      CauseCode = 12
	CauseProtocolViolation       CauseCode = 13
	CauseRestartWithNewEncapPort CauseCode = 14     // draft-tuexen-tsvwg-sctp-udp-encaps-cons 4
	CauseDeleteLastAddress       CauseCode = 0x00A0 // RFC 5061
	CauseResourceShortage        CauseCode = 0x00A1
	CauseDeleteSourceAddress     CauseCode = 0x00A2
	CauseIllegalAsconfAck        CauseCode = 0x00A3
	CauseNoAuthorization         CauseCode = 0x00A4
	CauseUnsupportedHMAC         CauseCode = 0x0105 // RFC 4895
)

var causeNames = map[CauseCode]string{
	CauseInvalidStream:           "Invalid Stream Identifier",
	CauseMissingMandatoryParam:   "Missing Mandatory Parameter",
	CauseStaleCookie:             "Stale Cookie Error",
	CauseOutOfResource:           "Out of Resource",
	CauseUnresolvableAddress:     "Unresolvable Address",
	CauseUnrecognizedChunk:       "Unrecognized Chunk Type",
	CauseInvalidMandatoryParam:   "Invalid Mandatory Parameter",
	CauseUnrecognizedParams:      "Unrecognized Parameters",
	CauseNoUserData:              "No User Data",
	CauseCookieWhileShuttingDown: "Cookie Received While Shutting Down",
	CauseRestartWithNewAddresses: "Restart of an Association with New Addresses",
	CauseUserInitiatedAbort:      "User-Initiated Abort",
	CauseProtocolViolation:       "Protocol Violation",
	CauseRestartWithNewEncapPort: "Restart of an Association with New Encapsulation Port",
	CauseDeleteLastAddress:       "Request to Delete Last Remaining IP Address",
	CauseResourceShortage:        "Operation Refused Due to Resource Shortage",
	CauseDeleteSourceAddress:     "Request to Delete Source IP Address",
	CauseIllegalAsconfAck:        "Association Aborted Due to Illegal ASCONF-ACK",
	CauseNoAuthorization:         "Request Refused - No Authorization",
	CauseUnsupportedHMAC:         "Unsupported HMAC Identifier",
}

func (c CauseCode) String() string {
	if s, ok := causeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("cause %d", uint16(c))
}

// CauseHeaderLen is the size of a cause's code and length fields.
const CauseHeaderLen = 4

// Cause is anything that encodes itself as one error cause.
type Cause interface {
	CauseCode() CauseCode
	// AppendTo appends the cause, header and padding included, to b.
	AppendTo(b []byte) []byte
}

// RawCause is an error cause as found in a chunk; it also stands for codes
// this package does not decode, and re-encodes byte for byte.
type RawCause struct {
	Code  CauseCode
	Value []byte
}

func (c RawCause) CauseCode() CauseCode { return c.Code }

func (c RawCause) AppendTo(b []byte) []byte {
	start := len(b)
	b = appendCauseHeader(b, c.Code, len(c.Value))
	b = append(b, c.Value...)
	return appendPadding(b, start)
}

func appendCauseHeader(b []byte, code CauseCode, valueLen int) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(code))
	return binary.BigEndian.AppendUint16(b, length16(CauseHeaderLen+valueLen))
}

// ForEachCause calls f for each error cause in b without decoding or copying.
func ForEachCause(b []byte, f func(RawCause) error) error {
	off := 0
	for off < len(b) {
		t, v, n, err := nextTLV("error cause", b[off:])
		if err != nil {
			err.(*ParseError).Offset += off
			return err
		}
		if err := f(RawCause{Code: CauseCode(t), Value: v}); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// ParseCauses decodes every error cause in b. Unknown codes come back as
// RawCause; values are copied.
func ParseCauses(b []byte) ([]Cause, error) {
	var out []Cause
	off := 0
	err := ForEachCause(b, func(rc RawCause) error {
		c, err := DecodeCause(rc)
		if err != nil {
			if pe, ok := err.(*ParseError); ok {
				pe.Offset += off
			}
			return err
		}
		out = append(out, c)
		off += pad4(CauseHeaderLen + len(rc.Value))
		return nil
	})
	return out, err
}

// AppendCauses appends each cause in order.
func AppendCauses(b []byte, cs []Cause) []byte {
	for _, c := range cs {
		b = c.AppendTo(b)
	}
	return b
}

// DecodeCause decodes one raw cause into its typed form; the value is copied.
// Unknown codes come back as RawCause.
func DecodeCause(rc RawCause) (Cause, error) {
	d := newCause(rc.Code)
	if d == nil {
		v := RawCause{Code: rc.Code}
		if len(rc.Value) > 0 {
			v.Value = append([]byte(nil), rc.Value...)
		}
		return v, nil
	}
	if err := d.unmarshalValue(cloneBytes(rc.Value)); err != nil {
		return nil, err
	}
	return d, nil
}

type decodableCause interface {
	Cause
	unmarshalValue(v []byte) error
}

// newCause returns an empty typed cause for code, or nil for an unknown code.
func newCause(code CauseCode) decodableCause {
	switch code {
	case CauseInvalidStream:
		return new(InvalidStreamCause)
	case CauseMissingMandatoryParam:
		return new(MissingMandatoryParamCause)
	case CauseStaleCookie:
		return new(StaleCookieCause)
	case CauseOutOfResource:
		return new(OutOfResourceCause)
	case CauseUnresolvableAddress:
		return new(UnresolvableAddressCause)
	case CauseUnrecognizedChunk:
		return new(UnrecognizedChunkCause)
	case CauseInvalidMandatoryParam:
		return new(InvalidMandatoryParamCause)
	case CauseUnrecognizedParams:
		return new(UnrecognizedParamsCause)
	case CauseNoUserData:
		return new(NoUserDataCause)
	case CauseCookieWhileShuttingDown:
		return new(CookieWhileShuttingDownCause)
	case CauseRestartWithNewAddresses:
		return new(RestartWithNewAddressesCause)
	case CauseUserInitiatedAbort:
		return new(UserInitiatedAbortCause)
	case CauseProtocolViolation:
		return new(ProtocolViolationCause)
	case CauseRestartWithNewEncapPort:
		return new(RestartWithNewEncapPortCause)
	case CauseDeleteLastAddress:
		return new(DeleteLastAddressCause)
	case CauseResourceShortage:
		return new(ResourceShortageCause)
	case CauseDeleteSourceAddress:
		return new(DeleteSourceAddressCause)
	case CauseIllegalAsconfAck:
		return new(IllegalAsconfAckCause)
	case CauseNoAuthorization:
		return new(NoAuthorizationCause)
	case CauseUnsupportedHMAC:
		return new(UnsupportedHMACCause)
	}
	return nil
}

// appendCauseList appends cs in order and returns the offset where the last
// one begins (len(b) on entry when there is none), for setTLVChunkLength.
func appendCauseList(b []byte, cs []Cause) ([]byte, int) {
	last := len(b)
	for _, c := range cs {
		last = len(b)
		b = c.AppendTo(b)
	}
	return b, last
}

// parseNestedCauses decodes the error causes filling v[off:], v being the
// value of the structure named where, as parseNestedParams does parameters.
func parseNestedCauses(where string, v []byte, off int) ([]Cause, error) {
	cs, err := ParseCauses(v[off:])
	if err != nil {
		return nil, shiftErr(err, where, off)
	}
	return cs, nil
}
