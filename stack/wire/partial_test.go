package wire_test

import (
	"errors"
	"testing"

	"github.com/sctpgw/sctpgw/stack/wire"
)

// RFC 9260 6.10: a partial chunk is dropped, the chunks before it are
// processed. A bad chunk framing leaves the whole chunks before it in
// Packet.Chunks; a bad header or checksum leaves none, not even those of an
// earlier packet parsed into the same Packet.
func TestPacketPartialChunkKeepsLeadingChunks(t *testing.T) {
	hb := &wire.Heartbeat{Info: []byte("info")}
	good := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: 1, DstPort: 2, VerificationTag: 3}, hb, hb)
	var p wire.Packet
	if err := p.Unmarshal(good); err != nil || len(p.Chunks) != 2 {
		t.Fatalf("good packet: %v, %d chunks", err, len(p.Chunks))
	}
	cases := []struct {
		name   string
		tail   []byte // appended after the two HEARTBEATs
		chunks int
		is     error
	}{
		{"length past the end", []byte{0xFA, 0, 0x01, 0x00, 1, 2, 3, 4}, 2, wire.ErrBadLength},
		{"length below the header", []byte{0xFA, 0, 0, 2}, 2, wire.ErrBadLength},
		{"trailing bytes", []byte{0xFA, 0}, 2, wire.ErrTruncated},
	}
	for _, c := range cases {
		b := append(append([]byte(nil), good...), c.tail...)
		wire.SetChecksum(b)
		err := p.Unmarshal(b)
		if !errors.Is(err, c.is) || len(p.Chunks) != c.chunks {
			t.Errorf("%s: %v with %d chunks, want %v with %d", c.name, err, len(p.Chunks), c.is, c.chunks)
		}
		for _, rc := range p.Chunks {
			if rc.Type != wire.TypeHeartbeat {
				t.Errorf("%s: kept a %v", c.name, rc.Type)
			}
		}
	}
	// Errors before any chunk leave Chunks empty.
	if err := p.Unmarshal(good); err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), good...)
	bad[8] ^= 1
	if err := p.Unmarshal(bad); !errors.Is(err, wire.ErrChecksum) || len(p.Chunks) != 0 {
		t.Errorf("bad checksum: %v with %d chunks", err, len(p.Chunks))
	}
	if err := p.Unmarshal(good); err != nil {
		t.Fatal(err)
	}
	if err := p.UnmarshalUnverified(good[:8]); err == nil || len(p.Chunks) != 0 {
		t.Errorf("short header: %v with %d chunks", err, len(p.Chunks))
	}
}
