package testlab

import (
	"net"
	"net/netip"
	"testing"

	"github.com/sctpgw/sctpgw/stack/wire"
)

// The probe takes only an INIT ACK for readiness: an endpoint that answers
// its first INITs with an ABORT (usrsctp before it listens) is probed
// again until it answers with an INIT ACK.
func TestWaitSCTPListeningUDP(t *testing.T) {
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const port = 7
	inits := make(chan int, 1)
	go func() {
		b := make([]byte, 2048)
		n := 0
		for {
			k, from, err := c.ReadFromUDP(b)
			if err != nil {
				inits <- n
				return
			}
			var p wire.Packet
			if p.Unmarshal(b[:k]) != nil || len(p.Chunks) != 1 || p.Chunks[0].Type != wire.TypeInit || p.DstPort != port {
				continue
			}
			var ini wire.Init
			if ini.Unmarshal(p.Chunks[0]) != nil {
				continue
			}
			n++
			h := wire.CommonHeader{SrcPort: port, DstPort: p.SrcPort, VerificationTag: ini.InitiateTag}
			var reply []byte
			if n <= 2 {
				reply = wire.AppendPacket(nil, h, &wire.Abort{})
			} else {
				reply = wire.AppendPacket(nil, h, &wire.InitAck{InitFields: wire.InitFields{InitiateTag: 1, ARwnd: 65536, OutStreams: 1, InStreams: 1, InitialTSN: 1}})
			}
			c.WriteToUDP(reply, from)
		}
	}()
	WaitSCTPListeningUDP(t, "", c.LocalAddr().(*net.UDPAddr).AddrPort(), port, nil)
	c.Close()
	if n := <-inits; n != 3 {
		t.Errorf("%d INITs: want two answered with an ABORT, the third with an INIT ACK", n)
	}
}
