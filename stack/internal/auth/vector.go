package auth

import (
	"bytes"
	"encoding/binary"

	"github.com/sctpgw/sctpgw/stack/wire"
)

// RandomLen is the length of the random number of a RANDOM parameter: RFC
// 4895 6.1 makes it exactly 32 bytes (an association with another length
// is aborted).
const RandomLen = 32

// Bounds on what a peer's parameters may hold for this stack to keep them
// (in the state cookie, among other places). A conforming peer lists a
// handful of chunk types and two HMACs; longer lists are refused with a
// Protocol Violation like a malformed parameter.
const (
	MaxChunks = 128
	MaxHMACs  = 16
	// MaxVector is the longest key vector those bounds allow.
	MaxVector = 3*wire.ParamHeaderLen + RandomLen + MaxChunks + 2*MaxHMACs
)

// Params are the SCTP-AUTH parameters one side sent in its INIT or INIT
// ACK: its RANDOM, CHUNKS (HasChunks tells an empty list from an absent
// one: both may be sent) and HMAC-ALGO.
type Params struct {
	Random    []byte
	Chunks    []wire.ChunkType
	HasChunks bool
	HMACs     []wire.HMACID
}

// FromWire collects the first RANDOM, CHUNKS and HMAC-ALGO parameters of an
// INIT or INIT ACK. offered says whether the sender takes part in SCTP-AUTH:
// it sent a RANDOM and an HMAC-ALGO (RFC 4895 6.1 makes both mandatory for
// that; the Supported Extensions parameter listing AUTH is not required
// here, though this stack always sends it). The slices alias ps.
func FromWire(ps []wire.Param) (p Params, offered bool) {
	var haveRandom, haveHMACs bool
	for _, prm := range ps {
		switch v := prm.(type) {
		case *wire.RandomParam:
			if !haveRandom {
				p.Random, haveRandom = v.Random, true
			}
		case *wire.ChunkListParam:
			if !p.HasChunks {
				p.Chunks, p.HasChunks = v.Types, true
			}
		case *wire.RequestedHMACAlgoParam:
			if !haveHMACs {
				p.HMACs, haveHMACs = v.IDs, true
			}
		}
	}
	return p, haveRandom && haveHMACs
}

// Check applies RFC 4895 6.1 to a peer's parameters, and this stack's
// bounds (MaxChunks, MaxHMACs).
func (p *Params) Check() error {
	switch {
	case len(p.Random) != RandomLen:
		return ErrRandomLength
	case len(p.Chunks) > MaxChunks || len(p.HMACs) > MaxHMACs:
		return ErrTooLong
	}
	sha1Listed := false
	for _, id := range p.HMACs {
		sha1Listed = sha1Listed || id == wire.HMACSHA1
	}
	if !sha1Listed {
		return ErrNoSHA1
	}
	return nil
}

// Params returns the wire parameters of p, in the order the key vector
// concatenates them (an INIT or INIT ACK may carry them in any order).
func (p *Params) Params() []wire.Param {
	ps := []wire.Param{&wire.RandomParam{Random: p.Random}}
	if p.HasChunks {
		ps = append(ps, &wire.ChunkListParam{Types: p.Chunks})
	}
	return append(ps, &wire.RequestedHMACAlgoParam{IDs: p.HMACs})
}

// AppendVector appends p's key vector (RFC 4895 6.1): the RANDOM, CHUNKS
// and HMAC-ALGO parameters as sent, type and length included, without
// padding, in that order; a parameter not sent is left out.
func (p *Params) AppendVector(b []byte) []byte {
	b = appendTLV(b, wire.ParamRandom, len(p.Random))
	b = append(b, p.Random...)
	if p.HasChunks {
		b = appendTLV(b, wire.ParamChunkList, len(p.Chunks))
		for _, t := range p.Chunks {
			b = append(b, byte(t))
		}
	}
	b = appendTLV(b, wire.ParamRequestedHMACAlgo, 2*len(p.HMACs))
	for _, id := range p.HMACs {
		b = binary.BigEndian.AppendUint16(b, uint16(id))
	}
	return b
}

func appendTLV(b []byte, t wire.ParamType, valueLen int) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(t))
	return binary.BigEndian.AppendUint16(b, uint16(wire.ParamHeaderLen+valueLen))
}

// ParseVector reads a key vector AppendVector wrote back into Params; the
// slices of the result alias v only for Random.
func ParseVector(v []byte) (Params, error) {
	var p Params
	for len(v) > 0 {
		if len(v) < wire.ParamHeaderLen {
			return p, ErrMalformed
		}
		t := wire.ParamType(binary.BigEndian.Uint16(v))
		l := int(binary.BigEndian.Uint16(v[2:]))
		if l < wire.ParamHeaderLen || l > len(v) {
			return p, ErrMalformed
		}
		val := v[wire.ParamHeaderLen:l]
		switch t {
		case wire.ParamRandom:
			p.Random = val
		case wire.ParamChunkList:
			p.HasChunks = true
			p.Chunks = make([]wire.ChunkType, len(val))
			for i, c := range val {
				p.Chunks[i] = wire.ChunkType(c)
			}
		case wire.ParamRequestedHMACAlgo:
			if len(val)%2 != 0 {
				return p, ErrMalformed
			}
			p.HMACs = make([]wire.HMACID, len(val)/2)
			for i := range p.HMACs {
				p.HMACs[i] = wire.HMACID(binary.BigEndian.Uint16(val[2*i:]))
			}
		default:
			return p, ErrMalformed
		}
		v = v[l:]
	}
	return p, nil
}

// AppendAssocKey appends the association shared key of RFC 4895 6.1 for
// the endpoint-pair shared key epKey and the two key vectors: epKey, then
// the numerically smaller vector, then the larger. Vectors equal as
// numbers but of different lengths go shorter first; identical ones in
// either order.
func AppendAssocKey(b, epKey, v1, v2 []byte) []byte {
	if compareVectors(v1, v2) > 0 {
		v1, v2 = v2, v1
	}
	b = append(b, epKey...)
	b = append(b, v1...)
	return append(b, v2...)
}

// compareVectors compares a and b as unsigned big-endian numbers (leading
// zero bytes do not count), and numbers that are equal by length.
func compareVectors(a, b []byte) int {
	ta, tb := bytes.TrimLeft(a, "\x00"), bytes.TrimLeft(b, "\x00")
	switch {
	case len(ta) != len(tb):
		return cmpInt(len(ta), len(tb))
	default:
		if c := bytes.Compare(ta, tb); c != 0 {
			return c
		}
		return cmpInt(len(a), len(b))
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
