package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sctpgw/sctpgw/stack/wire"
)

// The fuzz targets' seeds (fuzz_test.go): whole chunks, parameter lists and
// cause lists written by hand from their RFC figures, the corpus files
// written from them under testdata/fuzz, and the tests that hold the codec
// to decoding each.

// Seed material: whole chunks, parameter lists and cause lists, each written
// by hand from its figure. Chunk lengths follow RFC 9260 3.2 as in
// vectors_test.go.
var (
	seedIDataFirst = vecHex(
		"40 02 00 16", // Type = 64 (I-DATA), I=0 U=0 B=1 E=0 | Length = 22 = 20 + 2
		"00 00 00 0a", // TSN = 10
		"00 03 00 00", // Stream Identifier = 3 | Reserved
		"00 00 00 07", // Message Identifier = 7
		"00 00 00 3c", // B set, so this is the PPID = 60 (NGAP)
		"ab cd 00 00", // User Data, then 2 bytes of padding
	)
	seedIDataMiddle = vecHex(
		"40 00 00 18", // Type = 64, I=0 U=0 B=0 E=0 | Length = 24
		"00 00 00 0b", // TSN = 11
		"00 03 00 00", // Stream Identifier = 3 | Reserved
		"00 00 00 07", // Message Identifier = 7
		"00 00 00 01", // B clear, so this is the Fragment Sequence Number = 1
		"01 02 03 04", // User Data
	)
	seedIDataWhole = vecHex(
		"40 0f 00 15", // Type = 64, I=1 U=1 B=1 E=1 | Length = 21
		"ff ff ff ff", // TSN
		"ff ff 00 00", // Stream Identifier = 65535 | Reserved
		"ff ff ff ff", // Message Identifier
		"00 00 00 12", // PPID = 18
		"2a 00 00 00", // User Data, then 3 bytes of padding
	)

	seedForwardTSN = vecHex(
		"c0 00 00 10", // Type = 192 (FORWARD TSN), Flags = 0 | Length = 16 (RFC 3758 3.2)
		"00 00 00 64", // New Cumulative TSN = 100
		"00 01 00 05", // Stream-1 = 1 | Stream Sequence-1 = 5
		"00 02 00 09", // Stream-2 = 2 | Stream Sequence-2 = 9
	)
	seedForwardTSNBare = vecHex(
		"c0 00 00 08", // Type = 192, Flags = 0 | Length = 8: no stream entries
		"00 00 00 64", // New Cumulative TSN = 100
	)
	seedIForwardTSN = vecHex(
		"c2 00 00 18", // Type = 194 (I-FORWARD-TSN), Flags = 0 | Length = 24 (RFC 8260 2.3.1)
		"00 00 00 64", // New Cumulative TSN = 100
		"00 01 00 00", // Stream Identifier = 1 | Reserved, U = 0
		"00 00 00 05", // Message Identifier = 5
		"00 02 00 01", // Stream Identifier = 2 | Reserved, U = 1
		"00 00 00 09", // Message Identifier = 9
	)

	// INIT with every parameter an INIT may carry among the RFCs sctpgw
	// speaks; the last one, the Chunk List, leaves 2 bytes of padding that
	// the Chunk Length does not count.
	seedInitFull = vecHex(
		"01 00 00 96", // Type = 1, Flags = 0 | Chunk Length = 150
		"00 00 00 01", // Initiate Tag = 1
		"00 00 05 dc", // a_rwnd = 1500, the least allowed (3.3.2)
		"ff ff ff ff", // OS = 65535 | MIS = 65535
		"00 00 00 00", // Initial TSN = 0
		"00 05 00 08", // IPv4 Address (3.3.2.1.1) | Length = 8
		"c0 00 02 02", // 192.0.2.2
		"00 06 00 14", // IPv6 Address (3.3.2.1.2) | Length = 20
		"20 01 0d b8", // 2001:db8::2
		"00 00 00 00",
		"00 00 00 00",
		"00 00 00 02",
		"00 09 00 08", // Cookie Preservative (3.3.2.1.3) | Length = 8
		"00 00 03 e8", // Suggested Cookie Life-Span Increment = 1000 ms
		"00 0c 00 08", // Supported Address Types (3.3.2.1.5) | Length = 8
		"00 05 00 06", // IPv4, IPv6
		"80 00 00 04", // ECN Capable (appendix A) | Length = 4
		"c0 00 00 04", // Forward-TSN-Supported (RFC 3758 3.1) | Length = 4
		"80 08 00 0a", // Supported Extensions (RFC 5061) | Length = 10
		"c0 82 0f c1", // FORWARD TSN, RE-CONFIG, AUTH, ASCONF,
		"80 40 00 00", // ASCONF-ACK, I-DATA, then 2 bytes of padding, counted
		"80 02 00 24", // Random (RFC 4895 3.1) | Length = 36
		"a0 a1 a2 a3", // 32 bytes of random number
		"a4 a5 a6 a7",
		"a8 a9 aa ab",
		"ac ad ae af",
		"b0 b1 b2 b3",
		"b4 b5 b6 b7",
		"b8 b9 ba bb",
		"bc bd be bf",
		"80 04 00 08", // Requested HMAC Algorithm (RFC 4895 3.3) | Length = 8
		"00 03 00 01", // HMAC-SHA-256, HMAC-SHA-1
		"c0 06 00 08", // Adaptation Layer Indication (RFC 5061) | Length = 8
		"00 00 00 2a", // Adaptation Code Point = 42
		"80 01 00 08", // Zero Checksum Acceptable (RFC 9653) | Length = 8
		"00 00 00 01", // Error Detection Method Identifier = 1
		"80 03 00 06", // Chunk List (RFC 4895 3.2) | Length = 6
		"c1 80 00 00", // ASCONF, ASCONF-ACK, then 2 bytes of padding, not counted
	)
	// INIT ACK reporting an unrecognized parameter (3.3.3.1.2) of type
	// 0xC00F (high bits 11: skip and report).
	seedInitAckUnrecognized = vecHex(
		"02 00 00 30", // Type = 2, Flags = 0 | Chunk Length = 48
		"00 00 00 02", // Initiate Tag = 2
		"00 01 00 00", // a_rwnd = 65536
		"00 01 00 01", // OS = 1 | MIS = 1
		"00 00 00 05", // Initial TSN = 5
		"00 07 00 0c", // State Cookie | Length = 12
		"01 02 03 04", // Cookie
		"05 06 07 08",
		"00 08 00 0c", // Unrecognized Parameter | Length = 12
		"c0 0f 00 08", // the parameter as received: Type = 0xC00F | Length = 8
		"de ad be ef",
		"c0 00 00 04", // Forward-TSN-Supported | Length = 4
	)

	seedHeartbeat = vecHex(
		"04 00 00 10", // Type = 4 (HEARTBEAT), Flags = 0 | Length = 16 (3.3.5)
		"00 01 00 0c", // Heartbeat Info Type = 1 | HB Info Length = 12
		"00 00 01 8c", // Sender-Specific Heartbeat Info, 8 bytes
		"1f 2e 3d 4c",
	)
	seedHeartbeatAck = vecHex(
		"05 00 00 0f", // Type = 5 (HEARTBEAT ACK), Flags = 0 | Length = 15 (3.3.6)
		"00 01 00 0b", // Heartbeat Info Type = 1 | HB Info Length = 11
		"00 00 01 8c", // Sender-Specific Heartbeat Info, 7 bytes, echoed
		"1f 2e 3d 00", // ... then 1 byte of padding
	)
	seedErrorStream = vecHex(
		"09 00 00 0c", // Type = 9 (ERROR), Flags = 0 | Length = 12 (3.3.10)
		"00 01 00 08", // Invalid Stream Identifier | Cause Length = 8
		"00 05 00 00", // Stream Identifier = 5 | Reserved
	)
	seedErrorUnrecognizedChunk = vecHex(
		"09 00 00 0e", // Type = 9, Flags = 0 | Length = 14
		"00 06 00 0a", // Unrecognized Chunk Type (3.3.10.6) | Cause Length = 10
		"7f 00 00 06", // the chunk as received: Type = 127 | Length = 6
		"ab cd 00 00", // its value, then 2 bytes of padding
	)
	seedErrorEncapPort = vecHex(
		"09 00 00 0c", // Type = 9, Flags = 0 | Length = 12
		"00 0e 00 08", // Restart with New Encapsulation Port (draft-tuexen-...-cons 4) | Length = 8
		"26 ab 9c 40", // Current Encapsulation Port = 9899 | New Encapsulation Port = 40000
	)
	seedShutdownAck       = vecHex("08 00 00 04")                                              // SHUTDOWN ACK (3.3.9): no value
	seedShutdownComplete  = vecHex("0e 00 00 04")                                              // SHUTDOWN COMPLETE (3.3.13), T = 0
	seedShutdownCompleteT = vecHex("0e 01 00 04")                                              // SHUTDOWN COMPLETE, T = 1 (tag reflected)
	seedCookieAck         = vecHex("0b 00 00 04")                                              // COOKIE ACK (3.3.12): no value
	seedCookieEcho        = vecHex("0a 00 00 0d", "63 6f 6f 6b", "69 65 2d 30", "31 00 00 00") // COOKIE ECHO (3.3.11), cookie "cookie-01", 3 bytes of padding
	seedECNE              = vecHex("0c 00 00 08", "00 00 00 64")                               // ECNE (RFC 9260 appendix A): Lowest TSN = 100
	seedECNENumPackets    = vecHex("0c 00 00 0c", "00 00 00 64", "00 00 00 03")                // ECNE with the Number of Packets of draft-stewart-tsvwg-sctpecn
	seedCWR               = vecHex("0d 00 00 08", "00 00 00 64")                               // CWR (appendix A): Lowest TSN = 100
	seedPad               = vecHex("84 00 00 0c", "00 00 00 00", "00 00 00 00")                // PAD (RFC 4820 3): 8 bytes of padding data
	seedPadOdd            = vecHex("84 00 00 07", "ff ff ff 00")                               // PAD with 3 bytes of (ignored) padding data
	seedReconfigOutgoing  = vecHex(
		"82 00 00 18", // Type = 130 (RE-CONFIG), Flags = 0 | Length = 24 (RFC 6525 3.1)
		"00 0d 00 14", // Outgoing SSN Reset Request (4.1) | Length = 20
		"00 00 00 01", // Re-configuration Request Sequence Number = 1
		"00 00 00 00", // Re-configuration Response Sequence Number = 0
		"00 00 03 e8", // Sender's Last Assigned TSN = 1000
		"00 01 00 02", // Stream Number 1 = 1 | Stream Number 2 = 2
	)
	seedReconfigTwo = vecHex(
		"82 00 00 22", // Type = 130, Flags = 0 | Length = 34 = 4 + 20 + 10
		"00 0d 00 12", // Outgoing SSN Reset Request | Length = 18
		"00 00 00 02", // Request Sequence Number = 2
		"00 00 00 01", // Response Sequence Number = 1
		"00 00 03 e8", // Sender's Last Assigned TSN = 1000
		"00 03 00 00", // Stream Number 1 = 3, then 2 bytes of padding, counted
		"00 0e 00 0a", // Incoming SSN Reset Request (4.2) | Length = 10
		"00 00 00 03", // Request Sequence Number = 3
		"00 03 00 00", // Stream Number 1 = 3, then 2 bytes of padding, not counted
	)
	seedReconfigResponse = vecHex(
		"82 00 00 18", // Type = 130, Flags = 0 | Length = 24
		"00 10 00 14", // Re-configuration Response (4.4) | Length = 20
		"00 00 00 01", // Re-configuration Response Sequence Number = 1
		"00 00 00 01", // Result = 1 (Success - Performed)
		"00 00 03 e9", // Sender's Next TSN
		"00 00 07 d0", // Receiver's Next TSN
	)
	seedReconfigAddStreams = vecHex(
		"82 00 00 1c", // Type = 130, Flags = 0 | Length = 28
		"00 11 00 0c", // Add Outgoing Streams Request (4.5) | Length = 12
		"00 00 00 04", // Request Sequence Number = 4
		"00 0a 00 00", // Number of new streams = 10 | Reserved
		"00 12 00 0c", // Add Incoming Streams Request (4.6) | Length = 12
		"00 00 00 05", // Request Sequence Number = 5
		"00 02 00 00", // Number of new streams = 2 | Reserved
	)
	seedReconfigSSNTSN = vecHex(
		"82 00 00 0c", // Type = 130, Flags = 0 | Length = 12
		"00 0f 00 08", // SSN/TSN Reset Request (4.3) | Length = 8
		"00 00 00 06", // Request Sequence Number = 6
	)
	seedAuth = vecHex(
		"0f 00 00 1c", // Type = 15 (AUTH), Flags = 0 | Length = 28 (RFC 4895 5.1)
		"00 00 00 01", // Shared Key Identifier = 0 | HMAC Identifier = 1 (SHA-1)
		"00 11 22 33", // HMAC, 20 bytes
		"44 55 66 77",
		"88 99 aa bb",
		"cc dd ee ff",
		"01 23 45 67",
	)
	seedAsconf = vecHex(
		"c1 00 00 30", // Type = 0xC1 (ASCONF), Flags = 0 | Length = 48 (RFC 5061)
		"00 00 00 01", // Sequence Number = 1
		"00 05 00 08", // Address Parameter: IPv4 Address | Length = 8
		"c0 00 02 01", // 192.0.2.1
		"c0 01 00 10", // Add IP Address (RFC 5061) | Length = 16
		"00 00 00 01", // ASCONF-Request Correlation ID = 1
		"00 05 00 08", // IPv4 Address | Length = 8
		"c0 00 02 09", // 192.0.2.9
		"c0 04 00 10", // Set Primary Address (RFC 5061) | Length = 16
		"00 00 00 02", // ASCONF-Request Correlation ID = 2
		"00 05 00 08", // IPv4 Address | Length = 8
		"c0 00 02 09", // 192.0.2.9
	)
	seedAsconfAck = vecHex(
		"80 00 00 2c", // Type = 0x80 (ASCONF-ACK), Flags = 0 | Length = 44 (RFC 5061)
		"00 00 00 01", // Sequence Number = 1
		"c0 05 00 08", // Success Indication (RFC 5061) | Length = 8
		"00 00 00 01", // ASCONF-Request Correlation ID = 1
		"c0 03 00 1c", // Error Cause Indication (RFC 5061) | Length = 28
		"00 00 00 02", // ASCONF-Request Correlation ID = 2
		"00 a1 00 14", // Operation Refused Due to Resource Shortage (RFC 5061) | Length = 20
		"c0 04 00 10", // the TLV-copied Set Primary Address parameter
		"00 00 00 02",
		"00 05 00 08",
		"c0 00 02 09",
	)

	// Parameter lists as they follow a chunk's fixed fields.
	seedParamsInit = seedInitFull[wire.ChunkHeaderLen+16:]
	seedParamsMisc = vecHex(
		"00 01 00 09", // Heartbeat Info (3.3.5) | Length = 9
		"01 02 03 04", // Sender-Specific Heartbeat Info, 5 bytes
		"05 00 00 00", // ... then 3 bytes of padding
		"00 0b 00 10", // Host Name Address (3.3.2.1.4, deprecated) | Length = 16
		"68 6f 73 74", // "host.example" NUL-terminated, 12 bytes
		"2e 65 78 61",
		"6d 70 6c 65",
		"00 08 00 0c", // Unrecognized Parameter (3.3.3.1.2) | Length = 12
		"c0 0f 00 08", // Type = 0xC00F | Length = 8
		"de ad be ef",
		"80 05 00 08", // Padding (RFC 4820 4) | Length = 8
		"00 00 00 00",
		"c0 02 00 1c", // Delete IP Address (RFC 5061) | Length = 28
		"00 00 00 03", // ASCONF-Request Correlation ID = 3
		"00 06 00 14", // IPv6 Address | Length = 20
		"20 01 0d b8", // 2001:db8::3
		"00 00 00 00",
		"00 00 00 00",
		"00 00 00 03",
		"c0 05 00 08", // Success Indication | Length = 8
		"00 00 00 03", // ASCONF-Request Correlation ID = 3
		"00 07 00 04", // State Cookie | Length = 4: an empty cookie
	)
	seedParamsReconfig = vecCat(seedReconfigTwo[wire.ChunkHeaderLen:],
		seedReconfigResponse[wire.ChunkHeaderLen:], seedReconfigAddStreams[wire.ChunkHeaderLen:],
		seedReconfigSSNTSN[wire.ChunkHeaderLen:])

	// Every error cause of RFC 9260 3.3.10, in code order.
	seedCausesRFC9260 = vecHex(
		"00 01 00 08", "00 05 00 00", // 1 Invalid Stream Identifier: stream 5
		"00 02 00 0a", "00 00 00 01", // 2 Missing Mandatory Parameter: 1 missing,
		"00 07 00 00",                //                  State Cookie, then 2 bytes of padding
		"00 03 00 08", "00 00 27 10", // 3 Stale Cookie: 10000 microseconds of staleness
		"00 04 00 04",                //                4 Out of Resource
		"00 05 00 0c", "00 05 00 08", // 5 Unresolvable Address: the address TLV
		"c0 00 02 07",
		"00 06 00 0c", "7f 00 00 08", // 6 Unrecognized Chunk Type: the chunk
		"01 02 03 04",
		"00 07 00 04",                //                7 Invalid Mandatory Parameter
		"00 08 00 0c", "c0 0f 00 08", // 8 Unrecognized Parameters: the parameter
		"de ad be ef",
		"00 09 00 08", "00 00 00 01", // 9 No User Data: TSN 1
		"00 0a 00 04",                //                10 Cookie Received While Shutting Down
		"00 0b 00 0c", "00 05 00 08", // 11 Restart with New Addresses: the new address
		"c0 00 02 05",
		"00 0c 00 07", "62 79 65 00", // 12 User-Initiated Abort: "bye"
		"00 0d 00 0d", "62 61 64 20", // 13 Protocol Violation: "bad chunk",
		"63 68 75 6e", "6b 00 00 00", //    then 3 bytes of padding
	)
	seedCausesExtensions = vecHex(
		"00 0e 00 08", "26 ab 00 00", // 14 Restart with New Encapsulation Port: 9899 -> not encapsulated
		"00 a0 00 14", "c0 02 00 10", // 0xA0 Request to Delete Last Remaining IP Address (RFC 5061),
		"00 00 00 01", "00 05 00 08", //      the TLV-copied Delete IP Address parameter
		"c0 00 02 01",
		"00 a2 00 14", "c0 02 00 10", // 0xA2 Request to Delete Source IP Address
		"00 00 00 02", "00 05 00 08",
		"c0 00 02 01",
		"00 a3 00 04",                //                0xA3 Association Aborted Due to Illegal ASCONF-ACK
		"00 a4 00 14", "c0 01 00 10", // 0xA4 Request Refused - No Authorization: Add IP Address
		"00 00 00 03", "00 05 00 08",
		"c0 00 02 0a",
		"01 05 00 06", "00 02 00 00", // 0x0105 Unsupported HMAC Identifier (RFC 4895 4.1): 2, padding
	)
	seedCausesUserAbort = vecAbortUser[wire.ChunkHeaderLen:]
)

