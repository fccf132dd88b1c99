package wire

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// Malformed input: every decoder answers with a *ParseError wrapping the
// sentinel that says what was wrong, and never panics.

func rtWantErr(t *testing.T, err error, sentinel error) *ParseError {
	t.Helper()
	if err == nil {
		t.Fatalf("decoded without error, want %v", sentinel)
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %T (%v) is not a *ParseError", err, err)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %q does not wrap %v", err, sentinel)
	}
	return pe
}

func TestChunkDecodeErrors(t *testing.T) {
	cases := []struct {
		name string
		typ  ChunkType
		val  string
		want error
	}{
		{"DATA short", TypeData, "00 00 00 01 00 02 00 03 00 00 00", ErrTruncated},
		{"INIT short", TypeInit, "00 00 00 01 00 00 00 02 00 03 00 04 00 00 00", ErrTruncated},
		{"INIT bad parameter length", TypeInit, "00 00 00 01 00 00 00 02 00 03 00 04 00 00 00 05 00 05 00 03", ErrBadLength},
		{"INIT ACK parameter past the end", TypeInitAck, "00 00 00 01 00 00 00 02 00 03 00 04 00 00 00 05 00 05 00 08 c0 00", ErrBadLength},
		{"SACK short", TypeSack, "00 00 00 64 00 00 13 88 00 01 00", ErrTruncated},
		{"SACK counts disagree", TypeSack, "00 00 00 64 00 00 13 88 00 01 00 00", ErrBadLength},
		{"HEARTBEAT empty", TypeHeartbeat, "", ErrTruncated},
		{"HEARTBEAT info past the end", TypeHeartbeat, "00 01 00 09 61", ErrBadLength},
		{"HEARTBEAT info length below header", TypeHeartbeat, "00 01 00 02", ErrBadLength},
		{"HEARTBEAT not heartbeat info", TypeHeartbeat, "00 02 00 04", ErrBadValue},
		{"HEARTBEAT trailing bytes", TypeHeartbeat, "00 01 00 04 00 00 00 00 11 22 33 44", ErrBadLength},
		{"HEARTBEAT ACK short", TypeHeartbeatAck, "00 01", ErrTruncated},
		{"ABORT cause past the end", TypeAbort, "00 0c 00 09 61", ErrBadLength},
		{"SHUTDOWN short", TypeShutdown, "00 00 00", ErrBadLength},
		{"SHUTDOWN ACK with value", TypeShutdownAck, "00 00 00 00", ErrBadLength},
		{"ERROR cause past the end", TypeError, "00 01 00 08 00 07", ErrBadLength},
		{"ERROR typed cause too short", TypeError, "00 01 00 06 00 07", ErrBadLength},
		{"ERROR stray byte", TypeError, "00", ErrTruncated},
		{"ERROR stray bytes after a cause", TypeError, "00 03 00 08 00 00 00 01 00 00", ErrTruncated},
		{"COOKIE ACK with value", TypeCookieAck, "00", ErrBadLength},
		{"ECNE short", TypeECNE, "01 02 03", ErrBadLength},
		{"ECNE long", TypeECNE, "01 02 03 04 05 06 07 08 09 0a 0b 0c", ErrBadLength},
		{"CWR empty", TypeCWR, "", ErrBadLength},
		{"CWR long", TypeCWR, "01 02 03 04 05 06 07 08", ErrBadLength},
		{"SHUTDOWN COMPLETE with value", TypeShutdownComplete, "00 00 00 00", ErrBadLength},
		{"AUTH short", TypeAuth, "00 01 00", ErrTruncated},
		{"I-DATA short", TypeIData, "00 00 00 01 00 02 00 00 00 00 00 03 00 00 00", ErrTruncated},
		{"ASCONF-ACK short", TypeAsconfAck, "00 00", ErrTruncated},
		{"ASCONF-ACK bad response", TypeAsconfAck, "00 00 00 01 c0 05 00 0c 00 00 00 01 00 00 00 00", ErrBadLength},
		{"RE-CONFIG bad parameter", TypeReconfig, "00 0f 00 06 00 00", ErrBadLength},
		{"RE-CONFIG short request", TypeReconfig, "00 0d 00 08 00 00 00 01", ErrTruncated},
		{"RE-CONFIG stray bytes", TypeReconfig, "00 0d", ErrTruncated},
		{"FORWARD TSN short", TypeForwardTSN, "00 00 00", ErrTruncated},
		{"FORWARD TSN half entry", TypeForwardTSN, "00 00 00 01 00 01", ErrBadLength},
		{"ASCONF short", TypeAsconf, "00 00 00", ErrTruncated},
		{"ASCONF no address", TypeAsconf, "00 00 00 01", ErrTruncated},
		{"ASCONF address of the wrong type", TypeAsconf, "00 00 00 01 00 07 00 04", ErrBadValue},
		{"ASCONF address past the end", TypeAsconf, "00 00 00 01 00 05 00 08 c0 00", ErrBadLength},
		{"ASCONF IPv6 address too short", TypeAsconf, "00 00 00 01 00 06 00 08 c0 00 02 01", ErrBadLength},
		{"ASCONF request without address", TypeAsconf, "00 00 00 01 00 05 00 08 c0 00 02 01 c0 01 00 08 00 00 00 01", ErrTruncated},
		{"I-FORWARD-TSN short", TypeIForwardTSN, "00 00", ErrTruncated},
		{"I-FORWARD-TSN half entry", TypeIForwardTSN, "00 00 00 01 00 01 00 00", ErrBadLength},
	}
	covered := map[ChunkType]bool{TypeCookieEcho: true, TypePad: true} // any value is valid
	for _, tc := range cases {
		covered[tc.typ] = true
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeChunk(RawChunk{Type: tc.typ, Value: rtHex(tc.val)})
			pe := rtWantErr(t, err, tc.want)
			if !strings.Contains(pe.Where, tc.typ.String()) {
				t.Errorf("error %q does not name %v", err, tc.typ)
			}
		})
	}
	for ct := range chunkNames {
		if !covered[ct] {
			t.Errorf("no malformed-input case for %v", ct)
		}
	}
}

