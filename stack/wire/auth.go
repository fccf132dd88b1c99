package wire

import "encoding/binary"

// authFixedLen is the shared key and HMAC identifiers before the HMAC.
const authFixedLen = 4

// AuthHMACOffset is where the HMAC starts within an AUTH chunk, header
// included: the receiver zeroes that many bytes from there before computing
// the HMAC over the chunk (RFC 4895 6.3).
const AuthHMACOffset = ChunkHeaderLen + authFixedLen

// Auth is an AUTH chunk (RFC 4895 5.1). Verifying it needs the raw bytes of
// the chunk and of everything after it in the packet, so the association
// works on the packet; this type carries the fields.
type Auth struct {
	SharedKeyID uint16
	HMACID      HMACID
	// HMAC is as long as the algorithm's output; the codec does not check
	// that, since an unknown HMACID must be answered with an error cause
	// rather than dropped as malformed.
	HMAC []byte
}

func (*Auth) ChunkType() ChunkType { return TypeAuth }

func (a *Auth) AppendTo(b []byte) []byte {
	start := len(b)
	b = appendChunkHeader(b, TypeAuth, 0, authFixedLen+len(a.HMAC))
	b = binary.BigEndian.AppendUint16(b, a.SharedKeyID)
	b = binary.BigEndian.AppendUint16(b, uint16(a.HMACID))
	b = append(b, a.HMAC...)
	return appendPadding(b, start)
}

// Unmarshal decodes c into a; HMAC is a copy.
func (a *Auth) Unmarshal(c RawChunk) error {
	if err := checkType(c, TypeAuth); err != nil {
		return err
	}
	v := c.Value
	if err := need("AUTH", v, authFixedLen); err != nil {
		return err
	}
	a.SharedKeyID = binary.BigEndian.Uint16(v[0:2])
	a.HMACID = HMACID(binary.BigEndian.Uint16(v[2:4]))
	a.HMAC = cloneBytes(v[authFixedLen:])
	return nil
}
