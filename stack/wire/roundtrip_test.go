package wire

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// Round-trip tables: every chunk, parameter and error cause the package
// decodes, each with a value and its canonical encoding written by hand from
// the RFC figure (one 32-bit row per string where that helps reading). For
// each entry the encoder must produce exactly those bytes, the decoder must
// turn them back into an equal value, and re-encoding the decoded value must
// give the bytes again.

// rtHex turns hex rows ("04 00 00 0d") into bytes; a typo in a constant
// vector is a bug in the test, so it panics.
func rtHex(rows ...string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(strings.Join(rows, " ")), ""))
	if err != nil {
		panic(err)
	}
	return b
}

func rtCat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func rtSeq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i + 1)
	}
	return b
}

var (
	rtV4   = netip.MustParseAddr("192.0.2.1")
	rtV4b  = netip.MustParseAddr("192.0.2.7")
	rtV6   = netip.MustParseAddr("2001:db8::1")
	rtV4in = netip.MustParseAddr("::ffff:192.0.2.1")

	// TLVs that causes and parameters carry as copied bytes.
	rtDeleteIPTLV = rtHex("c0 02 00 10", "00 00 00 02", "00 05 00 08", "c0 00 02 07")
	rtAddIPTLV    = rtHex("c0 01 00 10", "00 00 00 01", "00 05 00 08", "c0 00 02 05")
	rtSetPrimTLV  = rtHex("c0 04 00 10", "00 00 00 03", "00 05 00 08", "c0 00 02 01")

	rtReason = "sctpgw: egress peer unreachable" // 31 bytes
)

type rtChunkCase struct {
	name string
	val  Chunk
	wire []byte
}