func TestParamDecodeErrors(t *testing.T) {
	cases := []struct {
		name string
		typ  ParamType
		val  string
		want error
	}{
		{"IPv4 short", ParamIPv4Address, "c0 00 02", ErrBadLength},
		{"IPv6 short", ParamIPv6Address, "00 00 00 00", ErrBadLength},
		{"Cookie Preservative short", ParamCookiePreservative, "00 00", ErrBadLength},
		{"Supported Address Types odd", ParamSupportedAddrTypes, "00 05 00", ErrBadLength},
		{"Outgoing SSN Reset short", ParamOutgoingSSNReset, "00 00 00 01 00 00 00 02 00 00 00", ErrTruncated},
		{"Outgoing SSN Reset half stream", ParamOutgoingSSNReset, "00 00 00 01 00 00 00 02 00 00 00 03 00", ErrBadLength},
		{"Incoming SSN Reset short", ParamIncomingSSNReset, "00 00 01", ErrTruncated},
		{"Incoming SSN Reset half stream", ParamIncomingSSNReset, "00 00 00 01 00", ErrBadLength},
		{"SSN/TSN Reset long", ParamSSNTSNReset, "00 00 00 01 00", ErrBadLength},
		{"Re-configuration Response one TSN", ParamReconfigResponse, "00 00 00 01 00 00 00 01 00 00 00 10", ErrBadLength},
		{"Re-configuration Response short", ParamReconfigResponse, "00 00 00 01", ErrBadLength},
		{"Add Outgoing Streams short", ParamAddOutgoingStreams, "00 00 00 01 00 02", ErrBadLength},
		{"Add Incoming Streams long", ParamAddIncomingStreams, "00 00 00 01 00 02 00 00 00 00", ErrBadLength},
		{"ECN Capable with value", ParamECNCapable, "00", ErrBadLength},
		{"Zero Checksum Acceptable empty", ParamZeroChecksum, "", ErrBadLength},
		{"Requested HMAC Algorithm odd", ParamRequestedHMACAlgo, "00", ErrBadLength},
		{"Forward-TSN-Supported with value", ParamForwardTSNSupported, "00 00 00 00", ErrBadLength},
		{"Add IP Address short", ParamAddIPAddress, "00 00", ErrTruncated},
		{"Add IP Address no address", ParamAddIPAddress, "00 00 00 01", ErrTruncated},
		{"Add IP Address IPv6 too short", ParamAddIPAddress, "00 00 00 01 00 06 00 08 c0 00 02 01", ErrBadLength},
		{"Add IP Address not an address", ParamAddIPAddress, "00 00 00 01 00 07 00 04", ErrBadValue},
		{"Add IP Address trailing bytes", ParamAddIPAddress, "00 00 00 01 00 05 00 08 c0 00 02 01 00 00 00 00", ErrBadLength},
		{"Add IP Address IPv4 too long", ParamAddIPAddress, "00 00 00 01 00 05 00 09 c0 00 02 01 00", ErrBadLength},
		{"Delete IP Address stray bytes", ParamDeleteIPAddress, "00 00 00 01 00 05", ErrTruncated},
		{"Set Primary Address past the end", ParamSetPrimaryAddress, "00 00 00 01 00 05 00 10 c0 00 02 01", ErrBadLength},
		{"Error Cause Indication short", ParamErrorCauseIndication, "00 00 01", ErrTruncated},
		{"Error Cause Indication cause past the end", ParamErrorCauseIndication, "00 00 00 01 00 01 00 08 00 01", ErrBadLength},
		{"Error Cause Indication bad cause", ParamErrorCauseIndication, "00 00 00 01 00 09 00 06 00 00", ErrBadLength},
		{"Success Indication empty", ParamSuccessIndication, "", ErrBadLength},
		{"Adaptation Layer Indication short", ParamAdaptationLayer, "00 00 01", ErrBadLength},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeParam(RawParam{Type: tc.typ, Value: rtHex(tc.val)})
			rtWantErr(t, err, tc.want)
		})
	}
}

