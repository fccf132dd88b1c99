package udpencap

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v3/vnet"

	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// vnetLab is a public network (203.0.113.0/24) with a server, and two LANs
// behind NAT routers: lan1 with endpoint-independent mapping and
// port-restricted (address and port dependent) filtering, the common home
// router, and lan2 with a symmetric NAT (mapping and filtering address and
// port dependent).
type vnetLab struct {
	server, client1, client2 *vnet.Net
	nat1, nat2               netip.Addr // the NATs' public addresses
}

// natLifetime is lan1's mapping lifetime: short, so that an idle binding
// expires within the test, as a real NAT's does after 30 s or more.
const natLifetime = 1500 * time.Millisecond

func newVNetLab(t *testing.T) *vnetLab {
	t.Helper()
	lab := &vnetLab{nat1: netip.MustParseAddr("203.0.113.1"), nat2: netip.MustParseAddr("203.0.113.2")}
	var lans [][]*vnet.Net
	lab.server, lans = buildVNet(t, "203.0.113.10",
		vnetLAN{CIDR: "10.1.0.0/24", NAT: lab.nat1.String(), Hosts: []string{"10.1.0.2"}, NATType: vnet.NATType{
			MappingBehavior:   vnet.EndpointIndependent,
			FilteringBehavior: vnet.EndpointAddrPortDependent,
			MappingLifeTime:   natLifetime,
		}},
		vnetLAN{CIDR: "10.2.0.0/24", NAT: lab.nat2.String(), Hosts: []string{"10.2.0.2"}, NATType: vnet.NATType{
			MappingBehavior:   vnet.EndpointAddrPortDependent,
			FilteringBehavior: vnet.EndpointAddrPortDependent,
		}},
	)
	lab.client1, lab.client2 = lans[0][0], lans[1][0]
	return lab
}

// vnetLAN is a private network behind a NAT router on the public network
// 203.0.113.0/24 (RFC 5737 TEST-NET-3).
type vnetLAN struct {
	CIDR    string   // the private network
	NAT     string   // the NAT's public address
	Hosts   []string // host addresses in CIDR
	NATType vnet.NATType
}

// buildVNet starts the public network with one host at server and the
// LANs, and returns the server's Net and, per LAN, its hosts' Nets. The
// network stops with the test.
func buildVNet(t *testing.T, server string, lans ...vnetLAN) (*vnet.Net, [][]*vnet.Net) {
	t.Helper()
	lf := logging.NewDefaultLoggerFactory()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	wan, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "203.0.113.0/24", LoggerFactory: lf})
	must(err)
	srv, err := vnet.NewNet(&vnet.NetConfig{StaticIP: server})
	must(err)
	must(wan.AddNet(srv))
	hosts := make([][]*vnet.Net, len(lans))
	for i, lan := range lans {
		nt := lan.NATType
		r, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: lan.CIDR, StaticIPs: []string{lan.NAT}, LoggerFactory: lf, NATType: &nt})
		must(err)
		must(wan.AddRouter(r))
		for _, h := range lan.Hosts {
			n, err := vnet.NewNet(&vnet.NetConfig{StaticIP: h})
			must(err)
			must(r.AddNet(n))
			hosts[i] = append(hosts[i], n)
		}
	}
	must(wan.Start())
	t.Cleanup(func() { wan.Stop() })
	return srv, hosts
}

// initPacket is a well-formed INIT from SCTP port src to dst, as an
// encapsulated association would open (verification tag 0, no addresses:
// RFC 6951 3.2, 5.7).
func initPacket(src, dst uint16, tag uint32) []byte {
	return wire.AppendPacket(nil, wire.CommonHeader{SrcPort: src, DstPort: dst},
		&wire.Init{InitFields: wire.InitFields{InitiateTag: tag, ARwnd: 1 << 20, OutStreams: 2, InStreams: 2, InitialTSN: tag}})
}

func parseInit(t *testing.T, b []byte) *wire.Init {
	t.Helper()
	var p wire.Packet
	if err := p.Unmarshal(b); err != nil {
		t.Fatalf("INIT does not parse: %v", err)
	}
	if len(p.Chunks) != 1 || p.Chunks[0].Type != wire.TypeInit || p.VerificationTag != 0 {
		t.Fatalf("not an INIT packet: tag %d, chunks %v", p.VerificationTag, chunkTypes(&p))
	}
	var in wire.Init
	if err := in.Unmarshal(p.Chunks[0]); err != nil {
		t.Fatal(err)
	}
	return &in
}

