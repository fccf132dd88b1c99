package wire

// CookieEcho is a COOKIE ECHO chunk (RFC 9260 3.3.11). Cookie is the value
// of the State Cookie parameter of the INIT ACK, byte for byte.
type CookieEcho struct{ Cookie []byte }

func (*CookieEcho) ChunkType() ChunkType { return TypeCookieEcho }

func (e *CookieEcho) AppendTo(b []byte) []byte {
	return RawChunk{Type: TypeCookieEcho, Value: e.Cookie}.AppendTo(b)
}

// Unmarshal decodes c into e. Cookie is a copy, since the listener may keep
// it (for the 5.2.4 duplicate-COOKIE-ECHO case) past the packet's lifetime.
// An empty cookie parses: rejecting it is cookie validation's job.
func (e *CookieEcho) Unmarshal(c RawChunk) error {
	if err := checkType(c, TypeCookieEcho); err != nil {
		return err
	}
	e.Cookie = cloneBytes(c.Value)
	return nil
}

// CookieAck is a COOKIE ACK chunk (RFC 9260 3.3.12); it has no value.
type CookieAck struct{}

func (*CookieAck) ChunkType() ChunkType { return TypeCookieAck }

func (*CookieAck) AppendTo(b []byte) []byte {
	return appendChunkHeader(b, TypeCookieAck, 0, 0)
}

func (*CookieAck) Unmarshal(c RawChunk) error { return checkEmptyChunk(c, TypeCookieAck) }
