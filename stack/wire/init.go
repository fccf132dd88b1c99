package wire

import "encoding/binary"

const initFixedLen = 16

// InitFields is the body shared by INIT and INIT ACK (RFC 9260 3.3.2, 3.3.3).
type InitFields struct {
	InitiateTag uint32
	ARwnd       uint32
	OutStreams  uint16
	InStreams   uint16 // Number of Inbound Streams (MIS in INIT)
	InitialTSN  uint32
	// Params holds the optional/variable-length parameters in order; unknown
	// types are RawParam so their action bits can be honoured (3.2.1).
	Params []Param
}

func (f *InitFields) appendTo(b []byte, t ChunkType) []byte {
	start := len(b)
	b = appendChunkHeader(b, t, 0, 0)
	b = binary.BigEndian.AppendUint32(b, f.InitiateTag)
	b = binary.BigEndian.AppendUint32(b, f.ARwnd)
	b = binary.BigEndian.AppendUint16(b, f.OutStreams)
	b = binary.BigEndian.AppendUint16(b, f.InStreams)
	b = binary.BigEndian.AppendUint32(b, f.InitialTSN)
	last := len(b)
	for _, p := range f.Params {
		last = len(b)
		b = p.AppendTo(b)
	}
	setTLVChunkLength(b, start, last)
	return b
}

func (f *InitFields) unmarshal(c RawChunk, t ChunkType) error {
	if err := checkType(c, t); err != nil {
		return err
	}
	v := c.Value
	if err := need(t.String(), v, initFixedLen); err != nil {
		return err
	}
	f.InitiateTag = binary.BigEndian.Uint32(v[0:4])
	f.ARwnd = binary.BigEndian.Uint32(v[4:8])
	f.OutStreams = binary.BigEndian.Uint16(v[8:10])
	f.InStreams = binary.BigEndian.Uint16(v[10:12])
	f.InitialTSN = binary.BigEndian.Uint32(v[12:16])
	ps, err := ParseParams(v[initFixedLen:])
	if err != nil {
		if pe, ok := err.(*ParseError); ok {
			pe.Where = t.String() + " " + pe.Where
			pe.Offset += initFixedLen
		}
		return err
	}
	f.Params = ps
	return nil
}

// Param returns the first parameter of type t, or nil.
func (f *InitFields) Param(t ParamType) Param {
	for _, p := range f.Params {
		if p.ParamType() == t {
			return p
		}
	}
	return nil
}

// Init is an INIT chunk (RFC 9260 3.3.2).
type Init struct{ InitFields }

func (*Init) ChunkType() ChunkType          { return TypeInit }
func (c *Init) AppendTo(b []byte) []byte    { return c.appendTo(b, TypeInit) }
func (c *Init) Unmarshal(rc RawChunk) error { return c.unmarshal(rc, TypeInit) }

// InitAck is an INIT ACK chunk (RFC 9260 3.3.3); it must carry a State Cookie.
type InitAck struct{ InitFields }

func (*InitAck) ChunkType() ChunkType          { return TypeInitAck }
func (c *InitAck) AppendTo(b []byte) []byte    { return c.appendTo(b, TypeInitAck) }
func (c *InitAck) Unmarshal(rc RawChunk) error { return c.unmarshal(rc, TypeInitAck) }