func fromAddr(a netip.Addr) func(*link.Packet) bool {
	return func(p *link.Packet) bool { return p.Path.Remote == a }
}

// TestVNetNAT: links behind NATs reach a public link; the public side sees
// the NAT's address and mapped port, replies to the Path it got, and sees a
// new RemotePort after the NAT's mapping changes (expiry or rebinding).
func TestVNetNAT(t *testing.T) {
	lab := newVNetLab(t)
	serverAddr := netip.MustParseAddr("203.0.113.10")
	client1Addr := netip.MustParseAddr("10.1.0.2")

	srv := listenT(t, Config{Net: lab.server, Addr: netip.AddrPortFrom(serverAddr, 0)})
	if srv.LocalPort() != DefaultPort {
		t.Fatalf("server port %d, want the default %d", srv.LocalPort(), DefaultPort)
	}
	srv2 := listenT(t, Config{Net: lab.server, Addr: netip.AddrPortFrom(serverAddr, 9900)})
	c1 := listenT(t, Config{Net: lab.client1, Addr: netip.AddrPortFrom(client1Addr, 0)})
	ps, ps2, pc1 := startPump(t, srv), startPump(t, srv2), startPump(t, c1)
	toServer := link.Path{Remote: serverAddr, RemotePort: DefaultPort}
	const wait = 3 * time.Second

	// 1. INIT out through the NAT: the server sees the mapping.
	writeAll(t, c1, []link.Packet{{Path: toServer, Buf: initPacket(5000, 38412, 0x1111)}})
	got, ok := ps.next(wait, nil)
	if !ok {
		t.Fatal("INIT did not reach the server")
	}
	if in := parseInit(t, got.Buf); in.InitiateTag != 0x1111 {
		t.Fatalf("initiate tag %#x", in.InitiateTag)
	}
	mapped := got.Path.RemotePort
	if got.Path.Remote != lab.nat1 || mapped == c1.LocalPort() || mapped == 0 {
		t.Fatalf("server saw %v; want the NAT's address %v and a mapped port other than %d", got.Path, lab.nat1, c1.LocalPort())
	}
	if got.Path.Local != serverAddr {
		t.Fatalf("server's Path.Local %v, want %v", got.Path.Local, serverAddr)
	}
	t.Logf("client1 %v:%d appears as %v:%d", client1Addr, c1.LocalPort(), got.Path.Remote, mapped)

	// 2. The reply on that Path arrives.
	writeAll(t, srv, []link.Packet{{Path: got.Path, Buf: dataPacket(nil, 38412, 5000, 1, 100)}})
	back, ok := pc1.next(wait, nil)
	if !ok {
		t.Fatal("the reply did not cross the NAT")
	}
	if want := (link.Path{Local: client1Addr, Remote: serverAddr, RemotePort: DefaultPort}); back.Path != want {
		t.Fatalf("client got %v, want %v", back.Path, want)
	}

	// 3. Port-restricted filtering: another port of the server cannot use
	// the mapping until the client has sent to that port.
	writeAll(t, srv2, []link.Packet{{Path: got.Path, Buf: dataPacket(nil, 38412, 5000, 2, 100)}})
	if !pc1.quiet(300*time.Millisecond, nil) {
		t.Fatal("the NAT let in a packet from a port the client never sent to")
	}
	writeAll(t, c1, []link.Packet{{Path: link.Path{Remote: serverAddr, RemotePort: 9900}, Buf: initPacket(5001, 38412, 0x2222)}})
	got2, ok := ps2.next(wait, nil)
	if !ok {
		t.Fatal("INIT to the second port did not arrive")
	}
	if got2.Path.RemotePort != mapped {
		t.Fatalf("endpoint-independent mapping gave port %d toward :9900 and %d toward :9899", got2.Path.RemotePort, mapped)
	}
	writeAll(t, srv2, []link.Packet{{Path: got2.Path, Buf: dataPacket(nil, 38412, 5001, 3, 100)}})
	if _, ok := pc1.next(wait, nil); !ok {
		t.Fatal("reply from the second port did not arrive after the client opened the filter")
	}

	// 4. The mapping expires while idle: the next packet comes from a new
	// port, which the server must adopt (RFC 6951 5.4); the old one is dead.
	time.Sleep(natLifetime + 300*time.Millisecond)
	writeAll(t, c1, []link.Packet{{Path: toServer, Buf: dataPacket(nil, 5000, 38412, 4, 100)}})
	got3, ok := ps.next(wait, nil)
	if !ok {
		t.Fatal("nothing arrived after the mapping expired")
	}
	if got3.Path.Remote != lab.nat1 || got3.Path.RemotePort == mapped {
		t.Fatalf("after expiry the server saw %v; want a new port on %v (old %d)", got3.Path, lab.nat1, mapped)
	}
	t.Logf("after expiry: %v:%d", got3.Path.Remote, got3.Path.RemotePort)
	writeAll(t, srv, []link.Packet{{Path: got.Path, Buf: dataPacket(nil, 38412, 5000, 5, 100)}})
	if !pc1.quiet(300*time.Millisecond, nil) {
		t.Fatal("a packet to the expired mapping arrived")
	}
	writeAll(t, srv, []link.Packet{{Path: got3.Path, Buf: dataPacket(nil, 38412, 5000, 6, 100)}})
	if _, ok := pc1.next(wait, nil); !ok {
		t.Fatal("a packet to the new mapping did not arrive")
	}

	// 5. The client rebinds (a restarted process, a new socket): new
	// mapping, new RemotePort, traffic flows on it.
	c1.Close()
	c1b := listenT(t, Config{Net: lab.client1, Addr: netip.AddrPortFrom(client1Addr, 0), EphemeralPort: true})
	pc1b := startPump(t, c1b)
	writeAll(t, c1b, []link.Packet{{Path: toServer, Buf: dataPacket(nil, 5000, 38412, 7, 100)}})
	got4, ok := ps.next(wait, nil)
	if !ok {
		t.Fatal("nothing arrived from the rebound client")
	}
	if got4.Path.RemotePort == got3.Path.RemotePort || got4.Path.RemotePort == mapped {
		t.Fatalf("rebound client kept port %d", got4.Path.RemotePort)
	}
	writeAll(t, srv, []link.Packet{{Path: got4.Path, Buf: dataPacket(nil, 38412, 5000, 8, 100)}})
	if _, ok := pc1b.next(wait, nil); !ok {
		t.Fatal("reply to the rebound client did not arrive")
	}
}

