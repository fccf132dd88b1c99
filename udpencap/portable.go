package udpencap

import (
	"errors"
	"io"
	"net"
	"net/netip"

	"github.com/pion/transport/v3"

	"github.com/sctpgw/sctpgw/stack/link"
)

// portableIO moves one datagram per call through any transport.UDPConn: the
// vnet in tests, and real sockets where batching is not implemented. It
// cannot learn a datagram's destination address, so Path.Local is the bind
// address (zero on a wildcard socket), and it cannot read ICMP reports.
type portableIO struct {
	conn  transport.UDPConn
	local netip.Addr
	stats *counters
}

func (p *portableIO) readBatch(pkts []link.Packet) (int, error) {
	pk := &pkts[0]
	buf := pk.Buf[:cap(pk.Buf)]
	for {
		n, from, err := p.conn.ReadFrom(buf)
		if errors.Is(err, io.ErrShortBuffer) {
			p.stats.rxTruncated.Add(1)
			continue
		}
		if err != nil {
			return 0, err
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		remote, ok := netip.AddrFromSlice(ua.IP)
		if !ok {
			continue
		}
		remote = remote.Unmap()
		if ua.Zone != "" && remote.Is6() {
			remote = remote.WithZone(ua.Zone)
		}
		*pk = link.Packet{
			Path: link.Path{Local: p.local, Remote: remote, RemotePort: uint16(ua.Port)},
			Buf:  buf[:n],
		}
		return 1, nil
	}
}

func (p *portableIO) writeBatch(pkts []link.Packet) (int, error) {
	for i := range pkts {
		path := pkts[i].Path
		if err := checkPath(path); err != nil {
			return i, err
		}
		// A fresh UDPAddr per datagram: vnet keeps the IP slice it is given.
		to := &net.UDPAddr{IP: path.Remote.AsSlice(), Port: int(path.RemotePort), Zone: path.Remote.Zone()}
		if _, err := p.conn.WriteTo(pkts[i].Buf, to); err != nil {
			return i, err
		}
	}
	return len(pkts), nil
}
