//go:build linux

package rawip

import (
	"bytes"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// zeroCRC is what a kernel SCTP sends through a device with SCTP checksum
// offload (a veth): the CRC32c field left at zero.
func zeroCRC(pkt []byte) []byte {
	pkt[8], pkt[9], pkt[10], pkt[11] = 0, 0, 0, 0
	return pkt
}

// TestZeroChecksumFromLocalInterfaces: a CRC32c of zero arriving on a veth
// is taken as left to an offload that never happened (IPv4 and IPv6), while
// a wrong non-zero CRC32c still drops the packet, and so does a zero one
// arriving through a tunnel (vxlan over the same veth), which carries
// packets from other hosts.
func TestZeroChecksumFromLocalInterfaces(t *testing.T) {
	lab := newLab(t)
	la := listenIn(t, lab.a, Config{Ports: []uint16{5001}})
	lb := listenIn(t, lab.b, Config{Ports: []uint16{5002}})
	watchdog(t, lb, 20*time.Second)
	for _, p := range []link.Path{{Local: addrA, Remote: addrB}, {Local: addrA6, Remote: addrB6}} {
		zero := zeroCRC(dataPacket(5001, 5002, 1, 1, []byte("offloaded")))
		wrong := dataPacket(5001, 5002, 1, 2, []byte("corrupted"))
		wrong[9] ^= 0x5a
		marker := dataPacket(5001, 5002, 1, 3, []byte("marker"))
		send(t, la, p, zero, wrong, marker)
		if got := readOne(t, lb); !bytes.Equal(got.Buf, zero) {
			t.Fatalf("%v: first delivered %x, want the zero-CRC packet", p.Remote, got.Buf)
		}
		if got := readOne(t, lb); !bytes.Equal(got.Buf, marker) {
			t.Fatalf("%v: second delivered %x, want the marker (the wrong CRC dropped)", p.Remote, got.Buf)
		}
	}
	if st := lb.Stats(); st.UncheckedLocal != 2 || st.ChecksumErrors != 2 || st.Received != 4 {
		t.Fatalf("B stats %+v, want 2 unchecked local, 2 checksum errors, 4 received", st)
	}

	// vxlan id 42 between the namespaces, over the veth: 198.18.9.0/24.
	for _, c := range []struct{ ns, local, remote, addr string }{
		{lab.a, "198.18.0.1", "198.18.0.2", "198.18.9.1/24"},
		{lab.b, "198.18.0.2", "198.18.0.1", "198.18.9.2/24"},
	} {
		out, err := exec.Command("ip", "-n", c.ns, "link", "add", "vx0", "type", "vxlan", "id", "42",
			"local", c.local, "remote", c.remote, "dstport", "4789", "dev", nsDev(c.ns, lab)).CombinedOutput()
		if err != nil {
			testlab.Missing(t, "vxlan is needed for the tunnel half (%v: %s); the veth half passed", err, out)
		}
		testlab.Cmd(t, true, "ip", "-n", c.ns, "addr", "add", c.addr, "dev", "vx0")
		testlab.Cmd(t, true, "ip", "-n", c.ns, "link", "set", "vx0", "up")
	}
	tunnel := link.Path{Local: netip.MustParseAddr("198.18.9.1"), Remote: netip.MustParseAddr("198.18.9.2")}
	zero := zeroCRC(dataPacket(5001, 5002, 1, 4, []byte("zero from afar")))
	marker := dataPacket(5001, 5002, 1, 5, []byte("tunnel marker"))
	send(t, la, tunnel, zero, marker)
	if got := readOne(t, lb); !bytes.Equal(got.Buf, marker) {
		t.Fatalf("through vxlan: delivered %x, want the marker (a zero CRC from a tunnel dropped)", got.Buf)
	}
	if st := lb.Stats(); st.UncheckedLocal != 2 || st.ChecksumErrors != 3 {
		t.Fatalf("B stats %+v after the tunnel, want 2 unchecked local, 3 checksum errors", st)
	}
}

// TestZeroChecksumInitAnswered: the whole stack over the link answers an
// INIT such as a kernel SCTP client in a container sends through a veth
// (CRC32c zero) with its INIT ACK: the engine trusts the link's check
// (link.ChecksumVerifier) instead of discarding the packet again.
func TestZeroChecksumInitAnswered(t *testing.T) {
	lab := newLab(t)
	la := listenIn(t, lab.a, Config{Ports: []uint16{40000}})
	lb := listenIn(t, lab.b, Config{Ports: []uint16{36412}})
	watchdog(t, la, 20*time.Second)
	st, err := stack.New(stack.Config{Links: []link.Link{lb}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close("")
	if _, err := st.Listen(36412, stack.Options{}); err != nil {
		t.Fatal(err)
	}
	send(t, la, link.Path{Local: addrA, Remote: addrB}, zeroCRC(initPacket(40000, 36412, 0x1234abcd)))
	got := readOne(t, la)
	var pkt wire.Packet
	if err := pkt.Unmarshal(got.Buf); err != nil || len(pkt.Chunks) != 1 || pkt.Chunks[0].Type != wire.TypeInitAck ||
		pkt.VerificationTag != 0x1234abcd {
		t.Fatalf("answer %x (%v), want an INIT ACK with our tag", got.Buf, err)
	}
}

func nsDev(ns string, l *lab) string {
	if ns == l.a {
		return "va"
	}
	return "vb"
}
