package udpencap

import (
	"net/netip"

	"github.com/sctpgw/sctpgw/stack/link"
)

var _ link.AddrBinder = (*Link)(nil)

// BoundAddrs returns the one address the link's socket is bound to, or nil
// when it is bound to the wildcard (link.AddrBinder).
func (l *Link) BoundAddrs() []netip.Addr {
	if b := l.specificBound(); b.IsValid() {
		return []netip.Addr{b}
	}
	return nil
}
