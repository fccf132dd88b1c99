//go:build linux

package rawip

import "github.com/sctpgw/sctpgw/stack/link"

var _ link.MTUHinter = (*Link)(nil)

// MTUHint is the MTU of the kernel's route for the path's packets: from
// p.Local (when unset, the source the writer would use: the only
// configured address of the family, else the kernel's choice) to
// p.Remote, with the link's Mark (the outgoing interface's, a route's
// mtu, or a cached path MTU: package routemtu); 0 without a route. A
// packet above it would fail with EMSGSIZE. The answer may be a few
// seconds old (routemtu.DefaultTTL).
func (l *Link) MTUHint(p link.Path) int {
	if !p.Local.IsValid() || p.Local.IsUnspecified() {
		p.Local = l.src4
		if p.Remote.Unmap().Is6() {
			p.Local = l.src6
		}
	}
	return l.mtu.MTU(p)
}
