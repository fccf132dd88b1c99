package bench

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"testing"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/udpencap"
)

// Issue 5: real UDP on loopback.
var udpWorkloads = []workload{{"1KiB", 1 << 10}, {"8KiB", 8 << 10}, {"100B", 100}}

const (
	// Socket buffers of every UDP socket of ours and pion's: room for far
	// more than any window in flight, so the kernel drops nothing.
	udpReadBuffer  = 16 << 20
	udpWriteBuffer = 4 << 20
	// pionWindow is pion's MaxReceiveBufferSize in the UDP benchmark, the
	// tuned setting (its default is 1 MiB), and what its sender may keep
	// buffered, so the window can fill. Ours stays at its defaults: 1 MiB
	// receive window, 1 MiB send buffer.
	pionWindow = 8 << 20
	// usrsctpBuffer is tsctp's socket receive (server) and send (client)
	// buffer: the same 1 MiB window and send buffer our stack runs with.
	usrsctpBuffer = 1 << 20
)

var lo4 = netip.MustParseAddr("127.0.0.1")

// BenchmarkUDP measures, for each workload, one-way bulk transfer between
// two endpoints on 127.0.0.1 (inside a network namespace of the
// benchmark's own when run as root):
//
//   - ours: two stack.Stacks, each on its own udpencap link (RFC 6951,
//     batched system calls), default settings (1 MiB window and send
//     buffer);
//   - ours-8MiB: the same with pion's tuning, an 8 MiB window and send
//     buffer;
//   - pion: github.com/pion/sctp on a connected UDP socket pair, tuned:
//     8 MiB receive window and send buffer, MTU 1472, same socket buffers
//     as ours;
//   - usrsctp: Debian's tsctp (libusrsctp-examples) with UDP encapsulation,
//     server and client processes, for -benchtime whole seconds; its figures
//     are what the server measured, and its CPU time is both processes'.
//
// The summary printed at the end has the ratios ours/usrsctp and ours/pion.
func BenchmarkUDP(b *testing.B) {
	for _, w := range udpWorkloads {
		b.Run(w.name, func(b *testing.B) {
			b.Run("ours", func(b *testing.B) { benchUDPOurs(b, w, "ours", stack.Options{}) })
			b.Run("ours-8MiB", func(b *testing.B) {
				benchUDPOurs(b, w, "ours-8MiB", stack.Options{RecvBuffer: pionWindow, SendBuffer: pionWindow})
			})
			b.Run("pion", func(b *testing.B) { benchUDPPion(b, w) })
			b.Run("usrsctp", func(b *testing.B) { benchUDPUsrsctp(b, w) })
		})
	}
}

func benchUDPOurs(b *testing.B, w workload, impl string, opts stack.Options) {
	msg := payload(w.size)
	runCall(b, "UDP", w, impl, func(ctx context.Context) (func(context.Context, int) error, func() string, error) {
		var la, lb *udpencap.Link
		err := inNS(func() error {
			// GSO and GRO, as the gateway runs it (the stacks read into
			// link.MaxPacket buffers).
			cfg := udpencap.Config{
				Addr: netip.AddrPortFrom(lo4, 0), EphemeralPort: true,
				ReadBuffer: udpReadBuffer, WriteBuffer: udpWriteBuffer, GSO: true, GRO: true,
			}
			var err error
			if la, err = udpencap.Listen(cfg); err != nil {
				return err
			}
			if lb, err = udpencap.Listen(cfg); err != nil {
				la.Close()
				return err
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		toB := link.Path{Local: lo4, Remote: lo4, RemotePort: lb.LocalPort()}
		p, err := newOurs(ctx, la, lb, toB, opts)
		if err != nil {
			la.Close()
			lb.Close()
			return nil, nil, err
		}
		transfer := func(ctx context.Context, n int) error { return p.transfer(ctx, n, msg) }
		teardown := func() string {
			sa, sb := la.Stats(), lb.Stats()
			note := fmt.Sprintf("%s; %.1f pkts/write at the client, %.1f pkts/read at the server",
				lossNote(p.sa.Stats(), p.msgs), ratio(sa.TxPackets, sa.TxBatches), ratio(sb.RxPackets, sb.RxBatches))
			p.close()
			return note
		}
		return transfer, teardown, nil
	})
}

func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// udpPair makes two UDP sockets on 127.0.0.1 connected to each other.
func udpPair() (*net.UDPConn, *net.UDPConn, error) {
	var ca, cb *net.UDPConn
	err := inNS(func() error {
		laddr := &net.UDPAddr{IP: lo4.AsSlice()}
		var err error
		if ca, err = net.ListenUDP("udp4", laddr); err != nil {
			return err
		}
		if cb, err = net.ListenUDP("udp4", laddr); err != nil {
			ca.Close()
			return err
		}
		for _, x := range [][2]*net.UDPConn{{ca, cb}, {cb, ca}} {
			if err := connectUDP(x[0], x[1].LocalAddr().(*net.UDPAddr).Port); err != nil {
				ca.Close()
				cb.Close()
				return err
			}
		}
		return nil
	})
	return ca, cb, err
}

// connectUDP connects c to 127.0.0.1:port and sizes its buffers like ours,
// so Read and Write move datagrams of that peer only.
func connectUDP(c *net.UDPConn, port int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	err = rc.Control(func(fd uintptr) {
		forceBuffers(fd, udpReadBuffer, udpWriteBuffer)
		cerr = syscall.Connect(int(fd), &syscall.SockaddrInet4{Port: port, Addr: lo4.As4()})
	})
	if err != nil {
		return err
	}
	return cerr
}

func benchUDPPion(b *testing.B, w workload) {
	msg := payload(w.size)
	runCall(b, "UDP", w, "pion", func(ctx context.Context) (func(context.Context, int) error, func() string, error) {
		ca, cb, err := udpPair()
		if err != nil {
			return nil, nil, err
		}
		p, err := newPion(ctx, ca, cb, pionWindow, pionWindow)
		if err != nil {
			ca.Close()
			cb.Close()
			return nil, nil, err
		}
		transfer := func(ctx context.Context, n int) error { return p.transfer(ctx, n, msg) }
		teardown := func() string {
			note := fmt.Sprintf("client srtt %.3f ms, cwnd %d", p.c.SRTT(), p.c.CWND())
			p.close()
			return note
		}
		return transfer, teardown, nil
	})
}
