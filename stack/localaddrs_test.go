package stack_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/link/memlink"
)

// Options.LocalAddrs naming an address no link is bound to is refused by
// Listen and Dial with ErrAddrNotAvailable, as bind(2) refuses it: such a
// listener took no INIT at all, silently (an IPv6 server given its
// client's IPv4 options did that in a namespace test). The links' own
// addresses are taken; so is any address on a link bound to the wildcard
// (one that is no link.AddrBinder here), which may receive on addresses
// the host gets later.
func TestLocalAddrsMustBeTheLinks(t *testing.T) {
	sa, sb, _, _, p := vpair(t, link.Native)
	other := netip.MustParseAddr("198.18.99.1")
	if _, err := sb.Listen(5000, stack.Options{LocalAddrs: []netip.Addr{addrB, other}}); !errors.Is(err, stack.ErrAddrNotAvailable) {
		t.Fatalf("Listen with %v, not on the link: %v, want ErrAddrNotAvailable", other, err)
	}
	if _, err := sb.Listen(5000, stack.Options{LocalAddrs: []netip.Addr{addrB}}); err != nil {
		t.Fatalf("Listen with the link's address: %v", err)
	}
	ctx := ctxT(t)
	if _, err := sa.DialWith(ctx, 0, p, 0, 5000, stack.DialOptions{Options: stack.Options{LocalAddrs: []netip.Addr{other}}}); !errors.Is(err, stack.ErrAddrNotAvailable) {
		t.Fatalf("Dial with %v, not on the link: %v, want ErrAddrNotAvailable", other, err)
	}
}

// wildcard is a link that does not say which addresses it is bound to.
type wildcard struct{ link.Link }

func TestLocalAddrsOnAWildcardLink(t *testing.T) {
	la, _ := memlink.Pair(link.Native, addrA, addrB)
	s, err := stack.New(stack.Config{Links: []link.Link{wildcard{la}}, Clock: newVClock()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close("") })
	floating := netip.MustParseAddr("198.18.99.1")
	if _, err := s.Listen(5000, stack.Options{LocalAddrs: []netip.Addr{addrA, floating}}); err != nil {
		t.Fatalf("Listen with %v on a wildcard link: %v", floating, err)
	}
}