// TestVNetSymmetricNAT: behind a symmetric NAT the same client socket has a
// different public port toward each server port, which is why RFC 6951 5.1
// keeps a remote encapsulation port per path and not per peer.
func TestVNetSymmetricNAT(t *testing.T) {
	lab := newVNetLab(t)
	serverAddr := netip.MustParseAddr("203.0.113.10")
	srv := listenT(t, Config{Net: lab.server, Addr: netip.AddrPortFrom(serverAddr, 0)})
	srv2 := listenT(t, Config{Net: lab.server, Addr: netip.AddrPortFrom(serverAddr, 9900)})
	c2 := listenT(t, Config{Net: lab.client2})
	ps, ps2, pc2 := startPump(t, srv), startPump(t, srv2), startPump(t, c2)

	writeAll(t, c2, []link.Packet{
		{Path: link.Path{Remote: serverAddr, RemotePort: DefaultPort}, Buf: initPacket(5000, 38412, 1)},
		{Path: link.Path{Remote: serverAddr, RemotePort: 9900}, Buf: initPacket(5000, 38412, 2)},
	})
	a, ok := ps.next(3*time.Second, fromAddr(lab.nat2))
	b, ok2 := ps2.next(3*time.Second, fromAddr(lab.nat2))
	if !ok || !ok2 {
		t.Fatal("INITs from behind the symmetric NAT did not arrive")
	}
	if a.Path.RemotePort == b.Path.RemotePort {
		t.Fatalf("symmetric NAT used port %d toward both server ports", a.Path.RemotePort)
	}
	// Each reply goes to its own path's port and arrives; a wildcard vnet
	// link cannot learn its local address, so Path.Local is zero.
	writeAll(t, srv, []link.Packet{{Path: a.Path, Buf: dataPacket(nil, 38412, 5000, 1, 50)}})
	writeAll(t, srv2, []link.Packet{{Path: b.Path, Buf: dataPacket(nil, 38412, 5000, 2, 50)}})
	for range 2 {
		p, ok := pc2.next(3*time.Second, nil)
		if !ok {
			t.Fatal("a reply did not cross the symmetric NAT")
		}
		if p.Path.Local.IsValid() || p.Path.Remote != serverAddr {
			t.Fatalf("client got %v", p.Path)
		}
	}
}
