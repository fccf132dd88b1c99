//go:build linux

package rawip

import (
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/link"
)

// TestZeroAllocs: in steady state the raw receive and send paths allocate
// nothing per packet (issue 6: "no allocation per packet"). A round is one
// batch from A to B over IPv4 and IPv6 at once, read by B (recvmmsg on
// both sockets, the IPv4 header scattered aside, IPV6_PKTINFO parsed, the
// filter and the CRC32c), and the replies sent back on the paths B
// received them on (sendmmsg with a pktinfo source), read by A.
//
// The count holds under the race detector too (its shadow memory is not Go
// heap), so the test asserts it in `make test`'s -race run as well.
func TestZeroAllocs(t *testing.T) {
	lab := newLab(t)
	la := listenIn(t, lab.a, Config{Ports: []uint16{5001}, Batch: 16})
	lb := listenIn(t, lab.b, Config{Ports: []uint16{5002}, Batch: 16})
	watchdog(t, la, 60*time.Second)
	watchdog(t, lb, 60*time.Second)
	const k = 8 // per family
	out := make([]link.Packet, 2*k)
	replies := make([][]byte, 2*k)
	for i := range out {
		p := link.Path{Local: addrA, Remote: addrB}
		if i >= k {
			p = link.Path{Local: addrA6, Remote: addrB6}
		}
		out[i] = link.Packet{Path: p, Buf: dataPacket(5001, 5002, 7, uint32(i), make([]byte, 100))}
		replies[i] = dataPacket(5002, 5001, 8, uint32(i), make([]byte, 100))
	}
	inA, inB := newBufs(2*k), newBufs(2*k)
	back := make([]link.Packet, 2*k)
	readAll := func(l *Link, pkts []link.Packet) {
		for got := 0; got < len(pkts); {
			n, err := l.ReadBatch(pkts[got:])
			if err != nil {
				t.Fatalf("ReadBatch after %d of %d: %v", got, len(pkts), err)
			}
			got += n
		}
	}
	write := func(l *Link, pkts []link.Packet) {
		if n, err := l.WriteBatch(pkts); err != nil || n != len(pkts) {
			t.Fatalf("WriteBatch: %d of %d: %v", n, len(pkts), err)
		}
	}
	round := func() {
		write(la, out)
		readAll(lb, inB)
		for i := range back {
			back[i] = link.Packet{Path: inB[i].Path, Buf: replies[i]}
		}
		write(lb, back)
		readAll(la, inA)
	}
	for range 10 {
		round()
	}
	v4, v6 := 0, 0
	for _, p := range inA {
		switch p.Path.Remote {
		case addrB:
			v4++
		case addrB6:
			v6++
		}
	}
	if v4 != k || v6 != k {
		t.Fatalf("A got %d packets from %v and %d from %v, want %d each", v4, addrB, v6, addrB6, k)
	}
	allocs := testing.AllocsPerRun(200, round)
	t.Logf("%.2f allocations per round of %d packets each way", allocs, 2*k)
	if allocs != 0 {
		t.Errorf("%.2f allocations per round of %d packets each way, want 0", allocs, 2*k)
	}
	if st := lb.Stats(); st.Filtered != 0 || st.ChecksumErrors != 0 {
		t.Errorf("B stats %+v: the rounds were not all clean", st)
	}
}
