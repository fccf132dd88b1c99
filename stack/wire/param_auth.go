package wire

// HMACID identifies an HMAC algorithm of SCTP-AUTH (RFC 4895 3.3, IANA).
type HMACID uint16

// HMAC identifiers RFC 4895 defines.
const (
	HMACSHA1   HMACID = 1
	HMACSHA256 HMACID = 3
)

// RandomParam is the Random parameter (RFC 4895 3.1): the sender's random
// contribution to the association's shared key.
type RandomParam struct{ Random []byte }

func (*RandomParam) ParamType() ParamType { return ParamRandom }

func (p *RandomParam) AppendTo(b []byte) []byte {
	return RawParam{Type: ParamRandom, Value: p.Random}.AppendTo(b)
}

// unmarshalValue leaves the 32-byte minimum of RFC 4895 3.1 to the AUTH
// procedures, which must answer a short one with an ABORT, not a parse error.
func (p *RandomParam) unmarshalValue(v []byte) error {
	p.Random = v
	return nil
}

// ChunkListParam is the Chunk List parameter (RFC 4895 3.2): the chunk types
// the sender requires to arrive authenticated.
type ChunkListParam struct{ Types []ChunkType }

func (*ChunkListParam) ParamType() ParamType { return ParamChunkList }

func (p *ChunkListParam) AppendTo(b []byte) []byte {
	start := len(b)
	b = appendParamHeader(b, ParamChunkList, len(p.Types))
	b = appendChunkTypes(b, p.Types)
	return appendPadding(b, start)
}

func (p *ChunkListParam) unmarshalValue(v []byte) error {
	p.Types = chunkTypeList(v)
	return nil
}

// RequestedHMACAlgoParam is the Requested HMAC Algorithm parameter (RFC 4895
// 3.3): the HMAC identifiers the sender accepts, most preferred first.
type RequestedHMACAlgoParam struct{ IDs []HMACID }

func (*RequestedHMACAlgoParam) ParamType() ParamType { return ParamRequestedHMACAlgo }

func (p *RequestedHMACAlgoParam) AppendTo(b []byte) []byte {
	start := len(b)
	b = appendParamHeader(b, ParamRequestedHMACAlgo, 2*len(p.IDs))
	b = appendU16s(b, p.IDs)
	return appendPadding(b, start)
}

func (p *RequestedHMACAlgoParam) unmarshalValue(v []byte) error {
	ids, err := parseU16s[HMACID]("Requested HMAC Algorithm parameter", v)
	if err != nil {
		return err
	}
	p.IDs = ids
	return nil
}
