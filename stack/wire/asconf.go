package wire

import (
	"encoding/binary"
	"net/netip"
)

// Asconf is an ASCONF chunk (RFC 5061 4.1.1).
type Asconf struct {
	// Serial is the chunk's Sequence Number, which orders ASCONFs and pairs
	// each with its ASCONF-ACK.
	Serial uint32
	// Address is one of the sender's addresses already in the association,
	// which lets the peer find the association when the packet comes from a
	// new address. It must be valid: it is mandatory.
	Address netip.Addr
	// Params are the requests (Add IP Address, Delete IP Address, Set Primary
	// Address, ...), processed in order.
	Params []Param
}

func (*Asconf) ChunkType() ChunkType { return TypeAsconf }

func (a *Asconf) AppendTo(b []byte) []byte {
	start := len(b)
	b = appendChunkHeader(b, TypeAsconf, 0, 0)
	b = binary.BigEndian.AppendUint32(b, a.Serial)
	b = appendAddressParam(b, a.Address)
	b, last := appendParamList(b, a.Params)
	setTLVChunkLength(b, start, last)
	return b
}

func (a *Asconf) Unmarshal(c RawChunk) error {
	if err := checkType(c, TypeAsconf); err != nil {
		return err
	}
	v := c.Value
	if err := need("ASCONF", v, 4); err != nil {
		return err
	}
	addr, n, err := parseAddressParam("ASCONF", v[4:])
	if err != nil {
		return shiftErr(err, "", 4)
	}
	ps, err := parseNestedParams("ASCONF", v, 4+n)
	if err != nil {
		return err
	}
	a.Serial = binary.BigEndian.Uint32(v)
	a.Address = addr
	a.Params = ps
	return nil
}

// AsconfAck is an ASCONF-ACK chunk (RFC 5061 4.1.2). Params holds Success
// Indication and Error Cause Indication parameters; a request with no
// response parameter succeeded.
type AsconfAck struct {
	Serial uint32 // Sequence Number of the ASCONF acknowledged
	Params []Param
}

func (*AsconfAck) ChunkType() ChunkType { return TypeAsconfAck }

func (a *AsconfAck) AppendTo(b []byte) []byte {
	start := len(b)
	b = appendChunkHeader(b, TypeAsconfAck, 0, 0)
	b = binary.BigEndian.AppendUint32(b, a.Serial)
	b, last := appendParamList(b, a.Params)
	setTLVChunkLength(b, start, last)
	return b
}

func (a *AsconfAck) Unmarshal(c RawChunk) error {
	if err := checkType(c, TypeAsconfAck); err != nil {
		return err
	}
	v := c.Value
	if err := need("ASCONF-ACK", v, 4); err != nil {
		return err
	}
	ps, err := parseNestedParams("ASCONF-ACK", v, 4)
	if err != nil {
		return err
	}
	a.Serial = binary.BigEndian.Uint32(v)
	a.Params = ps
	return nil
}
