package gateway

import (
	"io"
	"log/slog"
	"net"
	"net/netip"

	"github.com/sctpgw/sctpgw/capture"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
)

// maxLearned bounds the table of local addresses the tap learns per remote.
const maxLearned = 4096

// pcapTap writes every packet the stack sees to w. Encapsulated packets get
// the gateway's UDP port when the link can tell it.
func pcapTap(w io.Writer, links []link.Link, clock stack.Clock, log *slog.Logger) (func(bool, int, link.Path, []byte), error) {
	cw, err := capture.NewWriter(w, capture.LinkRaw)
	if err != nil {
		return nil, err
	}
	if clock == nil {
		clock = stack.SystemClock{}
	}
	ports := make([]uint16, len(links))
	for i, l := range links {
		if lp, ok := l.(interface{ LocalPort() uint16 }); ok {
			ports[i] = lp.LocalPort()
		}
	}
	src := localSource{learned: map[learnKey]netip.Addr{}, route: routeSource}
	failed := false
	return func(in bool, i int, p link.Path, pkt []byte) {
		local := p.Local
		if in {
			src.learn(i, p)
		} else if !local.IsValid() {
			local = src.lookup(i, p.Remote)
		}
		src, dst := local, p.Remote
		sp, dp := ports[i], p.RemotePort
		if in {
			src, dst, sp, dp = dst, src, dp, sp
		}
		var err error
		ts := clock.Now()
		if links[i].Kind().Encapsulated() {
			err = cw.WriteSCTPInUDP(ts, netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp), pkt)
		} else {
			err = cw.WriteSCTP(ts, src, dst, pkt)
		}
		if err != nil && !failed {
			failed = true // say it once, not per packet
			log.Warn("pcap: writing failed; no more packets are captured", "err", err)
		}
	}, nil
}

type learnKey struct {
	link   int
	remote netip.Addr
}

// localSource finds the source address of a packet the stack sends without
// one (the kernel picks it): the address the remote last sent to, else the
// one the routing table gives, else the family's unspecified address.
type localSource struct {
	learned map[learnKey]netip.Addr
	route   func(remote netip.Addr) (netip.Addr, bool)
}

func (s *localSource) learn(i int, p link.Path) {
	if !p.Local.IsValid() || !p.Remote.IsValid() {
		return
	}
	k := learnKey{i, p.Remote}
	if s.learned[k] == p.Local {
		return
	}
	if len(s.learned) >= maxLearned {
		clear(s.learned)
	}
	s.learned[k] = p.Local
}

func (s *localSource) lookup(i int, remote netip.Addr) netip.Addr {
	k := learnKey{i, remote}
	if a, ok := s.learned[k]; ok {
		return a
	}
	a, ok := s.route(remote)
	if !ok {
		a = netip.IPv4Unspecified()
		if remote.Is6() && !remote.Is4In6() {
			a = netip.IPv6Unspecified()
		}
	}
	if len(s.learned) >= maxLearned {
		clear(s.learned)
	}
	s.learned[k] = a // once per remote: the lookup is a system call
	return a
}

// routeSource asks the kernel which source address it would use toward
// remote: connecting a UDP socket sends nothing but selects the route.
func routeSource(remote netip.Addr) (netip.Addr, bool) {
	if !remote.IsValid() {
		return netip.Addr{}, false
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(remote, 9)))
	if err != nil {
		return netip.Addr{}, false
	}
	defer c.Close()
	a := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
	return a, a.IsValid() && !a.IsUnspecified()
}
