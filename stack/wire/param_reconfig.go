package wire

import "encoding/binary"

// The stream reconfiguration parameters of RFC 6525 4, carried by RE-CONFIG
// chunks. Requests are numbered by the sender's Re-configuration Request
// Sequence Number; a response names the request it answers.

// OutgoingSSNResetParam announces that the sender resets the listed
// outgoing streams, all of them when Streams is empty; the peer resets its
// incoming side once every TSN up to SenderLastTSN has arrived (RFC 6525
// 4.1).
type OutgoingSSNResetParam struct {
	RequestSeq  uint32 // Re-configuration Request Sequence Number
	ResponseSeq uint32 // Re-configuration Response Sequence Number
	// SenderLastTSN is the last TSN the sender assigned before the reset.
	SenderLastTSN uint32
	Streams       []uint16
}

func (*OutgoingSSNResetParam) ParamType() ParamType { return ParamOutgoingSSNReset }

func (p *OutgoingSSNResetParam) AppendTo(b []byte) []byte {
	start := len(b)
	b = appendParamHeader(b, ParamOutgoingSSNReset, 12+2*len(p.Streams))
	b = binary.BigEndian.AppendUint32(b, p.RequestSeq)
	b = binary.BigEndian.AppendUint32(b, p.ResponseSeq)
	b = binary.BigEndian.AppendUint32(b, p.SenderLastTSN)
	b = appendU16s(b, p.Streams)
	return appendPadding(b, start)
}

func (p *OutgoingSSNResetParam) unmarshalValue(v []byte) error {
	const where = "Outgoing SSN Reset Request parameter"
	if err := need(where, v, 12); err != nil {
		return err
	}
	ss, err := parseU16s[uint16](where, v[12:])
	if err != nil {
		return err
	}
	p.RequestSeq = binary.BigEndian.Uint32(v[0:4])
	p.ResponseSeq = binary.BigEndian.Uint32(v[4:8])
	p.SenderLastTSN = binary.BigEndian.Uint32(v[8:12])
	p.Streams = ss
	return nil
}

// IncomingSSNResetParam asks the peer to reset the listed streams it sends
// on, all of them when Streams is empty, by answering with an Outgoing SSN
// Reset Request (RFC 6525 4.2).
type IncomingSSNResetParam struct {
	RequestSeq uint32
	Streams    []uint16
}

func (*IncomingSSNResetParam) ParamType() ParamType { return ParamIncomingSSNReset }

func (p *IncomingSSNResetParam) AppendTo(b []byte) []byte {
	start := len(b)
	b = appendParamHeader(b, ParamIncomingSSNReset, 4+2*len(p.Streams))
	b = binary.BigEndian.AppendUint32(b, p.RequestSeq)
	b = appendU16s(b, p.Streams)
	return appendPadding(b, start)
}

func (p *IncomingSSNResetParam) unmarshalValue(v []byte) error {
	const where = "Incoming SSN Reset Request parameter"
	if err := need(where, v, 4); err != nil {
		return err
	}
	ss, err := parseU16s[uint16](where, v[4:])
	if err != nil {
		return err
	}
	p.RequestSeq = binary.BigEndian.Uint32(v)
	p.Streams = ss
	return nil
}

// SSNTSNResetParam asks the peer to reset every SSN and the TSNs of both
// directions (RFC 6525 4.3).
type SSNTSNResetParam struct{ RequestSeq uint32 }

func (*SSNTSNResetParam) ParamType() ParamType { return ParamSSNTSNReset }

func (p *SSNTSNResetParam) AppendTo(b []byte) []byte {
	b = appendParamHeader(b, ParamSSNTSNReset, 4)
	return binary.BigEndian.AppendUint32(b, p.RequestSeq)
}

func (p *SSNTSNResetParam) unmarshalValue(v []byte) error {
	if err := checkValueLen("SSN/TSN Reset Request parameter", v, 4); err != nil {
		return err
	}
	p.RequestSeq = binary.BigEndian.Uint32(v)
	return nil
}

// ReconfigResult is the Result field of a Re-configuration Response (RFC
// 6525 4.4).
type ReconfigResult uint32

