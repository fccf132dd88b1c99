package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/sctpgw/sctpgw/stack/wire"
)

// The fuzz targets check what doc.go promises of the codec: parsing never
// panics, every failure is a *ParseError wrapping a sentinel at an offset
// inside the input, and whatever decodes re-encodes to bytes that decode to
// an equal value (and re-encode to the same bytes again). They work through
// DecodeChunk, ParseParams and ParseCauses only, so each chunk, parameter or
// cause type the codec learns is fuzzed without touching this file.
//
// Seeds live in testdata/fuzz/<target>/seed-*, written from fuzzCorpus in
// fuzz_seeds_test.go (go test ./stack/wire -run TestFuzzSeedCorpus
// -update-fuzz-seeds). Each is a valid encoding written by hand from its
// RFC figure; TestFuzzSeedsDecode holds the codec to decoding every one of
// them.

// fuzzMaxChunkValue is the most a chunk can carry: its 16-bit Chunk Length
// counts the 4-byte header (RFC 9260 3.2). Longer fuzz values are cut to it,
// since no packet can hold them.
const fuzzMaxChunkValue = 0xffff - wire.ChunkHeaderLen

var fuzzHeader = wire.CommonHeader{SrcPort: 36412, DstPort: 36412, VerificationTag: 0x01020304}

// Chunk families, one fuzz target each. The selector byte picks the type: a
// byte that is one of the family's types is that type, any other picks by
// remainder, so seeds read naturally and every selector is useful.
var (
	fuzzFamilies = map[string][]wire.ChunkType{
		"FuzzDataChunks": fuzzDataTypes, "FuzzSackChunks": fuzzSackTypes, "FuzzInitChunks": fuzzInitTypes,
		"FuzzControlChunks": fuzzControlTypes, "FuzzExtensionChunks": fuzzExtensionTypes,
	}
	fuzzDataTypes      = []wire.ChunkType{wire.TypeData, wire.TypeIData}
	fuzzSackTypes      = []wire.ChunkType{wire.TypeSack, wire.TypeForwardTSN, wire.TypeIForwardTSN}
	fuzzInitTypes      = []wire.ChunkType{wire.TypeInit, wire.TypeInitAck}
	fuzzExtensionTypes = []wire.ChunkType{wire.TypeReconfig, wire.TypeAuth, wire.TypeAsconf, wire.TypeAsconfAck, wire.TypePad}
	fuzzControlTypes   = []wire.ChunkType{
		wire.TypeHeartbeat, wire.TypeHeartbeatAck, wire.TypeAbort, wire.TypeError,
		wire.TypeShutdown, wire.TypeShutdownAck, wire.TypeShutdownComplete,
		wire.TypeCookieEcho, wire.TypeCookieAck, wire.TypeECNE, wire.TypeCWR,
	}
)

func fuzzPick(types []wire.ChunkType, sel byte) wire.ChunkType {
	for _, t := range types {
		if byte(t) == sel {
			return t
		}
	}
	return types[int(sel)%len(types)]
}

// fuzzCheckError holds a decoding failure to the codec's error contract.
// limit is the size of the input the offset counts into.
func fuzzCheckError(t *testing.T, err error, limit int) {
	t.Helper()
	var pe *wire.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %q (%T) is not a *wire.ParseError", err, err)
	}
	known := false
	for _, s := range []error{wire.ErrTruncated, wire.ErrBadLength, wire.ErrChecksum, wire.ErrBadValue, wire.ErrWrongType} {
		known = known || errors.Is(err, s)
	}
	if !known {
		t.Errorf("error %q wraps no sentinel error", err)
	}
	if pe.Where == "" {
		t.Errorf("error %q does not name the structure at fault", err)
	}
	if pe.Offset < 0 || pe.Offset > limit {
		t.Errorf("error %q: offset %d lies outside the %d-byte input", err, pe.Offset, limit)
	}
}

