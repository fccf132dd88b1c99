//go:build linux

package rawip

import (
	"net/netip"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
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

// newPMTULab builds A --pa/ra-- R --rb/pb-- B (testlab.NewRouter) for one
// address family, with 198.18.10.0/24 and 198.18.11.0/24 (RFC 2544) or
// 2001:2:a::/64 and 2001:2:b::/64 (RFC 5180), the router-server link
// narrowed to pmtuRouterMTU.
func newPMTULab(t *testing.T, v6 bool) *pmtuLab {
	t.Helper()
	nets := testlab.RouterNets{MTU: pmtuRouterMTU, ServerRoute: true}
	if v6 {
		nets.ClientV6, nets.ServerV6 = "2001:2:a", "2001:2:b"
	} else {
		nets.ClientV4, nets.ServerV4 = "198.18.10", "198.18.11"
	}
	r := testlab.NewRouter(t, fsNSPrefix, nets)
	return &pmtuLab{a: r.C, r: r.R, b: r.S, addrA: r.Client(v6), addrB: r.Server(v6)}
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
			ctx := testlab.Ctx(t, 30*time.Second)
			path := link.Path{Local: lab.addrA, Remote: lab.addrB}
			c, s := testlab.DialAccept(t, ctx, cli.stack, path, 0, fsPortS1AP, fsOpts, ln)
			if got := c.Status().Primary.MTU; got <= pmtuRouterMTU {
				t.Fatalf("the client starts at path MTU %d, not above the router's %d: nothing to test", got, pmtuRouterMTU)
			}
			testlab.Burst(t, ctx, c, s, 16, 8<<10, 10*time.Second)
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
