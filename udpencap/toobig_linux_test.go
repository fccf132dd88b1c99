//go:build linux

package udpencap

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/sctpgw/sctpgw/stack/link"
)

// TestTooBigPairing: a local MTU error read before its packet was handed
// over waits, and is delivered once the packet arrives; pairing is by
// remote address, oldest first, and both backlogs are bounded.
func TestTooBigPairing(t *testing.T) {
	var b batchIO
	r1, r2 := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("2001:2::1")
	pkts := buffers(4)
	if n := b.pairOrphans(pkts); n != 0 {
		t.Fatalf("nothing pending, %d notices", n)
	}
	b.rx.orphans.add(r1, 1400)
	if n := b.pairOrphans(pkts); n != 0 {
		t.Fatalf("no packet yet, %d notices", n)
	}
	p1 := link.Path{Remote: r1, RemotePort: 9899}
	pkt := bytes.Repeat([]byte{7}, 100)
	b.tooBig.push(link.Path{Remote: r2, RemotePort: 1}, pkt)
	b.tooBig.push(p1, pkt)
	if n := b.pairOrphans(pkts); n != 1 {
		t.Fatalf("%d notices, want 1", n)
	}
	if got := pkts[0]; got.Notice != link.NoticeFragNeeded || got.MTU != 1400 || got.Path != p1 || !bytes.Equal(got.Buf, pkt[:tooBigQuote]) {
		t.Fatalf("notice %+v", got)
	}
	if b.rx.orphans.n != 0 || b.tooBig.n != 1 {
		t.Fatalf("left %d orphans, %d packets; want 0, 1", b.rx.orphans.n, b.tooBig.n)
	}
	for i := range 2 * tooBigDepth {
		b.tooBig.push(p1, []byte{byte(i)})
		b.rx.orphans.add(r2, i)
	}
	if b.tooBig.n != tooBigDepth || b.rx.orphans.n != tooBigDepth {
		t.Fatalf("backlogs %d, %d exceed %d", b.tooBig.n, b.rx.orphans.n, tooBigDepth)
	}
	if e, _ := b.tooBig.take(r1); e.quote[0] != tooBigDepth {
		t.Fatalf("oldest kept entry %d, want %d", e.quote[0], tooBigDepth)
	}
}
