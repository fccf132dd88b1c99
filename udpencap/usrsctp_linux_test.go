//go:build linux

package udpencap

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// usrsctpBin finds one of Debian's libusrsctp-examples programs.
func usrsctpBin(t *testing.T, name string) string {
	t.Helper()
	return testlab.NeedUsrsctp(t, name)
}

// TestUsrsctpHandshake speaks to usrsctp's echo_server, a stack we did not
// write, through our link: an encapsulated INIT gets an INIT ACK back to our
// UDP port with a State Cookie, and the COOKIE ECHO a COOKIE ACK.
//
// As root the server runs in a namespace of its own: usrsctp then also
// opens raw SCTP sockets, which in the host namespace would see every
// native SCTP packet of other tests. Otherwise it runs on loopback in the
// current namespace, on a random free port.
func TestUsrsctpHandshake(t *testing.T) {
	bin := usrsctpBin(t, "echo_server")
	port := testlab.FreeUDPPort(t)
	ns := usrsctpNS(t, fmt.Sprintf("sgwu-%d-u", os.Getpid()))
	l := listenAt(t, ns, ephemeral("127.0.0.1"))
	const sctpPort = 7 // echo_server's SCTP port
	srv := testlab.Start(t, testlab.ProcOptions{NS: ns, Limit: time.Minute, MergeOutput: true}, bin, strconv.Itoa(int(port)))
	// Its UDP socket comes before it listens (testlab.WaitSCTPListening);
	// until it listens, an INIT may draw an ABORT.
	testlab.WaitSCTPListeningUDP(t, ns, netip.AddrPortFrom(lo4, port), sctpPort, srv)
	pl := startPump(t, l)

	src := uint16(10000 + rand.IntN(50000))
	tag := rand.Uint32() | 1
	to := link.Path{Remote: lo4, RemotePort: port}
	init := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: src, DstPort: sctpPort},
		&wire.Init{InitFields: wire.InitFields{InitiateTag: tag, ARwnd: 1 << 17, OutStreams: 10, InStreams: 10, InitialTSN: rand.Uint32()}})
	fromServer := func(p *link.Packet) bool { return p.Notice == link.NoticeNone }

	// INIT is retransmitted as SCTP would (RFC 9260 5.1, T1-init), only
	// faster, should one be lost.
	var ack link.Packet
	deadline := time.Now().Add(10 * time.Second)
	for {
		writeAll(t, l, []link.Packet{{Path: to, Buf: init}})
		var ok bool
		if ack, ok = pl.next(300*time.Millisecond, fromServer); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no INIT ACK from echo_server within 10 s")
		}
	}
	if want := (link.Path{Local: lo4, Remote: lo4, RemotePort: port}); ack.Path != want {
		t.Errorf("INIT ACK came on %v, want %v", ack.Path, want)
	}
	var p wire.Packet
	if err := p.Unmarshal(ack.Buf); err != nil {
		t.Fatalf("INIT ACK packet: %v", err)
	}
	if p.SrcPort != sctpPort || p.DstPort != src || p.VerificationTag != tag {
		t.Fatalf("INIT ACK header %d->%d tag %#x; want %d->%d tag %#x", p.SrcPort, p.DstPort, p.VerificationTag, sctpPort, src, tag)
	}
	if len(p.Chunks) == 0 || p.Chunks[0].Type != wire.TypeInitAck {
		t.Fatalf("chunks %v, want an INIT ACK first", chunkTypes(&p))
	}
	var ia wire.InitAck
	if err := ia.Unmarshal(p.Chunks[0]); err != nil {
		t.Fatalf("INIT ACK: %v", err)
	}
	if ia.InitiateTag == 0 || ia.OutStreams == 0 || ia.InStreams == 0 {
		t.Fatalf("INIT ACK initiate tag %#x, streams %d/%d", ia.InitiateTag, ia.OutStreams, ia.InStreams)
	}
	cookie, ok := ia.Param(wire.ParamStateCookie).(*wire.StateCookieParam)
	if !ok || len(cookie.Cookie) == 0 {
		t.Fatal("INIT ACK has no State Cookie")
	}
	// RFC 6951 3.2 and 5.7 forbid IP addresses in an encapsulated INIT
	// ACK, but usrsctp bound to the wildcard address lists every address
	// it has (loopback, both families): that is the peer's doing, so it is
	// logged, not asserted. The engine must not add such addresses as
	// paths of an encapsulated association.
	var params, addrs []string
	for _, pr := range ia.Params {
		params = append(params, fmt.Sprintf("%#04x", uint16(pr.ParamType())))
		switch a := pr.(type) {
		case *wire.IPv4AddressParam:
			addrs = append(addrs, a.Addr.String())
		case *wire.IPv6AddressParam:
			addrs = append(addrs, a.Addr.String())
		}
	}
	t.Logf("INIT ACK from usrsctp: initiate tag %#x, a_rwnd %d, streams %d/%d, parameters %v, cookie %d bytes",
		ia.InitiateTag, ia.ARwnd, ia.OutStreams, ia.InStreams, params, len(cookie.Cookie))
	if len(addrs) > 0 {
		t.Logf("usrsctp lists addresses %v in its INIT ACK despite RFC 6951 3.2/5.7", addrs)
	}

	echo := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: src, DstPort: sctpPort, VerificationTag: ia.InitiateTag},
		&wire.CookieEcho{Cookie: cookie.Cookie})
	writeAll(t, l, []link.Packet{{Path: ack.Path, Buf: echo}})
	cack, ok := pl.next(5*time.Second, fromServer)
	if !ok {
		t.Fatal("no COOKIE ACK from echo_server")
	}
	if err := p.Unmarshal(cack.Buf); err != nil {
		t.Fatalf("COOKIE ACK packet: %v", err)
	}
	if p.VerificationTag != tag || len(p.Chunks) == 0 || p.Chunks[0].Type != wire.TypeCookieAck {
		t.Fatalf("after COOKIE ECHO: tag %#x chunks %v; want tag %#x and a COOKIE ACK", p.VerificationTag, chunkTypes(&p), tag)
	}
	t.Logf("COOKIE ACK from usrsctp: chunks %v", chunkTypes(&p))

	// Leave no association behind in the server.
	abort := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: src, DstPort: sctpPort, VerificationTag: ia.InitiateTag}, &wire.Abort{})
	writeAll(t, l, []link.Packet{{Path: ack.Path, Buf: abort}})
}
