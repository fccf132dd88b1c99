package gateway_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/link/memlink"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// Issue 12: `sctpgw status` shows what the engine discarded of malformed
// input (MalformedPackets was counted and never shown), and the log names
// the source.
func TestStatusShowsDiscards(t *testing.T) {
	var logs syncBuffer
	enbLink, gwLink := memlink.Pair(link.Native, enbAddr, edgeNative)
	g := startGateway(t, `routes:
  - name: s1ap
    listen: sctp://198.18.1.1:36412
    forward: sctp://198.18.2.10:36412
`, gateway.Options{Native: gwLink, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	hdr := wire.CommonHeader{SrcPort: 5000, DstPort: 36412, VerificationTag: 9}
	hb := &wire.Heartbeat{Info: []byte("x")}
	partial := append(wire.AppendPacket(nil, hdr, hb), 0xFA, 0, 0x10, 0)
	wire.SetChecksum(partial)
	badCRC := wire.AppendPacket(nil, hdr, hb)
	badCRC[8] ^= 0xFF
	noChunk := wire.AppendPacket(nil, hdr)
	bundled := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: 5000, DstPort: 36412}, hb,
		&wire.Init{InitFields: wire.InitFields{InitiateTag: 1, ARwnd: 1500, OutStreams: 1, InStreams: 1}})
	from := link.Path{Local: enbAddr, Remote: edgeNative}
	var pkts []link.Packet
	for _, b := range [][]byte{partial, badCRC, badCRC, noChunk, bundled} {
		pkts = append(pkts, link.Packet{Path: from, Buf: b})
	}
	if _, err := enbLink.WriteBatch(pkts); err != nil {
		t.Fatal(err)
	}
	want := gateway.DiscardStatus{ChecksumErrors: 2, Malformed: 1, PartialChunks: 1, BundledInit: 1}
	var s gateway.Snapshot
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if s = g.Snapshot(); s.Discards.ChecksumErrors+s.Discards.Malformed+s.Discards.PartialChunks+s.Discards.BundledInit == 5 {
			break
		}
	}
	d := s.Discards
	d.OutOfTheBlue = 0 // the partial packet's HEARTBEAT is out of the blue too
	if d != want {
		t.Fatalf("discards %+v, want %+v", s.Discards, want)
	}
	text := gateway.FormatSnapshot(s)
	if !strings.Contains(text, "discarded: bad checksum 2, malformed 1, partial chunk 1, bundled INIT 1, wrong tag 0,") {
		t.Fatalf("status text has no discard line:\n%s", text)
	}
	if !strings.Contains(logs.String(), "discarded partial chunk from "+enbAddr.String()) {
		t.Fatalf("the log does not name the partial chunk's source:\n%s", logs.String())
	}
}
