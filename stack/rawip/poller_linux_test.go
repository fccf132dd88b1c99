//go:build linux

package rawip

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/stack/link"
)

// A link serving one address family has one socket, read through Go's
// network poller (read_poller_linux.go); these tests run that path, which
// the two-family tests elsewhere do not.

func listenOne(t *testing.T, ns string, addr netipAddr, port uint16) *Link {
	t.Helper()
	l := listenIn(t, ns, Config{Addrs: []netipAddr{addr}, Ports: []uint16{port}, Batch: 16})
	if len(l.socks) != 1 || l.socks[0].rc == nil {
		t.Fatalf("a one-address link has %d sockets, poller %v", len(l.socks), len(l.socks) == 1 && l.socks[0].rc != nil)
	}
	watchdog(t, l, 30*time.Second)
	return l
}

// TestPollerZeroAllocs: packets both ways between two one-socket links,
// read in the poller, cost no allocation.
func TestPollerZeroAllocs(t *testing.T) {
	lab := newLab(t)
	la, lb := listenOne(t, lab.a, addrA, 5001), listenOne(t, lab.b, addrB, 5002)
	const k = 8
	out, back := make([]link.Packet, k), make([]link.Packet, k)
	for i := range out {
		out[i] = link.Packet{Path: link.Path{Local: addrA, Remote: addrB}, Buf: dataPacket(5001, 5002, 7, uint32(i), make([]byte, 100))}
		back[i] = link.Packet{Path: link.Path{Local: addrB, Remote: addrA}, Buf: dataPacket(5002, 5001, 8, uint32(i), make([]byte, 100))}
	}
	inA, inB := newBufs(k), newBufs(k)
	readAll := func(l *Link, pkts []link.Packet) {
		for got := 0; got < len(pkts); {
			n, err := l.ReadBatch(pkts[got:])
			if err != nil {
				t.Fatalf("ReadBatch after %d of %d: %v", got, len(pkts), err)
			}
			got += n
		}
	}
	round := func() {
		if n, err := la.WriteBatch(out); err != nil || n != k {
			t.Fatalf("WriteBatch: %d, %v", n, err)
		}
		readAll(lb, inB)
		if n, err := lb.WriteBatch(back); err != nil || n != k {
			t.Fatalf("WriteBatch: %d, %v", n, err)
		}
		readAll(la, inA)
	}
	for range 10 {
		round()
	}
	if allocs := testing.AllocsPerRun(200, round); allocs != 0 {
		t.Errorf("%.2f allocations per round of %d packets each way, want 0", allocs, k)
	}
}

// TestPollerCloseUnblocks: Close wakes a reader parked in the poller, which
// returns link.ErrClosed.
func TestPollerCloseUnblocks(t *testing.T) {
	lab := newLab(t)
	la := listenOne(t, lab.a, addrA, 5001)
	done := make(chan error, 1)
	go func() {
		_, err := la.ReadBatch(newBufs(4))
		done <- err
	}()
	time.Sleep(100 * time.Millisecond) // let it park
	la.Close()
	select {
	case err := <-done:
		if !errors.Is(err, link.ErrClosed) {
			t.Fatalf("ReadBatch after Close: %v, want link.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake the reader parked in the poller")
	}
}

// TestPollerLocalMessageTooBig: with the reader already parked, a packet
// over the MTU fails in WriteBatch with EMSGSIZE and the parked reader
// wakes with the NoticeFragNeeded: the kernel's local error raises no
// readable event the reader could not have slept through.
func TestPollerLocalMessageTooBig(t *testing.T) {
	lab := newLab(t)
	la := listenOne(t, lab.a, addrA, 5001)
	got := make(chan link.Packet, 1)
	go func() {
		pkts := newBufs(4)
		if n, err := la.ReadBatch(pkts); err == nil && n > 0 {
			got <- pkts[0]
		}
		close(got)
	}()
	path := link.Path{Local: addrA, Remote: addrB}
	time.Sleep(100 * time.Millisecond) // the reader parks
	n, err := la.WriteBatch([]link.Packet{{Path: path, Buf: dataPacket(5001, 5002, 1, 1, make([]byte, 2000))}})
	if n != 0 || !errors.Is(err, unix.EMSGSIZE) {
		t.Fatalf("WriteBatch of 2000 bytes: %d, %v; want EMSGSIZE", n, err)
	}
	select {
	case p, ok := <-got:
		if !ok || p.Notice != link.NoticeFragNeeded || p.MTU != 1500 || p.Path.Remote != addrB {
			t.Fatalf("got %+v (%v), want NoticeFragNeeded 1500 about %v", p, ok, addrB)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the parked reader never delivered the NoticeFragNeeded")
	}
}
