//go:build !linux

package rawip

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/sctpgw/sctpgw/stack/link"
)

// errUnsupported: the link relies on Linux socket options (IP_RECVERR,
// IP_PKTINFO on raw sockets, recvmmsg/sendmmsg, SO_ATTACH_FILTER).
var errUnsupported = fmt.Errorf("rawip: native SCTP over raw sockets is implemented for Linux only: %w", errors.ErrUnsupported)

// Link is a native SCTP link; on this system Listen always fails.
type Link struct{}

var _ link.Link = (*Link)(nil)

// Listen fails: the native link is Linux-only. Use the UDP link.
func Listen(Config) (*Link, error) { return nil, errUnsupported }

func (*Link) Kind() link.Kind                       { return link.Native }
func (*Link) ReadBatch([]link.Packet) (int, error)  { return 0, errUnsupported }
func (*Link) WriteBatch([]link.Packet) (int, error) { return 0, errUnsupported }
func (*Link) Overhead(remote netip.Addr) int        { return link.IPOverhead(remote) }
func (*Link) LocalAddrs() []netip.Addr              { return nil }
func (*Link) BoundAddrs() []netip.Addr              { return nil }
func (*Link) Close() error                          { return nil }
func (*Link) AddPort(uint16) error                  { return errUnsupported }
func (*Link) RemovePort(uint16) error               { return errUnsupported }
func (*Link) Ports() []uint16                       { return nil }
func (*Link) Stats() Stats                          { return Stats{} }
