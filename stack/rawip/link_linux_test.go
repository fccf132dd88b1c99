//go:build linux

package rawip

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// TestExchange sends wire-built packets both ways between two namespaces,
// over IPv4 and IPv6: they arrive byte for byte with a valid CRC32c and the
// path they came on.
func TestExchange(t *testing.T) {
	lab := newLab(t)
	la := listenIn(t, lab.a, Config{Ports: []uint16{5001}})
	lb := listenIn(t, lab.b, Config{Ports: []uint16{5002}})
	watchdog(t, la, 20*time.Second)
	watchdog(t, lb, 20*time.Second)

	for _, c := range []struct {
		name     string
		from, to *Link
		src, dst uint16
		path     link.Path
	}{
		{"v4 a->b", la, lb, 5001, 5002, link.Path{Local: addrA, Remote: addrB}},
		{"v4 b->a", lb, la, 5002, 5001, link.Path{Local: addrB, Remote: addrA}},
		{"v6 a->b", la, lb, 5001, 5002, link.Path{Local: addrA6, Remote: addrB6}},
		{"v6 b->a", lb, la, 5002, 5001, link.Path{Local: addrB6, Remote: addrA6}},
		// No local address: the kernel's route picks the source.
		{"v4 a->b unset local", la, lb, 5001, 5002, link.Path{Remote: addrB}},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := dataPacket(c.src, c.dst, 0xabcdef01, 7, []byte(c.name))
			before := time.Now().UnixNano()
			send(t, c.from, c.path, want)
			got := readOne(t, c.to)
			after := time.Now().UnixNano()
			// The kernel's receive time lies between the send and the read.
			if got.Arrived < before || got.Arrived > after {
				t.Errorf("Arrived %d, want between %d and %d", got.Arrived, before, after)
			}
			if !bytes.Equal(got.Buf, want) {
				t.Fatalf("received\n%x\nwant\n%x", got.Buf, want)
			}
			if !wire.VerifyChecksum(got.Buf) {
				t.Fatalf("received packet has a bad CRC32c")
			}
			local := c.path.Local
			if !local.IsValid() {
				local = addrA
			}
			wantPath := link.Path{Local: c.path.Remote, Remote: local}
			if got.Path != wantPath || got.Notice != link.NoticeNone {
				t.Fatalf("path %v notice %v, want %v", got.Path, got.Notice, wantPath)
			}
		})
	}
	if st := la.Stats(); st.Received != 2 || st.Sent != 3 || st.ChecksumErrors != 0 {
		t.Errorf("A stats %+v", st)
	}
}

// TestChecksumAndOptions: a packet with a corrupted CRC32c is counted and not
// delivered, and an IPv4 header with options (IHL > 5) is handled by both
// the kernel filter and the user-space parser.
func TestChecksumAndOptions(t *testing.T) {
	lab := newLab(t)
	la := listenIn(t, lab.a, Config{Ports: []uint16{5001}})
	lb := listenIn(t, lab.b, Config{Ports: []uint16{5002}})
	watchdog(t, lb, 20*time.Second)
	path := link.Path{Local: addrA, Remote: addrB}

	bad := dataPacket(5001, 5002, 1, 1, []byte("corrupted"))
	bad[8] ^= 0xff
	good := dataPacket(5001, 5002, 1, 2, []byte("good"))
	send(t, la, path, bad, good)
	if got := readOne(t, lb); !bytes.Equal(got.Buf, good) {
		t.Fatalf("first delivered packet is %x, want the good one", got.Buf)
	}
	if st := lb.Stats(); st.ChecksumErrors != 1 || st.Received != 1 {
		t.Fatalf("B stats %+v, want 1 checksum error, 1 received", st)
	}

	// Four option bytes: three NOPs and an end-of-options (RFC 791).
	la.mu.RLock()
	err := unix.SetsockoptString(la.v4.fd, unix.IPPROTO_IP, unix.IP_OPTIONS, "\x01\x01\x01\x00")
	la.mu.RUnlock()
	if err != nil {
		t.Fatalf("IP_OPTIONS: %v", err)
	}
	opt := dataPacket(5001, 5002, 1, 3, []byte("with IP options"))
	send(t, la, path, opt)
	if got := readOne(t, lb); !bytes.Equal(got.Buf, opt) || got.Path.Remote != addrA {
		t.Fatalf("packet after IP options: %x on %v, want %x", got.Buf, got.Path, opt)
	}
}

