//go:build linux

package udpencap

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// The namespace lab: client (C) -- router (R, nftables masquerade) --
// server (S), joined by veth pairs, with addresses from 198.18.0.0/15
// (RFC 2544) and 2001:2::/48 (RFC 5180), both set aside for benchmarking.
var (
	nsClient4  = netip.MustParseAddr("198.18.1.2")
	nsRouterS4 = netip.MustParseAddr("198.19.1.1")
	nsServer4  = netip.MustParseAddr("198.19.1.2")
	nsClient6  = netip.MustParseAddr("2001:2:1::2")
	nsRouterS6 = netip.MustParseAddr("2001:2:2::1")
	nsServer6  = netip.MustParseAddr("2001:2:2::2")
)

type nsLab struct{ prefix, c, r, s string }

// newRouterNS builds client, router and server namespaces
// (testlab.NewRouter), the prefix telling this package's labs apart.
func newRouterNS(t *testing.T, prefix string, n testlab.RouterNets) *nsLab {
	t.Helper()
	r := testlab.NewRouter(t, prefix, n)
	return &nsLab{prefix: prefix, c: r.C, r: r.R, s: r.S}
}

// newNSLab builds the router lab with masquerade on the router, or skips
// the test when it cannot.
func newNSLab(t *testing.T, prefix string) *nsLab {
	t.Helper()
	testlab.NeedRoot(t, "the lab creates network namespaces (CAP_SYS_ADMIN, CAP_NET_ADMIN)")
	testlab.NeedTools(t, "ip", "nft", "conntrack", "sysctl")
	// Only the client needs routes: masquerading makes the router's
	// server-side address the source the server answers.
	l := newRouterNS(t, prefix, testlab.RouterNets{ClientV4: "198.18.1", ServerV4: "198.19.1", ClientV6: "2001:2:1", ServerV6: "2001:2:2"})
	l.masquerade(t, "40000-40999")
	return l
}

// masquerade (re)writes the router's one NAT rule: UDP leaving toward the
// server gets the router's address and a source port from ports.
func (l *nsLab) masquerade(t *testing.T, ports string) {
	t.Helper()
	rules := "table inet " + l.prefix + " {\n" +
		"  chain post {\n" +
		"    type nat hook postrouting priority 100; policy accept;\n" +
		"    oifname \"r1\" meta l4proto udp masquerade to :" + ports + "\n" +
		"  }\n" +
		"}\n"
	// Deleting a table that does not exist yet fails; that is fine.
	testlab.Cmd(t, false, "ip", "netns", "exec", l.r, "nft", "delete", "table", "inet", l.prefix)
	c := exec.Command("ip", "netns", "exec", l.r, "nft", "-f", "-")
	c.Stdin = strings.NewReader(rules)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v\n%s\n%s", err, out, rules)
	}
}