// seedChunks are the chunk seeds of each family target, by name.
func seedChunks() map[string][]struct {
	name  string
	chunk []byte
} {
	type s = struct {
		name  string
		chunk []byte
	}
	return map[string][]s{
		"FuzzDataChunks": {
			{"data-be", vecDataBE}, {"data-u", vecDataU}, {"data-b", vecDataB}, {"data-e", vecDataE},
			{"data-i", vecDataI}, {"data-iube", vecDataIUBE},
			{"idata-first", seedIDataFirst}, {"idata-middle", seedIDataMiddle}, {"idata-whole", seedIDataWhole},
		},
		"FuzzSackChunks": {
			{"sack-rfc", vecSackRFC}, {"sack-dups", vecSackDups}, {"sack-empty", vecSackEmpty},
			{"forward-tsn", seedForwardTSN}, {"forward-tsn-bare", seedForwardTSNBare}, {"iforward-tsn", seedIForwardTSN},
		},
		"FuzzInitChunks": {
			{"init", vecInit}, {"init-full", seedInitFull},
			{"init-ack-cookie-last", vecInitAckCookieLast}, {"init-ack-cookie-first", vecInitAckCookieFirst},
			{"init-ack-unrecognized", seedInitAckUnrecognized},
		},
		"FuzzControlChunks": {
			{"heartbeat", seedHeartbeat}, {"heartbeat-ack", seedHeartbeatAck},
			{"abort-user", vecAbortUser}, {"abort-two-causes", vecAbortTwoCauses}, {"abort-bare", vecAbortBare},
			{"error-stream", seedErrorStream}, {"error-unrecognized-chunk", seedErrorUnrecognizedChunk},
			{"error-encap-port", seedErrorEncapPort},
			{"shutdown", vecShutdown}, {"shutdown-ack", seedShutdownAck},
			{"shutdown-complete", seedShutdownComplete}, {"shutdown-complete-t", seedShutdownCompleteT},
			{"cookie-echo", seedCookieEcho}, {"cookie-ack", seedCookieAck},
			{"ecne", seedECNE}, {"ecne-num-packets", seedECNENumPackets}, {"cwr", seedCWR},
		},
		"FuzzExtensionChunks": {
			{"reconfig-outgoing", seedReconfigOutgoing}, {"reconfig-two", seedReconfigTwo},
			{"reconfig-response", seedReconfigResponse}, {"reconfig-add-streams", seedReconfigAddStreams},
			{"reconfig-ssn-tsn", seedReconfigSSNTSN},
			{"auth", seedAuth}, {"asconf", seedAsconf}, {"asconf-ack", seedAsconfAck},
			{"pad", seedPad}, {"pad-odd", seedPadOdd},
		},
	}
}

