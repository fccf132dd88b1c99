//go:build linux

package rawip

import "github.com/sctpgw/sctpgw/stack/link"

var _ link.MTUHinter = (*Link)(nil)

// MTUHint is the MTU of the kernel's route to p.Remote (the outgoing
// interface's, a route's mtu, or a cached path MTU: package routemtu); 0
// without a route. A packet above it would fail with EMSGSIZE.
func (l *Link) MTUHint(p link.Path) int { return l.mtu.MTU(p.Remote) }
