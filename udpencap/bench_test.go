package udpencap

import (
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/link"
)

// benchWindow bounds the datagrams in flight so that the receiver's 4 MiB
// socket buffer never overflows: a lost datagram would stall the count.
const benchWindow = 1024

// flow is a sender/receiver pair's shared progress.
type flow struct {
	received atomic.Int64
	failed   atomic.Bool
}

// wait blocks the sender while more than benchWindow datagrams are in
// flight.
func (f *flow) wait(sent int) bool {
	for int64(sent)-f.received.Load() > benchWindow {
		if f.failed.Load() {
			return false
		}
		time.Sleep(20 * time.Microsecond)
	}
	return true
}

// BenchmarkLoopback sends b.N SCTP-sized datagrams from one link to another
// over loopback with batched writes and reads. Besides ns/op (per packet)
// and MB/s it reports packets/s, the average batch sizes, and the ratio of
// its packet rate to a peer measured in the same run: a plain net.UDPConn
// pair moving one datagram per system call (ReadFromUDPAddrPort /
// WriteToUDPAddrPort).
func BenchmarkLoopback(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			benchLink(b, size)
		})
	}
}

func benchLink(b *testing.B, size int) {
	ca, cb := ephemeral("127.0.0.1"), ephemeral("127.0.0.1")
	ca.WriteBuffer, cb.ReadBuffer = 4<<20, 4<<20
	ca.GSO, cb.GRO = true, true
	a, l := listenT(b, ca), listenT(b, cb)
	to := link.Path{Remote: lo4, RemotePort: l.LocalPort()}
	out := make([]link.Packet, maxBatch)
	for i := range out {
		out[i] = link.Packet{Path: to, Buf: make([]byte, size)}
	}
	in := buffers(maxBatch)
	n := b.N
	var f flow
	done := make(chan struct{})
	go func() { // sender
		defer close(done)
		for sent := 0; sent < n; {
			if !f.wait(sent) {
				return
			}
			k := min(maxBatch, n-sent)
			m, err := a.WriteBatch(out[:k])
			if err != nil {
				b.Errorf("WriteBatch: %v", err)
				f.failed.Store(true)
				return
			}
			sent += m
		}
	}()
	watchdog := time.AfterFunc(time.Minute, func() { f.failed.Store(true); l.Close() })
	defer watchdog.Stop()

	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for f.received.Load() < int64(n) {
		k, err := l.ReadBatch(in)
		if err != nil {
			b.Fatalf("ReadBatch after %d of %d: %v", f.received.Load(), n, err)
		}
		f.received.Add(int64(k))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	<-done

	rate := float64(n) / elapsed.Seconds()
	b.ReportMetric(rate, "pkts/s")
	sa, sb := a.Stats(), l.Stats()
	if sa.TxBatches > 0 && sb.RxBatches > 0 {
		b.ReportMetric(float64(sa.TxPackets)/float64(sa.TxBatches), "pkts/write")
		b.ReportMetric(float64(sb.RxPackets)/float64(sb.RxBatches), "pkts/read")
	}
	if peer := benchPeer(b, size, n); peer > 0 {
		b.ReportMetric(rate/peer, "x-per-packet-peer")
	}
}

// benchPeer moves n datagrams between two plain sockets, one per system
// call, and returns its packet rate.
func benchPeer(b *testing.B, size, n int) float64 {
	laddr := net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo4, 0))
	tx, err := net.ListenUDP("udp4", laddr)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Close()
	rx, err := net.ListenUDP("udp4", laddr)
	if err != nil {
		b.Fatal(err)
	}
	defer rx.Close()
	tx.SetWriteBuffer(4 << 20)
	rx.SetReadBuffer(4 << 20)
	to := rx.LocalAddr().(*net.UDPAddr).AddrPort()
	var f flow
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, size)
		for sent := 0; sent < n; sent++ {
			if !f.wait(sent) {
				return
			}
			if _, err := tx.WriteToUDPAddrPort(buf, to); err != nil {
				b.Errorf("peer write: %v", err)
				f.failed.Store(true)
				return
			}
		}
	}()
	watchdog := time.AfterFunc(time.Minute, func() { f.failed.Store(true); rx.Close() })
	defer watchdog.Stop()
	buf := make([]byte, link.MaxPacket)
	start := time.Now()
	for f.received.Load() < int64(n) {
		if _, _, err := rx.ReadFromUDPAddrPort(buf); err != nil {
			b.Errorf("peer read after %d of %d: %v", f.received.Load(), n, err)
			f.failed.Store(true)
			break
		}
		f.received.Add(1)
	}
	elapsed := time.Since(start)
	<-done
	if f.failed.Load() {
		return 0
	}
	return float64(n) / elapsed.Seconds()
}
