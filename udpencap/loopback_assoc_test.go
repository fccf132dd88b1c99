package udpencap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
)

// haveIPv6Loopback reports whether ::1 takes UDP sockets here (containers
// sometimes run without IPv6).
func haveIPv6Loopback() bool {
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// TestAssocLoopbackManyBothWays runs many associations at once over two
// real UDP sockets on loopback, each the one link of its stack, in both
// directions at the same time: stack A dials stack B and accepts from it on
// the same socket, and so does B. The sockets are dual-stack wildcards and
// the associations alternate between 127.0.0.1 and ::1, so one UDP port per
// side serves both families too. Each association carries messages both
// ways at once (some fragmented), which arrive intact, and is shut down
// gracefully, half of them by the dialler and half by the acceptor.
//
// Paths: every association's remote encapsulation port is the other
// stack's one UDP port, and its local address is the address the peer
// talked to (learned per packet through IP_PKTINFO / IPV6_PKTINFO on the
// wildcard socket).
func TestAssocLoopbackManyBothWays(t *testing.T) {
	cfg := ephemeral("")
	// Many associations send at once: a default receive buffer would
	// drop bursts (harmless for SCTP, but slow).
	cfg.ReadBuffer, cfg.WriteBuffer = 4<<20, 4<<20
	la, lb := listenT(t, cfg), listenT(t, cfg)
	sa, sb := newStackT(t, la), newStackT(t, lb)
	opts := stack.Options{NoDelay: true}
	ctx := testlab.Ctx(t, 90*time.Second)
	acc := map[*stack.Stack]*acceptor{
		sa: startAcceptor(t, ctx, listenS(t, sa, portS1AP, opts)),
		sb: startAcceptor(t, ctx, listenS(t, sb, portS1AP, opts)),
	}
	fams := []netip.Addr{lo4}
	if haveIPv6Loopback() {
		fams = append(fams, lo6)
	} else {
		t.Log("no IPv6 loopback: IPv4 only")
	}
	perDir := 24 // associations per direction and family
	msgs := 24   // messages each way per association
	if testing.Short() {
		perDir, msgs = 6, 8
	}

	type side struct {
		name string
		s    *stack.Stack
		l    *Link
	}
	A, B := side{"A", sa, la}, side{"B", sb, lb}

	// one runs a whole association from dialler d to acceptor a over addr.
	one := func(ctx context.Context, d, a side, addr netip.Addr, k int) error {
		c, err := d.s.Dial(ctx, 0, pathTo(addr, a.l.LocalPort()), 0, portS1AP, opts)
		if err != nil {
			return fmt.Errorf("dial: %w", err)
		}
		x, err := acc[a.s].get(ctx, addr, c.Status().LocalPort)
		if err != nil {
			c.AbortReason("test: not accepted")
			return err
		}
		if p, want := primary(x), pathTo(addr, d.l.LocalPort()); p.Remote != want.Remote || p.RemotePort != want.RemotePort || p.Local != addr {
			return fmt.Errorf("acceptor's path %v; want from %v port %d to %v", p, want.Remote, want.RemotePort, addr)
		}
		if err := exchange(ctx, c, x, uint32(2*k), msgs); err != nil {
			return err
		}
		// By now the dialler has received on the path: the local address
		// is the one it sent to, learned from the packets.
		if p, want := primary(c), pathTo(addr, a.l.LocalPort()); p.Remote != want.Remote || p.RemotePort != want.RemotePort || p.Local != addr {
			return fmt.Errorf("dialler's path %v; want %v from %v", p, want, addr)
		}
		if k%2 == 0 {
			return testlab.Shutdown(ctx, c, x)
		}
		return testlab.Shutdown(ctx, x, c)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 2*perDir*len(fams))
	k := 0
	for _, dir := range [][2]side{{A, B}, {B, A}} {
		for _, addr := range fams {
			for range perDir {
				wg.Add(1)
				go func(k int) {
					defer wg.Done()
					if err := one(ctx, dir[0], dir[1], addr, k); err != nil {
						errs <- fmt.Errorf("%s dials %s over %v, association %d: %w", dir[0].name, dir[1].name, addr, k, err)
					}
				}(k)
				k++
			}
		}
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if len(all) > 0 {
		t.Fatalf("%d of %d associations failed:\n%v", len(all), k, errors.Join(all...))
	}

	n := uint64(perDir * len(fams))
	for _, sd := range []side{A, B} {
		st := sd.s.Stats()
		if st.ActiveEstabs != n || st.PassiveEstabs != n || st.CurrEstab != 0 || st.Shutdowns != 2*n || st.Aborteds != 0 {
			t.Errorf("stack %s: %d active and %d passive opens, %d established, %d shutdowns, %d aborts; want %d, %d, 0, %d, 0",
				sd.name, st.ActiveEstabs, st.PassiveEstabs, st.CurrEstab, st.Shutdowns, st.Aborteds, n, n, 2*n)
		}
		ls := sd.l.Stats()
		t.Logf("link %s (port %d): %+v; stack: %d packets out, %d in, %d T3-rtx, %d checksum errors",
			sd.name, sd.l.LocalPort(), ls, st.OutSCTPPacks, st.InSCTPPacks, st.T3RtxExpireds, st.ChecksumErrors)
		if ls.RxTruncated != 0 || st.ChecksumErrors != 0 || st.MalformedPackets != 0 {
			t.Errorf("link %s: %d truncated, %d checksum errors, %d malformed", sd.name, ls.RxTruncated, st.ChecksumErrors, st.MalformedPackets)
		}
	}
}

// pathTo is the path to a peer's address and UDP port, the local address
// left to the kernel.
func pathTo(addr netip.Addr, port uint16) link.Path {
	return link.Path{Remote: addr, RemotePort: port}
}
