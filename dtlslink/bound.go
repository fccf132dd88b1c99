package dtlslink

import (
	"net/netip"

	"github.com/sctpgw/sctpgw/stack/link"
)

var _ link.AddrBinder = (*Link)(nil)

// BoundAddrs returns the address the link listens on, or nil when it
// listens on the wildcard or does not listen (link.AddrBinder).
func (l *Link) BoundAddrs() []netip.Addr { return l.LocalAddrs() }
