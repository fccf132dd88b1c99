package engine_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// The link's MTU hint (engine.LinkInfo.MTUHint): on an interface below the
// configured PathMTU of 1500 the listener's INIT ACK and every new path's
// packets fit the interface from the start.

const ifaceMTU = 1280

// largeCookieInit is an INIT offering SCTP-AUTH with the longest vector a
// listener keeps in its cookie (a RANDOM, 128 chunk types, 16 HMAC ids:
// RFC 4895 3.1-3.3, bounded by stack/internal/auth) and n reportable
// unknown parameters.
func largeCookieInit(n int) *wire.Init {
	ini := reportInit(0x77, n)
	chunks := make([]wire.ChunkType, 128)
	for i := range chunks {
		chunks[i] = wire.ChunkType(0x40 + i)
	}
	hmacs := []wire.HMACID{wire.HMACSHA1}
	for len(hmacs) < 16 {
		hmacs = append(hmacs, wire.HMACSHA256)
	}
	ini.Params = append([]wire.Param{&wire.RandomParam{Random: bytes.Repeat([]byte{7}, 32)},
		&wire.ChunkListParam{Types: chunks}, &wire.RequestedHMACAlgoParam{IDs: hmacs}}, ini.Params...)
	return ini
}

// initAckOnSmallIface sends a server with SCTP-AUTH keys the INIT of
// largeCookieInit(n) from the client's address, over a server interface
// of ifaceMTU, and returns the INIT ACKs the client received and how many
// packets the server's interface refused.
func initAckOnSmallIface(t *testing.T, seed uint64, n int, hint bool) (acks [][]byte, refused int, l *lab) {
	l = newLab(t, seed, link.UDP, authCfg(keysWith(t, 1, "a key of sixteen bytes or more")))
	l.sn.Ifaces[0].MTU, l.sn.Ifaces[0].NoMTUHint = ifaceMTU, !hint
	l.net.Trace = func(_ time.Time, _, to *sim.Node, pkt []byte) {
		var pk wire.Packet
		if to == l.cn && pk.Unmarshal(append([]byte(nil), pkt...)) == nil && len(pk.Chunks) > 0 && pk.Chunks[0].Type == wire.TypeInitAck {
			acks = append(acks, bytes.Clone(pkt))
		}
	}
	buf := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: 4000, DstPort: serverPort}, largeCookieInit(n))
	l.sn.Host.HandlePacket(0, link.Path{Local: l.sn.Addr, Remote: l.cn.Addr, RemotePort: 40001}, buf, l.net.Now())
	l.net.RunFor(time.Second)
	return acks, l.net.TooBig, l
}

// TestInitAckFitsInterfaceMTU: an INIT whose reports would fill an INIT ACK
// of 1500 bytes, with a cookie that keeps the longest SCTP-AUTH vector, to
// a listener whose interface carries 1280. Told the
// interface MTU, the listener reports what fits 1280 and the client gets
// its INIT ACK; sized by the configured PathMTU, the INIT ACK was refused
// by the interface and the client heard nothing, INIT after INIT.
func TestInitAckFitsInterfaceMTU(t *testing.T) {
	const n = 1000 // an INIT ACK of 1500 bytes at 1500, less the cookie's unused room for addresses
	acks, refused, l := initAckOnSmallIface(t, 1210, n, true)
	if len(acks) != 1 || refused != 0 {
		t.Fatalf("client received %d INIT ACKs, %d packets refused by the server's interface; want 1 and 0", len(acks), refused)
	}
	if max := ifaceMTU - 20 - 8; len(acks[0]) > max {
		t.Fatalf("INIT ACK of %d bytes on an interface that carries %d", len(acks[0]), max)
	}
	var pk wire.Packet
	if err := pk.Unmarshal(acks[0]); err != nil {
		t.Fatal(err)
	}
	reported, cut := countUnrecognized(t, pk.Chunks[0]), l.sn.Host.Stats().ReportItemsCut
	if reported == 0 || reported+int(cut) != n {
		t.Fatalf("%d parameters reported, %d counted as cut, want %d in all", reported, cut, n)
	}

	// A link that cannot tell its MTU: the INIT ACK is refused, and a
	// stateless listener cannot resize it (the notice matches nothing).
	acks, refused, _ = initAckOnSmallIface(t, 1210, n, false)
	if len(acks) != 0 || refused != 1 {
		t.Fatalf("without the hint: client received %d INIT ACKs, %d refused; want 0 and 1", len(acks), refused)
	}
}

// TestPathsStartAtInterfaceMTU: an association between two hosts whose
// interfaces carry 1280 sends its first large message in packets that fit,
// on both sides, and reports the MTU it uses; without the hint the first
// full-size packet is refused and the MTU learnt from the notice.
func TestPathsStartAtInterfaceMTU(t *testing.T) {
	for _, hint := range []bool{true, false} {
		l := newLab(t, 1211, link.UDP, engine.Config{})
		for _, nd := range []*sim.Node{l.cn, l.sn} {
			nd.Ifaces[0].MTU, nd.Ifaces[0].NoMTUHint = ifaceMTU, !hint
		}
		a, _ := l.up(engine.Config{})
		msg := bytes.Repeat([]byte{0xA5}, 8000)
		if err := a.Send(l.net.Now(), msg, engine.SndInfo{}); err != nil {
			t.Fatal(err)
		}
		if !l.net.RunUntil(func() bool { return len(l.srv.msgs) > 0 }, time.Minute) {
			t.Fatalf("hint %v: the message never arrived", hint)
		}
		if got := l.srv.msgs[0].Data; !bytes.Equal(got, msg) {
			t.Fatalf("hint %v: message of %d bytes arrived as %d", hint, len(msg), len(got))
		}
		mtu := a.Status().Paths[0].MTU
		switch {
		case hint && (l.net.TooBig != 0 || mtu != ifaceMTU):
			t.Fatalf("with the hint: %d packets refused, path MTU %d; want 0 and %d", l.net.TooBig, mtu, ifaceMTU)
		case !hint && (l.net.TooBig == 0 || mtu != ifaceMTU):
			t.Fatalf("without the hint: %d packets refused, path MTU %d; want some and %d learnt", l.net.TooBig, mtu, ifaceMTU)
		}
	}
}