func TestCauseDecodeErrors(t *testing.T) {
	cases := []struct {
		name string
		code CauseCode
		val  string
		want error
	}{
		{"Invalid Stream Identifier short", CauseInvalidStream, "00 07", ErrBadLength},
		{"Missing Mandatory Parameter short", CauseMissingMandatoryParam, "00 00 00", ErrTruncated},
		{"Missing Mandatory Parameter count too big", CauseMissingMandatoryParam, "00 00 00 02 00 07", ErrBadLength},
		{"Missing Mandatory Parameter count huge", CauseMissingMandatoryParam, "ff ff ff ff 00 07", ErrBadLength},
		{"Missing Mandatory Parameter count too small", CauseMissingMandatoryParam, "00 00 00 01 00 07 00 09", ErrBadLength},
		{"Missing Mandatory Parameter odd", CauseMissingMandatoryParam, "00 00 00 01 00 07 00", ErrBadLength},
		{"Stale Cookie long", CauseStaleCookie, "00 00 00 01 00 00 00 00", ErrBadLength},
		{"Out of Resource with value", CauseOutOfResource, "00 00 00 00", ErrBadLength},
		{"Invalid Mandatory Parameter with value", CauseInvalidMandatoryParam, "00", ErrBadLength},
		{"No User Data short", CauseNoUserData, "00 01", ErrBadLength},
		{"Cookie While Shutting Down with value", CauseCookieWhileShuttingDown, "00 00 00 00", ErrBadLength},
		{"New Encapsulation Port long", CauseRestartWithNewEncapPort, "26 ab 30 39 00 00 00 00", ErrBadLength},
		{"New Encapsulation Port short", CauseRestartWithNewEncapPort, "26 ab", ErrBadLength},
		{"Unsupported HMAC empty", CauseUnsupportedHMAC, "", ErrBadLength},
		{"Unsupported HMAC odd", CauseUnsupportedHMAC, "00 02 00", ErrBadLength},
		{"Unsupported HMAC long", CauseUnsupportedHMAC, "00 02 00 00 00 00", ErrBadLength},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeCause(RawCause{Code: tc.code, Value: rtHex(tc.val)})
			rtWantErr(t, err, tc.want)
		})
	}
}