// seedPackets are whole packets for FuzzPacket: the packet vectors and
// bundles of the chunk seeds that RFC 9260 6.10 and the extensions allow.
func seedPackets() map[string][]byte {
	pkt := func(tag uint32, chunks ...[]byte) []byte {
		b := vecHex("8e 3c 8e 3c")
		b = binary.BigEndian.AppendUint32(b, tag)
		b = append(b, 0, 0, 0, 0)
		b = vecCat(b, vecCat(chunks...))
		wire.SetChecksum(b)
		return b
	}
	unpadded := pkt(0x05060708, vecDataBE[:17]) // the final chunk's padding left out
	badCRC := bytes.Clone(vecPktDataSack)
	badCRC[8] ^= 0xff
	return map[string][]byte{
		"init":                vecPktInit,
		"init-ack":            vecPktInitAck,
		"data-sack":           vecPktDataSack,
		"sack-shutdown":       vecPktSackShutdown,
		"abort":               vecPktAbort,
		"init-full":           pkt(0, seedInitFull),
		"cookie-echo-data":    pkt(0x05060708, seedCookieEcho, vecDataI),
		"cookie-ack-sack":     pkt(0xa1b2c3d4, seedCookieAck, vecSackEmpty),
		"heartbeat":           pkt(0x05060708, seedHeartbeat),
		"heartbeat-ack-pad":   pkt(0xa1b2c3d4, seedHeartbeatAck, seedPad),
		"shutdown-ack":        pkt(0xa1b2c3d4, seedShutdownAck),
		"shutdown-complete-t": pkt(0xa1b2c3d4, seedShutdownCompleteT),
		"idata-iforward":      pkt(0x05060708, seedIForwardTSN, seedIDataFirst, seedIDataMiddle),
		"auth-asconf":         pkt(0x05060708, seedAuth, seedAsconf),
		"asconf-ack-error":    pkt(0xa1b2c3d4, seedAsconfAck, seedErrorStream),
		"reconfig-ecne-cwr":   pkt(0x05060708, seedReconfigTwo, seedECNE, seedCWR),
		"data-unpadded":       unpadded,
		"bad-checksum":        badCRC,
	}
}

