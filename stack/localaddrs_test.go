package stack_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
)

// Options.LocalAddrs naming an address no link receives on is refused by
// Listen and Dial with ErrAddrNotAvailable, as bind(2) refuses it: such a
// listener took no INIT at all, silently (an IPv6 server given its
// client's IPv4 options did that in a namespace test). The links' own
// addresses are taken.
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
