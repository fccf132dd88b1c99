package udpencap

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

var (
	lo4  = netip.MustParseAddr("127.0.0.1")
	lo4b = netip.MustParseAddr("127.0.0.2") // also local: Linux routes 127/8 to lo
	lo6  = netip.MustParseAddr("::1")
)

// TestLoopbackBulk moves many packets both ways at once between a link on
// 127.0.0.1 and a dual-stack wildcard link: every packet arrives once,
// intact, with the right Path, and recvmmsg/sendmmsg really batch.
func TestLoopbackBulk(t *testing.T) {
	// A 1 MiB receive buffer holds the whole window: loopback UDP drops
	// nothing else.
	ca, cb := ephemeral("127.0.0.1"), ephemeral("")
	ca.ReadBuffer, cb.ReadBuffer = 1<<20, 1<<20
	a, b := listenT(t, ca), listenT(t, cb)
	const (
		n      = 5000
		window = 256 // in flight per direction
		size   = 180
		burst  = 32
	)
	watchdog := time.AfterFunc(30*time.Second, func() { a.Close(); b.Close() })
	defer watchdog.Stop()

	type side struct {
		name          string
		from, to      *Link
		path          link.Path // how from reaches to
		wantRemote    netip.Addr
		wantLocal     netip.Addr
		received      atomic.Int64
		failed        atomic.Bool // err is set (the sender polls this)
		multi, maxBat int
		err, sendErr  error // the receiver's, the sender's
	}
	ab := &side{name: "a->b", from: a, to: b, path: link.Path{Remote: lo4, RemotePort: b.LocalPort()}, wantRemote: lo4, wantLocal: lo4}
	ba := &side{name: "b->a", from: b, to: a, path: link.Path{Local: lo4, Remote: lo4, RemotePort: a.LocalPort()}, wantRemote: lo4, wantLocal: lo4}

	var wg sync.WaitGroup
	for _, s := range []*side{ab, ba} {
		wg.Add(2)
		go func() { // receiver
			defer wg.Done()
			pkts := buffers(maxBatch)
			seen := make([]bool, n)
			for s.received.Load() < n {
				k, err := s.to.ReadBatch(pkts)
				if err != nil {
					s.err = fmt.Errorf("%s: ReadBatch after %d packets: %w", s.name, s.received.Load(), err)
					s.failed.Store(true)
					return
				}
				if k > 1 {
					s.multi++
				}
				s.maxBat = max(s.maxBat, k)
				for i := 0; i < k; i++ {
					p := &pkts[i]
					want := link.Path{Local: s.wantLocal, Remote: s.wantRemote, RemotePort: s.from.LocalPort()}
					if p.Path != want || p.Notice != link.NoticeNone {
						s.err = fmt.Errorf("%s: path %v notice %d, want %v", s.name, p.Path, p.Notice, want)
						s.failed.Store(true)
						return
					}
					seq, err := checkData(p.Buf, 5000, 6000, size)
					if err != nil {
						s.err = fmt.Errorf("%s: %w", s.name, err)
						s.failed.Store(true)
						return
					}
					if seq >= n || seen[seq] {
						s.err = fmt.Errorf("%s: packet %d unexpected or duplicated", s.name, seq)
						s.failed.Store(true)
						return
					}
					seen[seq] = true
				}
				s.received.Add(int64(k))
			}
		}()
		go func() { // sender
			defer wg.Done()
			out := make([]link.Packet, burst)
			for seq := 0; seq < n; {
				for int64(seq)-s.received.Load() > window {
					if s.failed.Load() || s.to.closed.Load() {
						return
					}
					time.Sleep(50 * time.Microsecond)
				}
				k := min(burst, n-seq)
				for i := 0; i < k; i++ {
					out[i] = link.Packet{Path: s.path, Buf: dataPacket(out[i].Buf, 5000, 6000, uint32(seq+i), size)}
				}
				if m, err := s.from.WriteBatch(out[:k]); err != nil || m != k {
					s.sendErr = fmt.Errorf("%s: WriteBatch %d of %d: %w", s.name, m, k, err)
					return
				}
				seq += k
			}
		}()
	}
	wg.Wait()
	for _, s := range []*side{ab, ba} {
		if s.sendErr != nil {
			t.Error(s.sendErr)
		}
		if s.err != nil {
			t.Fatal(s.err)
		}
		if s.multi == 0 {
			t.Errorf("%s: no ReadBatch returned more than one packet", s.name)
		}
		t.Logf("%s: %d packets, %d batches of more than one, largest %d", s.name, n, s.multi, s.maxBat)
	}
	sa, sb := a.Stats(), b.Stats()
	if sa.TxPackets != n || sa.RxPackets != n || sb.TxPackets != n || sb.RxPackets != n {
		t.Errorf("stats: a %+v, b %+v", sa, sb)
	}
	if sa.TxBytes != sb.RxBytes || sa.RxBytes != sb.TxBytes {
		t.Errorf("byte counts disagree: a %+v, b %+v", sa, sb)
	}
}

