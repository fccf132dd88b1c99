//go:build linux

package routemtu

import (
	"net/netip"
	"testing"
	"time"

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