// fuzzCorpus is every seed file, by target and file name.
func fuzzCorpus() map[string]map[string][]byte {
	out := map[string]map[string][]byte{}
	add := func(target, name string, vals ...any) {
		if out[target] == nil {
			out[target] = map[string][]byte{}
		}
		out[target]["seed-"+name] = fuzzCorpusFile(vals...)
	}
	for target, seeds := range seedChunks() {
		for _, s := range seeds {
			typ, flags, value := seedSplitChunk(s.chunk)
			add(target, s.name, typ, flags, value)
		}
	}
	for name, b := range seedPackets() {
		add("FuzzPacket", name, b)
	}
	add("FuzzParams", "init", seedParamsInit)
	add("FuzzParams", "misc", seedParamsMisc)
	add("FuzzParams", "reconfig", seedParamsReconfig)
	add("FuzzCauses", "rfc9260", seedCausesRFC9260)
	add("FuzzCauses", "extensions", seedCausesExtensions)
	add("FuzzCauses", "user-abort", seedCausesUserAbort)
	return out
}

// seedSplitChunk cuts a hand-written chunk into what the family targets
// take: type, flags and the value that the Chunk Length delimits.
func seedSplitChunk(b []byte) (typ, flags byte, value []byte) {
	l := int(binary.BigEndian.Uint16(b[2:4]))
	if l < wire.ChunkHeaderLen || l > len(b) {
		panic(fmt.Sprintf("seed chunk with Chunk Length %d has %d bytes: % x", l, len(b), b))
	}
	return b[0], b[1], b[wire.ChunkHeaderLen:l]
}

