//go:build linux

package testlab

import (
	"fmt"
	"net/netip"
	"testing"
)

// RouterNets are the two networks of a router lab: client .2 and router .1
// on the client network, router .1 and server .2 on the server network
// (::2 and ::1 for IPv6). A family whose two prefixes are empty is left
// unconfigured. Addresses come from 198.18.0.0/15 (RFC 2544) and
// 2001:2::/48 (RFC 5180), both set aside for benchmarking.
type RouterNets struct {
	ClientV4, ServerV4 string // /24 prefixes such as "198.18.12"
	ClientV6, ServerV6 string // /64 prefixes such as "2001:2:12"
	// MTU, when set, is the MTU of the router-server link: a narrow hop in
	// the middle of a path, as a GRE or IPsec tunnel makes one.
	MTU int
	// ServerRoute gives the server a default route back through the router
	// (without it only the router's own address on the server network is
	// reachable from the server, as behind a masquerading router).
	ServerRoute bool
}

// Router is a three-namespace lab, client C -- router R -- server S,
// joined by veth pairs (c0-r0, r1-s0), with R forwarding both families.
type Router struct {
	C, R, S string // namespace names
	nets    RouterNets
}

// NewRouter builds the lab in namespaces NSName(prefix)-{c,r,s}; they go
// away when the test ends, failed or not, and SweepStaleNS removes those of
// killed runs. It applies NeedRoot and NeedTools itself.
func NewRouter(tb testing.TB, prefix string, n RouterNets) *Router {
	tb.Helper()
	NeedRoot(tb, "the lab creates network namespaces (CAP_SYS_ADMIN, CAP_NET_ADMIN)")
	NeedTools(tb, "ip", "sysctl")
	SweepStaleNS(tb, prefix)
	base := NSName(prefix)
	l := &Router{C: base + "-c", R: base + "-r", S: base + "-s", nets: n}
	for _, ns := range []string{l.C, l.R, l.S} {
		AddNS(tb, ns)
	}
	Cmd(tb, true, "ip", "-n", l.C, "link", "add", "c0", "type", "veth", "peer", "name", "r0", "netns", l.R)
	Cmd(tb, true, "ip", "-n", l.R, "link", "add", "r1", "type", "veth", "peer", "name", "s0", "netns", l.S)
	if n.MTU > 0 {
		Cmd(tb, true, "ip", "-n", l.R, "link", "set", "r1", "mtu", fmt.Sprint(n.MTU))
		Cmd(tb, true, "ip", "-n", l.S, "link", "set", "s0", "mtu", fmt.Sprint(n.MTU))
	}
	for _, a := range []struct{ ns, dev, v4, v6 string }{
		{l.C, "c0", n.ClientV4 + ".2/24", n.ClientV6 + "::2/64"},
		{l.R, "r0", n.ClientV4 + ".1/24", n.ClientV6 + "::1/64"},
		{l.R, "r1", n.ServerV4 + ".1/24", n.ServerV6 + "::1/64"},
		{l.S, "s0", n.ServerV4 + ".2/24", n.ServerV6 + "::2/64"},
	} {
		if n.ClientV4 != "" {
			Cmd(tb, true, "ip", "-n", a.ns, "addr", "add", a.v4, "dev", a.dev)
		}
		if n.ClientV6 != "" {
			Cmd(tb, true, "ip", "-n", a.ns, "-6", "addr", "add", a.v6, "dev", a.dev, "nodad")
		}
		Cmd(tb, true, "ip", "-n", a.ns, "link", "set", a.dev, "up")
	}
	if n.ClientV4 != "" {
		Cmd(tb, true, "ip", "-n", l.C, "route", "add", "default", "via", n.ClientV4+".1")
		if n.ServerRoute {
			Cmd(tb, true, "ip", "-n", l.S, "route", "add", "default", "via", n.ServerV4+".1")
		}
	}
	if n.ClientV6 != "" {
		Cmd(tb, true, "ip", "-n", l.C, "-6", "route", "add", "default", "via", n.ClientV6+"::1")
		if n.ServerRoute {
			Cmd(tb, true, "ip", "-n", l.S, "-6", "route", "add", "default", "via", n.ServerV6+"::1")
		}
	}
	Cmd(tb, true, "ip", "netns", "exec", l.R, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	return l
}

// Client and Server are the end addresses of the lab for one family.
func (l *Router) Client(v6 bool) netip.Addr { return l.addr(v6, l.nets.ClientV4, l.nets.ClientV6) }
func (l *Router) Server(v6 bool) netip.Addr { return l.addr(v6, l.nets.ServerV4, l.nets.ServerV6) }

func (l *Router) addr(v6 bool, p4, p6 string) netip.Addr {
	if v6 {
		return netip.MustParseAddr(p6 + "::2")
	}
	return netip.MustParseAddr(p4 + ".2")
}