// listenIn opens a link whose socket lives in namespace ns. A socket belongs
// to the namespace of the thread that created it, for good, so only the
// creation runs on a thread moved into ns; the link is then used from any
// goroutine.
func listenIn(t *testing.T, ns string, cfg Config) *Link {
	t.Helper()
	var l *Link
	if err := testlab.InNS(ns, func() (err error) { l, err = Listen(cfg); return err }); err != nil {
		t.Fatalf("listen in %s: %v", ns, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func inRange(p uint16, lo, hi uint16) bool { return p >= lo && p <= hi }

// TestNetnsMasquerade runs links in real namespaces across an nftables
// masquerading router, IPv4 and IPv6 on dual-stack wildcard sockets:
// packets cross both ways with the right paths; a new masquerade port range
// plus a conntrack flush shows up as a new RemotePort and traffic goes on
// there; ICMP port unreachable (through the NAT) and fragmentation needed /
// packet too big (from the router) become notices.
func TestE2ENetnsMasquerade(t *testing.T) {
	lab := newNSLab(t, "sgwu")
	// Bursts of 200 datagrams overflow a default receive buffer.
	srv := listenIn(t, lab.s, Config{ReadBuffer: 4 << 20})
	cli := listenIn(t, lab.c, Config{ReadBuffer: 4 << 20})
	if srv.LocalPort() != DefaultPort || cli.LocalPort() != DefaultPort {
		t.Fatalf("ports %d, %d; want %d", srv.LocalPort(), cli.LocalPort(), DefaultPort)
	}
	ps, pc := startPump(t, srv), startPump(t, cli)
	const wait = 5 * time.Second

	type family struct {
		name                   string
		client, router, server netip.Addr
	}
	fams := []family{{"IPv4", nsClient4, nsRouterS4, nsServer4}, {"IPv6", nsClient6, nsRouterS6, nsServer6}}
	data := func(p *link.Packet) bool { return p.Notice == link.NoticeNone }
	notice := func(p *link.Packet) bool { return p.Notice != link.NoticeNone }

	// exchange sends count packets from the client and count back on the
	// path the server saw, checks every one, and returns that path.
	exchange := func(t *testing.T, f family, count int) link.Path {
		t.Helper()
		toSrv := link.Path{Remote: f.server, RemotePort: DefaultPort}
		writeAll(t, cli, []link.Packet{{Path: toSrv, Buf: initPacket(5000, 36412, 0xabc)}})
		got, ok := ps.next(wait, data)
		if !ok {
			t.Fatal("INIT did not reach the server")
		}
		parseInit(t, got.Buf)
		if got.Path.Remote != f.router || got.Path.Local != f.server {
			t.Fatalf("server saw %v; want the router's %v toward %v", got.Path, f.router, f.server)
		}
		out := make([]link.Packet, count)
		for i := range out {
			out[i] = link.Packet{Path: toSrv, Buf: dataPacket(nil, 5000, 36412, uint32(i), 300)}
		}
		writeAll(t, cli, out)
		for i := range out {
			p, ok := ps.next(wait, data)
			if !ok {
				t.Fatalf("%d of %d packets reached the server", i, count)
			}
			if p.Path != got.Path {
				t.Fatalf("packet on %v, the INIT came on %v", p.Path, got.Path)
			}
			if _, err := checkData(p.Buf, 5000, 36412, 300); err != nil {
				t.Fatal(err)
			}
			out[i] = link.Packet{Path: p.Path, Buf: dataPacket(out[i].Buf, 36412, 5000, uint32(i), 300)}
		}
		writeAll(t, srv, out)
		for i := range out {
			p, ok := pc.next(wait, data)
			if !ok {
				t.Fatalf("%d of %d replies reached the client", i, count)
			}
			if want := (link.Path{Local: f.client, Remote: f.server, RemotePort: DefaultPort}); p.Path != want {
				t.Fatalf("client got %v, want %v", p.Path, want)
			}
			if _, err := checkData(p.Buf, 36412, 5000, 300); err != nil {
				t.Fatal(err)
			}
		}
		return got.Path
	}

	old := map[string]link.Path{}
	t.Run("through-nat", func(t *testing.T) {
		for _, f := range fams {
			p := exchange(t, f, 200)
			if !inRange(p.RemotePort, 40000, 40999) {
				t.Fatalf("%s: masqueraded port %d outside 40000-40999", f.name, p.RemotePort)
			}
			t.Logf("%s: client appears as %v:%d", f.name, p.Remote, p.RemotePort)
			old[f.name] = p
		}
	})

	t.Run("new-mapping", func(t *testing.T) {
		if len(old) != len(fams) {
			t.Skip("through-nat failed")
		}
		lab.masquerade(t, "50000-50999")
		testlab.Cmd(t, true, "ip", "netns", "exec", lab.r, "conntrack", "-F")
		for _, f := range fams {
			p := exchange(t, f, 50)
			if !inRange(p.RemotePort, 50000, 50999) {
				t.Fatalf("%s: after the change the port is %d, want 50000-50999", f.name, p.RemotePort)
			}
			t.Logf("%s: client now appears as %v:%d (was %d)", f.name, p.Remote, p.RemotePort, old[f.name].RemotePort)
			// The old mapping is gone: the router itself answers it
			// with a port unreachable, and the client hears nothing.
			writeAll(t, srv, []link.Packet{{Path: old[f.name], Buf: dataPacket(nil, 36412, 5000, 1, 100)}})
			n, ok := ps.next(wait, notice)
			if !ok {
				t.Fatalf("%s: no ICMP for the stale mapping", f.name)
			}
			if n.Notice != link.NoticeProtoUnreachable || n.Path != old[f.name] {
				t.Fatalf("%s: notice %d on %v, want port unreachable on %v", f.name, n.Notice, n.Path, old[f.name])
			}
			if !pc.quiet(200*time.Millisecond, data) {
				t.Fatalf("%s: a packet to the stale mapping reached the client", f.name)
			}
		}
	})

	t.Run("port-unreachable-through-nat", func(t *testing.T) {
		for _, f := range fams {
			pkt := initPacket(5000, 36412, 0x77)
			to := link.Path{Remote: f.server, RemotePort: 9}
			writeAll(t, cli, []link.Packet{{Path: to, Buf: pkt}})
			n, ok := pc.next(wait, notice)
			if !ok {
				t.Fatalf("%s: no notice for the server's port unreachable", f.name)
			}
			to.Local = f.client
			if n.Notice != link.NoticeProtoUnreachable || n.Path != to {
				t.Fatalf("%s: notice %d on %v, want port unreachable on %v", f.name, n.Notice, n.Path, to)
			}
			if len(n.Buf) < wire.CommonHeaderLen || !bytes.HasPrefix(pkt, n.Buf) {
				t.Fatalf("%s: quoted %x, want a prefix of our packet", f.name, n.Buf)
			}
		}
	})

	t.Run("frag-needed", func(t *testing.T) {
		const mtu = 1280
		testlab.Cmd(t, true, "ip", "-n", lab.r, "link", "set", "r1", "mtu", fmt.Sprint(mtu))
		for _, f := range fams {
			to := link.Path{Remote: f.server, RemotePort: DefaultPort}
			fits := mtu - cli.Overhead(f.server)
			writeAll(t, cli, []link.Packet{{Path: to, Buf: dataPacket(nil, 5000, 36412, 1, fits-wire.CommonHeaderLen-wire.DataHeaderSize)}})
			p, ok := ps.next(wait, data)
			if !ok || len(p.Buf) != fits {
				t.Fatalf("%s: a %d-byte SCTP packet (MTU %d less Overhead) did not arrive whole", f.name, fits, mtu)
			}
			big := dataPacket(nil, 5000, 36412, 2, fits-wire.CommonHeaderLen-wire.DataHeaderSize+4)
			writeAll(t, cli, []link.Packet{{Path: to, Buf: big}})
			n, ok := pc.next(wait, notice)
			if !ok {
				t.Fatalf("%s: no notice for a %d-byte packet over a %d MTU", f.name, len(big), mtu)
			}
			to.Local = f.client
			if n.Notice != link.NoticeFragNeeded || n.MTU != mtu || n.Path != to {
				t.Fatalf("%s: notice %d MTU %d on %v; want frag needed, %d, on %v", f.name, n.Notice, n.MTU, n.Path, mtu, to)
			}
			if len(n.Buf) < wire.CommonHeaderLen || !bytes.HasPrefix(big, n.Buf) {
				t.Fatalf("%s: quoted %d bytes, want a prefix of our packet", f.name, len(n.Buf))
			}
			t.Logf("%s: frag needed, MTU %d, %d bytes of our packet quoted", f.name, n.MTU, len(n.Buf))
			if !ps.quiet(200*time.Millisecond, data) {
				t.Fatalf("%s: the too-big packet arrived (fragmented?)", f.name)
			}
		}
	})

	// A packet above the client's own interface MTU (1500) never leaves:
	// WriteBatch fails with EMSGSIZE and a notice with that MTU, quoting
	// the packet, follows on ReadBatch.
	t.Run("local-too-big", func(t *testing.T) {
		for _, f := range fams {
			// Repeated: the kernel's report and the writer's hand-over
			// of the packet race to the reader; both orders must work.
			for i := range 20 {
				to := link.Path{Remote: f.server, RemotePort: DefaultPort}
				huge := dataPacket(nil, 5000, 36412, uint32(i), 1600)
				n, err := cli.WriteBatch([]link.Packet{{Path: to, Buf: huge}})
				if n != 0 || !errors.Is(err, unix.EMSGSIZE) {
					t.Fatalf("%s: WriteBatch of %d bytes: %d, %v; want EMSGSIZE", f.name, len(huge), n, err)
				}
				nt, ok := pc.next(wait, notice)
				if !ok {
					t.Fatalf("%s, round %d: no notice for the refused packet", f.name, i)
				}
				if nt.Notice != link.NoticeFragNeeded || nt.MTU != 1500 || nt.Path != to {
					t.Fatalf("%s: notice %d MTU %d on %v; want frag needed, 1500, on %v", f.name, nt.Notice, nt.MTU, nt.Path, to)
				}
				if len(nt.Buf) < wire.CommonHeaderLen || !bytes.HasPrefix(huge, nt.Buf) {
					t.Fatalf("%s: quoted %x, want a prefix of our packet", f.name, nt.Buf)
				}
			}
			writeAll(t, cli, []link.Packet{{Path: link.Path{Remote: f.server, RemotePort: DefaultPort}, Buf: dataPacket(nil, 5000, 36412, 4, 100)}})
			if _, ok := ps.next(wait, data); !ok {
				t.Fatalf("%s: traffic stopped after EMSGSIZE", f.name)
			}
		}
	})
}
