package wire

import "encoding/binary"

// Parameters with which INIT and INIT ACK announce optional features.

// ECNCapableParam is the ECN Capable parameter (RFC 4960 appendix A; RFC
// 9260 keeps its type reserved). It has no value.
type ECNCapableParam struct{}

func (*ECNCapableParam) ParamType() ParamType { return ParamECNCapable }

func (*ECNCapableParam) AppendTo(b []byte) []byte {
	return appendParamHeader(b, ParamECNCapable, 0)
}

func (*ECNCapableParam) unmarshalValue(v []byte) error {
	return checkValueLen("ECN Capable parameter", v, 0)
}

// ForwardTSNSupportedParam is the Forward-TSN-Supported parameter (RFC 3758
// 3.1). It has no value.
type ForwardTSNSupportedParam struct{}

func (*ForwardTSNSupportedParam) ParamType() ParamType { return ParamForwardTSNSupported }

func (*ForwardTSNSupportedParam) AppendTo(b []byte) []byte {
	return appendParamHeader(b, ParamForwardTSNSupported, 0)
}

func (*ForwardTSNSupportedParam) unmarshalValue(v []byte) error {
	return checkValueLen("Forward-TSN-Supported parameter", v, 0)
}

// Error Detection Method Identifiers of RFC 9653 (IANA registry).
const (
	EDMIDNone uint32 = 0 // reserved: no alternate method
	EDMIDDTLS uint32 = 1 // SCTP over DTLS (RFC 9653)
)

// ZeroChecksumParam is the Zero Checksum Acceptable parameter (RFC 9653 4):
// the sender accepts packets whose CRC32c is zero when they are protected by
// the named alternate error detection method.
type ZeroChecksumParam struct {
	EDMID uint32 // Error Detection Method Identifier
}

func (*ZeroChecksumParam) ParamType() ParamType { return ParamZeroChecksum }

func (p *ZeroChecksumParam) AppendTo(b []byte) []byte {
	b = appendParamHeader(b, ParamZeroChecksum, 4)
	return binary.BigEndian.AppendUint32(b, p.EDMID)
}

func (p *ZeroChecksumParam) unmarshalValue(v []byte) error {
	if err := checkValueLen("Zero Checksum Acceptable parameter", v, 4); err != nil {
		return err
	}
	p.EDMID = binary.BigEndian.Uint32(v)
	return nil
}

// SupportedExtensionsParam is the Supported Extensions parameter (RFC 5061
// 4.2.7): the chunk types beyond RFC 9260 the sender understands.
type SupportedExtensionsParam struct{ Types []ChunkType }

func (*SupportedExtensionsParam) ParamType() ParamType { return ParamSupportedExtensions }

func (p *SupportedExtensionsParam) AppendTo(b []byte) []byte {
	start := len(b)
	b = appendParamHeader(b, ParamSupportedExtensions, len(p.Types))
	b = appendChunkTypes(b, p.Types)
	return appendPadding(b, start)
}

func (p *SupportedExtensionsParam) unmarshalValue(v []byte) error {
	p.Types = chunkTypeList(v)
	return nil
}

// Has reports whether t is among the announced chunk types.
func (p *SupportedExtensionsParam) Has(t ChunkType) bool {
	for _, x := range p.Types {
		if x == t {
			return true
		}
	}
	return false
}

// AdaptationLayerParam is the Adaptation Layer Indication parameter (RFC
// 5061 4.2.6), an opaque code point the upper layers agree on.
type AdaptationLayerParam struct {
	CodePoint uint32 // Adaptation Code Point
}

func (*AdaptationLayerParam) ParamType() ParamType { return ParamAdaptationLayer }

func (p *AdaptationLayerParam) AppendTo(b []byte) []byte {
	b = appendParamHeader(b, ParamAdaptationLayer, 4)
	return binary.BigEndian.AppendUint32(b, p.CodePoint)
}

func (p *AdaptationLayerParam) unmarshalValue(v []byte) error {
	if err := checkValueLen("Adaptation Layer Indication parameter", v, 4); err != nil {
		return err
	}
	p.CodePoint = binary.BigEndian.Uint32(v)
	return nil
}