func rtChunkCases() []rtChunkCase {
	return []rtChunkCase{
		// RFC 9260 3.3.1
		{"DATA", &Data{TSN: 1, StreamID: 2, SSN: 3, PPID: 60, Beginning: true, Ending: true, Payload: []byte("hi")},
			rtHex("00 03 00 12", "00 00 00 01", "00 02 00 03", "00 00 00 3c", "68 69 00 00")},
		// RFC 9260 3.3.2, last parameter padded and its padding not counted.
		{"INIT", &Init{InitFields{InitiateTag: 0xdeadbeef, ARwnd: 0x10000, OutStreams: 10, InStreams: 65535, InitialTSN: 1,
			Params: []Param{&SupportedAddrTypesParam{Types: []ParamType{ParamIPv4Address}}}}},
			rtHex("01 00 00 1a", "de ad be ef", "00 01 00 00", "00 0a ff ff", "00 00 00 01", "00 0c 00 06", "00 05 00 00")},
		// RFC 9260 3.3.3
		{"INIT ACK", &InitAck{InitFields{InitiateTag: 1, ARwnd: 2, OutStreams: 3, InStreams: 4, InitialTSN: 5,
			Params: []Param{&StateCookieParam{Cookie: rtSeq(4)}, &UnrecognizedParam{Param: rtHex("81 23 00 05 aa")}}}},
			rtHex("02 00 00 25", "00 00 00 01", "00 00 00 02", "00 03 00 04", "00 00 00 05",
				"00 07 00 08", "01 02 03 04", "00 08 00 09", "81 23 00 05", "aa 00 00 00")},
		// RFC 9260 3.3.4
		{"SACK", &Sack{CumTSNAck: 100, ARwnd: 5000, GapBlocks: []GapBlock{{2, 3}}, DupTSNs: []uint32{99}},
			rtHex("03 00 00 18", "00 00 00 64", "00 00 13 88", "00 01 00 01", "00 02 00 03", "00 00 00 63")},
		// RFC 9260 3.3.5, 3.3.6: the chunk length stops where the Heartbeat
		// Info parameter does.
		{"HEARTBEAT", &Heartbeat{Info: []byte("hello")},
			rtHex("04 00 00 0d", "00 01 00 09", "68 65 6c 6c", "6f 00 00 00")},
		{"HEARTBEAT empty info", &Heartbeat{},
			rtHex("04 00 00 08", "00 01 00 04")},
		{"HEARTBEAT ACK", &HeartbeatAck{Info: rtSeq(8)},
			rtHex("05 00 00 10", "00 01 00 0c", "01 02 03 04", "05 06 07 08")},
		// RFC 9260 3.3.7
		{"ABORT T", &Abort{TagReflected: true, Causes: []Cause{&UserInitiatedAbortCause{Reason: []byte("bye")}}},
			rtHex("06 01 00 0b", "00 0c 00 07", "62 79 65 00")},
		{"ABORT empty", &Abort{}, rtHex("06 00 00 04")},
		// RFC 9260 3.3.8, 3.3.9
		{"SHUTDOWN", &Shutdown{CumTSNAck: 7}, rtHex("07 00 00 08", "00 00 00 07")},
		{"SHUTDOWN ACK", &ShutdownAck{}, rtHex("08 00 00 04")},
		// RFC 9260 3.3.10: the last cause's padding is not counted, the
		// first one's is.
		{"ERROR", &ErrorChunk{Causes: []Cause{&InvalidStreamCause{StreamID: 7}, &ProtocolViolationCause{Info: []byte("bad")}}},
			rtHex("09 00 00 13", "00 01 00 08", "00 07 00 00", "00 0d 00 07", "62 61 64 00")},
		{"ERROR unknown cause", &ErrorChunk{Causes: []Cause{RawCause{Code: 0x0200, Value: []byte{0xaa}}}},
			rtHex("09 00 00 09", "02 00 00 05", "aa 00 00 00")},
		// RFC 9260 3.3.11, 3.3.12
		{"COOKIE ECHO", &CookieEcho{Cookie: rtSeq(6)}, rtHex("0a 00 00 0a", "01 02 03 04", "05 06 00 00")},
		{"COOKIE ACK", &CookieAck{}, rtHex("0b 00 00 04")},
		// RFC 4960 appendix A, and the longer ECNE of BSD stacks.
		{"ECNE", &ECNE{LowestTSN: 0x01020304}, rtHex("0c 00 00 08", "01 02 03 04")},
		{"ECNE with packet count", &ECNE{LowestTSN: 0x01020304, NumPackets: 5, HasNumPackets: true},
			rtHex("0c 00 00 0c", "01 02 03 04", "00 00 00 05")},
		{"CWR", &CWR{LowestTSN: 0xfffffffe}, rtHex("0d 00 00 08", "ff ff ff fe")},
		// RFC 9260 3.3.13
		{"SHUTDOWN COMPLETE", &ShutdownComplete{}, rtHex("0e 00 00 04")},
		{"SHUTDOWN COMPLETE T", &ShutdownComplete{TagReflected: true}, rtHex("0e 01 00 04")},
		// RFC 4895 5.1
		{"AUTH", &Auth{SharedKeyID: 1, HMACID: HMACSHA1, HMAC: rtSeq(20)},
			rtCat(rtHex("0f 00 00 1c", "00 01 00 01"), rtSeq(20))},
		{"AUTH padded HMAC", &Auth{SharedKeyID: 2, HMACID: 3, HMAC: rtHex("aa bb cc")},
			rtHex("0f 00 00 0b", "00 02 00 03", "aa bb cc 00")},
		// RFC 8260 2.1: PPID on the first fragment, FSN on the others.
		{"I-DATA first", &IData{TSN: 1, StreamID: 2, MID: 3, PPID: 18, Beginning: true, Ending: true, Payload: []byte("abcde")},
			rtHex("40 03 00 19", "00 00 00 01", "00 02 00 00", "00 00 00 03", "00 00 00 12", "61 62 63 64", "65 00 00 00")},
		{"I-DATA middle", &IData{TSN: 10, StreamID: 1, MID: 7, FSN: 2, Unordered: true, Immediate: true, Payload: rtHex("de ad be ef")},
			rtHex("40 0c 00 18", "00 00 00 0a", "00 01 00 00", "00 00 00 07", "00 00 00 02", "de ad be ef")},
		// RFC 5061 4.1.2
		{"ASCONF-ACK", &AsconfAck{Serial: 0x11223344, Params: []Param{
			&SuccessIndicationParam{CorrelationID: 1},
			&ErrorCauseIndicationParam{CorrelationID: 2, Causes: []Cause{&DeleteLastAddressCause{Param: rtDeleteIPTLV}}},
		}},
			rtCat(rtHex("80 00 00 2c", "11 22 33 44", "c0 05 00 08", "00 00 00 01",
				"c0 03 00 1c", "00 00 00 02", "00 a0 00 14"), rtDeleteIPTLV)},
		{"ASCONF-ACK empty", &AsconfAck{Serial: 9}, rtHex("80 00 00 08", "00 00 00 09")},
		// RFC 6525 3.1 with one and two parameters.
		{"RE-CONFIG", &Reconfig{Params: []Param{&OutgoingSSNResetParam{RequestSeq: 1, ResponseSeq: 2, SenderLastTSN: 3, Streams: []uint16{5}}}},
			rtHex("82 00 00 16", "00 0d 00 12", "00 00 00 01", "00 00 00 02", "00 00 00 03", "00 05 00 00")},
		{"RE-CONFIG two", &Reconfig{Params: []Param{
			&OutgoingSSNResetParam{RequestSeq: 1, ResponseSeq: 2, SenderLastTSN: 3},
			&IncomingSSNResetParam{RequestSeq: 4, Streams: []uint16{1, 2}},
		}},
			rtHex("82 00 00 20", "00 0d 00 10", "00 00 00 01", "00 00 00 02", "00 00 00 03",
				"00 0e 00 0c", "00 00 00 04", "00 01 00 02")},
		{"RE-CONFIG response", &Reconfig{Params: []Param{&ReconfigResponseParam{
			ResponseSeq: 1, Result: ReconfigSuccessPerformed, HasNextTSNs: true, SenderNextTSN: 0x10, ReceiverNextTSN: 0x20}}},
			rtHex("82 00 00 18", "00 10 00 14", "00 00 00 01", "00 00 00 01", "00 00 00 10", "00 00 00 20")},
		// RFC 4820 3
		{"PAD", &Pad{Padding: make([]byte, 5)}, rtHex("84 00 00 09", "00 00 00 00", "00 00 00 00")},
		{"PAD non-zero", &Pad{Padding: rtSeq(4)}, rtHex("84 00 00 08", "01 02 03 04")},
		{"PAD empty", &Pad{}, rtHex("84 00 00 04")},
		// RFC 3758 3.2
		{"FORWARD TSN", &ForwardTSN{NewCumTSN: 100, Streams: []ForwardTSNStream{{1, 2}, {3, 4}}},
			rtHex("c0 00 00 10", "00 00 00 64", "00 01 00 02", "00 03 00 04")},
		{"FORWARD TSN no streams", &ForwardTSN{NewCumTSN: 100}, rtHex("c0 00 00 08", "00 00 00 64")},
		// RFC 5061 4.1.1
		{"ASCONF", &Asconf{Serial: 0x11223344, Address: rtV4, Params: []Param{
			&AddIPAddressParam{CorrelationID: 1, Address: rtV6},
			&SetPrimaryAddressParam{CorrelationID: 2, Address: rtV4b},
		}},
			rtHex("c1 00 00 3c", "11 22 33 44", "00 05 00 08", "c0 00 02 01",
				"c0 01 00 1c", "00 00 00 01", "00 06 00 14", "20 01 0d b8", "00 00 00 00", "00 00 00 00", "00 00 00 01",
				"c0 04 00 10", "00 00 00 02", "00 05 00 08", "c0 00 02 07")},
		{"ASCONF IPv6 no requests", &Asconf{Serial: 1, Address: rtV6},
			rtHex("c1 00 00 1c", "00 00 00 01", "00 06 00 14", "20 01 0d b8", "00 00 00 00", "00 00 00 00", "00 00 00 01")},
		// RFC 8260 2.3.1: the U bit is the low bit of the 16-bit field.
		{"I-FORWARD-TSN", &IForwardTSN{NewCumTSN: 0x10, Streams: []IForwardTSNStream{{StreamID: 1, MID: 5}, {StreamID: 2, Unordered: true, MID: 6}}},
			rtHex("c2 00 00 18", "00 00 00 10", "00 01 00 00", "00 00 00 05", "00 02 00 01", "00 00 00 06")},
	}
}