// Results RFC 6525 4.4 defines.
const (
	ReconfigSuccessNothingToDo  ReconfigResult = 0
	ReconfigSuccessPerformed    ReconfigResult = 1
	ReconfigDenied              ReconfigResult = 2
	ReconfigErrorWrongSSN       ReconfigResult = 3
	ReconfigErrorInProgress     ReconfigResult = 4
	ReconfigErrorBadSequenceNum ReconfigResult = 5
	ReconfigInProgress          ReconfigResult = 6
)

// ReconfigResponseParam answers the request numbered ResponseSeq (RFC 6525
// 4.4).
type ReconfigResponseParam struct {
	ResponseSeq uint32
	Result      ReconfigResult
	// HasNextTSNs says whether the two optional TSNs are present; they come
	// together, only in answer to an SSN/TSN Reset Request. Without them both
	// fields are zero.
	HasNextTSNs     bool
	SenderNextTSN   uint32
	ReceiverNextTSN uint32
}

func (*ReconfigResponseParam) ParamType() ParamType { return ParamReconfigResponse }

func (p *ReconfigResponseParam) AppendTo(b []byte) []byte {
	n := 8
	if p.HasNextTSNs {
		n = 16
	}
	b = appendParamHeader(b, ParamReconfigResponse, n)
	b = binary.BigEndian.AppendUint32(b, p.ResponseSeq)
	b = binary.BigEndian.AppendUint32(b, uint32(p.Result))
	if p.HasNextTSNs {
		b = binary.BigEndian.AppendUint32(b, p.SenderNextTSN)
		b = binary.BigEndian.AppendUint32(b, p.ReceiverNextTSN)
	}
	return b
}

func (p *ReconfigResponseParam) unmarshalValue(v []byte) error {
	if len(v) != 8 && len(v) != 16 {
		return perr("Re-configuration Response parameter", 2, ErrBadLength, "value is %d bytes, want 8 or 16", len(v))
	}
	*p = ReconfigResponseParam{
		ResponseSeq: binary.BigEndian.Uint32(v[0:4]),
		Result:      ReconfigResult(binary.BigEndian.Uint32(v[4:8])),
	}
	if len(v) == 16 {
		p.HasNextTSNs = true
		p.SenderNextTSN = binary.BigEndian.Uint32(v[8:12])
		p.ReceiverNextTSN = binary.BigEndian.Uint32(v[12:16])
	}
	return nil
}

// AddOutgoingStreamsParam announces NewStreams more streams the sender will
// send on (RFC 6525 4.5).
type AddOutgoingStreamsParam struct {
	RequestSeq uint32
	NewStreams uint16
}

func (*AddOutgoingStreamsParam) ParamType() ParamType { return ParamAddOutgoingStreams }

func (p *AddOutgoingStreamsParam) AppendTo(b []byte) []byte {
	return appendAddStreams(b, ParamAddOutgoingStreams, p.RequestSeq, p.NewStreams)
}

func (p *AddOutgoingStreamsParam) unmarshalValue(v []byte) (err error) {
	p.RequestSeq, p.NewStreams, err = parseAddStreams("Add Outgoing Streams Request parameter", v)
	return err
}

// AddIncomingStreamsParam asks the peer to open NewStreams more streams
// toward the sender (RFC 6525 4.6).
type AddIncomingStreamsParam struct {
	RequestSeq uint32
	NewStreams uint16
}

func (*AddIncomingStreamsParam) ParamType() ParamType { return ParamAddIncomingStreams }

func (p *AddIncomingStreamsParam) AppendTo(b []byte) []byte {
	return appendAddStreams(b, ParamAddIncomingStreams, p.RequestSeq, p.NewStreams)
}

func (p *AddIncomingStreamsParam) unmarshalValue(v []byte) (err error) {
	p.RequestSeq, p.NewStreams, err = parseAddStreams("Add Incoming Streams Request parameter", v)
	return err
}

func appendAddStreams(b []byte, t ParamType, seq uint32, n uint16) []byte {
	b = appendParamHeader(b, t, 8)
	b = binary.BigEndian.AppendUint32(b, seq)
	b = binary.BigEndian.AppendUint16(b, n)
	return append(b, 0, 0) // reserved
}

// parseAddStreams ignores the 16 reserved bits after the stream count, as RFC
// 6525 4.5 and 4.6 require of receivers.
func parseAddStreams(where string, v []byte) (uint32, uint16, error) {
	if err := checkValueLen(where, v, 8); err != nil {
		return 0, 0, err
	}
	return binary.BigEndian.Uint32(v), binary.BigEndian.Uint16(v[4:]), nil
}
