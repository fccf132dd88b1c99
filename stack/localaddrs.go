package stack

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/sctpgw/sctpgw/stack/link"
)

// ErrAddrNotAvailable: an address of Options.LocalAddrs is not one the
// stack's links can receive on (bind(2)'s EADDRNOTAVAIL, sctp_bindx in RFC
// 6458 9.1): every link is bound to fixed addresses (link.AddrBinder) and
// none to this one. Such an endpoint would never hear a packet sent to
// it: a listener would take no INIT, silently.
var ErrAddrNotAvailable = errors.New("stack: local address not available")

// checkLocalAddrs returns an error wrapping ErrAddrNotAvailable unless
// every address of addrs is one some link is bound to. A link bound to
// the wildcard, or that cannot tell, may receive on any address (the
// host's addresses change: a floating address, an AnyIP route): then
// every address is taken.
func checkLocalAddrs(links []link.Link, addrs []netip.Addr) error {
	if len(addrs) == 0 {
		return nil
	}
	lists := make([][]netip.Addr, len(links))
	for i, l := range links {
		b, ok := l.(link.AddrBinder)
		if !ok {
			return nil
		}
		if lists[i] = b.BoundAddrs(); len(lists[i]) == 0 {
			return nil
		}
	}
	for _, a := range addrs {
		found := false
		for _, la := range lists {
			if slices.Contains(la, a.Unmap()) {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("Options.LocalAddrs: %v: the links are bound to %v only: %w", a, slices.Concat(lists...), ErrAddrNotAvailable)
		}
	}
	return nil
}
