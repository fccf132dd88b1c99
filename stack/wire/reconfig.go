package wire

// Reconfig is a RE-CONFIG chunk (RFC 6525 3.1). RFC 6525 allows one or two
// parameters in a few combinations (3.1, 5.2); which ones make sense is the
// association's decision, so the codec takes any list.
type Reconfig struct {
	Params []Param
}

func (*Reconfig) ChunkType() ChunkType { return TypeReconfig }

func (r *Reconfig) AppendTo(b []byte) []byte {
	start := len(b)
	b = appendChunkHeader(b, TypeReconfig, 0, 0)
	b, last := appendParamList(b, r.Params)
	setTLVChunkLength(b, start, last)
	return b
}

func (r *Reconfig) Unmarshal(c RawChunk) error {
	if err := checkType(c, TypeReconfig); err != nil {
		return err
	}
	ps, err := parseNestedParams("RE-CONFIG", c.Value, 0)
	if err != nil {
		return err
	}
	r.Params = ps
	return nil
}
