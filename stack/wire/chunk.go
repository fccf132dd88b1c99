package wire

import (
	"encoding/binary"
	"fmt"
)

// ChunkType is the first byte of a chunk (RFC 9260 3.2 and extensions).
type ChunkType uint8

// Chunk types sctpgw knows.
const (
	TypeData             ChunkType = 0
	TypeInit             ChunkType = 1
	TypeInitAck          ChunkType = 2
	TypeSack             ChunkType = 3
	TypeHeartbeat        ChunkType = 4
	TypeHeartbeatAck     ChunkType = 5
	TypeAbort            ChunkType = 6
	TypeShutdown         ChunkType = 7
	TypeShutdownAck      ChunkType = 8
	TypeError            ChunkType = 9
	TypeCookieEcho       ChunkType = 10
	TypeCookieAck        ChunkType = 11
	TypeECNE             ChunkType = 12
	TypeCWR              ChunkType = 13
	TypeShutdownComplete ChunkType = 14
	TypeAuth             ChunkType = 15 // RFC 4895
	TypeIData            ChunkType = 64 // RFC 8260
	TypeAsconfAck        ChunkType = 0x80
	TypeReconfig         ChunkType = 0x82 // RFC 6525
	TypePad              ChunkType = 0x84 // RFC 4820
	TypeForwardTSN       ChunkType = 0xC0 // RFC 3758
	TypeAsconf           ChunkType = 0xC1 // RFC 5061
	TypeIForwardTSN      ChunkType = 0xC2 // RFC 8260
)

var chunkNames = map[ChunkType]string{
	TypeData: "DATA", TypeInit: "INIT", TypeInitAck: "INIT ACK", TypeSack: "SACK",
	TypeHeartbeat: "HEARTBEAT", TypeHeartbeatAck: "HEARTBEAT ACK", TypeAbort: "ABORT",
	TypeShutdown: "SHUTDOWN", TypeShutdownAck: "SHUTDOWN ACK", TypeError: "ERROR",
	TypeCookieEcho: "COOKIE ECHO", TypeCookieAck: "COOKIE ACK", TypeECNE: "ECNE",
	TypeCWR: "CWR", TypeShutdownComplete: "SHUTDOWN COMPLETE", TypeAuth: "AUTH",
	TypeIData: "I-DATA", TypeAsconfAck: "ASCONF-ACK", TypeReconfig: "RE-CONFIG",
	TypePad: "PAD", TypeForwardTSN: "FORWARD TSN", TypeAsconf: "ASCONF",
	TypeIForwardTSN: "I-FORWARD-TSN",
}

func (t ChunkType) String() string {
	if s, ok := chunkNames[t]; ok {
		return s
	}
	return fmt.Sprintf("chunk type %d", uint8(t))
}

// UnrecognizedAction is what RFC 9260 3.2 (chunks) and 3.2.1 (parameters)
// tell a receiver to do with a type it does not understand, from the type's
// two high-order bits.
type UnrecognizedAction uint8

const (
	// ActionStop (00): stop processing, discard the rest.
	ActionStop UnrecognizedAction = 0
	// ActionStopReport (01): stop processing and report it.
	ActionStopReport UnrecognizedAction = 1
	// ActionSkip (10): skip it and go on.
	ActionSkip UnrecognizedAction = 2
	// ActionSkipReport (11): skip it, report it and go on.
	ActionSkipReport UnrecognizedAction = 3
)

// Skip reports whether processing continues past the unknown item.
func (a UnrecognizedAction) Skip() bool { return a&2 != 0 }

// Report reports whether the unknown item is to be reported to the sender.
func (a UnrecognizedAction) Report() bool { return a&1 != 0 }

// Action is what to do with this chunk type when it is not understood.
func (t ChunkType) Action() UnrecognizedAction { return UnrecognizedAction(t >> 6) }

// Chunk is anything that encodes itself as one chunk.
type Chunk interface {
	// ChunkType is the chunk's type byte.
	ChunkType() ChunkType
	// AppendTo appends the chunk, header and padding included, to b.
	AppendTo(b []byte) []byte
}

// RawChunk is a chunk as found in a packet: its type, flags and value (the
// bytes after the chunk header, padding excluded). It also stands for chunk
// types this package does not decode, and re-encodes byte for byte.
type RawChunk struct {
	Type  ChunkType
	Flags uint8
	Value []byte
}

func (c RawChunk) ChunkType() ChunkType { return c.Type }

