package wire

// ErrorChunk is an ERROR chunk (RFC 9260 3.3.10): one or more error causes
// reported without ending the association. Unknown cause codes come back as
// RawCause so they can be relayed verbatim.
type ErrorChunk struct {
	Causes []Cause
}

func (*ErrorChunk) ChunkType() ChunkType { return TypeError }

func (e *ErrorChunk) AppendTo(b []byte) []byte {
	return appendCauseChunk(b, TypeError, 0, e.Causes)
}

func (e *ErrorChunk) Unmarshal(c RawChunk) error {
	if err := checkType(c, TypeError); err != nil {
		return err
	}
	cs, err := parseChunkCauses(TypeError, c.Value)
	if err != nil {
		return err
	}
	e.Causes = cs
	return nil
}
