//go:build linux

package udpencap

import (
	"net/netip"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
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

// newPMTULab builds the router lab with a narrow router-server link, or
// skips the test when it cannot.
func newPMTULab(t *testing.T, prefix string) *nsLab {
	t.Helper()
	testlab.NeedRoot(t, "the lab creates network namespaces (CAP_SYS_ADMIN, CAP_NET_ADMIN)")
	testlab.NeedTools(t, "ip", "sysctl")
	return newRouterNS(t, prefix, testlab.RouterNets{ClientV4: "198.18.12", ServerV4: "198.19.12", ClientV6: "2001:2:12", ServerV6: "2001:2:13",
		MTU: pmtuRouterMTU, ServerRoute: true})
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
	ctx := testlab.Ctx(t, time.Minute)
	udpMTU := pmtuRouterMTU
	for _, f := range []struct {
		name           string
		client, server netip.Addr
	}{{"IPv4", pmtuClient4, pmtuServer4}, {"IPv6", pmtuClient6, pmtuServer6}} {
		t.Run(f.name, func(t *testing.T) {
			before := cliLink.Stats().TxFragmented
			c, s := testlab.DialAccept(t, ctx, cli, pathTo(f.server, DefaultPort), 0, portS1AP, fastOpts, ln)
			if got := c.Status().Primary.MTU; got <= udpMTU {
				t.Fatalf("the client starts at path MTU %d, not above the router's %d: nothing to test", got, udpMTU)
			}
			testlab.Burst(t, ctx, c, s, 16, 8<<10, 10*time.Second)
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

// TestE2EAssocNetnsInterfaceMTU: in the same lab the server's own interface
// is the narrow one. Its link tells the engine the MTU of its route to the
// client (Link.MTUHint), so the association it accepts starts at the
// interface's 1280, and a burst of 8 KiB messages from the server leaves
// without one datagram refused by its kernel (EMSGSIZE), nor fragmented;
// the client, whose interface carries 1500, starts at 1500. Without the
// hint the server starts at 1500 and its first full datagrams are refused.
func TestE2EAssocNetnsInterfaceMTU(t *testing.T) {
	lab := newPMTULab(t, "sgwi")
	srvLink := listenIn(t, lab.s, Config{ReadBuffer: 4 << 20})
	cliLink := listenIn(t, lab.c, Config{ReadBuffer: 4 << 20})
	srv, cli := newStackT(t, srvLink), newStackT(t, cliLink)
	ln := listenS(t, srv, portS1AP, fastOpts)
	ctx := testlab.Ctx(t, time.Minute)
	if got := srvLink.MTUHint(pathTo(pmtuClient4, DefaultPort)); got != pmtuRouterMTU {
		t.Fatalf("the server link's MTU hint toward the client is %d, want its interface's %d", got, pmtuRouterMTU)
	}
	c, s := testlab.DialAccept(t, ctx, cli, pathTo(pmtuServer4, DefaultPort), 0, portS1AP, fastOpts, ln)
	if got, want := c.Status().Primary.MTU, 1500; got != want {
		t.Errorf("the client starts at path MTU %d, want its interface's %d", got, want)
	}
	if got := s.Status().Primary.MTU; got != pmtuRouterMTU {
		t.Fatalf("the server starts at path MTU %d, want its interface's %d", got, pmtuRouterMTU)
	}
	testlab.Burst(t, ctx, s, c, 16, 8<<10, 10*time.Second)
	if st := srvLink.Stats(); st.TxErrors != 0 || st.TxFragmented != 0 {
		t.Errorf("server link: %d sends refused, %d datagrams sent fragmentable; want none", st.TxErrors, st.TxFragmented)
	}
}
