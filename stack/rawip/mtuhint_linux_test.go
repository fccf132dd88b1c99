//go:build linux

package rawip

import (
	"net/netip"
	"testing"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack/link"
)

// TestMTUHintFollowsPolicyRouting: on a host where one local address has a
// routing table of its own (`ip rule from`, an uplink per address for SCTP
// multi-homing) and packets marked 0x5c7 another (`ip rule fwmark`, the
// mark sctpgw sets beside kernel SCTP), a link's MTU hint is that of the
// route its packets take on the path: by the path's local address, or the
// one the link sends from when the path has none, and with the link's
// Mark. The main table's route carries 1500. Fails with a hint asked of
// unbound, unmarked sockets: 1500 everywhere.
func TestMTUHintFollowsPolicyRouting(t *testing.T) {
	needRoot(t)
	ns := testlab.NSName("sgwrmh")
	testlab.AddNS(t, ns)
	ip := func(args ...string) { testlab.Cmd(t, true, "ip", append([]string{"-n", ns}, args...)...) }
	ip("link", "add", "mh0", "type", "veth", "peer", "name", "mh1")
	ip("link", "set", "mh0", "up")
	ip("link", "set", "mh1", "up")
	ip("addr", "add", "198.18.21.1/24", "dev", "mh0") // first: the kernel's choice toward 198.18.22.0/24
	ip("addr", "add", "198.18.20.1/24", "dev", "mh0")
	ip("route", "add", "198.18.22.0/24", "dev", "mh0")
	ip("route", "add", "198.18.22.0/24", "dev", "mh0", "mtu", "1200", "table", "100")
	ip("rule", "add", "from", "198.18.20.1", "table", "100")
	ip("route", "add", "198.18.22.0/24", "dev", "mh0", "mtu", "1300", "table", "101")
	ip("rule", "add", "fwmark", "0x5c7", "table", "101")

	a20, a21 := netip.MustParseAddr("198.18.20.1"), netip.MustParseAddr("198.18.21.1")
	peer := netip.MustParseAddr("198.18.22.2")
	both := listenIn(t, ns, Config{Addrs: []netip.Addr{a20, a21}})
	only20 := listenIn(t, ns, Config{Addrs: []netip.Addr{a20}})
	marked := listenIn(t, ns, Config{Addrs: []netip.Addr{a21}, Mark: 0x5c7})
	for _, c := range []struct {
		what string
		l    *Link
		path link.Path
		want int
	}{
		{"from the address with its own table", both, link.Path{Local: a20, Remote: peer}, 1200},
		{"from the other address", both, link.Path{Local: a21, Remote: peer}, 1500},
		{"no local address, two configured: the kernel's choice", both, link.Path{Remote: peer}, 1500},
		{"no local address, the only one configured has its own table", only20, link.Path{Remote: peer}, 1200},
		{"a link with Mark 0x5c7", marked, link.Path{Local: a21, Remote: peer}, 1300},
		{"a link with Mark 0x5c7, no local address", marked, link.Path{Remote: peer}, 1300},
	} {
		if got := c.l.MTUHint(c.path); got != c.want {
			t.Errorf("%s: MTUHint(%v) = %d, want %d", c.what, c.path, got, c.want)
		}
	}
}
