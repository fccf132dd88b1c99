//go:build linux

package udpencap

import (
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack/link"
)

// groPair is a GSO sender and two GRO receivers on loopback.
func groPair(t *testing.T) (a, b, c *Link) {
	t.Helper()
	ca := ephemeral("127.0.0.1")
	ca.GSO = true
	a = listenT(t, ca)
	cfg := ephemeral("127.0.0.1")
	cfg.GRO = true
	b, c = listenT(t, cfg), listenT(t, cfg)
	if !a.io.(*batchIO).gso.Load() || !b.io.(*batchIO).gro {
		testlab.Missing(t, "the kernel refused UDP_SEGMENT or UDP_GRO (Linux 4.18 and 5.0 have them)")
	}
	return a, b, c
}

// TestLoopbackGRO: super-datagrams reach GRO receivers whole and come out
// of ReadBatch as the packets they were, intact and in order, runs cut
// where they were cut; a run longer than the reader's batch (16) waits in
// the link for the next call.
func TestLoopbackGRO(t *testing.T) {
	a, b, c := groPair(t)
	sendMixed(t, a, []*Link{b, c}, []link.Path{{Remote: lo4, RemotePort: b.LocalPort()}, {Remote: lo4, RemotePort: c.LocalPort()}})
	if st := b.Stats(); st.RxGRO == 0 {
		t.Fatalf("receiver stats %+v: nothing arrived coalesced", st)
	}
	t.Logf("receiver: %d packets, %d of them in coalesced datagrams", b.Stats().RxPackets, b.Stats().RxGRO)
}

// TestGROOneSlot: a reader taking one packet per call gets every packet of
// a coalesced datagram in order, then what followed it, each with the
// kernel's receive time of its datagram, the carried ones too.
func TestGROOneSlot(t *testing.T) {
	a, b, _ := groPair(t)
	to := link.Path{Remote: lo4, RemotePort: b.LocalPort()}
	var out []link.Packet
	for i := range 30 {
		size := 600
		if i >= 25 {
			size = 300 // a second run, of smaller packets
		}
		out = append(out, link.Packet{Path: to, Buf: dataPacket(nil, a.LocalPort(), 5000, uint32(i), size)})
	}
	before := time.Now().UnixNano()
	writeAll(t, a, out)
	time.Sleep(50 * time.Millisecond) // all queued: coalesced on arrival
	after := time.Now().UnixNano()
	in := buffers(1)
	for i := range out {
		// A time left in the slot must not pass for the packet's own.
		in[0].Buf, in[0].Arrived = in[0].Buf[:cap(in[0].Buf)], -1
		n, err := b.ReadBatch(in)
		if err != nil || n != 1 {
			t.Fatalf("read %d: %d, %v", i, n, err)
		}
		size := 600
		if i >= 25 {
			size = 300
		}
		if got, err := checkData(in[0].Buf, a.LocalPort(), 5000, size); err != nil || got != uint32(i) {
			t.Fatalf("read %d: packet %d (%v)", i, got, err)
		}
		if in[0].Path.Remote != lo4 || in[0].Path.RemotePort != a.LocalPort() {
			t.Fatalf("read %d: path %v", i, in[0].Path)
		}
		if at := in[0].Arrived; at < before || at > after {
			t.Fatalf("read %d: arrived %d, want between %d and %d", i, at, before, after)
		}
	}
	if st := b.Stats(); st.RxGRO < 20 || st.RxPackets != uint64(len(out)) {
		t.Fatalf("receiver stats %+v: want the runs coalesced", st)
	}
}