// fuzzCheckChunk decodes rc and, when that succeeds, checks that the value
// survives encode -> packet framing -> decode unchanged and that its encoding
// is canonical and well framed.
func fuzzCheckChunk(t *testing.T, rc wire.RawChunk) {
	t.Helper()
	orig := bytes.Clone(rc.Value)
	c, err := wire.DecodeChunk(rc)
	if !bytes.Equal(rc.Value, orig) {
		t.Fatalf("DecodeChunk modified its input")
	}
	fuzzCheckReuse(t, rc, c, err)
	if err != nil {
		fuzzCheckError(t, err, wire.ChunkHeaderLen+len(rc.Value))
		return
	}
	if c.ChunkType() != rc.Type {
		t.Fatalf("%v decoded as a %v", rc.Type, c.ChunkType())
	}
	enc := c.AppendTo(nil)
	fuzzCheckFraming(t, enc, rc.Type)
	// The value carries no more than the input did: the encoding's length
	// field can only lose what the decoder ignored.
	if l := int(binary.BigEndian.Uint16(enc[2:4])); l > wire.ChunkHeaderLen+len(rc.Value) {
		t.Fatalf("%v of %d value bytes re-encodes to Chunk Length %d", rc.Type, len(rc.Value), l)
	}

	pkt := wire.AppendPacket(nil, fuzzHeader, c)
	var p wire.Packet
	if err := p.Unmarshal(pkt); err != nil {
		t.Fatalf("re-encoded %v does not frame: %v\n% x", rc.Type, err, enc)
	}
	if len(p.Chunks) != 1 {
		t.Fatalf("re-encoded %v frames as %d chunks\n% x", rc.Type, len(p.Chunks), enc)
	}
	c2, err := wire.DecodeChunk(p.Chunks[0])
	if err != nil {
		t.Fatalf("re-encoded %v does not decode: %v\nvalue %#v\nbytes % x", rc.Type, err, c, enc)
	}
	if !reflect.DeepEqual(c, c2) {
		t.Fatalf("%v changed in a round trip:\nfirst  %#v\nsecond %#v\nbytes  % x", rc.Type, c, c2, enc)
	}
	if enc2 := c2.AppendTo(nil); !bytes.Equal(enc, enc2) {
		t.Fatalf("%v encoding is not canonical:\nfirst  % x\nsecond % x", rc.Type, enc, enc2)
	}
}

// fuzzDirtySeeds is, per chunk type, the longest chunk seed of that type.
var fuzzDirtySeeds = sync.OnceValue(func() map[wire.ChunkType][]byte {
	m := map[wire.ChunkType][]byte{}
	for _, seeds := range seedChunks() {
		for _, s := range seeds {
			t := wire.ChunkType(s.chunk[0])
			if len(s.chunk) > len(m[t]) {
				m[t] = s.chunk
			}
		}
	}
	return m
})

// fuzzCheckReuse decodes rc once more, into a value that already holds the
// longest seed of its type, and expects what the fresh decode gave (fresh,
// or the failure ferr). Hot-path values are kept across packets (doc.go), so
// nothing of what they held before may survive an Unmarshal. Empty and nil
// slices count as equal here: reused slices are cut to length zero.
func fuzzCheckReuse(t *testing.T, rc wire.RawChunk, fresh wire.Chunk, ferr error) {
	t.Helper()
	seed, ok := fuzzDirtySeeds()[rc.Type]
	if !ok {
		return
	}
	typ, flags, value := seedSplitChunk(seed)
	d, err := wire.DecodeChunk(wire.RawChunk{Type: wire.ChunkType(typ), Flags: flags, Value: value})
	if err != nil {
		return // TestFuzzSeedsDecode reports it
	}
	u, ok := d.(interface{ Unmarshal(wire.RawChunk) error })
	if !ok {
		return // a type the codec does not decode
	}
	err = u.Unmarshal(rc)
	switch {
	case (err == nil) != (ferr == nil):
		t.Fatalf("%v: Unmarshal into a used value: %v; into a fresh one: %v", rc.Type, err, ferr)
	case err == nil && !fuzzSameValue(reflect.ValueOf(d), reflect.ValueOf(fresh)):
		t.Fatalf("%v: a used value decodes differently:\nused  %#v\nfresh %#v", rc.Type, d, fresh)
	}
}

