//go:build linux

package rawip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// The path-MTU lab: namespaces A and B with a router R between them whose
// link toward B has a smaller MTU than A's interface, as on a telecom lab's
// GRE or IPsec tunnel. A starts at the engine's default path MTU (1500), so
// its first packets are too big for R, which drops them (DF) and answers
// with ICMP "fragmentation needed" / ICMPv6 "packet too big".
const pmtuRouterMTU = 1280

type pmtuLab struct {
	a, r, b string
	addrA   netip.Addr
	addrB   netip.Addr
}

// newPMTULab builds A --pa/ra-- R --rb/pb-- B for one address family, with
// 198.18.10.0/24 and 198.18.11.0/24 (RFC 2544) or 2001:2:a::/64 and
// 2001:2:b::/64 (RFC 5180). The namespaces go when the test ends, failed or
// not, and testlab.SweepStaleNS removes those of killed runs (same prefix).
func newPMTULab(t *testing.T, v6 bool) *pmtuLab {
	t.Helper()
	fsNeedRoot(t)
	testlab.SweepStaleNS(t, fsNSPrefix)
	n := fsNSSeq.Add(1)
	name := func(s string) string { return fmt.Sprintf("%s-%d-%d-%s", fsNSPrefix, os.Getpid(), n, s) }
	l := &pmtuLab{a: name("a"), r: name("r"), b: name("b")}
	for _, ns := range []string{l.a, l.r, l.b} {
		t.Cleanup(func() { testlab.Cmd(t, false, "ip", "netns", "del", ns) })
		testlab.Cmd(t, true, "ip", "netns", "add", ns)
		testlab.Cmd(t, true, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	testlab.Cmd(t, true, "ip", "-n", l.a, "link", "add", "pa", "type", "veth", "peer", "name", "ra", "netns", l.r)
	testlab.Cmd(t, true, "ip", "-n", l.b, "link", "add", "pb", "type", "veth", "peer", "name", "rb", "netns", l.r)
	mtu := fmt.Sprint(pmtuRouterMTU)
	testlab.Cmd(t, true, "ip", "-n", l.r, "link", "set", "rb", "mtu", mtu)
	testlab.Cmd(t, true, "ip", "-n", l.b, "link", "set", "pb", "mtu", mtu)
	fam, plen, netA, netB, host, gw := "-4", "/24", "198.18.10.", "198.18.11.", "1", "254"
	if v6 {
		fam, plen, netA, netB, host, gw = "-6", "/64", "2001:2:a::", "2001:2:b::", "1", "fe"
	}
	l.addrA, l.addrB = netip.MustParseAddr(netA+host), netip.MustParseAddr(netB+host)
	for _, c := range []struct{ ns, dev, addr string }{
		{l.a, "pa", netA + host}, {l.r, "ra", netA + gw}, {l.r, "rb", netB + gw}, {l.b, "pb", netB + host},
	} {
		args := []string{"-n", c.ns, fam, "addr", "add", c.addr + plen, "dev", c.dev}
		if v6 {
			args = append(args, "nodad")
		}
		testlab.Cmd(t, true, "ip", args...)
		testlab.Cmd(t, true, "ip", "-n", c.ns, "link", "set", c.dev, "up")
	}
	testlab.Cmd(t, true, "ip", "-n", l.a, fam, "route", "add", "default", "via", netA+gw)
	testlab.Cmd(t, true, "ip", "-n", l.b, fam, "route", "add", "default", "via", netB+gw)
	fwd := "net.ipv4.ip_forward=1"
	if v6 {
		fwd = "net.ipv6.conf.all.forwarding=1"
	}
	testlab.Cmd(t, true, "ip", "netns", "exec", l.r, "sysctl", "-qw", fwd)
	return l
}

// TestPMTUDropRouterNative: a burst of 8 KiB messages right after the
// handshake is cut into chunks for the engine's initial path MTU; R drops
// them and reports its smaller MTU. The chunks already have their TSNs and
// may not be cut again (RFC 9260 6.9), so they go again whole with
// link.Packet.Fragment, which the link sends with DF lifted: every message
// must arrive and the association stay up. Sent with DF, they would be
// refused (EMSGSIZE against the learnt path MTU) or dropped by R forever
// and the association lost.
func TestPMTUDropRouterNative(t *testing.T) {
	for _, fam := range []struct {
		name string
		v6   bool
	}{{"ipv4", false}, {"ipv6", true}} {
		t.Run(fam.name, func(t *testing.T) {
			lab := newPMTULab(t, fam.v6)
			srv := fsNewNode(t, lab.b, lab.addrB, fsPortS1AP)
			cli := fsNewNode(t, lab.a, lab.addrA)
			ln, err := srv.stack.Listen(fsPortS1AP, fsOpts)
			if err != nil {
				t.Fatal(err)
			}
			ctx := fsCtx(t, 30*time.Second)
			path := link.Path{Local: lab.addrA, Remote: lab.addrB}
			c, s := fsDialAccept(t, ctx, cli.stack, path, fsPortS1AP, fsOpts, ln)
			if got := c.Status().Primary.MTU; got <= pmtuRouterMTU {
				t.Fatalf("the client starts at path MTU %d, not above the router's %d: nothing to test", got, pmtuRouterMTU)
			}
			pmtuBurst(t, ctx, c, s, 16, 8<<10, 10*time.Second)
			if got := c.Status().Primary.MTU; got != pmtuRouterMTU {
				t.Errorf("the client's path MTU is %d, want the router's %d", got, pmtuRouterMTU)
			}
			st := cli.link.Stats()
			t.Logf("client link %+v, engine %d packets out, %d T3-rtx expiries", st, cli.stack.Stats().OutSCTPPacks, cli.stack.Stats().T3RtxExpireds)
			if st.Fragmented == 0 || st.FragmentErrors != 0 {
				t.Errorf("client link: %d packets sent fragmentable, %d option errors; want some and none", st.Fragmented, st.FragmentErrors)
			}
		})
	}
}

// pmtuBurst sends n messages of size bytes from c at once and reads them at
// s within limit; both ends must still be ESTABLISHED afterwards.
func pmtuBurst(t *testing.T, ctx context.Context, c, s *stack.Assoc, n, size int, limit time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	msg := func(i int) []byte {
		b := make([]byte, size)
		for j := range b {
			b[j] = byte(i*31 + j*7)
		}
		return b
	}
	sendErr := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			if err := c.SendMsg(ctx, msg(i), stack.SndInfo{PPID: 46}); err != nil {
				sendErr <- fmt.Errorf("SendMsg %d: %w", i, err)
				return
			}
		}
		sendErr <- nil
	}()
	for i := 0; i < n; i++ {
		m, err := s.RecvMsg(ctx)
		if err != nil {
			t.Fatalf("after %d of %d messages: %v (client state %v, MTU %d)", i, n,
				errors.Join(err, <-sendErr), c.Status().State, c.Status().Primary.MTU)
		}
		if !bytes.Equal(m.Data, msg(i)) {
			t.Fatalf("message %d: %d bytes, corrupted or out of order", i, len(m.Data))
		}
	}
	if err := <-sendErr; err != nil {
		t.Fatal(err)
	}
	for i, x := range []*stack.Assoc{c, s} {
		if st := x.Status().State; st != engine.StateEstablished {
			t.Fatalf("end %d is %v after the burst, want ESTABLISHED", i, st)
		}
	}
}
