//go:build linux

package routemtu_test

import (
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/clock/clocktest"
	"github.com/sctpgw/sctpgw/internal/routemtu"
	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack/link"
)

func to(remote string) link.Path { return link.Path{Remote: netip.MustParseAddr(remote)} }

func from(local, remote string) link.Path {
	return link.Path{Local: netip.MustParseAddr(local), Remote: netip.MustParseAddr(remote)}
}

// mtuNS makes a namespace with a veth mtu0 of the given MTU, up, and
// returns a function running ip in it.
func mtuNS(t *testing.T, prefix, mtu string) (string, func(args ...string)) {
	testlab.NeedRoot(t, "a network namespace with interfaces of chosen MTUs and routing rules")
	testlab.NeedTool(t, "ip")
	ns := testlab.NSName(prefix)
	testlab.AddNS(t, ns)
	ip := func(args ...string) { testlab.Cmd(t, true, "ip", append([]string{"-n", ns}, args...)...) }
	ip("link", "add", "mtu0", "mtu", mtu, "type", "veth", "peer", "name", "mtu1")
	ip("link", "set", "mtu0", "up")
	ip("link", "set", "mtu1", "up")
	return ns, ip
}

func openIn(t *testing.T, ns string, o routemtu.Options) *routemtu.Prober {
	t.Helper()
	var p *routemtu.Prober
	if err := testlab.InNS(ns, func() (err error) { p, err = routemtu.Open(o); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestProberReadsRoutes: in a namespace of its own, a Prober reports the
// MTU of the interface a route leaves by, a route's own mtu attribute, the
// loopback's, and 0 without a route; asked from a goroutine outside the
// namespace, it still answers for the namespace it was opened in. A
// route's change is seen once the cached answer's TTL has passed.
func TestProberReadsRoutes(t *testing.T) {
	ns, ip := mtuNS(t, "sgwmtu", "1280")
	ip("addr", "add", "198.18.7.1/24", "dev", "mtu0")
	ip("addr", "add", "2001:db8:7::1/64", "dev", "mtu0", "nodad")
	ip("route", "add", "198.18.8.0/24", "dev", "mtu0", "mtu", "1200")

	clock := clocktest.New(time.Unix(1000, 0))
	p := openIn(t, ns, routemtu.Options{TTL: 5 * time.Second, Now: clock.Now})
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
		if got := p.MTU(to(c.addr)); got != c.want {
			t.Errorf("MTU(%s) = %d, want %d", c.addr, got, c.want)
		}
	}
	ip("route", "replace", "198.18.8.0/24", "dev", "mtu0", "mtu", "1100")
	clock.Advance(5*time.Second - 1)
	if got := p.MTU(to("198.18.8.2")); got != 1200 {
		t.Errorf("within the TTL after the route's mtu went to 1100: MTU = %d, want the cached 1200", got)
	}
	clock.Advance(1)
	if got := p.MTU(to("198.18.8.2")); got != 1100 {
		t.Errorf("a TTL after the route's mtu went to 1100: MTU = %d", got)
	}
	p.Close()
	if got := p.MTU(to("198.18.7.2")); got != 0 {
		t.Errorf("after Close: MTU = %d, want 0", got)
	}
}

// TestProberFollowsPolicyRouting: on a multi-homed host where one local
// address has a routing table of its own (`ip rule from`), as for SCTP
// multi-homing with an uplink per address, and where marked packets have
// another (`ip rule fwmark`, as sctpgw's SO_MARK 0x5c7 beside kernel
// SCTP), the MTU is that of the route the path's packets take: by its
// local address, and by the Prober's mark. The main table says 1500 for
// the same destination. Fails with a Prober that asks unbound, unmarked
// sockets: every answer is 1500.
func TestProberFollowsPolicyRouting(t *testing.T) {
	ns, ip := mtuNS(t, "sgwmtr", "1500")
	// 198.18.9.1 first: the kernel's choice of source toward 198.18.8.2.
	ip("addr", "add", "198.18.9.1/24", "dev", "mtu0")
	ip("addr", "add", "198.18.7.1/24", "dev", "mtu0")
	ip("addr", "add", "2001:db8:7::1/64", "dev", "mtu0", "nodad")
	ip("addr", "add", "2001:db8:9::1/64", "dev", "mtu0", "nodad")
	ip("route", "add", "198.18.8.0/24", "dev", "mtu0")
	ip("route", "add", "2001:db8:8::/64", "dev", "mtu0")
	ip("route", "add", "198.18.8.0/24", "dev", "mtu0", "mtu", "1200", "table", "100")
	ip("-6", "route", "add", "2001:db8:8::/64", "dev", "mtu0", "mtu", "1280", "table", "100")
	ip("rule", "add", "from", "198.18.7.1", "table", "100")
	ip("-6", "rule", "add", "from", "2001:db8:7::1", "table", "100")
	ip("route", "add", "198.18.8.0/24", "dev", "mtu0", "mtu", "1300", "table", "101")
	ip("-6", "route", "add", "2001:db8:8::/64", "dev", "mtu0", "mtu", "1400", "table", "101")
	ip("rule", "add", "fwmark", "0x5c7", "table", "101")
	ip("-6", "rule", "add", "fwmark", "0x5c7", "table", "101")

	plain := openIn(t, ns, routemtu.Options{})
	marked := openIn(t, ns, routemtu.Options{Mark: 0x5c7})
	for _, c := range []struct {
		p    *routemtu.Prober
		what string
		path link.Path
		want int
	}{
		{plain, "from the address with its own table", from("198.18.7.1", "198.18.8.2"), 1200},
		{plain, "from another address", from("198.18.9.1", "198.18.8.2"), 1500},
		{plain, "the kernel's choice of source", to("198.18.8.2"), 1500},
		{plain, "IPv4-mapped, from the address with its own table", from("::ffff:198.18.7.1", "::ffff:198.18.8.2"), 1200},
		{plain, "IPv6 from the address with its own table", from("2001:db8:7::1", "2001:db8:8::2"), 1280},
		{plain, "IPv6 from another address", from("2001:db8:9::1", "2001:db8:8::2"), 1500},
		{plain, "IPv6, the kernel's choice of source", to("2001:db8:8::2"), 1500},
		{plain, "a source of the other family: the kernel's choice", from("2001:db8:7::1", "198.18.8.2"), 1500},
		{marked, "marked, from another address", from("198.18.9.1", "198.18.8.2"), 1300},
		{marked, "marked, the kernel's choice of source", to("198.18.8.2"), 1300},
		{marked, "marked, IPv6", from("2001:db8:9::1", "2001:db8:8::2"), 1400},
		// The fwmark rule was added last, so it comes first (a lower
		// preference): it wins over the source's.
		{marked, "marked, from the address with its own table", from("198.18.7.1", "198.18.8.2"), 1300},
	} {
		if got := c.p.MTU(c.path); got != c.want {
			t.Errorf("%s (%v): MTU = %d, want %d", c.what, c.path, got, c.want)
		}
	}
}

// TestProberBoundsSockets: asked from more source addresses than it keeps
// sockets bound to, a Prober still answers for each (the least recently
// used socket is closed for a new one) and for each again after the TTL.
func TestProberBoundsSockets(t *testing.T) {
	ns, ip := mtuNS(t, "sgwmtb", "1500")
	// Every address of both /24s is the host's (AnyIP).
	ip("route", "add", "local", "198.18.7.0/24", "dev", "lo")
	ip("route", "add", "local", "198.18.9.0/24", "dev", "lo")
	ip("route", "add", "198.18.8.0/24", "dev", "mtu0", "mtu", "1300", "table", "100")
	ip("rule", "add", "from", "198.18.7.0/24", "table", "100")
	ip("route", "add", "198.18.8.0/24", "dev", "mtu0")
	clock := clocktest.New(time.Unix(1000, 0))
	p := openIn(t, ns, routemtu.Options{Now: clock.Now})
	for round := range 2 {
		for i := 1; i <= 40; i++ {
			for _, c := range []struct {
				net  string
				want int
			}{{"198.18.7.", 1300}, {"198.18.9.", 1500}} {
				local := netip.AddrFrom4([4]byte{198, 18, 7, byte(i)})
				if c.net == "198.18.9." {
					local = netip.AddrFrom4([4]byte{198, 18, 9, byte(i)})
				}
				if got := p.MTU(link.Path{Local: local, Remote: netip.MustParseAddr("198.18.8.2")}); got != c.want {
					t.Fatalf("round %d, from %v: MTU = %d, want %d", round, local, got, c.want)
				}
			}
		}
		clock.Advance(time.Minute)
	}
}

// mainThreadNetns is the network namespace of the process's main thread,
// and the process's own as /proc/PID/ns/net shows it.
func mainThreadNetns(t *testing.T) (main, proc string) {
	t.Helper()
	var err error
	if main, err = os.Readlink(fmt.Sprintf("/proc/self/task/%d/ns/net", os.Getpid())); err != nil {
		t.Fatal(err)
	}
	if proc, err = os.Readlink("/proc/self/ns/net"); err != nil {
		t.Fatal(err)
	}
	return main, proc
}

// TestProberLeavesNoThreadElsewhere: a Prober of another namespace, asked
// from this one about many new sources (each a socket made in its
// namespace, by a thread moved there), moves each thread back before it
// lets it go. The main thread, which Go never ends, was left parked in the
// Prober's namespace whenever a move landed on it, and /proc/PID/ns/net
// then named that namespace, not the process's.
func TestProberLeavesNoThreadElsewhere(t *testing.T) {
	ns, ip := mtuNS(t, "sgwmtn", "1500")
	ip("route", "add", "local", "198.18.7.0/24", "dev", "lo")
	ip("route", "add", "198.18.8.0/24", "dev", "mtu0")
	home, _ := mainThreadNetns(t)
	p := openIn(t, ns, routemtu.Options{})
	for i := 1; i <= 200; i++ {
		if got := p.MTU(link.Path{Local: netip.AddrFrom4([4]byte{198, 18, 7, byte(i)}), Remote: netip.MustParseAddr("198.18.8.2")}); got != 1500 {
			t.Fatalf("from 198.18.7.%d: MTU = %d, want 1500", i, got)
		}
		runtime.Gosched()
	}
	if main, proc := mainThreadNetns(t); main != home || proc != home {
		t.Fatalf("after the Prober's moves the main thread is in %s and /proc/self/ns/net says %s; the process's namespace is %s", main, proc, home)
	}
}
