package udpencap

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/transport/v3/vnet"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// The association lab on pion's vnet: a public server (203.0.113.10) and
// LANs behind the NAT behaviours of RFC 4787 that matter to SCTP over UDP.
// Every NAT forgets an idle mapping after assocNATLifetime (vnet refreshes
// a mapping only on outbound traffic, like most NATs), so a test rebinds a
// client by keeping it quiet that long.
const assocNATLifetime = 2 * time.Second

var (
	assocServer = netip.MustParseAddr("203.0.113.10")
	toAssocSrv  = link.Path{Remote: assocServer, RemotePort: DefaultPort}
)

type assocNAT struct {
	name  string
	nat   netip.Addr   // public address
	hosts []*vnet.Net  // hosts in the LAN
	addrs []netip.Addr // their private addresses
}

// newAssocVNet builds three LANs: endpoint-independent mapping and
// filtering (full cone), endpoint-independent mapping with address-and-port
// dependent filtering (port-restricted cone, the common home router, two
// hosts), and a symmetric NAT.
func newAssocVNet(t *testing.T) (*vnet.Net, []assocNAT) {
	t.Helper()
	nat := func(m, f vnet.EndpointDependencyType) vnet.NATType {
		return vnet.NATType{MappingBehavior: m, FilteringBehavior: f, MappingLifeTime: assocNATLifetime}
	}
	specs := []vnetLAN{
		{CIDR: "10.1.0.0/24", NAT: "203.0.113.1", Hosts: []string{"10.1.0.2"}, NATType: nat(vnet.EndpointIndependent, vnet.EndpointIndependent)},
		{CIDR: "10.2.0.0/24", NAT: "203.0.113.2", Hosts: []string{"10.2.0.2", "10.2.0.3"}, NATType: nat(vnet.EndpointIndependent, vnet.EndpointAddrPortDependent)},
		{CIDR: "10.3.0.0/24", NAT: "203.0.113.3", Hosts: []string{"10.3.0.2"}, NATType: nat(vnet.EndpointAddrPortDependent, vnet.EndpointAddrPortDependent)},
	}
	names := []string{"endpoint-independent", "port-restricted", "symmetric"}
	srv, hosts := buildVNet(t, assocServer.String(), specs...)
	nats := make([]assocNAT, len(specs))
	for i, s := range specs {
		nats[i] = assocNAT{name: names[i], nat: netip.MustParseAddr(s.NAT), hosts: hosts[i]}
		for _, h := range s.Hosts {
			nats[i].addrs = append(nats[i].addrs, netip.MustParseAddr(h))
		}
	}
	return srv, nats
}