// fuzzCorpusFile encodes values in the "go test fuzz v1" corpus format, as
// the fuzzing engine writes them (internal/fuzz marshalCorpusFile).
func fuzzCorpusFile(vals ...any) []byte {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case byte:
			fmt.Fprintf(&b, "byte(%q)\n", v)
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		default:
			panic(fmt.Sprintf("corpus value of type %T", v))
		}
	}
	return []byte(b.String())
}

var updateFuzzSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite the seed files under testdata/fuzz from fuzz_test.go")

// The checked-in seed files must be what fuzzCorpus says. Other files in
// those directories (inputs the fuzzer found and someone kept as
// regressions) are left alone.
func TestFuzzSeedCorpus(t *testing.T) {
	for target, files := range fuzzCorpus() {
		dir := filepath.Join("testdata", "fuzz", target)
		for name, want := range files {
			path := filepath.Join(dir, name)
			if *updateFuzzSeeds {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s is missing or stale (%v); regenerate with: go test ./stack/wire -run TestFuzzSeedCorpus -update-fuzz-seeds", path, err)
			}
		}
	}
}

// Every seed is a valid encoding, so the codec must decode every one. This
// cross-checks each decoder against figures transcribed independently of it.
func TestFuzzSeedsDecode(t *testing.T) {
	for target, seeds := range seedChunks() {
		for _, s := range seeds {
			l := int(binary.BigEndian.Uint16(s.chunk[2:4]))
			if len(s.chunk)%4 != 0 || l > len(s.chunk) || len(s.chunk)-l > 3 || !isZero(s.chunk[l:]) {
				t.Errorf("%s/%s: the seed itself breaks RFC 9260 3.2 framing", target, s.name)
				continue
			}
			typ, flags, value := seedSplitChunk(s.chunk)
			rc := wire.RawChunk{Type: wire.ChunkType(typ), Flags: flags, Value: value}
			if fuzzPick(fuzzFamilies[target], typ) != rc.Type {
				t.Errorf("%s/%s: %v is not of this target's family", target, s.name, rc.Type)
			}
			c, err := wire.DecodeChunk(rc)
			if err != nil {
				t.Errorf("%s/%s: %v\n% x", target, s.name, err, s.chunk)
				continue
			}
			// A chunk the codec types must encode back to the very bytes
			// of its figure (flags and padding included).
			if got := c.AppendTo(nil); !bytes.Equal(got, s.chunk) {
				t.Errorf("%s/%s: re-encodes differently\n got % x\nwant % x", target, s.name, got, s.chunk)
			}
		}
	}
	for name, b := range seedPackets() {
		var p wire.Packet
		err := p.Unmarshal(b)
		if name == "bad-checksum" {
			if !errors.Is(err, wire.ErrChecksum) {
				t.Errorf("packet %s: %v, want %v", name, err, wire.ErrChecksum)
			}
			continue
		}
		if err != nil {
			t.Errorf("packet %s: %v", name, err)
			continue
		}
		for i, rc := range p.Chunks {
			if _, err := wire.DecodeChunk(rc); err != nil {
				t.Errorf("packet %s chunk %d: %v", name, i, err)
			}
		}
	}
	for name, b := range map[string][]byte{"init": seedParamsInit, "misc": seedParamsMisc, "reconfig": seedParamsReconfig} {
		ps, err := wire.ParseParams(b)
		if err != nil {
			t.Errorf("params %s: %v", name, err)
			continue
		}
		if got := wire.AppendParams(nil, ps); !bytes.Equal(got, (append(bytes.Clone(b), 0, 0, 0))[:(len(b)+3)&^3]) {
			t.Errorf("params %s re-encode differently\n got % x\nwant % x", name, got, b)
		}
	}
	for name, b := range map[string][]byte{"rfc9260": seedCausesRFC9260, "extensions": seedCausesExtensions, "user-abort": seedCausesUserAbort} {
		cs, err := wire.ParseCauses(b)
		if err != nil {
			t.Errorf("causes %s: %v", name, err)
			continue
		}
		if got := wire.AppendCauses(nil, cs); !bytes.Equal(got, (append(bytes.Clone(b), 0, 0, 0))[:(len(b)+3)&^3]) {
			t.Errorf("causes %s re-encode differently\n got % x\nwant % x", name, got, b)
		}
	}
}
