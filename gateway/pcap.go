package gateway

import (
	"io"
	"log/slog"
	"net/netip"

	"github.com/sctpgw/sctpgw/capture"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
)

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
	failed := false
	return func(in bool, i int, p link.Path, pkt []byte) {
		local := p.Local
		if !local.IsValid() {
			// The kernel picks the source; show the family's unspecified.
			local = netip.IPv4Unspecified()
			if p.Remote.Is6() && !p.Remote.Is4In6() {
				local = netip.IPv6Unspecified()
			}
		}
		src, dst := local, p.Remote
		sp, dp := ports[i], p.RemotePort
		if in {
			src, dst, sp, dp = dst, src, dp, sp
		}
		var err error
		ts := clock.Now()
		if links[i].Kind() == link.UDP {
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