// TestLoopbackZeroAllocs: a steady-state round (a batch each way, the reply
// sent on the received Path, so with a pktinfo source) allocates nothing.
func TestLoopbackZeroAllocs(t *testing.T) {
	for _, gro := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "GRO"}[gro], func(t *testing.T) { loopbackZeroAllocs(t, gro) })
	}
}

// loopbackZeroAllocs: with UDP GSO and GRO a round's replies, equal packets to one
// peer, leave as one GSO super-datagram and arrive coalesced, cut apart
// into the caller's buffers without allocating either.
func loopbackZeroAllocs(t *testing.T, gro bool) {
	ca, cb := ephemeral("127.0.0.1"), ephemeral("")
	ca.GRO, cb.GRO, ca.GSO, cb.GSO = gro, gro, gro, gro
	a := listenT(t, ca)
	b := listenT(t, cb)
	const k = 8
	out := make([]link.Packet, k)
	for i := range out {
		out[i] = link.Packet{Path: link.Path{Remote: lo4, RemotePort: b.LocalPort()}, Buf: dataPacket(nil, 1, 2, uint32(i), 100)}
	}
	inA, inB := buffers(k), buffers(k)
	reply := make([]link.Packet, k)
	round := func() {
		writeAll(t, a, out)
		for got := 0; got < k; {
			n, err := b.ReadBatch(inB[got:])
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
		for i := range reply {
			reply[i] = link.Packet{Path: inB[i].Path, Buf: inB[i].Buf}
		}
		writeAll(t, b, reply)
		for got := 0; got < k; {
			n, err := a.ReadBatch(inA[got:])
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	}
	for range 10 {
		round()
	}
	if inB[0].Path.Local != lo4 || inA[0].Path.Remote != lo4 {
		t.Fatalf("paths: b got %v, a got %v", inB[0].Path, inA[0].Path)
	}
	allocs := testing.AllocsPerRun(200, round)
	t.Logf("%.2f allocations per round of %d packets each way", allocs, k)
	if raceEnabled {
		// make test asserts it in its pass without the race detector.
		t.Skip("allocation count not asserted under the race detector: make test asserts it without -race")
	}
	if allocs != 0 {
		t.Errorf("%.2f allocations per round, want 0", allocs)
	}
	if st := a.Stats(); gro && st.RxGRO == 0 {
		t.Errorf("stats %+v: nothing arrived coalesced", st)
	}
}

// TestLoopbackReplyFromDestination: a wildcard link reports the address a
// datagram was sent to and replies from it; without Path.Local the kernel
// picks the source, which is not the address the peer talked to.
func TestLoopbackReplyFromDestination(t *testing.T) {
	for _, bind := range []string{"0.0.0.0", ""} {
		t.Run("bind="+bind, func(t *testing.T) {
			a := listenT(t, ephemeral("127.0.0.1"))
			b := listenT(t, ephemeral(bind))
			pa, pb := startPump(t, a), startPump(t, b)

			writeAll(t, a, []link.Packet{{Path: link.Path{Remote: lo4b, RemotePort: b.LocalPort()}, Buf: dataPacket(nil, 1, 2, 7, 40)}})
			got, ok := pb.next(5*time.Second, nil)
			if !ok {
				t.Fatal("nothing arrived at b")
			}
			want := link.Path{Local: lo4b, Remote: lo4, RemotePort: a.LocalPort()}
			if got.Path != want {
				t.Fatalf("b got path %v, want %v", got.Path, want)
			}

			writeAll(t, b, []link.Packet{{Path: got.Path, Buf: dataPacket(nil, 2, 1, 8, 40)}})
			back, ok := pa.next(5*time.Second, nil)
			if !ok {
				t.Fatal("the reply did not arrive")
			}
			if want := (link.Path{Local: lo4, Remote: lo4b, RemotePort: b.LocalPort()}); back.Path != want {
				t.Fatalf("reply came on %v, want %v (from the address a talked to)", back.Path, want)
			}

			p := got.Path
			p.Local = netip.Addr{}
			writeAll(t, b, []link.Packet{{Path: p, Buf: dataPacket(nil, 2, 1, 9, 40)}})
			back, ok = pa.next(5*time.Second, nil)
			if !ok {
				t.Fatal("the kernel-sourced reply did not arrive")
			}
			if back.Path.Remote != lo4 {
				t.Fatalf("kernel-sourced reply came from %v; the test expects the kernel to pick 127.0.0.1", back.Path.Remote)
			}
		})
	}
}

// TestLoopbackIPv6: an IPv6 peer of a dual-stack wildcard link.
func TestLoopbackIPv6(t *testing.T) {
	a, err := Listen(ephemeral("::1"))
	if err != nil {
		testlab.Missing(t, "no IPv6 loopback: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	b := listenT(t, ephemeral("::"))
	pa, pb := startPump(t, a), startPump(t, b)
	writeAll(t, a, []link.Packet{{Path: link.Path{Remote: lo6, RemotePort: b.LocalPort()}, Buf: dataPacket(nil, 1, 2, 1, 64)}})
	got, ok := pb.next(5*time.Second, nil)
	if !ok {
		t.Fatal("nothing arrived")
	}
	if want := (link.Path{Local: lo6, Remote: lo6, RemotePort: a.LocalPort()}); got.Path != want {
		t.Fatalf("path %v, want %v", got.Path, want)
	}
	writeAll(t, b, []link.Packet{{Path: got.Path, Buf: dataPacket(nil, 2, 1, 2, 64)}})
	back, ok := pa.next(5*time.Second, nil)
	if !ok {
		t.Fatal("reply did not arrive")
	}
	if want := (link.Path{Local: lo6, Remote: lo6, RemotePort: b.LocalPort()}); back.Path != want {
		t.Fatalf("reply path %v, want %v", back.Path, want)
	}
	if a.Overhead(lo6) != 48 || a.Overhead(lo4) != 28 {
		t.Errorf("Overhead: %d for IPv6, %d for IPv4; want 48, 28", a.Overhead(lo6), a.Overhead(lo4))
	}
}

// closedPort returns a UDP port on addr that nothing listens on (just
// released by the kernel).
func closedPort(t *testing.T, addr netip.Addr) uint16 {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(c.LocalAddr().(*net.UDPAddr).Port)
	c.Close()
	return port
}

// TestLoopbackPortUnreachable: the kernel's ICMP port unreachable for a
// datagram we sent becomes a NoticeProtoUnreachable (RFC 6951 5.5) on the
// path it was sent on,
// with our SCTP packet quoted; the stale socket error it leaves does not
// fail the next send to another peer.
func TestLoopbackPortUnreachable(t *testing.T) {
	for _, tc := range []struct {
		name       string
		bind, peer netip.Addr
	}{{"IPv4", lo4, lo4}, {"IPv6", lo6, lo6}, {"dual-stack/IPv4", netip.IPv6Unspecified(), lo4}} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Listen(Config{Addr: netip.AddrPortFrom(tc.bind, 0), EphemeralPort: true})
			if err != nil {
				testlab.Missing(t, "listen %v: %v", tc.bind, err)
			}
			t.Cleanup(func() { a.Close() })
			b := listenT(t, Config{Addr: netip.AddrPortFrom(tc.peer, 0), EphemeralPort: true})
			dead := closedPort(t, tc.peer)

			init := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: 5000, DstPort: 7},
				&wire.Init{InitFields: wire.InitFields{InitiateTag: 0xdecafbad, ARwnd: 65536, OutStreams: 10, InStreams: 10, InitialTSN: 1}})
			writeAll(t, a, []link.Packet{{Path: link.Path{Remote: tc.peer, RemotePort: dead}, Buf: init}})
			// Let the ICMP arrive and set the socket error before anything
			// reads a: the next send would be the one to see it.
			time.Sleep(100 * time.Millisecond)
			writeAll(t, a, []link.Packet{{Path: link.Path{Remote: tc.peer, RemotePort: b.LocalPort()}, Buf: dataPacket(nil, 1, 2, 3, 50)}})

			pa, pb := startPump(t, a), startPump(t, b)
			if _, ok := pb.next(5*time.Second, nil); !ok {
				t.Fatal("the packet to the live peer did not arrive")
			}
			n, ok := pa.next(5*time.Second, func(p *link.Packet) bool { return p.Notice != link.NoticeNone })
			if !ok {
				t.Fatal("no notice for the port unreachable")
			}
			want := link.Path{Local: tc.peer, Remote: tc.peer, RemotePort: dead}
			if n.Notice != link.NoticeProtoUnreachable || n.Path != want {
				t.Fatalf("notice %d on %v, want %d on %v", n.Notice, n.Path, link.NoticeProtoUnreachable, want)
			}
			if len(n.Buf) < wire.CommonHeaderLen || !bytes.HasPrefix(init, n.Buf) {
				t.Fatalf("quoted %x, want a prefix of %x of at least the common header", n.Buf, init)
			}
			if got := a.Stats().Notices; got != 1 {
				t.Errorf("Stats.Notices = %d, want 1", got)
			}
		})
	}
}

