package dtlslink

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/udpencap"
)

var loop = netip.MustParseAddr("127.0.0.1")

// loopPair opens two links of one kind on loopback and the path from the
// first to the second.
func loopPair(b *testing.B, dtlsKind bool) (link.Link, link.Link, link.Path) {
	if !dtlsKind {
		srv, err := udpencap.Listen(udpencap.Config{Addr: netip.AddrPortFrom(loop, 0), EphemeralPort: false})
		if err != nil {
			srv, err = udpencap.Listen(udpencap.Config{Addr: netip.AddrPortFrom(loop, testlab.FreeUDPPort(b))})
		}
		if err != nil {
			b.Fatal(err)
		}
		cli, err := udpencap.Listen(udpencap.Config{Addr: netip.AddrPortFrom(loop, 0), EphemeralPort: true})
		if err != nil {
			b.Fatal(err)
		}
		return cli, srv, link.Path{Remote: loop, RemotePort: srv.LocalPort()}
	}
	ca := testlab.NewCA(b, "bench")
	port := testlab.FreeUDPPort(b)
	peer := netip.AddrPortFrom(loop, port)
	srv, err := New(Config{Listen: peer, Credentials: creds(b, certFiles(b, ca, "core", ca))})
	if err != nil {
		b.Fatal(err)
	}
	cli, err := New(Config{Peers: map[netip.AddrPort]*Credentials{peer: creds(b, certFiles(b, ca, "edge", ca))}})
	if err != nil {
		b.Fatal(err)
	}
	return cli, srv, link.Path{Remote: loop, RemotePort: port}
}

// transferRate moves n messages of size one way over one association and
// returns the rate in MB/s.
func transferRate(b *testing.B, dtlsKind bool, size, n int) float64 {
	cli, srv, path := loopPair(b, dtlsKind)
	cs, err := stack.New(stack.Config{Links: []link.Link{cli}})
	if err != nil {
		b.Fatal(err)
	}
	defer cs.Close("")
	ss, err := stack.New(stack.Config{Links: []link.Link{srv}})
	if err != nil {
		b.Fatal(err)
	}
	defer ss.Close("")
	opts := stack.Options{NoDelay: true, SendBuffer: 1 << 20, RecvBuffer: 1 << 20}
	ln, err := ss.Listen(portS1AP, opts)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, s := testlab.DialAccept(b, ctx, cs, path, 0, portS1AP, opts, ln)
	msg := make([]byte, size)
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			if _, err := s.RecvMsg(ctx); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := c.SendMsg(ctx, msg, stack.SndInfo{PPID: 60}); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return float64(size*n) / time.Since(start).Seconds() / 1e6
}

// BenchmarkDTLSvsUDP: one association over the DTLS link and over the RFC
// 6951 link on loopback, in the same run, one-way bulk transfer; prints
// both rates and their ratio (goal: DTLS at least 0.8 of UDP).
func BenchmarkDTLSvsUDP(b *testing.B) {
	for _, size := range []int{1024, 8192} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			n := 20000 * 1024 / size
			var udp, dtls float64
			for i := 0; i < b.N; i++ {
				udp += transferRate(b, false, size, n)
				dtls += transferRate(b, true, size, n)
			}
			udp, dtls = udp/float64(b.N), dtls/float64(b.N)
			b.ReportMetric(udp, "udp-MB/s")
			b.ReportMetric(dtls, "dtls-MB/s")
			b.ReportMetric(dtls/udp, "dtls/udp")
			b.Logf("%d-byte messages: UDP %.1f MB/s, DTLS %.1f MB/s, ratio %.2f", size, udp, dtls, dtls/udp)
		})
	}
}
