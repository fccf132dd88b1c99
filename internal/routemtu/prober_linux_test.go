//go:build linux

package routemtu

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack/link"
)

// TestProberCachesAllocs: asked again and again about one path (the engine
// answering an INIT flood), a Prober asks the kernel once per TTL, and a
// cached answer costs no allocation. Paths from another source or to
// another peer are asked about on their own. On the loopback, so without
// privileges.
func TestProberCachesAllocs(t *testing.T) {
	now := time.Unix(1000, 0)
	p, err := Open(Options{TTL: 2 * time.Second, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	lo := netip.MustParseAddr("127.0.0.1")
	path := link.Path{Local: lo, Remote: netip.MustParseAddr("127.0.0.2"), RemotePort: 9899}
	want := p.MTU(path)
	if want != 65535 {
		t.Fatalf("MTU(%v) = %d, want the loopback's 65535", path, want)
	}
	for range 1000 {
		if got := p.MTU(path); got != want {
			t.Fatalf("MTU(%v) = %d, then %d", path, want, got)
		}
	}
	if p.probes != 1 {
		t.Errorf("1001 questions within the TTL asked the kernel %d times, want once", p.probes)
	}
	p.MTU(link.Path{Remote: path.Remote}) // the kernel's choice of source
	p.MTU(link.Path{Local: lo, Remote: netip.MustParseAddr("127.0.0.3")})
	if p.probes != 3 {
		t.Errorf("two other paths: %d questions to the kernel in all, want 3", p.probes)
	}
	now = now.Add(2 * time.Second)
	if got := p.MTU(path); got != want || p.probes != 4 {
		t.Errorf("a TTL later: MTU = %d after %d questions to the kernel, want %d after 4", got, p.probes, want)
	}
	allocs := testing.AllocsPerRun(1000, func() { p.MTU(path) })
	t.Logf("%.2f allocations per cached answer", allocs)
	if raceEnabled {
		t.Skip("allocation count not asserted under the race detector: make test asserts it without -race")
	}
	if allocs != 0 {
		t.Errorf("%.2f allocations per cached answer, want 0", allocs)
	}
}

// TestProberSourceNoAddress: a path's local address that can be no
// packet's source (unspecified, multicast, the limited broadcast, of the
// other family, IPv4-mapped forms of these) is asked about as an unset
// one: the answer cached for the kernel's choice of source serves it, and
// no socket is bound to it. A peer chooses that address (the one its
// packet came to); the broadcast one took a cache entry and a bound
// socket of its own. A real source, last, does take both. On the
// loopback, so without privileges.
func TestProberSourceNoAddress(t *testing.T) {
	now := time.Unix(1000, 0)
	p, err := Open(Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, c := range []struct {
		remote string
		locals []string
	}{
		{"127.0.0.2", []string{"0.0.0.0", "::ffff:0.0.0.0", "224.0.0.1", "239.255.255.250", "::ffff:224.0.0.1",
			"255.255.255.255", "::ffff:255.255.255.255", "::1", "ff02::1"}},
		{"::1", []string{"::", "ff02::1", "ff05::1:3", "127.0.0.1", "255.255.255.255"}},
	} {
		remote := netip.MustParseAddr(c.remote)
		want := p.MTU(link.Path{Remote: remote})
		if want == 0 {
			testlab.Missing(t, "no route to %v on the loopback (IPv6 disabled?)", remote)
		}
		probes, bound := p.probes, len(p.bound)
		for _, l := range c.locals {
			local := netip.MustParseAddr(l)
			if got := p.MTU(link.Path{Local: local, Remote: remote}); got != want {
				t.Errorf("from %v to %v: MTU = %d, want the kernel's choice's %d", local, remote, got, want)
			}
			if p.probes != probes || len(p.bound) != bound {
				t.Errorf("from %v to %v: %d more questions to the kernel and %d more sockets bound (to %v), want the unset source's answer, no socket",
					local, remote, p.probes-probes, len(p.bound)-bound, boundTo(p))
			}
			probes, bound = p.probes, len(p.bound)
		}
	}
	lo, bound := netip.MustParseAddr("127.0.0.1"), len(p.bound)
	if got := p.MTU(link.Path{Local: lo, Remote: netip.MustParseAddr("127.0.0.2")}); got != 65535 || len(p.bound) != bound+1 || p.bound[bound].local != lo {
		t.Errorf("from %v, a source: MTU = %d, sockets bound to %v; want 65535 from a new one bound to it", lo, got, boundTo(p))
	}
}

// boundTo lists the sources p has sockets bound to, in p.bound's order.
func boundTo(p *Prober) []netip.Addr {
	var a []netip.Addr
	for _, b := range p.bound {
		a = append(a, b.local)
	}
	return a
}

// TestProberSocketsLRU: with all its bound sockets taken, a Prober closes
// the one least recently asked through for a new source. The gateway's
// own address, asked from for one new peer after another, keeps its
// socket while 3*maxBound other sources come and go once each (a peer's
// packets to many of the host's addresses, AnyIP); closing the oldest
// opened closed it at the first of them. On the loopback (all of
// 127.0.0.0/8 is the host's), so without privileges.
func TestProberSocketsLRU(t *testing.T) {
	now := time.Unix(1000, 0)
	p, err := Open(Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	own := netip.MustParseAddr("127.0.0.1")
	src := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{127, 0, 1, byte(i)}) }
	peer := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{127, 0, 2, byte(i)}) }
	ask := func(local, remote netip.Addr) {
		t.Helper()
		if got := p.MTU(link.Path{Local: local, Remote: remote}); got != 65535 {
			t.Fatalf("from %v to %v: MTU = %d, want the loopback's 65535", local, remote, got)
		}
	}
	ask(own, peer(0)) // the first socket opened
	for i := 1; i < maxBound; i++ {
		ask(src(i), peer(0))
	}
	for i := maxBound; i < 4*maxBound; i++ {
		ask(own, peer(i)) // a new peer: a question to the kernel through own's socket
		ask(src(i), peer(0))
		// Left: own and the maxBound-1 newest others; src(i-maxBound+1),
		// the least recently used, was closed for src(i).
		want := []netip.Addr{own}
		for j := i - maxBound + 2; j <= i; j++ {
			want = append(want, src(j))
		}
		got := boundTo(p)
		slices.SortFunc(got, netip.Addr.Compare)
		if !slices.Equal(got, want) {
			t.Fatalf("after a new source %v: sockets bound to %v, want %v", src(i), got, want)
		}
	}
	if want := maxBound + 2*3*maxBound; p.probes != want {
		t.Errorf("%d questions to the kernel, want one per (source, peer): %d", p.probes, want)
	}
}
