package rawip

import (
	"net/netip"
	"slices"

	"github.com/sctpgw/sctpgw/stack/link"
)

var _ link.AddrBinder = (*Link)(nil)

// BoundAddrs returns Config.Addrs, the only addresses the link receives
// on, or nil for a link serving every address of its namespace
// (link.AddrBinder).
func (l *Link) BoundAddrs() []netip.Addr { return slices.Clone(l.addrs) }