func (c RawChunk) AppendTo(b []byte) []byte {
	start := len(b)
	b = appendChunkHeader(b, c.Type, c.Flags, len(c.Value))
	b = append(b, c.Value...)
	return appendPadding(b, start)
}

// Bytes is the chunk's encoding as it would appear in a packet.
func (c RawChunk) Bytes() []byte { return c.AppendTo(nil) }

// appendChunkHeader writes type, flags and the length of a chunk whose value
// is valueLen bytes long.
func appendChunkHeader(b []byte, t ChunkType, flags uint8, valueLen int) []byte {
	b = append(b, byte(t), flags)
	return binary.BigEndian.AppendUint16(b, length16(ChunkHeaderLen+valueLen))
}

// length16 is n for a 16-bit length field. Encoders take their input from
// the program, not the wire, so a chunk, parameter or cause that does not
// fit is the caller's bug (the engine fragments at the path MTU): it panics
// rather than write a length that silently wraps and corrupts the packet.
// No size a peer controls may reach it (see the package doc): what a peer
// makes us echo or report is cut to one packet before it is encoded.
func length16(n int) uint16 {
	if n > 0xffff {
		panic(fmt.Sprintf("wire: item of %d bytes does not fit a 16-bit length field", n))
	}
	return uint16(n)
}

// setTLVChunkLength sets the length of the chunk at b[start:] whose last
// item (parameter or cause, possibly padded) begins at b[last:]. RFC 9260 3.2:
// the chunk length counts the padding of every parameter but the last.
// Parameters and causes keep their length at the same offset, so those that
// nest TLVs use it too, under the same rule.
func setTLVChunkLength(b []byte, start, last int) {
	end := len(b)
	if last < end {
		end = last + int(binary.BigEndian.Uint16(b[last+2:]))
	}
	binary.BigEndian.PutUint16(b[start+2:], length16(end-start))
}

// checkType is the common first step of every typed decoder.
func checkType(c RawChunk, want ChunkType) error {
	if c.Type != want {
		return perr(want.String(), 0, ErrWrongType, "got %v", c.Type)
	}
	return nil
}

// DecodeChunk decodes a raw chunk into its typed form, allocating a new value.
// Types this package does not know come back as a copy of the RawChunk. The
// result owns its bytes, except the payload of DATA and I-DATA, which stays a
// view of c.Value. For the hot path, decode DATA, I-DATA, SACK and the FORWARD
// TSNs into reused values with their Unmarshal methods instead.
func DecodeChunk(c RawChunk) (Chunk, error) {
	d := newChunk(c.Type)
	if d == nil {
		v := RawChunk{Type: c.Type, Flags: c.Flags}
		if len(c.Value) > 0 {
			v.Value = append([]byte(nil), c.Value...)
		}
		return v, nil
	}
	if err := d.Unmarshal(c); err != nil {
		return nil, err
	}
	return d, nil
}

// decodableChunk is a typed chunk that can decode itself from a RawChunk.
type decodableChunk interface {
	Chunk
	Unmarshal(RawChunk) error
}

// newChunk returns an empty typed chunk for t, or nil for an unknown type.
func newChunk(t ChunkType) decodableChunk {
	switch t {
	case TypeData:
		return new(Data)
	case TypeInit:
		return new(Init)
	case TypeInitAck:
		return new(InitAck)
	case TypeSack:
		return new(Sack)
	case TypeAbort:
		return new(Abort)
	case TypeHeartbeat:
		return new(Heartbeat)
	case TypeHeartbeatAck:
		return new(HeartbeatAck)
	case TypeShutdown:
		return new(Shutdown)
	case TypeShutdownAck:
		return new(ShutdownAck)
	case TypeError:
		return new(ErrorChunk)
	case TypeCookieEcho:
		return new(CookieEcho)
	case TypeCookieAck:
		return new(CookieAck)
	case TypeECNE:
		return new(ECNE)
	case TypeCWR:
		return new(CWR)
	case TypeShutdownComplete:
		return new(ShutdownComplete)
	case TypeAuth:
		return new(Auth)
	case TypeIData:
		return new(IData)
	case TypeAsconfAck:
		return new(AsconfAck)
	case TypeReconfig:
		return new(Reconfig)
	case TypePad:
		return new(Pad)
	case TypeForwardTSN:
		return new(ForwardTSN)
	case TypeAsconf:
		return new(Asconf)
	case TypeIForwardTSN:
		return new(IForwardTSN)
	}
	return nil
}
