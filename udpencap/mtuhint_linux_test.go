//go:build linux

package udpencap

import (
	"net/netip"
	"testing"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack/link"
)

// TestMTUHintFollowsSourceRouting: on a multi-homed host where one local
// address has a routing table of its own (`ip rule from`), the link's MTU
// hint is that of the route the path's datagrams take from Path.Local
// (what a wildcard socket learnt from IP_PKTINFO), or from the bind
// address of a socket bound to one, over IPv4 and IPv6. The main table's
// route carries 1500. Fails with a hint asked of an unbound socket: 1500
// everywhere.
func TestMTUHintFollowsSourceRouting(t *testing.T) {
	testlab.NeedRoot(t, "a network namespace with routing rules")
	testlab.NeedTool(t, "ip")
	ns := testlab.NSName("sgwumh")
	testlab.AddNS(t, ns)
	ip := func(args ...string) { testlab.Cmd(t, true, "ip", append([]string{"-n", ns}, args...)...) }
	ip("link", "add", "mh0", "type", "veth", "peer", "name", "mh1")
	ip("link", "set", "mh0", "up")
	ip("link", "set", "mh1", "up")
	ip("addr", "add", "198.18.21.1/24", "dev", "mh0")
	ip("addr", "add", "198.18.20.1/24", "dev", "mh0")
	ip("addr", "add", "2001:2:21::1/64", "dev", "mh0", "nodad")
	ip("addr", "add", "2001:2:20::1/64", "dev", "mh0", "nodad")
	ip("route", "add", "198.18.22.0/24", "dev", "mh0")
	ip("route", "add", "2001:2:22::/64", "dev", "mh0")
	ip("route", "add", "198.18.22.0/24", "dev", "mh0", "mtu", "1200", "table", "100")
	ip("-6", "route", "add", "2001:2:22::/64", "dev", "mh0", "mtu", "1280", "table", "100")
	ip("rule", "add", "from", "198.18.20.1", "table", "100")
	ip("-6", "rule", "add", "from", "2001:2:20::1", "table", "100")

	a20, a21 := netip.MustParseAddr("198.18.20.1"), netip.MustParseAddr("198.18.21.1")
	b20, b21 := netip.MustParseAddr("2001:2:20::1"), netip.MustParseAddr("2001:2:21::1")
	peer4, peer6 := netip.MustParseAddr("198.18.22.2"), netip.MustParseAddr("2001:2:22::2")
	wild := listenIn(t, ns, Config{EphemeralPort: true})
	bound := listenIn(t, ns, Config{Addr: netip.AddrPortFrom(a20, 0), EphemeralPort: true})
	for _, c := range []struct {
		what string
		l    *Link
		path link.Path
		want int
	}{
		{"from the address with its own table", wild, link.Path{Local: a20, Remote: peer4, RemotePort: DefaultPort}, 1200},
		{"from the other address", wild, link.Path{Local: a21, Remote: peer4, RemotePort: DefaultPort}, 1500},
		{"IPv6 from the address with its own table", wild, link.Path{Local: b20, Remote: peer6, RemotePort: DefaultPort}, 1280},
		{"IPv6 from the other address", wild, link.Path{Local: b21, Remote: peer6, RemotePort: DefaultPort}, 1500},
		{"a socket bound to the address with its own table", bound, link.Path{Remote: peer4, RemotePort: DefaultPort}, 1200},
	} {
		if got := c.l.MTUHint(c.path); got != c.want {
			t.Errorf("%s: MTUHint(%v) = %d, want %d", c.what, c.path, got, c.want)
		}
	}
}
