package engine_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// TestConfigMaxMessageFitsRecvBuffer: without partial delivery a message is
// held whole, so MaxMessage above RecvBuffer is refused by name, and a small
// RecvBuffer lowers the default MaxMessage to fit.
func TestConfigMaxMessageFitsRecvBuffer(t *testing.T) {
	bad := engine.Config{RecvBuffer: 32 << 10, MaxMessage: 100 << 10}.WithDefaults()
	err := bad.Validate()
	if err == nil || !strings.Contains(err.Error(), "MaxMessage") || !strings.Contains(err.Error(), "RecvBuffer") {
		t.Fatalf("Validate = %v, want an error naming MaxMessage and RecvBuffer", err)
	}
	l := newLab(t, 42, link.Native, engine.Config{})
	if _, err := l.cn.Host.Dial(0, l.cn.PathTo(l.sn), 0, serverPort, bad, &recorder{net: l.net}, l.net.Now()); err == nil {
		t.Fatal("Dial accepted MaxMessage above RecvBuffer")
	}
	small := engine.Config{RecvBuffer: 32 << 10}.WithDefaults()
	if small.MaxMessage != small.RecvBuffer || small.Validate() != nil {
		t.Fatalf("RecvBuffer %d: default MaxMessage %d (%v), want it equal", small.RecvBuffer, small.MaxMessage, small.Validate())
	}
	if d := (engine.Config{}).WithDefaults(); d.MaxMessage != engine.DefaultMaxMessage {
		t.Fatalf("default MaxMessage %d, want %d", d.MaxMessage, engine.DefaultMaxMessage)
	}
}

// TestMessageLargerThanPeerBuffer: a peer's message larger than our receive
// buffer (so above our MaxMessage) used to fill the window and stall for
// ever; it must end the association with a clear cause instead, while a
// message of exactly the buffer's size still goes through.
func TestMessageLargerThanPeerBuffer(t *testing.T) {
	scfg := engine.Config{RecvBuffer: 32 << 10}
	l := newLab(t, 43, link.UDP, scfg)
	l.cn.Imp.Delay, l.sn.Imp.Delay = 5*time.Millisecond, 5*time.Millisecond
	a, crec := l.up(engine.Config{})
	fits := make([]byte, scfg.RecvBuffer)
	fits[len(fits)-1] = 7
	if err := a.Send(l.net.Now(), fits, engine.SndInfo{}); err != nil {
		t.Fatal(err)
	}
	if !l.net.RunUntil(func() bool { return len(l.srv.msgs) == 1 }, time.Minute) {
		t.Fatalf("a message of exactly RecvBuffer bytes was not delivered (client %s, server %s)", crec.types(), l.srv.types())
	}
	if err := a.Send(l.net.Now(), make([]byte, 100<<10), engine.SndInfo{Context: 9}); err != nil {
		t.Fatal(err)
	}
	if !l.net.RunUntil(func() bool { return crec.ended() && l.srv.ended() }, 5*time.Minute) {
		t.Fatalf("100 KiB to a 32 KiB receive buffer stalled: client %s, server %s", crec.types(), l.srv.types())
	}
	if ev := l.srv.find(engine.CommLost); ev == nil || !errors.Is(ev.Err, engine.ErrTooLarge) {
		t.Fatalf("server events %s (%+v), want COMM_LOST with ErrTooLarge", l.srv.types(), ev)
	}
	if ev := crec.find(engine.SendFailed); ev == nil || len(ev.Failed) != 1 || ev.Failed[0].Info.Context != 9 {
		t.Fatalf("client events %s, want SEND_FAILED for the large message", crec.types())
	}
}

// TestHostilePeerCannotGrowReceiveBuffer: a peer that ignores a_rwnd, first
// sending one byte far ahead and then filling every TSN below it, or
// sending far-ahead TSNs once the window is closed, cannot make the receiver
// hold more than its buffer plus a few packets (RFC 9260 6.2 lets it drop
// DATA outside its window).
func TestHostilePeerCannotGrowReceiveBuffer(t *testing.T) {
	cfg := engine.Config{RecvBuffer: 64 << 10, NoDelay: true}
	l := newLab(t, 44, link.Native, cfg)
	a, _ := l.up(cfg)
	srv := l.srv.assoc
	l.srv.noRead = true
	local, _ := srv.Tags()
	st := srv.Status()
	pr := probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr}}
	hdr := wire.CommonHeader{SrcPort: a.Status().LocalPort, DstPort: serverPort, VerificationTag: local}
	cum := srv.RecvCumAck()
	payload := make([]byte, 1000)
	send := func(tsn uint32, ssn uint16, p []byte) {
		pr.send(t, l.net.Now(), hdr, &wire.Data{TSN: tsn, SSN: ssn, Beginning: true, Ending: true, Payload: p})
	}
	// 64 bytes of bookkeeping per held item is generous for this engine.
	bound := cfg.RecvBuffer + 4*(st.FragPoint+wire.CommonHeaderLen+wire.DataHeaderSize)
	check := func(phase string) {
		t.Helper()
		if b, _ := srv.RecvHeld(); b > bound {
			t.Fatalf("%s: %d bytes held, bound %d", phase, b, bound)
		}
	}
	// Far ahead while the window is open, then every TSN below it. SSN 0
	// (TSN cum+1) never comes, so nothing is ever readable.
	const ahead = 16000
	send(cum+ahead, ahead, []byte{1})
	for i := uint32(2); i < ahead; i++ {
		send(cum+i, uint16(i), payload)
	}
	check("holes filled below a far-ahead TSN")
	// Window closed: far-ahead TSNs and more hole fillers.
	for i := uint32(0); i < 2000; i++ {
		send(cum+ahead+1+i*7, 1, payload)
		send(cum+ahead+100000+i, 1, []byte{1})
	}
	check("far-ahead TSNs with the window closed")
	if _, items := srv.RecvHeld(); items > bound/len(payload)+2 {
		t.Fatalf("%d items held, more than the buffer's worth of %d-byte chunks", items, len(payload))
	}
	if srv.State() != engine.StateEstablished {
		t.Fatalf("state %v", srv.State())
	}
}