// TestNestedErrorLocation checks that an error deep inside a chunk names the
// chunk and points at the faulty bytes, counted from the chunk value.
func TestNestedErrorLocation(t *testing.T) {
	// A good Stale Cookie, then an Invalid Stream Identifier two bytes short:
	// its length field sits at value offset 8+2.
	_, err := DecodeChunk(RawChunk{Type: TypeError, Value: rtHex("00 03 00 08 00 00 00 01 00 01 00 06 00 07")})
	pe := rtWantErr(t, err, ErrBadLength)
	if pe.Offset != 10 {
		t.Errorf("offset %d, want 10 (%v)", pe.Offset, err)
	}
	// ASCONF-ACK, serial, then an Error Cause Indication whose cause runs
	// past the parameter's end: that cause's length field is at 4 (serial) +
	// 4 (parameter header) + 4 (correlation ID) + 2.
	_, err = DecodeChunk(RawChunk{Type: TypeAsconfAck, Value: rtHex("00 00 00 01 c0 03 00 0e 00 00 00 01 00 01 00 08 00 01")})
	pe = rtWantErr(t, err, ErrBadLength)
	if !strings.HasPrefix(pe.Where, "ASCONF-ACK") || pe.Offset != 14 {
		t.Errorf("where %q offset %d, want ASCONF-ACK... at 14 (%v)", pe.Where, pe.Offset, err)
	}
}

// TestWrongType hands each typed decoder a chunk of another type.
func TestWrongType(t *testing.T) {
	for ct := range chunkNames {
		d := newChunk(ct)
		other := ct + 1
		if other == ct || chunkNames[other] == "" {
			other = 0xff
		}
		rtWantErr(t, d.Unmarshal(RawChunk{Type: other}), ErrWrongType)
	}
}

// TestCorruptionNeverPanics truncates every vector at every length and
// corrupts each of its bytes: the decoders may accept what they get or
// reject it, but only with a *ParseError.
func TestCorruptionNeverPanics(t *testing.T) {
	check := func(t *testing.T, what string, err error) {
		t.Helper()
		var pe *ParseError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("%s: error %T (%v) is not a *ParseError", what, err, err)
		}
	}
	variants := func(v []byte, f func(string, []byte)) {
		for i := 0; i <= len(v); i++ {
			f("truncated", v[:i])
		}
		for i := range v {
			for _, x := range []byte{0x01, 0x80, 0xff} {
				c := bytes.Clone(v)
				c[i] ^= x
				f("flipped", c)
			}
		}
	}
	for _, tc := range rtChunkCases() {
		raw := rtChunk(t, tc.wire)
		variants(raw.Value, func(how string, v []byte) {
			_, err := DecodeChunk(RawChunk{Type: raw.Type, Flags: raw.Flags, Value: v})
			check(t, tc.name+" "+how, err)
		})
		// Whole packets whose chunk header is damaged too.
		pkt := AppendPacket(nil, CommonHeader{SrcPort: 1, DstPort: 2}, tc.val)
		variants(pkt[CommonHeaderLen:], func(how string, v []byte) {
			var p Packet
			err := p.UnmarshalUnverified(append(bytes.Clone(pkt[:CommonHeaderLen]), v...))
			check(t, tc.name+" packet "+how, err)
			for _, c := range p.Chunks {
				_, err := DecodeChunk(c)
				check(t, tc.name+" packet chunk "+how, err)
			}
		})
	}
	for _, tc := range rtParamCases() {
		raw := tc.wire[ParamHeaderLen:]
		variants(raw, func(how string, v []byte) {
			_, err := DecodeParam(RawParam{Type: tc.val.ParamType(), Value: v})
			check(t, tc.name+" "+how, err)
		})
	}
	for _, tc := range rtCauseCases() {
		raw := tc.wire[CauseHeaderLen:]
		variants(raw, func(how string, v []byte) {
			_, err := DecodeCause(RawCause{Code: tc.val.CauseCode(), Value: v})
			check(t, tc.name+" "+how, err)
		})
	}
}