// TestCloseUnblocksRead: Close releases a blocked ReadBatch with
// link.ErrClosed, and later calls fail the same way.
func TestCloseUnblocksRead(t *testing.T) {
	l, err := Listen(ephemeral("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := l.ReadBatch(buffers(4))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if !isClosed(err) {
			t.Fatalf("ReadBatch returned %v, want link.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadBatch still blocked 5 s after Close")
	}
	if _, err := l.ReadBatch(buffers(1)); !isClosed(err) {
		t.Errorf("ReadBatch after Close: %v", err)
	}
	if _, err := l.WriteBatch([]link.Packet{{Path: link.Path{Remote: lo4, RemotePort: 9}, Buf: []byte{1}}}); !isClosed(err) {
		t.Errorf("WriteBatch after Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestWriteBatchErrors: a bad packet stops the batch at its index with an
// error; the packets before it are sent.
func TestWriteBatchErrors(t *testing.T) {
	a := listenT(t, ephemeral("127.0.0.1"))
	b := listenT(t, ephemeral("127.0.0.1"))
	pb := startPump(t, b)
	good := link.Path{Remote: lo4, RemotePort: b.LocalPort()}
	for _, bad := range []link.Path{
		{Remote: lo4},                // no port
		{RemotePort: 9},              // no address
		{Remote: lo6, RemotePort: 9}, // IPv6 on an IPv4 socket
		{Local: lo6, Remote: lo4, RemotePort: b.LocalPort()}, // IPv6 source
	} {
		pkts := []link.Packet{{Path: good, Buf: dataPacket(nil, 1, 2, 1, 20)}, {Path: bad, Buf: []byte{1}}, {Path: good, Buf: []byte{2}}}
		n, err := a.WriteBatch(pkts)
		if n != 1 || err == nil {
			t.Errorf("path %v: WriteBatch = %d, %v; want 1 and an error", bad, n, err)
		}
		if !errors.Is(err, errBadPath) {
			t.Errorf("path %v: error %v does not wrap errBadPath", bad, err)
		}
		if _, ok := pb.next(5*time.Second, nil); !ok {
			t.Fatal("the packet before the bad one did not arrive")
		}
	}
}

// TestTruncatedDropped: a datagram larger than its buffer is dropped and
// counted, and the packets around it still come through in order.
func TestTruncatedDropped(t *testing.T) {
	a := listenT(t, ephemeral("127.0.0.1"))
	b := listenT(t, ephemeral("127.0.0.1"))
	to := link.Path{Remote: lo4, RemotePort: b.LocalPort()}
	big, small := dataPacket(nil, 1, 2, 1, 200), dataPacket(nil, 1, 2, 2, 20)
	writeAll(t, a, []link.Packet{{Path: to, Buf: big}, {Path: to, Buf: small}, {Path: to, Buf: big}, {Path: to, Buf: small}})
	time.Sleep(50 * time.Millisecond)
	in := make([]link.Packet, 4)
	for i := range in {
		in[i].Buf = make([]byte, 0, 100)
	}
	got := 0
	for got < 2 {
		n, err := b.ReadBatch(in[got:])
		if err != nil {
			t.Fatal(err)
		}
		for i := got; i < got+n; i++ {
			if !bytes.Equal(in[i].Buf, small) {
				t.Fatalf("packet %d is %d bytes, want the small one", i, len(in[i].Buf))
			}
		}
		got += n
	}
	if s := b.Stats(); s.RxTruncated != 2 || s.RxPackets != 2 {
		t.Errorf("stats %+v, want 2 truncated, 2 received", s)
	}
	for i := range in {
		if cap(in[i].Buf) != 100 {
			t.Errorf("buffer %d lost: cap %d", i, cap(in[i].Buf))
		}
	}
}

func TestConfig(t *testing.T) {
	s, err := (&Config{}).spec()
	if err != nil || s.addr.Port != DefaultPort || s.network != "udp" {
		t.Errorf("zero Config: %+v %v; want dual stack on %d", s, err, DefaultPort)
	}
	s, _ = (&Config{Addr: netip.MustParseAddrPort("0.0.0.0:0")}).spec()
	if s.network != "udp4" || s.addr.Port != DefaultPort {
		t.Errorf("0.0.0.0: %+v", s)
	}
	s, _ = (&Config{Addr: netip.MustParseAddrPort("[::]:1234")}).spec()
	if s.network != "udp" || s.addr.Port != 1234 {
		t.Errorf("[::]:1234: %+v", s)
	}
	s, _ = (&Config{Addr: netip.MustParseAddrPort("[::ffff:10.0.0.1]:1")}).spec()
	if s.network != "udp4" {
		t.Errorf("IPv4-mapped: %+v", s)
	}
	if _, err := (&Config{Addr: netip.MustParseAddrPort("127.0.0.1:5"), EphemeralPort: true}).spec(); err == nil {
		t.Error("EphemeralPort with a port accepted")
	}
}

func TestLinkInfo(t *testing.T) {
	a := listenT(t, ephemeral("127.0.0.1"))
	if a.Kind() != link.UDP {
		t.Errorf("Kind %v", a.Kind())
	}
	if got := a.LocalAddrs(); len(got) != 1 || got[0] != lo4 {
		t.Errorf("LocalAddrs of a bound link: %v", got)
	}
	if a.LocalPort() == 0 || a.LocalAddr() != netip.AddrPortFrom(lo4, a.LocalPort()) {
		t.Errorf("LocalPort %d, LocalAddr %v", a.LocalPort(), a.LocalAddr())
	}
	w := listenT(t, ephemeral("0.0.0.0"))
	addrs := w.LocalAddrs()
	has := func(x netip.Addr) bool {
		for _, a := range addrs {
			if a == x {
				return true
			}
		}
		return false
	}
	if !has(lo4) {
		t.Errorf("LocalAddrs of an IPv4 wildcard link lacks 127.0.0.1: %v", addrs)
	}
	for _, a := range addrs {
		if !a.Is4() {
			t.Errorf("IPv4 wildcard link lists %v", a)
		}
	}
}