// fuzzSameValue is reflect.DeepEqual except that a nil slice equals an
// empty one.
func fuzzSameValue(a, b reflect.Value) bool {
	if a.Kind() != b.Kind() || a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return fuzzSameValue(a.Elem(), b.Elem())
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !fuzzSameValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Struct:
		for i := range a.NumField() {
			if !a.Type().Field(i).IsExported() {
				// A type with hidden state (netip.Addr): compare whole.
				return a.CanInterface() && reflect.DeepEqual(a.Interface(), b.Interface())
			}
		}
		for i := range a.NumField() {
			if !fuzzSameValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	}
	return a.CanInterface() && reflect.DeepEqual(a.Interface(), b.Interface())
}

// fuzzCheckFraming checks an encoded chunk against RFC 9260 3.2: whole
// four-byte words, a Chunk Length of at least the header that leaves at
// most three bytes of zero padding.
func fuzzCheckFraming(t *testing.T, enc []byte, typ wire.ChunkType) {
	t.Helper()
	if len(enc) < wire.ChunkHeaderLen || len(enc)%4 != 0 {
		t.Fatalf("%v encodes to %d bytes, not whole words:\n% x", typ, len(enc), enc)
	}
	if wire.ChunkType(enc[0]) != typ {
		t.Fatalf("%v encodes with type byte %d", typ, enc[0])
	}
	l := int(binary.BigEndian.Uint16(enc[2:4]))
	if l < wire.ChunkHeaderLen || l > len(enc) || len(enc)-l > 3 {
		t.Fatalf("%v encodes %d bytes with Chunk Length %d:\n% x", typ, len(enc), l, enc)
	}
	if !isZero(enc[l:]) {
		t.Fatalf("%v encodes non-zero padding:\n% x", typ, enc)
	}
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

func FuzzPacket(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		var p wire.Packet
		verr := p.Unmarshal(data)
		if verr != nil {
			fuzzCheckError(t, verr, len(data))
		}
		badCRC := len(data) >= wire.CommonHeaderLen && !wire.VerifyChecksum(data)
		if errors.Is(verr, wire.ErrChecksum) != badCRC {
			t.Fatalf("Unmarshal: %v, but VerifyChecksum says %v", verr, !badCRC)
		}
		// The fuzzer cannot forge CRC32c, so the unverified path is where
		// the parsing is exercised; a fixed-up checksum must then make no
		// difference to the outcome.
		err := p.UnmarshalUnverified(data)
		fixed := bytes.Clone(data)
		wire.SetChecksum(fixed)
		var pf wire.Packet
		ferr := pf.Unmarshal(fixed)
		if !bytes.Equal(data, orig) {
			t.Fatalf("parsing modified its input")
		}
		if (err == nil) != (ferr == nil) {
			t.Fatalf("UnmarshalUnverified: %v, but Unmarshal after fixing the checksum: %v", err, ferr)
		}
		if verr == nil && err != nil {
			t.Fatalf("Unmarshal accepted what UnmarshalUnverified rejects: %v", err)
		}
		if err != nil {
			fuzzCheckError(t, err, len(data))
			return
		}

		chunks := make([]wire.Chunk, len(p.Chunks))
		for i, rc := range p.Chunks {
			fuzzCheckChunk(t, rc)
			chunks[i] = rc
		}
		enc := wire.AppendPacket(nil, p.CommonHeader, chunks...)
		// Only the final chunk's missing padding may be added.
		if want := (len(data) + 3) &^ 3; len(enc) != want {
			t.Fatalf("%d-byte packet re-encodes to %d bytes, want %d", len(data), len(enc), want)
		}
		var q wire.Packet
		if err := q.Unmarshal(enc); err != nil {
			t.Fatalf("re-encoded packet: %v", err)
		}
		h, qh := p.CommonHeader, q.CommonHeader
		h.Checksum, qh.Checksum = 0, 0
		if h != qh {
			t.Fatalf("header %+v re-decodes as %+v", h, qh)
		}
		if !reflect.DeepEqual(p.Chunks, q.Chunks) {
			t.Fatalf("chunks changed in a round trip:\nfirst  %#v\nsecond %#v", p.Chunks, q.Chunks)
		}
	})
}