type rtParamCase struct {
	name string
	val  Param
	wire []byte
}

func rtParamCases() []rtParamCase {
	return []rtParamCase{
		{"Heartbeat Info", &HeartbeatInfoParam{Info: rtSeq(3)}, rtHex("00 01 00 07", "01 02 03 00")},
		{"IPv4 Address", &IPv4AddressParam{Addr: rtV4}, rtHex("00 05 00 08", "c0 00 02 01")},
		{"IPv6 Address", &IPv6AddressParam{Addr: rtV6},
			rtHex("00 06 00 14", "20 01 0d b8", "00 00 00 00", "00 00 00 00", "00 00 00 01")},
		{"State Cookie", &StateCookieParam{Cookie: rtHex("aa bb")}, rtHex("00 07 00 06", "aa bb 00 00")},
		{"Unrecognized Parameter", &UnrecognizedParam{Param: rtHex("80 00 00 04")}, rtHex("00 08 00 08", "80 00 00 04")},
		{"Unrecognized Parameter padded copy", &UnrecognizedParam{Param: rtHex("c1 23 00 05 aa 00 00 00")},
			rtHex("00 08 00 0c", "c1 23 00 05", "aa 00 00 00")},
		{"Cookie Preservative", &CookiePreservativeParam{LifeSpanIncrement: 1000}, rtHex("00 09 00 08", "00 00 03 e8")},
		{"Host Name Address", &HostNameAddressParam{HostName: []byte("a.b\x00")}, rtHex("00 0b 00 08", "61 2e 62 00")},
		{"Supported Address Types odd", &SupportedAddrTypesParam{Types: []ParamType{ParamIPv4Address}}, rtHex("00 0c 00 06", "00 05 00 00")},
		{"Supported Address Types", &SupportedAddrTypesParam{Types: []ParamType{ParamIPv4Address, ParamIPv6Address}},
			rtHex("00 0c 00 08", "00 05 00 06")},
		{"Outgoing SSN Reset", &OutgoingSSNResetParam{RequestSeq: 1, ResponseSeq: 2, SenderLastTSN: 3, Streams: []uint16{5}},
			rtHex("00 0d 00 12", "00 00 00 01", "00 00 00 02", "00 00 00 03", "00 05 00 00")},
		{"Outgoing SSN Reset all", &OutgoingSSNResetParam{RequestSeq: 1, ResponseSeq: 2, SenderLastTSN: 3},
			rtHex("00 0d 00 10", "00 00 00 01", "00 00 00 02", "00 00 00 03")},
		{"Incoming SSN Reset", &IncomingSSNResetParam{RequestSeq: 4, Streams: []uint16{1, 2, 3}},
			rtHex("00 0e 00 0e", "00 00 00 04", "00 01 00 02", "00 03 00 00")},
		{"SSN/TSN Reset", &SSNTSNResetParam{RequestSeq: 9}, rtHex("00 0f 00 08", "00 00 00 09")},
		{"Re-configuration Response", &ReconfigResponseParam{ResponseSeq: 1, Result: ReconfigDenied},
			rtHex("00 10 00 0c", "00 00 00 01", "00 00 00 02")},
		{"Re-configuration Response TSNs", &ReconfigResponseParam{ResponseSeq: 1, Result: ReconfigSuccessPerformed,
			HasNextTSNs: true, SenderNextTSN: 0x10, ReceiverNextTSN: 0x20},
			rtHex("00 10 00 14", "00 00 00 01", "00 00 00 01", "00 00 00 10", "00 00 00 20")},
		{"Add Outgoing Streams", &AddOutgoingStreamsParam{RequestSeq: 5, NewStreams: 10}, rtHex("00 11 00 0c", "00 00 00 05", "00 0a 00 00")},
		{"Add Incoming Streams", &AddIncomingStreamsParam{RequestSeq: 6, NewStreams: 2}, rtHex("00 12 00 0c", "00 00 00 06", "00 02 00 00")},
		{"ECN Capable", &ECNCapableParam{}, rtHex("80 00 00 04")},
		{"Zero Checksum Acceptable", &ZeroChecksumParam{EDMID: EDMIDDTLS}, rtHex("80 01 00 08", "00 00 00 01")},
		{"Random", &RandomParam{Random: rtSeq(32)}, rtCat(rtHex("80 02 00 24"), rtSeq(32))},
		{"Chunk List", &ChunkListParam{Types: []ChunkType{TypeAsconf, TypeAsconfAck, TypeReconfig}},
			rtHex("80 03 00 07", "c1 80 82 00")},
		{"Requested HMAC Algorithm", &RequestedHMACAlgoParam{IDs: []HMACID{HMACSHA256, HMACSHA1}}, rtHex("80 04 00 08", "00 03 00 01")},
		{"Requested HMAC Algorithm odd", &RequestedHMACAlgoParam{IDs: []HMACID{HMACSHA1}}, rtHex("80 04 00 06", "00 01 00 00")},
		{"Padding", &PaddingParam{Padding: make([]byte, 5)}, rtHex("80 05 00 09", "00 00 00 00", "00 00 00 00")},
		{"Supported Extensions", &SupportedExtensionsParam{Types: []ChunkType{TypeForwardTSN, TypeReconfig, TypeIData, TypeIForwardTSN, TypeAuth}},
			rtHex("80 08 00 09", "c0 82 40 c2", "0f 00 00 00")},
		{"Forward-TSN-Supported", &ForwardTSNSupportedParam{}, rtHex("c0 00 00 04")},
		{"Add IP Address", &AddIPAddressParam{CorrelationID: 1, Address: netip.MustParseAddr("192.0.2.5")}, rtAddIPTLV},
		{"Delete IP Address", &DeleteIPAddressParam{CorrelationID: 2, Address: rtV4b}, rtDeleteIPTLV},
		{"Delete IP Address IPv6", &DeleteIPAddressParam{CorrelationID: 2, Address: netip.MustParseAddr("2001:db8::2")},
			rtHex("c0 02 00 1c", "00 00 00 02", "00 06 00 14", "20 01 0d b8", "00 00 00 00", "00 00 00 00", "00 00 00 02")},
		{"Error Cause Indication", &ErrorCauseIndicationParam{CorrelationID: 3, Causes: []Cause{
			&UnresolvableAddressCause{Address: rtHex("00 05 00 08 c0 00 02 09")}}},
			rtHex("c0 03 00 14", "00 00 00 03", "00 05 00 0c", "00 05 00 08", "c0 00 02 09")},
		// The last nested cause's padding is left out of the length, as in a chunk.
		{"Error Cause Indication odd cause", &ErrorCauseIndicationParam{CorrelationID: 4, Causes: []Cause{
			&ProtocolViolationCause{Info: []byte("x")}}},
			rtHex("c0 03 00 0d", "00 00 00 04", "00 0d 00 05", "78 00 00 00")},
		{"Set Primary Address", &SetPrimaryAddressParam{CorrelationID: 3, Address: rtV4}, rtSetPrimTLV},
		{"Set Primary Address IPv4-mapped", &SetPrimaryAddressParam{CorrelationID: 3, Address: rtV4in},
			rtHex("c0 04 00 1c", "00 00 00 03", "00 06 00 14", "00 00 00 00", "00 00 00 00", "00 00 ff ff", "c0 00 02 01")},
		{"Success Indication", &SuccessIndicationParam{CorrelationID: 7}, rtHex("c0 05 00 08", "00 00 00 07")},
		{"Adaptation Layer Indication", &AdaptationLayerParam{CodePoint: 0x01020304}, rtHex("c0 06 00 08", "01 02 03 04")},
	}
}

