package dtlslink

import (
	"net/netip"
	"runtime"
	"testing"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack/link"
)

// TestMTUHintFromSocket: the link tells the engine its socket's route MTU
// toward a peer gateway (here the loopback's), so the SCTP packet and its
// record fit the interface from the first one.
func TestMTUHintFromSocket(t *testing.T) {
	ca := testlab.NewCA(t, "mtu")
	loop := netip.MustParseAddr("127.0.0.1")
	l, err := New(Config{Listen: netip.AddrPortFrom(loop, testlab.FreeUDPPort(t)), Credentials: creds(t, certFiles(t, ca, "core", ca))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	want := 65535 // the loopback's 65536, capped to an IP datagram's
	if runtime.GOOS != "linux" {
		want = 0
	}
	if got := l.MTUHint(link.Path{Remote: loop, RemotePort: 9899}); got != want {
		t.Fatalf("MTUHint toward the loopback = %d, want %d", got, want)
	}
}