// fuzzChunkFamily is the body of the per-family targets.
func fuzzChunkFamily(f *testing.F, types []wire.ChunkType) {
	f.Fuzz(func(t *testing.T, sel, flags byte, value []byte) {
		if len(value) > fuzzMaxChunkValue {
			value = value[:fuzzMaxChunkValue]
		}
		fuzzCheckChunk(t, wire.RawChunk{Type: fuzzPick(types, sel), Flags: flags, Value: value})
	})
}

// DATA (RFC 9260 3.3.1) and I-DATA (RFC 8260 2.1).
func FuzzDataChunks(f *testing.F) { fuzzChunkFamily(f, fuzzDataTypes) }

// SACK (RFC 9260 3.3.4), FORWARD TSN (RFC 3758 3.2), I-FORWARD-TSN (RFC 8260 2.3.1).
func FuzzSackChunks(f *testing.F) { fuzzChunkFamily(f, fuzzSackTypes) }

// INIT and INIT ACK with their parameters (RFC 9260 3.3.2, 3.3.3).
func FuzzInitChunks(f *testing.F) { fuzzChunkFamily(f, fuzzInitTypes) }

// HEARTBEAT (ACK), ABORT, ERROR, SHUTDOWN (ACK, COMPLETE), COOKIE ECHO/ACK,
// ECNE, CWR.
func FuzzControlChunks(f *testing.F) { fuzzChunkFamily(f, fuzzControlTypes) }

// RE-CONFIG (RFC 6525), AUTH (RFC 4895), ASCONF, ASCONF-ACK (RFC 5061),
// PAD (RFC 4820).
func FuzzExtensionChunks(f *testing.F) { fuzzChunkFamily(f, fuzzExtensionTypes) }

func FuzzParams(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		ps, err := wire.ParseParams(data)
		if !bytes.Equal(data, orig) {
			t.Fatalf("ParseParams modified its input")
		}
		if err != nil {
			fuzzCheckError(t, err, len(data))
			return
		}
		n := 0
		if err := wire.ForEachParam(data, func(wire.RawParam) error { n++; return nil }); err != nil || n != len(ps) {
			t.Fatalf("ParseParams found %d parameters, ForEachParam %d (%v)", len(ps), n, err)
		}
		enc := wire.AppendParams(nil, ps)
		if len(enc)%4 != 0 || len(enc) > (len(data)+3)&^3 {
			t.Fatalf("%d bytes of parameters re-encode to %d", len(data), len(enc))
		}
		ps2, err := wire.ParseParams(enc)
		if err != nil {
			t.Fatalf("re-encoded parameters: %v\n% x", err, enc)
		}
		if !reflect.DeepEqual(ps, ps2) {
			t.Fatalf("parameters changed in a round trip:\nfirst  %#v\nsecond %#v", ps, ps2)
		}
		if enc2 := wire.AppendParams(nil, ps2); !bytes.Equal(enc, enc2) {
			t.Fatalf("parameter encoding is not canonical:\nfirst  % x\nsecond % x", enc, enc2)
		}
	})
}

func FuzzCauses(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		cs, err := wire.ParseCauses(data)
		if !bytes.Equal(data, orig) {
			t.Fatalf("ParseCauses modified its input")
		}
		if err != nil {
			fuzzCheckError(t, err, len(data))
			return
		}
		n := 0
		if err := wire.ForEachCause(data, func(wire.RawCause) error { n++; return nil }); err != nil || n != len(cs) {
			t.Fatalf("ParseCauses found %d causes, ForEachCause %d (%v)", len(cs), n, err)
		}
		enc := wire.AppendCauses(nil, cs)
		if len(enc)%4 != 0 || len(enc) > (len(data)+3)&^3 {
			t.Fatalf("%d bytes of causes re-encode to %d", len(data), len(enc))
		}
		cs2, err := wire.ParseCauses(enc)
		if err != nil {
			t.Fatalf("re-encoded causes: %v\n% x", err, enc)
		}
		if !reflect.DeepEqual(cs, cs2) {
			t.Fatalf("causes changed in a round trip:\nfirst  %#v\nsecond %#v", cs, cs2)
		}
		if enc2 := wire.AppendCauses(nil, cs2); !bytes.Equal(enc, enc2) {
			t.Fatalf("cause encoding is not canonical:\nfirst  % x\nsecond % x", enc, enc2)
		}
	})
}
