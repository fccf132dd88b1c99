//go:build linux

package rawip

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/stack/link"
)

// Every link is read through Go's network poller (read_poller_linux.go):
// a link serving one address family hands it its socket, a link with an
// IPv4 and an IPv6 socket its poll set. These tests run both.

func listenOne(t *testing.T, ns string, addr netipAddr, port uint16) *Link {
	t.Helper()
	l := listenIn(t, ns, Config{Addrs: []netipAddr{addr}, Ports: []uint16{port}, Batch: 16})
	if len(l.socks) != 1 || l.socks[0].rc == nil || l.set != nil {
		t.Fatalf("a one-address link has %d sockets, poller %v", len(l.socks), len(l.socks) == 1 && l.socks[0].rc != nil)
	}
	watchdog(t, l, 30*time.Second)
	return l
}

// listenBoth opens a link serving both families: two sockets in a poll
// set.
func listenBoth(t *testing.T, ns string, _ netipAddr, port uint16) *Link {
	t.Helper()
	l := listenIn(t, ns, Config{Ports: []uint16{port}, Batch: 16})
	if len(l.socks) != 2 || l.set == nil {
		t.Fatalf("a link of both families has %d sockets, poll set %v", len(l.socks), l.set != nil)
	}
	watchdog(t, l, 30*time.Second)
	return l
}

// pollerKinds runs f for a one-socket link and a link with a poll set.
func pollerKinds(t *testing.T, f func(t *testing.T, open func(*testing.T, string, netipAddr, uint16) *Link)) {
	t.Run("one-socket", func(t *testing.T) { f(t, listenOne) })
	t.Run("poll-set", func(t *testing.T) { f(t, listenBoth) })
}

// TestPollerZeroAllocs: packets both ways between two one-socket links,
// read in the poller, cost no allocation.
func TestPollerZeroAllocs(t *testing.T) { pollerKinds(t, testPollerZeroAllocs) }

func testPollerZeroAllocs(t *testing.T, open func(*testing.T, string, netipAddr, uint16) *Link) {
	lab := newLab(t)
	la, lb := open(t, lab.a, addrA, 5001), open(t, lab.b, addrB, 5002)
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
func TestPollerCloseUnblocks(t *testing.T) { pollerKinds(t, testPollerCloseUnblocks) }

func testPollerCloseUnblocks(t *testing.T, open func(*testing.T, string, netipAddr, uint16) *Link) {
	lab := newLab(t)
	la := open(t, lab.a, addrA, 5001)
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
func TestPollerLocalMessageTooBig(t *testing.T) { pollerKinds(t, testPollerLocalMessageTooBig) }

func testPollerLocalMessageTooBig(t *testing.T, open func(*testing.T, string, netipAddr, uint16) *Link) {
	lab := newLab(t)
	la := open(t, lab.a, addrA, 5001)
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

// TestPollSetWakesForEitherFamily: a reader of a link with both families
// parks in Go's network poller ("IO wait"), not in a system call of its
// own, and a packet on either socket wakes it.
func TestPollSetWakesForEitherFamily(t *testing.T) {
	lab := newLab(t)
	la, lb := listenBoth(t, lab.a, addrA, 5001), listenBoth(t, lab.b, addrB, 5002)
	for _, c := range []struct {
		name string
		path link.Path
	}{
		{"IPv6", link.Path{Local: addrA6, Remote: addrB6}},
		{"IPv4", link.Path{Local: addrA, Remote: addrB}},
		{"IPv6 again", link.Path{Local: addrA6, Remote: addrB6}},
	} {
		type read struct {
			p   link.Packet
			n   int
			err error
		}
		got := make(chan read, 1)
		go func() {
			// Not readOne: Fatal belongs to the test's goroutine.
			pkts := newBufs(1)
			n, err := lb.ReadBatch(pkts)
			got <- read{pkts[0], n, err}
		}()
		waitParked(t, "ReadBatch")
		want := dataPacket(5001, 5002, 5, 1, []byte(c.name))
		send(t, la, c.path, want)
		select {
		case r := <-got:
			p := r.p
			if r.n != 1 || r.err != nil {
				t.Fatalf("%s: ReadBatch: %d, %v", c.name, r.n, r.err)
			}
			if !bytes.Equal(p.Buf, want) || p.Path.Remote != c.path.Local {
				t.Fatalf("%s: got %x from %v, want %x from %v", c.name, p.Buf, p.Path.Remote, want, c.path.Local)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the parked reader did not wake", c.name)
		}
	}
}

// waitParked waits until a goroutine whose stack holds fn is parked in the
// network poller (state "IO wait"); it fails if one is found blocked in a
// poll system call of its own instead (ppoll, what the reader did before
// it used the poller), or none parks within 5 s. On its way to parking
// the reader passes through short system calls (recvmmsg, epoll_wait
// with no timeout), which a snapshot may catch: those are not failures.
func waitParked(t *testing.T, fn string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if !strings.Contains(g, "rawip.(*Link)."+fn) {
				continue
			}
			head, _, _ := strings.Cut(g, "\n")
			if strings.Contains(head, "[syscall") && (strings.Contains(g, "unix.Ppoll") || strings.Contains(g, "unix.Poll(")) {
				t.Fatalf("the reader waits in a poll system call of its own: %s", g)
			}
			if strings.Contains(head, "[IO wait") {
				return
			}
		}
	}
	t.Fatalf("no reader parked in the network poller in %s within 5 s", fn)
}
