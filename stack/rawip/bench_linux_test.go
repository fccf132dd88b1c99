//go:build linux

package rawip

import (
	"fmt"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack/link"
)

// BenchmarkThroughput measures packets per second from a link in namespace
// A to a link in namespace B over a veth pair, for 100-byte and 1 KiB SCTP
// packets, with allocations per packet. In the same run, untimed, it moves
// as many UDP datagrams of the same size between the namespaces with
// x/net's batched ipv4.PacketConn (recvmmsg/sendmmsg through Go's poller)
// and reports the ratio, since absolute figures depend on the machine.
//
// The sender keeps at most a window of packets in flight, so the receive
// buffer never overflows; packets lost anyway are reported.
func BenchmarkThroughput(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) { benchThroughput(b, size) })
	}
}

const (
	benchBatch  = 64
	benchWindow = 2048
)

func benchThroughput(b *testing.B, size int) {
	lab := newLab(b)
	la := listenIn(b, lab.a, Config{Ports: []uint16{5001}, SendBuffer: 4 << 20})
	lb := listenIn(b, lab.b, Config{Ports: []uint16{5002}, RecvBuffer: 4 << 20})
	// 12 bytes of common header and 16 of DATA chunk header.
	pkt := dataPacket(5001, 5002, 1, 1, make([]byte, size-28))
	out := make([]link.Packet, benchBatch)
	for i := range out {
		out[i] = link.Packet{Path: link.Path{Local: addrA, Remote: addrB}, Buf: pkt}
	}
	var received atomic.Int64
	pkts := newBufs(benchBatch) // before the timer starts: 4 MiB of buffers
	go func() {
		for {
			n, err := lb.ReadBatch(pkts)
			if err != nil {
				return
			}
			received.Add(int64(n))
		}
	}()
	send := func(k int) int {
		n, err := la.WriteBatch(out[:k])
		if err != nil {
			b.Fatalf("WriteBatch: %v", err)
		}
		return n
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	lost := pump(b.N, send, &received)
	elapsed := time.Since(start)
	b.StopTimer()
	rate := float64(b.N-lost) / elapsed.Seconds()
	b.ReportMetric(rate, "pkts/s")
	if lost > 0 {
		b.ReportMetric(float64(lost)/float64(b.N), "lost/pkt")
	}
	if udp := udpPeer(b, lab, size, b.N); udp > 0 {
		b.ReportMetric(rate/udp, "x-udp-peer")
	}
}

// pump sends n packets in batches through send, keeping at most
// benchWindow in flight by the receiver's count, and waits for the last
// ones. Packets not counted within a second of the receiver's last progress
// are taken as lost, and the window moves on without them; it returns how
// many were lost.
func pump(n int, send func(k int) int, received *atomic.Int64) int {
	sent, lost := 0, 0
	wait := func(limit int) {
		last, since := received.Load(), time.Now()
		for sent-lost-int(received.Load()) > limit {
			if r := received.Load(); r != last {
				last, since = r, time.Now()
			} else if time.Since(since) > time.Second {
				lost = sent - int(r)
				return
			}
			runtime.Gosched()
		}
	}
	for sent < n {
		wait(benchWindow)
		sent += send(min(benchBatch, n-sent))
	}
	wait(0)
	return sent - int(received.Load())
}

// udpPeer moves n UDP datagrams of size bytes from A to B with x/net's
// batched PacketConn and returns datagrams per second, or 0 if it could not.
func udpPeer(b *testing.B, lab *lab, size, n int) float64 {
	var ca, cb *net.UDPConn
	err := testlab.InNS(lab.a, func() (err error) {
		ca, err = net.ListenUDP("udp4", &net.UDPAddr{IP: addrA.AsSlice()})
		return err
	})
	if err == nil {
		err = testlab.InNS(lab.b, func() (err error) {
			cb, err = net.ListenUDP("udp4", &net.UDPAddr{IP: addrB.AsSlice(), Port: 9899})
			return err
		})
	}
	if err != nil {
		b.Logf("UDP peer: %v", err)
		return 0
	}
	defer ca.Close()
	defer cb.Close()
	cb.SetReadBuffer(4 << 20)
	pa, pb := ipv4.NewPacketConn(ca), ipv4.NewPacketConn(cb)
	dst := &net.UDPAddr{IP: addrB.AsSlice(), Port: 9899}
	msgs := make([]ipv4.Message, benchBatch)
	payload := make([]byte, size)
	for i := range msgs {
		msgs[i] = ipv4.Message{Buffers: [][]byte{payload}, Addr: dst}
	}
	var received atomic.Int64
	go func() {
		in := make([]ipv4.Message, benchBatch)
		for i := range in {
			in[i].Buffers = [][]byte{make([]byte, 2048)}
		}
		for {
			k, err := pb.ReadBatch(in, 0)
			if err != nil {
				return
			}
			received.Add(int64(k))
		}
	}()
	start := time.Now()
	lost := pump(n, func(k int) int {
		sent, err := pa.WriteBatch(msgs[:k], 0)
		if err != nil {
			b.Fatalf("UDP WriteBatch: %v", err)
		}
		return sent
	}, &received)
	return float64(n-lost) / time.Since(start).Seconds()
}
