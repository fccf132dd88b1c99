//go:build linux

package routemtu_test

import (
	"net/netip"
	"testing"

	"github.com/sctpgw/sctpgw/internal/routemtu"
	"github.com/sctpgw/sctpgw/internal/testlab"
)

// TestProberReadsRoutes: in a namespace of its own, a Prober reports the
// MTU of the interface a route leaves by, a route's own mtu attribute, the
// loopback's, and 0 without a route; asked from a goroutine outside the
// namespace, it still answers for the namespace it was opened in.
func TestProberReadsRoutes(t *testing.T) {
	testlab.NeedRoot(t, "a network namespace with interfaces of chosen MTUs")
	testlab.NeedTool(t, "ip")
	ns := testlab.NSName("sgwmtu")
	testlab.AddNS(t, ns)
	ip := func(args ...string) { testlab.Cmd(t, true, "ip", append([]string{"-n", ns}, args...)...) }
	ip("link", "add", "mtu0", "mtu", "1280", "type", "veth", "peer", "name", "mtu1")
	ip("link", "set", "mtu0", "up")
	ip("link", "set", "mtu1", "up")
	ip("addr", "add", "198.18.7.1/24", "dev", "mtu0")
	ip("addr", "add", "2001:db8:7::1/64", "dev", "mtu0", "nodad")
	ip("route", "add", "198.18.8.0/24", "dev", "mtu0", "mtu", "1200")

	var p *routemtu.Prober
	if err := testlab.InNS(ns, func() (err error) { p, err = routemtu.Open(); return err }); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, c := range []struct {
		addr string
		want int
	}{
		{"198.18.7.2", 1280},        // the interface's MTU
		{"198.18.8.2", 1200},        // a route's mtu attribute
		{"::ffff:198.18.7.2", 1280}, // an IPv4-mapped address is IPv4
		{"2001:db8:7::2", 1280},
		{"127.0.0.1", 65535}, // the loopback: 65536, capped to the largest IP datagram
		{"203.0.113.1", 0},   // no route: no default in the namespace
		{"0.0.0.0", 0},       // unspecified
	} {
		if got := p.MTU(netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("MTU(%s) = %d, want %d", c.addr, got, c.want)
		}
	}
	ip("route", "replace", "198.18.8.0/24", "dev", "mtu0", "mtu", "1100")
	if got := p.MTU(netip.MustParseAddr("198.18.8.2")); got != 1100 {
		t.Errorf("after the route's mtu went to 1100: MTU = %d", got)
	}
	p.Close()
	if got := p.MTU(netip.MustParseAddr("198.18.7.2")); got != 0 {
		t.Errorf("after Close: MTU = %d, want 0", got)
	}
}
