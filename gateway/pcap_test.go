package gateway

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/link/memlink"
)

// Native packets the stack sends without a source address (the kernel
// picks it) are written with the address the peer last sent to, or the one
// the routing table gives, not 0.0.0.0.
func TestPcapNativeSourceIsTheLocalAddress(t *testing.T) {
	gw, peer := netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.1.10")
	l, _ := memlink.Pair(link.Native, gw, peer)
	var buf bytes.Buffer
	tap, err := pcapTap(&buf, []link.Link{l}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	pkt := make([]byte, 28) // common header and an empty chunk: the tap does not parse
	lo := netip.MustParseAddr("127.0.0.1")
	tap(true, 0, link.Path{Local: gw, Remote: peer}, pkt)
	tap(false, 0, link.Path{Remote: peer}, pkt)
	tap(false, 0, link.Path{Remote: lo}, pkt)
	r, err := pcapgo.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]netip.Addr{{peer, gw}, {gw, peer}, {lo, lo}}
	for i, w := range want {
		data, _, err := r.ReadPacketData()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		src, _ := netip.AddrFromSlice(data[12:16])
		dst, _ := netip.AddrFromSlice(data[16:20])
		if src != w[0] || dst != w[1] {
			t.Errorf("packet %d: %s -> %s, want %s -> %s", i, src, dst, w[0], w[1])
		}
	}
}

// The table of learnt sources is bounded.
func TestPcapLearnedSourcesBounded(t *testing.T) {
	s := localSource{learned: map[learnKey]netip.Addr{}, route: func(netip.Addr) (netip.Addr, bool) { return netip.Addr{}, false }}
	local := netip.MustParseAddr("198.18.1.1")
	for i := 0; i < 3*maxLearned; i++ {
		s.learn(0, link.Path{Local: local, Remote: netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})})
		if len(s.learned) > maxLearned {
			t.Fatalf("%d entries", len(s.learned))
		}
	}
	if a := s.lookup(0, netip.MustParseAddr("2001:db8::1")); a != netip.IPv6Unspecified() {
		t.Fatalf("no route and never heard from: %s", a)
	}
}
