package capture_test

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sctpgw/sctpgw/capture"
	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// Wireshark is the decoder lab engineers will open sctpgw's captures with,
// and a second, independent reading of the codec: every packet of a whole
// association, written natively and encapsulated, must decode as SCTP with
// the chunk types we wrote, no malformed packet, and good CRC32c, UDP and
// IPv4 checksums. A control capture with planted faults proves that tshark,
// as invoked here, reports each kind of fault.

// tsharkArgs makes tshark check every checksum it can and decode UDP port
// 9899 as SCTP (RFC 6951), whatever its defaults. The user messages carry
// S1AP and NGAP PPIDs (and S1AP's port) but placeholder text, so those
// dissectors are off: the payload is then plain data.
var tsharkArgs = []string{
	"-o", "sctp.checksum:crc-32c",
	"-o", "udp.check_checksum:TRUE",
	"-o", "ip.check_checksum:TRUE",
	"-d", "udp.port==9899,sctp",
	"--disable-protocol", "s1ap",
	"--disable-protocol", "ngap",
}

// tsharkFields are the columns read per frame. -E occurrence=a with the
// aggregator ';' keeps repeated fields (one chunk type per chunk) in one
// column.
var tsharkFields = []string{
	"frame.number",
	"frame.protocols",
	"sctp.chunk_type",
	"sctp.checksum.status",
	"udp.checksum.status",
	"ip.checksum.status",
	"_ws.expert.severity",
	"_ws.expert.message",
}

type tsharkFrame struct {
	protocols  []string
	chunkTypes []string
	sctpCRC    string
	udpCRC     string
	ipCRC      string
	severities []string
	messages   []string
}

func requireTshark(t *testing.T) string {
	t.Helper()
	// tshark checks captures against Wireshark's dissectors.
	return testlab.NeedTool(t, "tshark")
}

func runTshark(t *testing.T, tshark, file string) []tsharkFrame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"-r", file, "-n"}, tsharkArgs...)
	args = append(args, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=;")
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	cmd := exec.CommandContext(ctx, tshark, args...)
	// tshark wants a writable home for its profile; keep it out of the
	// user's.
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var frames []tsharkFrame
	for line := range strings.Lines(stdout.String()) {
		col := strings.Split(strings.TrimRight(line, "\n"), "\t")
		if len(col) != len(tsharkFields) {
			t.Fatalf("tshark line has %d columns, want %d: %q", len(col), len(tsharkFields), line)
		}
		if n, err := strconv.Atoi(col[0]); err != nil || n != len(frames)+1 {
			t.Fatalf("tshark frame number %q, want %d", col[0], len(frames)+1)
		}
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, ";")
		}
		frames = append(frames, tsharkFrame{
			protocols:  strings.Split(col[1], ":"),
			chunkTypes: split(col[2]),
			sctpCRC:    col[3],
			udpCRC:     col[4],
			ipCRC:      col[5],
			severities: split(col[6]),
			messages:   split(col[7]),
		})
	}
	return frames
}

// Checksum status values of Wireshark's proto_checksum_enum_e.
const (
	checksumBad  = "0"
	checksumGood = "1"
)

// scripted is one packet of the association: who sends it, with which tag.
type scripted struct {
	fromA  bool
	tag    uint32
	chunks []wire.Chunk
}

const (
	tagA = 0xa1b2c3d4 // A's Initiate Tag: what Z puts in its packets
	tagZ = 0x05060708 // Z's Initiate Tag: what A puts in its packets
)

var (
	addrA  = netip.MustParseAddr("192.0.2.1")
	addrZ  = netip.MustParseAddr("198.51.100.2")
	cookie = []byte("sctpgw state cookie: 32 bytes...")
	hbInfo = []byte{0, 0, 1, 0x8c, 0x1f, 0x2e, 0x3d, 0x4c, 0x5b}
	reason = []byte("sctpgw: egress peer unreachable")
)