// TestBatches: under load ReadBatch returns more than one packet per call
// and WriteBatch sends more than a batch's worth in one call.
func TestBatches(t *testing.T) {
	lab := newLab(t)
	la := listenIn(t, lab.a, Config{Ports: []uint16{5001}, Batch: 16})
	lb := listenIn(t, lab.b, Config{Ports: []uint16{5002}, RecvBuffer: 1 << 20})
	watchdog(t, lb, 20*time.Second)
	const total = 100
	var bufs [][]byte
	for i := range total {
		bufs = append(bufs, dataPacket(5001, 5002, 9, uint32(i), fmt.Appendf(nil, "packet %d", i)))
	}
	send(t, la, link.Path{Local: addrA, Remote: addrB}, bufs...)
	pkts := newBufs(32)
	got, maxBatch := 0, 0
	for calls := 0; got < total && calls < total; calls++ {
		n, err := lb.ReadBatch(pkts)
		if err != nil {
			t.Fatalf("ReadBatch after %d packets: %v", got, err)
		}
		for i := range n {
			if !bytes.Equal(pkts[i].Buf, bufs[got+i]) {
				t.Fatalf("packet %d: %x, want %x", got+i, pkts[i].Buf, bufs[got+i])
			}
		}
		got += n
		maxBatch = max(maxBatch, n)
	}
	if got != total || maxBatch < 2 {
		t.Fatalf("received %d of %d packets, largest batch %d", got, total, maxBatch)
	}
	t.Logf("largest batch: %d packets", maxBatch)
}

// TestClose: Close unblocks a waiting ReadBatch with link.ErrClosed, and
// later calls fail the same way.
func TestClose(t *testing.T) {
	lab := newLab(t)
	l := listenIn(t, lab.a, Config{Ports: []uint16{5001}})
	done := make(chan error, 1)
	go func() {
		_, err := l.ReadBatch(newBufs(4))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if err != link.ErrClosed {
			t.Fatalf("ReadBatch after Close: %v, want link.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock ReadBatch")
	}
	if _, err := l.WriteBatch([]link.Packet{{Path: link.Path{Remote: addrB}, Buf: []byte{1}}}); err != link.ErrClosed {
		t.Fatalf("WriteBatch after Close: %v", err)
	}
	if err := l.AddPort(7); err != link.ErrClosed {
		t.Fatalf("AddPort after Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestLocalAddrs: with no configured addresses the link lists the addresses
// of its own namespace, whatever thread asks; with configured ones, those.
func TestLocalAddrs(t *testing.T) {
	lab := newLab(t)
	la := listenIn(t, lab.a, Config{Ports: []uint16{5001}})
	got := la.LocalAddrs()
	for _, want := range []string{"198.18.0.1", "2001:2::1", "127.0.0.1"} {
		if !slices.ContainsFunc(got, func(a netip.Addr) bool { return a.String() == want }) {
			t.Errorf("LocalAddrs %v lacks %s", got, want)
		}
	}
	lb := listenIn(t, lab.b, Config{Addrs: []netip.Addr{addrB}, Ports: []uint16{5002}})
	if got := lb.LocalAddrs(); !slices.Equal(got, []netip.Addr{addrB}) {
		t.Errorf("LocalAddrs %v, want [%v]", got, addrB)
	}
	if lb.v6 != nil {
		t.Errorf("an IPv4-only configuration opened an IPv6 socket")
	}
	if la.Overhead(addrB) != 20 || la.Overhead(addrB6) != 40 || la.Kind() != link.Native {
		t.Errorf("Overhead/Kind wrong")
	}
}

// TestBuffersBeyondSystemMax: RecvBuffer and SendBuffer larger than
// net.core.rmem_max / wmem_max are granted in full (SO_RCVBUFFORCE), as
// the gateway's 4 MiB native buffers need on a host with the default
// 208 KiB limits: a capped receive buffer drops a sender's burst while the
// reader waits for a CPU.
func TestBuffersBeyondSystemMax(t *testing.T) {
	lab := newLab(t)
	var size int
	for _, f := range []string{"/proc/sys/net/core/rmem_max", "/proc/sys/net/core/wmem_max"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		size = max(size, 2*v)
	}
	l := listenIn(t, lab.a, Config{Ports: []uint16{5001}, RecvBuffer: size, SendBuffer: size})
	for _, o := range []struct {
		opt  int
		name string
	}{{unix.SO_RCVBUF, "SO_RCVBUF"}, {unix.SO_SNDBUF, "SO_SNDBUF"}} {
		got, err := unix.GetsockoptInt(l.v4.fd, unix.SOL_SOCKET, o.opt)
		if err != nil {
			t.Fatal(err)
		}
		// Linux reports twice the size granted.
		if got < 2*size {
			t.Errorf("%s: %d granted, want %d (twice the system maximum)", o.name, got/2, size)
		}
	}
}
