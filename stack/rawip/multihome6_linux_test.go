//go:build linux

package rawip

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
)

// The IPv6 multi-homed lab: mhNewLab's two networks, with IPv6 on and
// an address of 2001:2::/48 (RFC 5180, benchmarking) on each end instead
// of IPv4.
var (
	mh6A = [2]netip.Addr{netip.MustParseAddr("2001:2:20::1"), netip.MustParseAddr("2001:2:21::1")}
	mh6B = [2]netip.Addr{netip.MustParseAddr("2001:2:20::2"), netip.MustParseAddr("2001:2:21::2")}
)

func mh6NewLab(t *testing.T) *fsLab {
	t.Helper()
	l := fsNamespaces(t)
	for _, ns := range []string{l.a, l.b} {
		testlab.Cmd(t, true, "ip", "netns", "exec", ns, "sysctl", "-qw",
			"net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf.default.disable_ipv6=0",
			// Linux removes an interface's IPv6 addresses when it goes down
			// unless told to keep them: the cut below is of the link, not
			// a renumbering.
			"net.ipv6.conf.all.keep_addr_on_down=1", "net.ipv6.conf.default.keep_addr_on_down=1")
	}
	for i := range 2 {
		testlab.Cmd(t, true, "ip", "-n", l.a, "link", "add", mhDevA(i), "type", "veth", "peer", "name", mhDevB(i), "netns", l.b)
		for _, c := range []struct {
			ns, dev string
			addr    netip.Addr
		}{{l.a, mhDevA(i), mh6A[i]}, {l.b, mhDevB(i), mh6B[i]}} {
			// nodad: the address is usable at once, not tentative for a second.
			testlab.Cmd(t, true, "ip", "-n", c.ns, "-6", "addr", "add", c.addr.String()+"/64", "dev", c.dev, "nodad")
			testlab.Cmd(t, true, "ip", "-n", c.ns, "link", "set", c.dev, "up")
		}
	}
	return l
}

// mh6Node is a stack over one native link serving addrs in ns.
func mh6Node(t *testing.T, ns string, addrs []netip.Addr, ports ...uint16) *stack.Stack {
	t.Helper()
	var l *Link
	err := testlab.InNS(ns, func() (err error) {
		l, err = Listen(Config{Addrs: addrs, Ports: ports, RecvBuffer: 4 << 20, SendBuffer: 4 << 20})
		return err
	})
	if err != nil {
		t.Fatalf("rawip.Listen %v in %s: %v", addrs, ns, err)
	}
	t.Cleanup(func() { l.Close() })
	n := &fsNode{ns: ns, link: l, statics: ports}
	s, err := stack.New(stack.Config{Links: []link.Link{l}, PortUse: n.portUse})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close("test over") })
	return s
}

// TestMultihomedIPv6Failover: multi-homing over IPv6 on both ends, our
// stack each side. A dials B's first address from its own first one and
// lists both of its addresses (IPv6 Address parameters, RFC 9260
// 3.3.2.1); B listens on both of its own. Both of A's paths are verified
// (5.4); messages go out every 20 ms and B echoes them; in the middle, the
// veth of the primary network goes down in A. Every echo comes back whole
// and once over the other network, B's path toward A's downed address is
// never the one its echoes wait on for long, and when the veth is up
// again A's primary path is active again.
func TestMultihomedIPv6Failover(t *testing.T) {
	lab := mh6NewLab(t)
	const port = 5006
	srv := mh6Node(t, lab.b, mh6B[:], port)
	so := mhOpts
	so.LocalAddrs = mh6B[:]
	ln, err := srv.Listen(port, so)
	if err != nil {
		t.Fatal(err)
	}
	cli := mh6Node(t, lab.a, mh6A[:])
	ctx := testlab.Ctx(t, 90*time.Second)
	o := mhOpts
	o.LocalAddrs = mh6A[:]
	c, err := cli.DialWith(ctx, 0, link.Path{Local: mh6A[0], Remote: mh6B[0]}, 0, port,
		stack.DialOptions{Options: o, PeerAddrs: mh6B[1:], EventQueue: 1 << 14})
	if err != nil {
		t.Fatalf("dial [%v]:%d: %v", mh6B[0], port, err)
	}
	x, err := ln.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	go echoAll(ctx, x)
	bothActive := func(a *stack.Assoc) bool {
		ps := a.Status().Paths
		for _, p := range ps {
			if p.State != stack.PathActive {
				return false
			}
		}
		return len(ps) == 2
	}
	if !testlab.Poll(10*time.Second, func() bool { return bothActive(c) && bothActive(x) }) {
		t.Fatalf("paths: A %s; B %s: want two verified each way", pathsLine(c.Status()), pathsLine(x.Status()))
	}
	mhEchoAcrossCut(t, ctx, c, testlab.SmallFlow|9, func() error { return mhLinkSet(lab.a, mhDevA(0), "down") },
		func() string { return "A " + pathsLine(c.Status()) + "; B " + pathsLine(x.Status()) })
	if p := pathTo(c.Status(), mh6B[0]); p.State == stack.PathActive {
		t.Errorf("A's path over the downed veth is %v", p.State)
	}
	if p := pathTo(c.Status(), mh6B[1]); p.State != stack.PathActive || p.Errors != 0 {
		t.Errorf("A's path over the other network: %+v", p)
	}
	t.Logf("after the failover: A %s; B %s", pathsLine(c.Status()), pathsLine(x.Status()))
	testlab.Cmd(t, true, "ip", "-n", lab.a, "link", "set", mhDevA(0), "up")
	if !testlab.Poll(30*time.Second, func() bool { return pathTo(c.Status(), mh6B[0]).State == stack.PathActive }) {
		t.Fatalf("A's primary path did not come back: %s", pathsLine(c.Status()))
	}
	if p := c.Status().Primary.Path.Remote; p != mh6B[0] {
		t.Errorf("A's primary path is toward %v, want %v again", p, mh6B[0])
	}
	if err := testlab.EchoFlow(ctx, c, testlab.SmallFlow|10, 16, fsMaxMsg); err != nil {
		t.Fatal(err)
	}
}

// echoAll sends every message x receives back on its stream with its
// PPID and flags, until x ends.
func echoAll(ctx context.Context, x *stack.Assoc) {
	for {
		m, err := x.RecvMsg(ctx)
		if err != nil {
			return
		}
		if x.SendMsg(ctx, m.Data, stack.SndInfo{Stream: m.Stream, PPID: m.PPID, Unordered: m.Unordered}) != nil {
			return
		}
	}
}
