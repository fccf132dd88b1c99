package wire_test

import (
	"bytes"
	"testing"

	"github.com/sctpgw/sctpgw/stack/wire"
)

// The hot path: a packet carrying one DATA chunk in, a SACK in, a DATA
// packet out. doc.go promises that steady-state parsing allocates nothing;
// TestHotPathAllocs holds the codec to that, the benchmarks show the cost.

var benchHeader = wire.CommonHeader{SrcPort: 36412, DstPort: 36412, VerificationTag: 0x05060708}

func benchData() *wire.Data {
	return &wire.Data{
		TSN: 1000, StreamID: 3, SSN: 7, PPID: 18, Beginning: true, Ending: true,
		Payload: bytes.Repeat([]byte{0x5a}, 1024),
	}
}

// benchSack has 4 gap blocks and 2 duplicate TSNs.
func benchSack() *wire.Sack {
	return &wire.Sack{
		CumTSNAck: 1000, ARwnd: 131072,
		GapBlocks: []wire.GapBlock{{2, 3}, {5, 9}, {12, 12}, {20, 31}},
		DupTSNs:   []uint32{998, 999},
	}
}

func BenchmarkParseData(b *testing.B) {
	pkt := wire.AppendPacket(nil, benchHeader, benchData())
	var p wire.Packet
	var d wire.Data
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Unmarshal(pkt); err != nil {
			b.Fatal(err)
		}
		if err := d.Unmarshal(p.Chunks[0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseSack(b *testing.B) {
	pkt := wire.AppendPacket(nil, benchHeader, benchSack())
	var p wire.Packet
	var s wire.Sack
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Unmarshal(pkt); err != nil {
			b.Fatal(err)
		}
		if err := s.Unmarshal(p.Chunks[0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSerializeData(b *testing.B) {
	d := benchData()
	buf := wire.AppendPacket(nil, benchHeader, d)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = wire.AppendPacket(buf[:0], benchHeader, d)
	}
}

func BenchmarkCRC32c1200(b *testing.B) {
	buf := bytes.Repeat([]byte{0xa5}, 1200)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	var sink uint32
	for b.Loop() {
		sink ^= wire.CRC32c(buf)
	}
	_ = sink
}

// Parsing DATA and SACK into values kept across packets, and encoding into a
// reused buffer, must not allocate once the reused slices have grown: that is
// what keeps the per-packet path free of garbage (doc.go).
func TestHotPathAllocs(t *testing.T) {
	dataPkt := wire.AppendPacket(nil, benchHeader, benchData())
	sackPkt := wire.AppendPacket(nil, benchHeader, benchSack())
	var p wire.Packet
	var d wire.Data
	var s wire.Sack
	parseData := func() {
		if err := p.Unmarshal(dataPkt); err != nil {
			t.Fatal(err)
		}
		if err := d.Unmarshal(p.Chunks[0]); err != nil {
			t.Fatal(err)
		}
	}
	parseSack := func() {
		if err := p.Unmarshal(sackPkt); err != nil {
			t.Fatal(err)
		}
		if err := s.Unmarshal(p.Chunks[0]); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 0, 2048)
	serialize := func() { buf = wire.AppendPacket(buf[:0], benchHeader, &d) }

	for _, tc := range []struct {
		name string
		f    func()
	}{{"DATA parse", parseData}, {"SACK parse", parseSack}, {"DATA serialize", serialize}} {
		tc.f() // warm up: the first call grows the reused slices
		if n := testing.AllocsPerRun(100, tc.f); n != 0 {
			t.Errorf("%s: %v allocations per packet, want 0", tc.name, n)
		}
	}
	// The values must be what was sent, or the loops above proved nothing.
	if want := benchData(); d.TSN != want.TSN || !bytes.Equal(d.Payload, want.Payload) {
		t.Errorf("parsed DATA %+v", d)
	}
	if want := benchSack(); len(s.GapBlocks) != 4 || len(s.DupTSNs) != 2 || s.GapBlocks[3] != want.GapBlocks[3] {
		t.Errorf("parsed SACK %+v", s)
	}
	if !bytes.Equal(buf, dataPkt) {
		t.Errorf("serialized DATA packet differs from the one parsed")
	}
}