// association is every packet of one association's life, from INIT to
// SHUTDOWN COMPLETE, then a refused second attempt and packets of the
// extensions sctpgw speaks. Encapsulated INIT and INIT ACK list no
// addresses (RFC 6951 5.7); native ones list theirs.
func association(encapsulated bool) []scripted {
	var initParams, initAckParams []wire.Param
	if !encapsulated {
		initParams = append(initParams, &wire.IPv4AddressParam{Addr: addrA})
		initAckParams = append(initAckParams, &wire.IPv4AddressParam{Addr: addrZ})
	}
	initParams = append(initParams,
		&wire.SupportedAddrTypesParam{Types: []wire.ParamType{wire.ParamIPv4Address}},
		&wire.ForwardTSNSupportedParam{},
		&wire.SupportedExtensionsParam{Types: []wire.ChunkType{wire.TypeForwardTSN, wire.TypeReconfig, wire.TypeIData, wire.TypeAsconf, wire.TypeAsconfAck, wire.TypeAuth}},
	)
	initAckParams = append(initAckParams, &wire.StateCookieParam{Cookie: cookie}, &wire.ForwardTSNSupportedParam{})
	data := func(tsn uint32, sid, ssn uint16, u, b, e, i bool, payload string) *wire.Data {
		return &wire.Data{TSN: tsn, StreamID: sid, SSN: ssn, PPID: 18, Unordered: u, Beginning: b, Ending: e, Immediate: i, Payload: []byte(payload)}
	}
	return []scripted{
		{true, 0, []wire.Chunk{&wire.Init{InitFields: wire.InitFields{
			InitiateTag: tagA, ARwnd: 106496, OutStreams: 10, InStreams: 10, InitialTSN: 1000, Params: initParams}}}},
		{false, tagA, []wire.Chunk{&wire.InitAck{InitFields: wire.InitFields{
			InitiateTag: tagZ, ARwnd: 106496, OutStreams: 10, InStreams: 10, InitialTSN: 5000, Params: initAckParams}}}},
		{true, tagZ, []wire.Chunk{&wire.CookieEcho{Cookie: cookie}, data(1000, 0, 0, false, true, true, false, "S1 Setup Request")}},
		{false, tagA, []wire.Chunk{&wire.CookieAck{}, &wire.Sack{CumTSNAck: 1000, ARwnd: 106480}}},
		{true, tagZ, []wire.Chunk{data(1001, 2, 0, true, true, true, false, "unordered")}},
		{true, tagZ, []wire.Chunk{data(1002, 1, 0, false, true, false, false, "first "), data(1003, 1, 0, false, false, false, false, "middle ")}},
		{true, tagZ, []wire.Chunk{data(1005, 3, 0, false, true, true, true, "after a loss, I set")}},
		{false, tagA, []wire.Chunk{&wire.Sack{CumTSNAck: 1003, ARwnd: 106000, GapBlocks: []wire.GapBlock{{Start: 2, End: 2}}, DupTSNs: []uint32{1001, 1001}}}},
		{true, tagZ, []wire.Chunk{data(1004, 1, 0, false, false, true, true, "last")}},
		{false, tagA, []wire.Chunk{&wire.Sack{CumTSNAck: 1005, ARwnd: 106496}, &wire.ErrorChunk{Causes: []wire.Cause{&wire.InvalidStreamCause{StreamID: 3}}}}},
		{true, tagZ, []wire.Chunk{&wire.Heartbeat{Info: hbInfo}}},
		{false, tagA, []wire.Chunk{&wire.HeartbeatAck{Info: hbInfo}}},
		{true, tagZ, []wire.Chunk{&wire.Shutdown{CumTSNAck: 4999}}},
		{false, tagA, []wire.Chunk{&wire.ShutdownAck{}}},
		{true, tagZ, []wire.Chunk{&wire.ShutdownComplete{}}},
		// A second attempt that the gateway refuses because its egress
		// failed (docs/design.md 2.1), and a reflected SHUTDOWN COMPLETE.
		{true, 0, []wire.Chunk{&wire.Init{InitFields: wire.InitFields{
			InitiateTag: 0x0badcafe, ARwnd: 106496, OutStreams: 10, InStreams: 10, InitialTSN: 7}}}},
		{false, 0x0badcafe, []wire.Chunk{&wire.Abort{Causes: []wire.Cause{&wire.UserInitiatedAbortCause{Reason: reason}}}}},
		{false, 0x0badcafe, []wire.Chunk{&wire.Abort{TagReflected: true, Causes: []wire.Cause{&wire.UserInitiatedAbortCause{Reason: []byte("bye")}}}}},
		{false, tagZ, []wire.Chunk{&wire.ShutdownComplete{TagReflected: true}}},
		// Extensions: PR-SCTP (RFC 3758), I-DATA (RFC 8260), stream reset
		// (RFC 6525), AUTH and ASCONF (RFC 4895, 5061), PAD (RFC 4820), ECN.
		{true, tagZ, []wire.Chunk{&wire.ForwardTSN{NewCumTSN: 1010, Streams: []wire.ForwardTSNStream{{StreamID: 1, SSN: 4}}}}},
		{true, tagZ, []wire.Chunk{
			&wire.IForwardTSN{NewCumTSN: 1011, Streams: []wire.IForwardTSNStream{{StreamID: 1, Unordered: true, MID: 9}}},
			&wire.IData{TSN: 1012, StreamID: 2, MID: 10, PPID: 60, Beginning: true, Payload: []byte("NGAP, first")},
			&wire.IData{TSN: 1013, StreamID: 2, MID: 10, FSN: 1, Ending: true, Payload: []byte("and last")},
		}},
		{true, tagZ, []wire.Chunk{&wire.Reconfig{Params: []wire.Param{
			&wire.OutgoingSSNResetParam{RequestSeq: 1, ResponseSeq: 0, SenderLastTSN: 1013, Streams: []uint16{1, 2}},
		}}}},
		{false, tagA, []wire.Chunk{&wire.Reconfig{Params: []wire.Param{
			&wire.ReconfigResponseParam{ResponseSeq: 1, Result: wire.ReconfigSuccessPerformed},
		}}}},
		{true, tagZ, []wire.Chunk{wire.NewPad(64), &wire.Heartbeat{Info: hbInfo}}},
		{true, tagZ, []wire.Chunk{
			&wire.Auth{SharedKeyID: 0, HMACID: wire.HMACSHA1, HMAC: make([]byte, 20)},
			&wire.Asconf{Serial: 1, Address: addrA, Params: []wire.Param{
				&wire.AddIPAddressParam{CorrelationID: 1, Address: netip.MustParseAddr("192.0.2.9")},
			}},
		}},
		{false, tagA, []wire.Chunk{&wire.AsconfAck{Serial: 1, Params: []wire.Param{&wire.SuccessIndicationParam{CorrelationID: 1}}}}},
		{false, tagA, []wire.Chunk{&wire.ECNE{LowestTSN: 1012}}},
		{true, tagZ, []wire.Chunk{&wire.CWR{LowestTSN: 1012}}},
	}
}

