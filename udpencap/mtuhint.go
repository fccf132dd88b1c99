package udpencap

import "github.com/sctpgw/sctpgw/stack/link"

var _ link.MTUHinter = (*Link)(nil)

// MTUHint is the MTU of the kernel's route for the path's datagrams: from
// p.Local (the bind address when unset and specific) to p.Remote (the
// outgoing interface's, a route's mtu, or a cached path MTU: package
// routemtu), as an IP-level MTU; 0 over a network that is not the host's
// (vnet) or without a route. A datagram above it would fail with EMSGSIZE.
// The answer may be a few seconds old (routemtu.DefaultTTL).
func (l *Link) MTUHint(p link.Path) int {
	if !p.Local.IsValid() || p.Local.IsUnspecified() {
		p.Local = l.specificBound()
	}
	return l.mtu.MTU(p)
}
