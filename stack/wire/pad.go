package wire

// Pad is a PAD chunk (RFC 4820 3), which only makes a packet bigger, e.g. for
// path MTU probes (RFC 8899). The receiver ignores the padding data, but it is
// kept byte for byte so that a relayed or captured chunk re-encodes exactly.
type Pad struct{ Padding []byte }

func (*Pad) ChunkType() ChunkType { return TypePad }

// AppendTo writes the chunk with zero flags (RFC 4820 3: set to zero on
// transmit, ignored on receipt).
func (p *Pad) AppendTo(b []byte) []byte {
	return RawChunk{Type: TypePad, Value: p.Padding}.AppendTo(b)
}

func (p *Pad) Unmarshal(c RawChunk) error {
	if err := checkType(c, TypePad); err != nil {
		return err
	}
	p.Padding = cloneBytes(c.Value)
	return nil
}

// NewPad returns a PAD chunk of zeros that occupies n bytes on the wire, n
// rounded down to a multiple of four and raised to at least the header, for
// building probes of an exact size.
func NewPad(n int) *Pad {
	if n < ChunkHeaderLen {
		n = ChunkHeaderLen
	}
	n &^= 3
	if n == ChunkHeaderLen {
		return &Pad{}
	}
	return &Pad{Padding: make([]byte, n-ChunkHeaderLen)}
}