type rtCauseCase struct {
	name string
	val  Cause
	wire []byte
}

func rtCauseCases() []rtCauseCase {
	reason := []byte(rtReason)
	return []rtCauseCase{
		{"Invalid Stream Identifier", &InvalidStreamCause{StreamID: 7}, rtHex("00 01 00 08", "00 07 00 00")},
		{"Missing Mandatory Parameter", &MissingMandatoryParamCause{Types: []ParamType{ParamStateCookie, ParamCookiePreservative}},
			rtHex("00 02 00 0c", "00 00 00 02", "00 07 00 09")},
		{"Missing Mandatory Parameter odd", &MissingMandatoryParamCause{Types: []ParamType{ParamStateCookie}},
			rtHex("00 02 00 0a", "00 00 00 01", "00 07 00 00")},
		{"Missing Mandatory Parameter none", &MissingMandatoryParamCause{}, rtHex("00 02 00 08", "00 00 00 00")},
		{"Stale Cookie", &StaleCookieCause{Staleness: 1500}, rtHex("00 03 00 08", "00 00 05 dc")},
		{"Out of Resource", &OutOfResourceCause{}, rtHex("00 04 00 04")},
		{"Unresolvable Address", &UnresolvableAddressCause{Address: rtHex("00 0b 00 06 61 00")},
			rtHex("00 05 00 0a", "00 0b 00 06", "61 00 00 00")},
		{"Unrecognized Chunk Type", &UnrecognizedChunkCause{Chunk: rtHex("e0 00 00 05 aa 00 00 00")},
			rtHex("00 06 00 0c", "e0 00 00 05", "aa 00 00 00")},
		{"Invalid Mandatory Parameter", &InvalidMandatoryParamCause{}, rtHex("00 07 00 04")},
		{"Unrecognized Parameters", &UnrecognizedParamsCause{Params: rtHex("80 0f 00 04 c0 0f 00 05 01")},
			rtHex("00 08 00 0d", "80 0f 00 04", "c0 0f 00 05", "01 00 00 00")},
		{"No User Data", &NoUserDataCause{TSN: 0x12345678}, rtHex("00 09 00 08", "12 34 56 78")},
		{"Cookie Received While Shutting Down", &CookieWhileShuttingDownCause{}, rtHex("00 0a 00 04")},
		{"Restart with New Addresses", &RestartWithNewAddressesCause{Addresses: rtHex("00 05 00 08 c0 00 02 63")},
			rtHex("00 0b 00 0c", "00 05 00 08", "c0 00 02 63")},
		{"User-Initiated Abort", &UserInitiatedAbortCause{Reason: reason},
			rtCat(rtHex("00 0c 00 23"), reason, rtHex("00"))},
		{"User-Initiated Abort empty", &UserInitiatedAbortCause{}, rtHex("00 0c 00 04")},
		{"Protocol Violation", &ProtocolViolationCause{Info: []byte("bad")}, rtHex("00 0d 00 07", "62 61 64 00")},
		{"Protocol Violation empty", &ProtocolViolationCause{}, rtHex("00 0d 00 04")},
		{"Restart with New Encapsulation Port", &RestartWithNewEncapPortCause{CurrentPort: 9899, NewPort: 12345},
			rtHex("00 0e 00 08", "26 ab 30 39")},
		{"Restart with New Encapsulation Port, was native", &RestartWithNewEncapPortCause{NewPort: 9899},
			rtHex("00 0e 00 08", "00 00 26 ab")},
		{"Delete Last Remaining IP Address", &DeleteLastAddressCause{Param: rtDeleteIPTLV}, rtCat(rtHex("00 a0 00 14"), rtDeleteIPTLV)},
		{"Resource Shortage", &ResourceShortageCause{Param: rtAddIPTLV}, rtCat(rtHex("00 a1 00 14"), rtAddIPTLV)},
		{"Delete Source IP Address", &DeleteSourceAddressCause{Param: rtDeleteIPTLV}, rtCat(rtHex("00 a2 00 14"), rtDeleteIPTLV)},
		{"Illegal ASCONF-ACK", &IllegalAsconfAckCause{}, rtHex("00 a3 00 04")},
		{"No Authorization", &NoAuthorizationCause{Param: rtSetPrimTLV}, rtCat(rtHex("00 a4 00 14"), rtSetPrimTLV)},
		// RFC 4895 4.1: Cause Length = 6, then two bytes of padding.
		{"Unsupported HMAC Identifier", &UnsupportedHMACCause{HMACID: 2}, rtHex("01 05 00 06", "00 02 00 00")},
	}
}

