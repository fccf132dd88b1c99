package udpencap

import (
	"net/netip"
	"testing"

	"github.com/sctpgw/sctpgw/stack/link"
)

// A write the kernel refuses (a datagram larger than UDP can carry:
// EMSGSIZE) is counted in Stats.TxErrors, so a gateway can export it.
func TestTxErrorsCounted(t *testing.T) {
	l, err := Listen(Config{Addr: netip.MustParseAddrPort("127.0.0.1:0"), EphemeralPort: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := link.Path{Remote: netip.MustParseAddr("127.0.0.1"), RemotePort: 9}
	if _, err := l.WriteBatch([]link.Packet{{Path: p, Buf: make([]byte, 70000)}}); err == nil {
		t.Fatal("a 70000-byte datagram was sent")
	}
	if st := l.Stats(); st.TxErrors != 1 || st.TxPackets != 0 {
		t.Fatalf("stats %+v, want one TxError", st)
	}
}