// TestUnknownTypesSurvive: what the package does not understand comes back
// raw, byte for byte, with the action bits of RFC 9260 3.2 and 3.2.1.
func TestUnknownTypesSurvive(t *testing.T) {
	chunks := []struct {
		c      RawChunk
		action UnrecognizedAction
	}{
		{RawChunk{Type: 0x3f, Flags: 0x5a, Value: rtHex("01 02 03")}, ActionStop},
		{RawChunk{Type: 0x7f}, ActionStopReport},
		{RawChunk{Type: 0xbf, Flags: 0x01, Value: rtHex("01 02 03 04 05")}, ActionSkip},
		{RawChunk{Type: 0xfe, Value: rtHex("aa bb cc dd")}, ActionSkipReport},
	}
	var list []Chunk
	for _, u := range chunks {
		list = append(list, u.c)
		if got := u.c.Type.Action(); got != u.action {
			t.Errorf("%v: action %d, want %d", u.c.Type, got, u.action)
		}
	}
	pkt := AppendPacket(nil, CommonHeader{SrcPort: 5, DstPort: 6, VerificationTag: 7}, list...)
	var p Packet
	if err := p.Unmarshal(pkt); err != nil {
		t.Fatal(err)
	}
	var again []Chunk
	for i, rc := range p.Chunks {
		d, err := DecodeChunk(rc)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(d, chunks[i].c) {
			t.Errorf("chunk %d:\n got %#v\nwant %#v", i, d, chunks[i].c)
		}
		again = append(again, d)
	}
	if b := AppendPacket(nil, p.CommonHeader, again...); !bytes.Equal(b, pkt) {
		t.Errorf("re-encoded packet differs:\n got %x\nwant %x", b, pkt)
	}
	for _, k := range []struct {
		t    ChunkType
		want UnrecognizedAction
	}{
		{TypeData, ActionStop}, {TypeIData, ActionStopReport}, {TypeAsconfAck, ActionSkip},
		{TypePad, ActionSkip}, {TypeForwardTSN, ActionSkipReport}, {TypeAsconf, ActionSkipReport},
	} {
		if got := k.t.Action(); got != k.want {
			t.Errorf("%v: action %d, want %d", k.t, got, k.want)
		}
	}
	if ActionStop.Skip() || ActionStop.Report() || !ActionStopReport.Report() || !ActionSkip.Skip() ||
		ActionSkip.Report() || !ActionSkipReport.Skip() || !ActionSkipReport.Report() {
		t.Error("Skip/Report disagree with RFC 9260 3.2")
	}

	// Parameters inside an INIT, odd lengths included.
	params := []struct {
		p      RawParam
		action UnrecognizedAction
	}{
		{RawParam{Type: 0x0123, Value: rtHex("aa")}, ActionStop},
		{RawParam{Type: 0x4123}, ActionStopReport},
		{RawParam{Type: 0x8123, Value: rtHex("bb cc dd")}, ActionSkip},
		{RawParam{Type: 0xc123, Value: rtHex("ee ff")}, ActionSkipReport},
	}
	init := &Init{InitFields{InitiateTag: 1, ARwnd: 2, OutStreams: 3, InStreams: 4, InitialTSN: 5}}
	for _, u := range params {
		init.Params = append(init.Params, u.p)
		if got := u.p.Type.Action(); got != u.action {
			t.Errorf("%v: action %d, want %d", u.p.Type, got, u.action)
		}
	}
	b := init.AppendTo(nil)
	d, err := DecodeChunk(rtChunk(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d, init) {
		t.Errorf("INIT:\n got %#v\nwant %#v", d, init)
	}
	if again := d.AppendTo(nil); !bytes.Equal(again, b) {
		t.Errorf("INIT re-encoded:\n got %x\nwant %x", again, b)
	}
	for _, k := range []struct {
		t    ParamType
		want UnrecognizedAction
	}{
		{ParamStateCookie, ActionStop}, {ParamECNCapable, ActionSkip}, {ParamZeroChecksum, ActionSkip},
		{ParamForwardTSNSupported, ActionSkipReport}, {ParamAdaptationLayer, ActionSkipReport},
	} {
		if got := k.t.Action(); got != k.want {
			t.Errorf("%v: action %d, want %d", k.t, got, k.want)
		}
	}

	// Causes have no action bits; unknown ones are relayed as they are.
	abort := &Abort{Causes: []Cause{RawCause{Code: 0x0200, Value: rtHex("01 02 03")}, RawCause{Code: 0xffff}}}
	b = abort.AppendTo(nil)
	d, err = DecodeChunk(rtChunk(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d, abort) {
		t.Errorf("ABORT:\n got %#v\nwant %#v", d, abort)
	}
	if again := d.AppendTo(nil); !bytes.Equal(again, b) {
		t.Errorf("ABORT re-encoded:\n got %x\nwant %x", again, b)
	}
}

// TestFinalPaddingCounted: RFC 9260 3.2 asks receivers to accept a chunk
// whose length includes the padding of its last parameter or cause. Such
// input decodes to the same value (and re-encodes canonically).
func TestFinalPaddingCounted(t *testing.T) {
	cases := []struct {
		name string
		wire []byte
		want Chunk
	}{
		{"ERROR", rtHex("09 00 00 14", "00 01 00 08", "00 07 00 00", "00 0d 00 07", "62 61 64 00"),
			&ErrorChunk{Causes: []Cause{&InvalidStreamCause{StreamID: 7}, &ProtocolViolationCause{Info: []byte("bad")}}}},
		{"HEARTBEAT", rtHex("04 00 00 10", "00 01 00 09", "68 65 6c 6c", "6f 00 00 00"), &Heartbeat{Info: []byte("hello")}},
		{"ASCONF-ACK", rtHex("80 00 00 18", "00 00 00 09", "c0 03 00 10", "00 00 00 04", "00 0d 00 05", "78 00 00 00"),
			&AsconfAck{Serial: 9, Params: []Param{&ErrorCauseIndicationParam{CorrelationID: 4, Causes: []Cause{&ProtocolViolationCause{Info: []byte("x")}}}}}},
	}
	for _, tc := range cases {
		d, err := DecodeChunk(rtChunk(t, tc.wire))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !reflect.DeepEqual(d, tc.want) {
			t.Errorf("%s:\n got %#v\nwant %#v", tc.name, d, tc.want)
		}
	}
	// RFC 4895 draws the padding of cause 0x0105 inside the figure; a cause
	// length of 8 is accepted too.
	c, err := DecodeCause(RawCause{Code: CauseUnsupportedHMAC, Value: rtHex("00 02 00 00")})
	if err != nil || !reflect.DeepEqual(c, &UnsupportedHMACCause{HMACID: 2}) {
		t.Errorf("Unsupported HMAC of length 8: %#v, %v", c, err)
	}
}

// TestDecodedChunksDoNotAlias: apart from the hot-path DATA and I-DATA,
// decoded chunks own their bytes, so a receive buffer can be reused at once.
func TestDecodedChunksDoNotAlias(t *testing.T) {
	for _, tc := range rtChunkCases() {
		if ct := tc.val.ChunkType(); ct == TypeData || ct == TypeIData {
			continue
		}
		buf := bytes.Clone(tc.wire)
		d, err := DecodeChunk(rtChunk(t, buf))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for i := range buf {
			buf[i] = 0xa5
		}
		if !reflect.DeepEqual(d, tc.val) {
			t.Errorf("%s: decoded value changed with the buffer:\n got %#v", tc.name, d)
		}
	}
}

// TestUnmarshalReuse decodes into values that already hold something: no
// field of the earlier chunk may leak into the new one.
func TestUnmarshalReuse(t *testing.T) {
	find := func(name string) rtChunkCase {
		for _, tc := range rtChunkCases() {
			if tc.name == name {
				return tc
			}
		}
		t.Fatalf("no case %q", name)
		return rtChunkCase{}
	}
	var d IData
	for _, name := range []string{"I-DATA first", "I-DATA middle", "I-DATA first"} {
		tc := find(name)
		if err := d.Unmarshal(rtChunk(t, tc.wire)); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(&d, tc.val) {
			t.Errorf("%s after reuse:\n got %#v\nwant %#v", name, &d, tc.val)
		}
	}
	var e ECNE
	for _, name := range []string{"ECNE with packet count", "ECNE"} {
		tc := find(name)
		if err := e.Unmarshal(rtChunk(t, tc.wire)); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(&e, tc.val) {
			t.Errorf("%s after reuse:\n got %#v\nwant %#v", name, &e, tc.val)
		}
	}
	var f ForwardTSN
	for _, name := range []string{"FORWARD TSN", "FORWARD TSN no streams"} {
		if err := f.Unmarshal(rtChunk(t, find(name).wire)); err != nil {
			t.Fatal(err)
		}
	}
	if f.NewCumTSN != 100 || len(f.Streams) != 0 {
		t.Errorf("FORWARD TSN after reuse: %+v", f)
	}
	var r ReconfigResponseParam
	_ = r.unmarshalValue(rtHex("00 00 00 01 00 00 00 01 00 00 00 10 00 00 00 20"))
	_ = r.unmarshalValue(rtHex("00 00 00 02 00 00 00 02"))
	if want := (ReconfigResponseParam{ResponseSeq: 2, Result: ReconfigDenied}); r != want {
		t.Errorf("Re-configuration Response after reuse: %+v", r)
	}
}

// TestReusedDecodersAllocs: DATA, I-DATA and the FORWARD TSNs decode into reused
// values without allocating.
func TestReusedDecodersAllocs(t *testing.T) {
	var d Data
	var id IData
	var f ForwardTSN
	var fi IForwardTSN
	var raws []RawChunk
	for _, tc := range rtChunkCases() {
		switch tc.val.ChunkType() {
		case TypeData, TypeIData, TypeForwardTSN, TypeIForwardTSN:
			raws = append(raws, rtChunk(t, tc.wire))
		}
	}
	decode := func() {
		for _, c := range raws {
			var err error
			switch c.Type {
			case TypeData:
				err = d.Unmarshal(c)
			case TypeIData:
				err = id.Unmarshal(c)
			case TypeForwardTSN:
				err = f.Unmarshal(c)
			case TypeIForwardTSN:
				err = fi.Unmarshal(c)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	decode() // size the reused slices
	if n := testing.AllocsPerRun(100, decode); n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}

func TestHelpers(t *testing.T) {
	for _, n := range []int{0, 4, 7, 8, 1500} {
		b := NewPad(n).AppendTo(nil)
		want := n &^ 3
		if want < ChunkHeaderLen {
			want = ChunkHeaderLen
		}
		if len(b) != want {
			t.Errorf("NewPad(%d) encodes to %d bytes, want %d", n, len(b), want)
		}
		if d, err := DecodeChunk(rtChunk(t, b)); err != nil || !reflect.DeepEqual(d, NewPad(n)) {
			t.Errorf("NewPad(%d) round trip: %#v, %v", n, d, err)
		}
	}
	ext := &SupportedExtensionsParam{Types: []ChunkType{TypeReconfig, TypeIData}}
	if !ext.Has(TypeIData) || ext.Has(TypeForwardTSN) {
		t.Error("SupportedExtensionsParam.Has")
	}
	if ct, ok := (&UnrecognizedChunkCause{Chunk: rtHex("e0 00 00 04")}).ReportedType(); !ok || ct != 0xe0 {
		t.Errorf("ReportedType = %v, %v", ct, ok)
	}
	if _, ok := (&UnrecognizedChunkCause{}).ReportedType(); ok {
		t.Error("ReportedType of an empty copy")
	}
	if s := TypeIForwardTSN.String(); s != "I-FORWARD-TSN" {
		t.Errorf("String = %q", s)
	}
	if s := ChunkType(0x99).String(); s != "chunk type 153" {
		t.Errorf("String = %q", s)
	}
	if s := ParamZeroChecksum.String(); s != "Zero Checksum Acceptable" {
		t.Errorf("String = %q", s)
	}
	if s := ParamType(0x8123).String(); s != "parameter type 0x8123" {
		t.Errorf("String = %q", s)
	}
	// Embedded TLVs kept as bytes decode with ParseParams on demand.
	ps, err := ParseParams((&UnrecognizedParamsCause{Params: rtHex("80 0f 00 04 c0 0f 00 05 01")}).Params)
	want := []Param{RawParam{Type: 0x800f}, RawParam{Type: 0xc00f, Value: []byte{1}}}
	if err != nil || !reflect.DeepEqual(ps, want) {
		t.Errorf("ParseParams of cause 8: %#v, %v", ps, err)
	}
}