// rtChunk frames wire as one chunk, checking that it is exactly one.
func rtChunk(t *testing.T, wire []byte) RawChunk {
	t.Helper()
	c, n, err := nextChunk(wire)
	if err != nil {
		t.Fatalf("framing: %v", err)
	}
	if n != len(wire) {
		t.Fatalf("framing: chunk occupies %d of %d bytes", n, len(wire))
	}
	return c
}

func TestRoundTripChunks(t *testing.T) {
	for _, tc := range rtChunkCases() {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.wire)%4 != 0 {
				t.Fatalf("test vector is %d bytes, not padded", len(tc.wire))
			}
			if got := tc.val.AppendTo(nil); !bytes.Equal(got, tc.wire) {
				t.Fatalf("encode:\n got %x\nwant %x", got, tc.wire)
			}
			prefix := []byte{0xee, 0xee, 0xee}
			if got := tc.val.AppendTo(prefix); !bytes.Equal(got, rtCat(prefix, tc.wire)) {
				t.Fatalf("encode after a prefix:\n got %x", got)
			}
			raw := rtChunk(t, tc.wire)
			if raw.Type != tc.val.ChunkType() {
				t.Fatalf("vector has type %v, value says %v", raw.Type, tc.val.ChunkType())
			}
			got, err := DecodeChunk(raw)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, tc.val) {
				t.Fatalf("decode:\n got %#v\nwant %#v", got, tc.val)
			}
			if again := got.AppendTo(nil); !bytes.Equal(again, tc.wire) {
				t.Fatalf("re-encode:\n got %x\nwant %x", again, tc.wire)
			}
		})
	}
}

