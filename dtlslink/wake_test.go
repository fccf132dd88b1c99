package dtlslink

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/transport/v3"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack/link"
)

// TestNoticesWakeTheReader: what ends a path while nothing arrives (a
// path the link may not dial, a dial that times out) reaches a ReadBatch
// blocked on the socket at once, on the real network and on a vnet, with
// and without a listening socket.
func TestNoticesWakeTheReader(t *testing.T) {
	ca := testlab.NewCA(t, "lab")
	silent := netip.MustParseAddrPort("127.0.0.1:9") // discard: nothing answers
	for _, c := range []struct {
		name   string
		net    func() transport.Net
		listen netip.AddrPort
		peer   netip.AddrPort
	}{
		{"real, dialling only", func() transport.Net { return nil }, netip.AddrPort{}, silent},
		{"real, listening", func() transport.Net { return nil }, netip.AddrPortFrom(loop, testlab.FreeUDPPort(t)), silent},
		{"vnet, dialling only", func() transport.Net { return newLab(t, 1).edges[0] }, netip.AddrPort{}, corePeer},
	} {
		t.Run(c.name, func(t *testing.T) {
			cr := creds(t, certFiles(t, ca, "edge.lab", ca))
			l := newLinkT(t, Config{Net: c.net(), Listen: c.listen, Credentials: cr,
				Peers: map[netip.AddrPort]*Credentials{c.peer: cr}, HandshakeTimeout: 300 * time.Millisecond})
			r := startReader(l)
			other := link.Path{Remote: netip.MustParseAddr("192.0.2.7"), RemotePort: 4740}
			peer := link.Path{Remote: c.peer.Addr(), RemotePort: c.peer.Port()}
			t0 := time.Now()
			if _, err := l.WriteBatch([]link.Packet{{Path: other, Buf: []byte("x")}, {Path: peer, Buf: []byte("y")}}); err != nil {
				t.Fatal(err)
			}
			testlab.WaitFor(t, 3*time.Second, "both paths reported down", func() bool {
				var down []string
				for _, p := range r.snapshot() {
					if p.Notice == link.NoticeDown {
						down = append(down, p.Err.Error())
					}
				}
				return len(down) == 2 && strings.Contains(strings.Join(down, "|"), "no DTLS session with 192.0.2.7:4740") &&
					strings.Contains(strings.Join(down, "|"), "(timeout)")
			})
			t.Logf("both notices in %v", time.Since(t0).Round(time.Millisecond))
		})
	}
}