// writeAssociation writes the script to a pcap file and returns its path
// and each packet's chunk types, as tshark prints them.
func writeAssociation(t *testing.T, encapsulated bool) (string, [][]string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), map[bool]string{false: "native.pcap", true: "udp.pcap"}[encapsulated])
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := capture.NewWriter(f, capture.LinkRaw)
	if err != nil {
		t.Fatal(err)
	}
	var want [][]string
	ts := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	for i, s := range association(encapsulated) {
		h := wire.CommonHeader{SrcPort: 40000, DstPort: 36412, VerificationTag: s.tag}
		src, dst := addrA, addrZ
		if !s.fromA {
			h.SrcPort, h.DstPort = h.DstPort, h.SrcPort
			src, dst = dst, src
		}
		pkt := wire.AppendPacket(nil, h, s.chunks...)
		var types []string
		for _, c := range s.chunks {
			types = append(types, strconv.Itoa(int(c.ChunkType())))
		}
		want = append(want, types)
		ts = ts.Add(time.Duration(i+1) * time.Millisecond)
		if encapsulated {
			err = w.WriteSCTPInUDP(ts, netip.AddrPortFrom(src, capture.UDPEncapsulationPort), netip.AddrPortFrom(dst, capture.UDPEncapsulationPort), pkt)
		} else {
			err = w.WriteSCTP(ts, src, dst, pkt)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, want
}

func TestTsharkDecodesAssociation(t *testing.T) {
	tshark := requireTshark(t)
	for _, encapsulated := range []bool{false, true} {
		name := map[bool]string{false: "native", true: "UDP-encapsulated"}[encapsulated]
		t.Run(name, func(t *testing.T) {
			path, want := writeAssociation(t, encapsulated)
			frames := runTshark(t, tshark, path)
			if len(frames) != len(want) {
				t.Fatalf("tshark read %d frames, we wrote %d", len(frames), len(want))
			}
			wantProtos := []string{"raw", "ip", "sctp"}
			if encapsulated {
				wantProtos = []string{"raw", "ip", "udp", "sctp"}
			}
			for i, fr := range frames {
				n := i + 1
				protos := fr.protocols
				// User data shows as a data layer, except where tshark
				// holds fragments back for reassembly.
				if (slices.Contains(want[i], "0") || slices.Contains(want[i], "64")) && protos[len(protos)-1] == "data" {
					protos = protos[:len(protos)-1]
				}
				if !slices.Equal(protos, wantProtos) {
					t.Errorf("frame %d: protocols %v, want %v (nothing more: no malformed or undecoded data)", n, fr.protocols, wantProtos)
				}
				if !slices.Equal(fr.chunkTypes, want[i]) {
					t.Errorf("frame %d: tshark sees chunk types %v, we wrote %v", n, fr.chunkTypes, want[i])
				}
				if fr.sctpCRC != checksumGood {
					t.Errorf("frame %d: SCTP CRC32c status %q, want good (%s)", n, fr.sctpCRC, checksumGood)
				}
				if fr.ipCRC != checksumGood {
					t.Errorf("frame %d: IPv4 header checksum status %q, want good", n, fr.ipCRC)
				}
				if encapsulated && fr.udpCRC != checksumGood {
					t.Errorf("frame %d: UDP checksum status %q, want good", n, fr.udpCRC)
				}
				// Expert infos of note level and up are findings
				// (warnings: malformed, bad checksum, ...). Chats are
				// tshark narrating normal packets.
				for j, sev := range fr.severities {
					if sev != "" && !isChatSeverity(sev) {
						t.Errorf("frame %d: expert info %s: %q", n, sev, fr.messages[j])
					}
				}
			}
		})
	}
}

// isChatSeverity reports whether an expert severity (PI_CHAT is 0x00200000
// in epan/proto.h, printed in decimal) is below note.
func isChatSeverity(s string) bool {
	v, err := strconv.ParseUint(s, 0, 32)
	return err == nil && v <= 0x00200000
}

// The control: the same association with faults planted in three frames
// must come out of tshark with exactly those faults reported. Without this,
// a tshark that checked nothing would pass the test above.
func TestTsharkReportsPlantedFaults(t *testing.T) {
	tshark := requireTshark(t)
	path, want := writeAssociation(t, true)

	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	r, err := pcapgo.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	faulty := filepath.Join(t.TempDir(), "faulty.pcap")
	out, err := os.Create(faulty)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	pw := pcapgo.NewWriterNanos(out)
	if err := pw.WriteFileHeader(262144, layers.LinkTypeRaw); err != nil {
		t.Fatal(err)
	}
	const (
		badSCTP   = 3 // frame numbers, from 1
		badUDP    = 5
		badIP     = 7
		malformed = 9
	)
	for n := 1; ; n++ {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		data = bytes.Clone(data)
		const sctpAt = 20 + 8 // IPv4 and UDP headers
		switch n {
		case badSCTP:
			// The CRC32c field, with the UDP checksum made right again
			// so that only the CRC32c is wrong.
			data[sctpAt+8] ^= 0xff
			fixUDPChecksum(t, data)
		case badUDP:
			data[20+6] ^= 0x01
		case badIP:
			data[10] ^= 0x01
		case malformed:
			// A chunk length that runs past the packet, with the CRC32c
			// and UDP checksum made right again so only the length is
			// wrong.
			data[sctpAt+12+2] = 0xff
			wire.SetChecksum(data[sctpAt:])
			fixUDPChecksum(t, data)
		}
		if err := pw.WritePacket(gopacket.CaptureInfo{Timestamp: ci.Timestamp, CaptureLength: len(data), Length: len(data)}, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}

	frames := runTshark(t, tshark, faulty)
	if len(frames) != len(want) {
		t.Fatalf("tshark read %d frames, we wrote %d", len(frames), len(want))
	}
	reported := func(fr tsharkFrame) bool {
		for _, s := range fr.severities {
			if !isChatSeverity(s) {
				return true
			}
		}
		return false
	}
	for i, fr := range frames {
		n := i + 1
		switch n {
		case badSCTP:
			if fr.sctpCRC != checksumBad || !reported(fr) {
				t.Errorf("frame %d has a bad CRC32c, tshark says status %q, expert %v", n, fr.sctpCRC, fr.messages)
			}
		case badUDP:
			if fr.udpCRC != checksumBad || !reported(fr) {
				t.Errorf("frame %d has a bad UDP checksum, tshark says status %q, expert %v", n, fr.udpCRC, fr.messages)
			}
		case badIP:
			if fr.ipCRC != checksumBad || !reported(fr) {
				t.Errorf("frame %d has a bad IPv4 checksum, tshark says status %q, expert %v", n, fr.ipCRC, fr.messages)
			}
		case malformed:
			if !reported(fr) || fr.sctpCRC != checksumGood || fr.udpCRC != checksumGood {
				t.Errorf("frame %d has a chunk length past the end, tshark says CRC %q UDP %q, expert %v", n, fr.sctpCRC, fr.udpCRC, fr.messages)
			}
		default:
			if reported(fr) {
				t.Errorf("frame %d is untouched, yet tshark reports %v", n, fr.messages)
			}
		}
	}
}

// fixUDPChecksum recomputes the UDP checksum of an IPv4 packet without
// options after its payload was changed (RFC 768).
func fixUDPChecksum(t *testing.T, pkt []byte) {
	t.Helper()
	udp := pkt[20:]
	udp[6], udp[7] = 0, 0
	pseudo := append(append([]byte{}, pkt[12:20]...), 0, 17, byte(len(udp)>>8), byte(len(udp)))
	sum := ^onesSum(uint32(onesSum(0, pseudo)), udp)
	if sum == 0 {
		sum = 0xffff
	}
	udp[6], udp[7] = byte(sum>>8), byte(sum)
	if onesSum(uint32(onesSum(0, pseudo)), udp) != 0xffff {
		t.Fatal("fixUDPChecksum: the new checksum does not verify")
	}
}