func TestRoundTripParams(t *testing.T) {
	for _, tc := range rtParamCases() {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.val.AppendTo(nil); !bytes.Equal(got, tc.wire) {
				t.Fatalf("encode:\n got %x\nwant %x", got, tc.wire)
			}
			typ, v, n, err := nextTLV("test", tc.wire)
			if err != nil || n != len(tc.wire) {
				t.Fatalf("framing: n=%d err=%v", n, err)
			}
			if ParamType(typ) != tc.val.ParamType() {
				t.Fatalf("vector has type %v, value says %v", ParamType(typ), tc.val.ParamType())
			}
			got, err := DecodeParam(RawParam{Type: ParamType(typ), Value: v})
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, tc.val) {
				t.Fatalf("decode:\n got %#v\nwant %#v", got, tc.val)
			}
			if again := got.AppendTo(nil); !bytes.Equal(again, tc.wire) {
				t.Fatalf("re-encode:\n got %x\nwant %x", again, tc.wire)
			}
			// Through ParseParams as well, between two other parameters, so
			// that the padding of a parameter that is not last is skipped.
			list := rtCat(rtHex("80 00 00 04"), tc.wire, rtHex("c0 00 00 04"))
			ps, err := ParseParams(list)
			if err != nil {
				t.Fatalf("ParseParams: %v", err)
			}
			want := []Param{&ECNCapableParam{}, tc.val, &ForwardTSNSupportedParam{}}
			if !reflect.DeepEqual(ps, want) {
				t.Fatalf("ParseParams:\n got %#v\nwant %#v", ps, want)
			}
			if again := AppendParams(nil, ps); !bytes.Equal(again, list) {
				t.Fatalf("AppendParams:\n got %x\nwant %x", again, list)
			}
		})
	}
}

