package dtlslink

import "github.com/sctpgw/sctpgw/stack/link"

var _ link.MTUHinter = (*Link)(nil)

// MTUHint is what the socket's kernel route to the peer gateway allows
// (udpencap.Link.MTUHint): the engine then sizes an SCTP packet so that it
// fits with its record (Overhead) from the first one.
func (l *Link) MTUHint(p link.Path) int { return l.sock.MTUHint(p) }