// TestAssocVNetNAT runs whole associations over the UDP link through each
// kind of NAT, client in the LAN, server public, one UDP port per side:
//
//   - the client dials out; the server sees the NAT's address and mapped
//     port as the path; data crosses both ways intact;
//   - the server dials back through the same mapping (the link dials and
//     accepts on one socket) to a listener of the client; data both ways;
//   - the NAT forgets the idle mapping and the client's next packet comes
//     from a new external port: both server-side associations adopt it (RFC
//     6951 5.4), stay ESTABLISHED, and data the server sent into the stale
//     mapping arrives after all, retransmitted to the new port;
//   - both associations shut down gracefully, one from each side.
func TestAssocVNetNAT(t *testing.T) {
	srvNet, nats := newAssocVNet(t)
	srvLink := listenT(t, Config{Net: srvNet, Addr: netip.AddrPortFrom(assocServer, 0)})
	srv := newStackT(t, srvLink)
	srvLn := listenS(t, srv, portS1AP, fastOpts)

	for i, n := range nats {
		t.Run(n.name, func(t *testing.T) {
			ctx := testlab.Ctx(t, 60*time.Second)
			flow := uint32(100 * (i + 1))
			cliLink := listenT(t, Config{Net: n.hosts[0], Addr: netip.AddrPortFrom(n.addrs[0], 0)})
			cli := newStackT(t, cliLink)
			cliLn := listenS(t, cli, portNGAP, fastOpts)

			// 1. Out through the NAT.
			c1, s1 := testlab.DialAccept(t, ctx, cli, toAssocSrv, 0, portS1AP, fastOpts, srvLn)
			p := primary(s1)
			if p.Remote != n.nat || p.RemotePort == 0 || p.Local != assocServer {
				t.Fatalf("server's path %v; want from the NAT %v to %v", p, n.nat, assocServer)
			}
			if cp := primary(c1); cp.Remote != assocServer || cp.RemotePort != DefaultPort {
				t.Fatalf("client's path %v; want %v", cp, toAssocSrv)
			}
			t.Logf("client %v:%d appears as %v:%d", n.addrs[0], cliLink.LocalPort(), p.Remote, p.RemotePort)
			exchangeT(t, ctx, c1, s1, flow, 40)

			// 2. Back in through the same mapping, from the same socket.
			s2, c2 := testlab.DialAccept(t, ctx, srv, primary(s1), 0, portNGAP, fastOpts, cliLn)
			if cp := primary(c2); cp.Remote != assocServer || cp.RemotePort != DefaultPort {
				t.Fatalf("the client's accepted association has path %v; want %v", cp, toAssocSrv)
			}
			exchangeT(t, ctx, s2, c2, flow+10, 40)

			// 3. Rebinding: the mapping expires while the client is
			// quiet. The server talks first, into the stale mapping.
			old := primary(s1).RemotePort
			if p2 := primary(s2).RemotePort; p2 != old {
				t.Fatalf("the server's two associations to one client socket use ports %d and %d", old, p2)
			}
			time.Sleep(assocNATLifetime + 500*time.Millisecond)
			testlab.WantEstablished(t, "after the idle spell", c1, s1, s2, c2)
			t3 := srv.Stats().T3RtxExpireds
			for _, x := range []*stack.Assoc{s1, s2} {
				if err := x.SendMsg(ctx, []byte("into the stale mapping"), stack.SndInfo{Stream: 1, PPID: 60}); err != nil {
					t.Fatal(err)
				}
			}
			// Give the stale packets time to get lost before the client
			// opens the new mapping.
			time.Sleep(200 * time.Millisecond)
			for _, x := range []*stack.Assoc{c1, c2} {
				if err := x.SendMsg(ctx, []byte("from a new port"), stack.SndInfo{Stream: 2, PPID: 18}); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range []struct {
				x    *stack.Assoc
				want string
			}{{s1, "from a new port"}, {s2, "from a new port"}, {c1, "into the stale mapping"}, {c2, "into the stale mapping"}} {
				m, err := r.x.RecvMsg(ctx)
				if err != nil {
					t.Fatalf("after the rebinding: %v", err)
				}
				if string(m.Data) != r.want {
					t.Fatalf("after the rebinding got %q, want %q", m.Data, r.want)
				}
			}
			now := primary(s1).RemotePort
			if now == old {
				t.Fatalf("the server's association still sends to port %d after the NAT rebound the client", old)
			}
			if p2 := primary(s2); p2.RemotePort != now || p2.Remote != n.nat {
				t.Fatalf("the server's dialled association has path %v; the accepted one adopted port %d", p2, now)
			}
			t.Logf("after the rebinding the client appears as %v:%d (was %d)", n.nat, now, old)
			if srv.Stats().T3RtxExpireds == t3 {
				t.Fatal("the server never retransmitted: its data cannot have gone into the stale mapping")
			}
			testlab.WantEstablished(t, "after the rebinding", c1, s1, s2, c2)
			exchangeT(t, ctx, c1, s1, flow+20, 40)
			exchangeT(t, ctx, s2, c2, flow+30, 40)

			// 4. Graceful shutdown, once from each side.
			shutdownT(t, ctx, c1, s1)
			shutdownT(t, ctx, s2, c2)
		})
	}
	if st := srv.Stats(); st.CurrEstab != 0 || st.Aborteds != 0 {
		t.Errorf("server stats at the end: %+v", st)
	}
}

// TestAssocVNetHeartbeatKeepsMapping: heartbeats on an idle association
// refresh the NAT mapping (what the 15 s default of
// draft-tuexen-tsvwg-sctp-udp-encaps-cons section 5 is for), so the
// client's external port does not change however long it is quiet and the
// server's data reaches it there. (Had the mapping expired, the client's
// next packet, its SACK or HEARTBEAT, would have come from a new port.)
func TestAssocVNetHeartbeatKeepsMapping(t *testing.T) {
	srvNet, nats := newAssocVNet(t)
	n := nats[1] // port-restricted
	opts := fastOpts
	opts.PeerAddr.HBInterval = 200 * time.Millisecond
	srv := newStackT(t, listenT(t, Config{Net: srvNet, Addr: netip.AddrPortFrom(assocServer, 0)}))
	ln := listenS(t, srv, portS1AP, opts)
	cli := newStackT(t, listenT(t, Config{Net: n.hosts[0], Addr: netip.AddrPortFrom(n.addrs[0], 0)}))
	ctx := testlab.Ctx(t, 30*time.Second)

	c, s := testlab.DialAccept(t, ctx, cli, toAssocSrv, 0, portS1AP, opts, ln)
	exchangeT(t, ctx, c, s, 1, 20)
	port := primary(s).RemotePort
	before := srv.Stats()
	time.Sleep(3 * assocNATLifetime)
	if hb := srv.Stats().HBExpireds - before.HBExpireds + cli.Stats().HBExpireds; hb == 0 {
		t.Fatal("no heartbeats during the idle spell")
	}
	if err := s.SendMsg(ctx, []byte("still mapped"), stack.SndInfo{PPID: 18}); err != nil {
		t.Fatal(err)
	}
	if m, err := c.RecvMsg(ctx); err != nil || string(m.Data) != "still mapped" {
		t.Fatalf("after the idle spell: %q, %v", m.Data, err)
	}
	if p := primary(s).RemotePort; p != port {
		t.Fatalf("the client's external port changed from %d to %d although heartbeats kept the mapping", port, p)
	}
	shutdownT(t, ctx, s, c)
}

// TestAssocVNetSamePortsBehindOneNAT: two hosts behind one NAT that use the
// same SCTP source port toward the same server port look to the server like
// one SCTP peer (same address, same ports) on two encapsulation ports. The
// second one's INIT matches the first one's association, so
// draft-tuexen-tsvwg-sctp-udp-encaps-cons section 4 rule 7 applies: an
// ABORT with cause 14 "Restart of an Association with New Encapsulation
// Port" naming both ports, sent back encapsulated to the INIT's source
// port; the first association is untouched. With another SCTP port the
// second host gets its association.
func TestAssocVNetSamePortsBehindOneNAT(t *testing.T) {
	srvNet, nats := newAssocVNet(t)
	n := nats[1] // port-restricted, two hosts
	srv := newStackT(t, listenT(t, Config{Net: srvNet, Addr: netip.AddrPortFrom(assocServer, 0)}))
	ln := listenS(t, srv, portS1AP, fastOpts)
	cliA := newStackT(t, listenT(t, Config{Net: n.hosts[0], Addr: netip.AddrPortFrom(n.addrs[0], 0)}))
	cliB := newStackT(t, listenT(t, Config{Net: n.hosts[1], Addr: netip.AddrPortFrom(n.addrs[1], 0)}))
	ctx := testlab.Ctx(t, 30*time.Second)
	const sctpPort = 5000

	a, sa := testlab.DialAccept(t, ctx, cliA, toAssocSrv, sctpPort, portS1AP, fastOpts, ln)
	exchangeT(t, ctx, a, sa, 1, 10)
	portA := primary(sa).RemotePort

	_, err := cliB.Dial(ctx, 0, toAssocSrv, sctpPort, portS1AP, fastOpts)
	var ae *stack.AssocError
	if !errors.As(err, &ae) || ae.Event.Type != engine.CantStartAssoc || !errors.Is(err, engine.ErrPeerAborted) {
		t.Fatalf("second host dialling from the same SCTP port: %v; want CANT_STR_ASSOC, aborted by the peer", err)
	}
	if len(ae.Event.Causes) != 1 {
		t.Fatalf("ABORT causes %v, want one", ae.Event.Causes)
	}
	c14, ok := ae.Event.Causes[0].(*wire.RestartWithNewEncapPortCause)
	if !ok {
		t.Fatalf("ABORT cause %#v, want Restart of an Association with New Encapsulation Port", ae.Event.Causes[0])
	}
	if c14.CurrentPort != portA || c14.NewPort == portA || c14.NewPort == 0 {
		t.Fatalf("cause 14 says current port %d, new port %d; the first host's external port is %d", c14.CurrentPort, c14.NewPort, portA)
	}
	t.Logf("cause 14: current encapsulation port %d, new %d", c14.CurrentPort, c14.NewPort)
	testlab.WantEstablished(t, "the first host's association after the refused INIT", a, sa)
	if p := primary(sa).RemotePort; p != portA {
		t.Fatalf("the refused INIT moved the first association from port %d to %d (rule 1)", portA, p)
	}
	exchangeT(t, ctx, a, sa, 3, 10)

	b, sb := testlab.DialAccept(t, ctx, cliB, toAssocSrv, 0, portS1AP, fastOpts, ln)
	if p := primary(sb); p.Remote != n.nat || p.RemotePort != c14.NewPort {
		t.Fatalf("second host's association on %v; want %v port %d", p, n.nat, c14.NewPort)
	}
	exchangeT(t, ctx, b, sb, 5, 10)
	shutdownT(t, ctx, a, sa)
	shutdownT(t, ctx, sb, b)
}