func TestRoundTripCauses(t *testing.T) {
	for _, tc := range rtCauseCases() {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.val.AppendTo(nil); !bytes.Equal(got, tc.wire) {
				t.Fatalf("encode:\n got %x\nwant %x", got, tc.wire)
			}
			code, v, n, err := nextTLV("test", tc.wire)
			if err != nil || n != len(tc.wire) {
				t.Fatalf("framing: n=%d err=%v", n, err)
			}
			if CauseCode(code) != tc.val.CauseCode() {
				t.Fatalf("vector has code %v, value says %v", CauseCode(code), tc.val.CauseCode())
			}
			got, err := DecodeCause(RawCause{Code: CauseCode(code), Value: v})
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, tc.val) {
				t.Fatalf("decode:\n got %#v\nwant %#v", got, tc.val)
			}
			if again := got.AppendTo(nil); !bytes.Equal(again, tc.wire) {
				t.Fatalf("re-encode:\n got %x\nwant %x", again, tc.wire)
			}
			// Inside an ABORT and an ERROR, last and not last.
			for _, cs := range [][]Cause{{tc.val}, {tc.val, &OutOfResourceCause{}}} {
				for _, c := range []Chunk{&Abort{Causes: cs}, &ErrorChunk{Causes: cs}} {
					b := c.AppendTo(nil)
					d, err := DecodeChunk(rtChunk(t, b))
					if err != nil {
						t.Fatalf("%v: decode: %v", c.ChunkType(), err)
					}
					if !reflect.DeepEqual(d, c) {
						t.Fatalf("%v:\n got %#v\nwant %#v", c.ChunkType(), d, c)
					}
				}
			}
		})
	}
}

