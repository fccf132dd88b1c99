package wire

const flagT = 0x01 // T bit of ABORT and SHUTDOWN COMPLETE (RFC 9260 3.3.7, 3.3.13)

// Abort is an ABORT chunk (RFC 9260 3.3.7).
type Abort struct {
	// TagReflected is the T bit: the sender had no TCB and reflected the
	// receiver's own verification tag (8.5.1).
	TagReflected bool
	Causes       []Cause
}

func (*Abort) ChunkType() ChunkType { return TypeAbort }

func (a *Abort) AppendTo(b []byte) []byte {
	return appendCauseChunk(b, TypeAbort, tbit(a.TagReflected), a.Causes)
}

func (a *Abort) Unmarshal(c RawChunk) error {
	if err := checkType(c, TypeAbort); err != nil {
		return err
	}
	cs, err := parseChunkCauses(TypeAbort, c.Value)
	if err != nil {
		return err
	}
	a.TagReflected = c.Flags&flagT != 0
	a.Causes = cs
	return nil
}

func tbit(t bool) uint8 {
	if t {
		return flagT
	}
	return 0
}

// appendCauseChunk encodes a chunk whose value is a list of error causes
// (ABORT, ERROR).
func appendCauseChunk(b []byte, t ChunkType, flags uint8, cs []Cause) []byte {
	start := len(b)
	b = appendChunkHeader(b, t, flags, 0)
	b, last := appendCauseList(b, cs)
	setTLVChunkLength(b, start, last)
	return b
}

func parseChunkCauses(t ChunkType, v []byte) ([]Cause, error) {
	cs, err := ParseCauses(v)
	if err != nil {
		if pe, ok := err.(*ParseError); ok {
			pe.Where = t.String() + " " + pe.Where
		}
		return nil, err
	}
	return cs, nil
}
