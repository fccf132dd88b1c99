package udpencap

import "github.com/sctpgw/sctpgw/stack/link"

var _ link.MTUHinter = (*Link)(nil)

// MTUHint is the MTU of the kernel's route to p.Remote (the outgoing
// interface's, a route's mtu, or a cached path MTU: package routemtu), as
// an IP-level MTU; 0 over a network that is not the host's (vnet) or
// without a route. A datagram above it would fail with EMSGSIZE.
func (l *Link) MTUHint(p link.Path) int { return l.mtu.MTU(p.Remote) }