// TestRoundTripPacket carries every chunk of the table in packets and checks
// that framing, padding and the checksum leave each one intact.
func TestRoundTripPacket(t *testing.T) {
	cases := rtChunkCases()
	h := CommonHeader{SrcPort: 36412, DstPort: 38412, VerificationTag: 0xcafef00d}
	var chunks []Chunk
	var want []byte
	for _, tc := range cases {
		chunks = append(chunks, tc.val)
		want = append(want, tc.wire...)
	}
	b := AppendPacket(nil, h, chunks...)
	if !bytes.Equal(b[CommonHeaderLen:], want) {
		t.Fatalf("packet body differs from the concatenated vectors")
	}
	var p Packet
	if err := p.Unmarshal(b); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if p.CommonHeader.SrcPort != h.SrcPort || p.DstPort != h.DstPort || p.VerificationTag != h.VerificationTag {
		t.Fatalf("header: got %+v", p.CommonHeader)
	}
	if len(p.Chunks) != len(cases) {
		t.Fatalf("got %d chunks, want %d", len(p.Chunks), len(cases))
	}
	for i, rc := range p.Chunks {
		got, err := DecodeChunk(rc)
		if err != nil {
			t.Fatalf("%s: %v", cases[i].name, err)
		}
		if !reflect.DeepEqual(got, cases[i].val) {
			t.Fatalf("%s:\n got %#v\nwant %#v", cases[i].name, got, cases[i].val)
		}
	}
}

// TestEveryTypeCovered keeps the tables honest: each chunk type, parameter
// type and cause code the package names has a typed decoder and a vector.
func TestEveryTypeCovered(t *testing.T) {
	chunkSeen := map[ChunkType]bool{}
	for _, tc := range rtChunkCases() {
		chunkSeen[tc.val.ChunkType()] = true
	}
	for ct := range chunkNames {
		if newChunk(ct) == nil {
			t.Errorf("%v has no decoder", ct)
		}
		if !chunkSeen[ct] {
			t.Errorf("%v has no round-trip vector", ct)
		}
	}
	paramSeen := map[ParamType]bool{}
	for _, tc := range rtParamCases() {
		paramSeen[tc.val.ParamType()] = true
	}
	for pt := range paramNames {
		p := newParam(pt)
		if p == nil {
			t.Errorf("%v has no decoder", pt)
			continue
		}
		if p.ParamType() != pt {
			t.Errorf("decoder for %v reports %v", pt, p.ParamType())
		}
		if !paramSeen[pt] {
			t.Errorf("%v has no round-trip vector", pt)
		}
	}
	causeSeen := map[CauseCode]bool{}
	for _, tc := range rtCauseCases() {
		causeSeen[tc.val.CauseCode()] = true
	}
	for cc := range causeNames {
		c := newCause(cc)
		if c == nil {
			t.Errorf("%v has no decoder", cc)
			continue
		}
		if c.CauseCode() != cc {
			t.Errorf("decoder for %v reports %v", cc, c.CauseCode())
		}
		if !causeSeen[cc] {
			t.Errorf("%v has no round-trip vector", cc)
		}
	}
	for ct := range chunkNames {
		if c := newChunk(ct); c != nil && c.ChunkType() != ct {
			t.Errorf("decoder for %v reports %v", ct, c.ChunkType())
		}
	}
}
