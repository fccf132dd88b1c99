package stack

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/sctpgw/sctpgw/stack/link"
)

// ErrAddrNotAvailable: an address of Options.LocalAddrs is not one the
// stack's links receive on (bind(2)'s EADDRNOTAVAIL, sctp_bindx in RFC
// 6458 9.1). Such an endpoint would never hear a packet sent to it: a
// listener would take no INIT, silently.
var ErrAddrNotAvailable = errors.New("stack: local address not available")

// checkLocalAddrs returns an error wrapping ErrAddrNotAvailable unless
// every address of addrs is one that links list (Link.LocalAddrs). A link
// that lists none (its addresses unknown) accepts any. It asks the links,
// which may mean a netlink round trip: call it outside s.mu.
func checkLocalAddrs(links []link.Link, addrs []netip.Addr) error {
	if len(addrs) == 0 {
		return nil
	}
	lists := make([][]netip.Addr, len(links))
	for i, l := range links {
		if lists[i] = l.LocalAddrs(); len(lists[i]) == 0 {
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
			return fmt.Errorf("Options.LocalAddrs: %v: the links receive on %v only: %w", a, slices.Concat(lists...), ErrAddrNotAvailable)
		}
	}
	return nil
}
