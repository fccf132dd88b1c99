//go:build linux

package udpencap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack"
)

// The path-MTU lab: client (C) -- router (R) -- server (S), routed without
// NAT, where R's link toward S has a smaller MTU than C's interface, as on a
// GRE or IPsec tunnel in a telecom lab. The client's engine starts at its
// default path MTU (1500), so its first datagrams are too big for R, which
// drops them (DF) and answers with ICMP "fragmentation needed" / ICMPv6
// "packet too big".
const pmtuRouterMTU = 1280

var (
	pmtuClient4 = netip.MustParseAddr("198.18.12.2")
	pmtuServer4 = netip.MustParseAddr("198.19.12.2")
	pmtuClient6 = netip.MustParseAddr("2001:2:12::2")
	pmtuServer6 = netip.MustParseAddr("2001:2:13::2")
)

// newPMTULab builds the lab in namespaces prefix-<pid>-{c,r,s}; they go when
// the test ends, failed or not, and sweepStaleNS removes those of killed
// runs.
func newPMTULab(t *testing.T, prefix string) *nsLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("root is needed to create network namespaces (CAP_SYS_ADMIN, CAP_NET_ADMIN)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("the namespace lab needs iproute2's ip")
	}
	sweepStaleNS(t, prefix)
	pid := os.Getpid()
	l := &nsLab{prefix: prefix, c: fmt.Sprintf("%s-%d-c", prefix, pid), r: fmt.Sprintf("%s-%d-r", prefix, pid), s: fmt.Sprintf("%s-%d-s", prefix, pid)}
	for _, ns := range []string{l.c, l.r, l.s} {
		t.Cleanup(func() { cmd(t, false, "ip", "netns", "del", ns) })
		cmd(t, true, "ip", "netns", "add", ns)
		cmd(t, true, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	cmd(t, true, "ip", "-n", l.c, "link", "add", "c0", "type", "veth", "peer", "name", "r0", "netns", l.r)
	cmd(t, true, "ip", "-n", l.r, "link", "add", "r1", "type", "veth", "peer", "name", "s0", "netns", l.s)
	mtu := fmt.Sprint(pmtuRouterMTU)
	cmd(t, true, "ip", "-n", l.r, "link", "set", "r1", "mtu", mtu)
	cmd(t, true, "ip", "-n", l.s, "link", "set", "s0", "mtu", mtu)
	for _, a := range []struct{ ns, dev, v4, v6 string }{
		{l.c, "c0", "198.18.12.2/24", "2001:2:12::2/64"},
		{l.r, "r0", "198.18.12.1/24", "2001:2:12::1/64"},
		{l.r, "r1", "198.19.12.1/24", "2001:2:13::1/64"},
		{l.s, "s0", "198.19.12.2/24", "2001:2:13::2/64"},
	} {
		cmd(t, true, "ip", "-n", a.ns, "addr", "add", a.v4, "dev", a.dev)
		cmd(t, true, "ip", "-n", a.ns, "-6", "addr", "add", a.v6, "dev", a.dev, "nodad")
		cmd(t, true, "ip", "-n", a.ns, "link", "set", a.dev, "up")
	}
	cmd(t, true, "ip", "-n", l.c, "route", "add", "default", "via", "198.18.12.1")
	cmd(t, true, "ip", "-n", l.c, "-6", "route", "add", "default", "via", "2001:2:12::1")
	cmd(t, true, "ip", "-n", l.s, "route", "add", "default", "via", "198.19.12.1")
	cmd(t, true, "ip", "-n", l.s, "-6", "route", "add", "default", "via", "2001:2:13::1")
	cmd(t, true, "ip", "netns", "exec", l.r, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	return l
}

// TestE2EAssocNetnsPMTUDrop: a burst of 8 KiB messages right after the
// handshake is cut into chunks for the engine's initial path MTU; R drops
// them and reports its smaller MTU. The chunks already have their TSNs and
// may not be cut again (RFC 9260 6.9), so they go again whole with
// link.Packet.Fragment, which the link sends with DF lifted, over IPv4 and
// IPv6 on one dual-stack socket: every message must arrive and the
// associations stay up. Sent with DF set they would be dropped by R, or
// refused locally once the kernel knows the MTU, until the association died.
func TestE2EAssocNetnsPMTUDrop(t *testing.T) {
	lab := newPMTULab(t, "sgwm")
	srvLink := listenIn(t, lab.s, Config{ReadBuffer: 4 << 20})
	cliLink := listenIn(t, lab.c, Config{ReadBuffer: 4 << 20})
	srv, cli := newStackT(t, srvLink), newStackT(t, cliLink)
	ln := listenS(t, srv, portS1AP, fastOpts)
	ctx := ctxT(t, time.Minute)
	udpMTU := pmtuRouterMTU
	for _, f := range []struct {
		name           string
		client, server netip.Addr
	}{{"IPv4", pmtuClient4, pmtuServer4}, {"IPv6", pmtuClient6, pmtuServer6}} {
		t.Run(f.name, func(t *testing.T) {
			before := cliLink.Stats().TxFragmented
			c, s := dialAccept(t, ctx, cli, pathTo(f.server, DefaultPort), 0, portS1AP, fastOpts, ln)
			if got := c.Status().Primary.MTU; got <= udpMTU {
				t.Fatalf("the client starts at path MTU %d, not above the router's %d: nothing to test", got, udpMTU)
			}
			pmtuBurst(t, ctx, c, s, 16, 8<<10, 10*time.Second)
			if got := c.Status().Primary.MTU; got != udpMTU {
				t.Errorf("the client's path MTU is %d, want the router's %d", got, udpMTU)
			}
			st := cliLink.Stats()
			t.Logf("client link %+v", st)
			if st.TxFragmented == before || st.TxFragmentErrors != 0 {
				t.Errorf("client link: %d datagrams sent fragmentable, %d option errors; want some and none", st.TxFragmented-before, st.TxFragmentErrors)
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
	wantEstablished(t, "after the burst", c, s)
}
