package engine_test

import (
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// TestFastRetransmitScripted drives the sender with hand-made SACKs (RFC
// 9260 7.2.4): miss indications follow HTNA, so duplicated SACKs add none;
// the third real one triggers Fast Retransmit at once, with cwnd adjusted
// for that SACK's acknowledgement before it is halved, and T3-rtx
// restarted because the earliest outstanding TSN went again.
func TestFastRetransmitScripted(t *testing.T) {
	cfg := engine.Config{NoDelay: true, RecvBuffer: 4 << 20, SendBuffer: 4 << 20}
	l := newLab(t, 46, link.Native, cfg)
	l.cn.Imp.Delay, l.sn.Imp.Delay = 5*time.Millisecond, 5*time.Millisecond
	a, _ := l.up(cfg)
	msg := make([]byte, 1000)
	// Warm up past 8 PMDCS so halving is not just the 4*PMDCS floor.
	const pmdcs = 1500 - 20 - 12
	for a.Status().Primary.Cwnd <= 10*pmdcs {
		for i := 0; i < 20; i++ {
			a.Send(l.net.Now(), msg, engine.SndInfo{})
		}
		l.net.RunFor(20 * time.Millisecond)
	}
	if !l.net.RunUntil(func() bool { return a.Status().Unacked == 0 && a.Status().Pending == 0 }, time.Minute) {
		t.Fatal("warm-up not acknowledged")
	}
	// From here the server's SACKs are lost; the test writes its own.
	l.sn.Imp.Drop = func(*simNode, []byte) bool { return true }
	first := l.srv.assoc.RecvCumAck() + 1 // the next TSN the client sends
	local, _ := a.Tags()
	pr := probe{nd: l.cn, from: link.Path{Local: l.cn.Addr, Remote: l.sn.Addr}}
	hdr := wire.CommonHeader{SrcPort: serverPort, DstPort: a.Status().LocalPort, VerificationTag: local}
	cum := first - 1
	sack := func(end uint16) []wire.Packet {
		return pr.send(t, l.net.Now(), hdr, &wire.Sack{CumTSNAck: cum, ARwnd: 4 << 20, GapBlocks: []wire.GapBlock{{Start: 2, End: end}}})
	}
	resent := func(pk []wire.Packet) bool {
		for _, p := range pk {
			for _, c := range p.Chunks {
				var d wire.Data
				if c.Type == wire.TypeData && d.Unmarshal(c) == nil && d.TSN == first {
					return true
				}
			}
		}
		return false
	}
	// Enough one-chunk messages to keep cwnd full (so slow start may grow
	// it); the first is lost.
	l.cn.Imp.Drop = func(_ *simNode, pkt []byte) bool {
		var p wire.Packet
		if p.Unmarshal(append([]byte(nil), pkt...)) != nil {
			return false
		}
		for _, c := range p.Chunks {
			var d wire.Data
			if c.Type == wire.TypeData && d.Unmarshal(c) == nil && d.TSN == first {
				return true
			}
		}
		return false
	}
	for i := 0; i < a.Status().Primary.Cwnd/len(msg)+10; i++ {
		if err := a.Send(l.net.Now(), msg, engine.SndInfo{}); err != nil {
			t.Fatal(err)
		}
	}
	l.net.RunFor(50 * time.Millisecond)
	t3Before := a.T3Deadline()
	// One real miss indication, then the same SACK twice more: HTNA
	// counts no miss for SACKs that newly acknowledge nothing.
	for i := 0; i < 3; i++ {
		if resent(sack(2)) {
			t.Fatalf("TSN %d fast-retransmitted after the same SACK %d times", first, i+1)
		}
	}
	if resent(sack(3)) {
		t.Fatal("fast retransmit after two miss indications")
	}
	l.net.RunFor(300 * time.Millisecond)
	before := a.Status().Primary
	pk := sack(4)
	if !resent(pk) {
		t.Fatalf("no fast retransmit on the third miss indication: %s", chunkTypes(pk))
	}
	after := a.Status().Primary
	// 7.2.4 note: the SACK's own acknowledgement (one chunk, at most a
	// PMDCS in slow start) adjusts cwnd first, then 7.2.3 halves it.
	chunk := (wire.DataHeaderSize + len(msg) + 3) &^ 3
	if want := max((before.Cwnd+chunk)/2, 4*pmdcs); after.Ssthresh != want || after.Cwnd != want {
		t.Fatalf("cwnd %d ssthresh %d after fast retransmit from cwnd %d, want both %d", after.Cwnd, after.Ssthresh, before.Cwnd, want)
	}
	// 7.2.4 step 4: the earliest outstanding TSN was retransmitted, so
	// T3-rtx runs a full RTO from now.
	if got, want := a.T3Deadline(), l.net.Now().Add(after.RTO); !got.Equal(want) {
		t.Fatalf("T3-rtx due at %v (was %v), want now + RTO = %v", got.Sub(l.net.Now()), t3Before.Sub(l.net.Now()), after.RTO)
	}
	// A fourth SACK in Fast Recovery neither halves again nor retransmits.
	if resent(sack(5)) {
		t.Fatal("retransmitted twice by Fast Retransmit")
	}
	if s := a.Status().Primary; s.Ssthresh != after.Ssthresh {
		t.Fatalf("ssthresh %d -> %d in Fast Recovery", after.Ssthresh, s.Ssthresh)
	}
}
