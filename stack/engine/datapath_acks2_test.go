package engine_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// TestSenderDryAfterLastAck: SENDER_DRY (RFC 6458 6.1.9) comes when the
// SACK acknowledging the last outstanding TSN arrives, not on an earlier
// SACK that leaves data outstanding, and only once per idle spell. Three
// packets to a receiver acknowledging every second one: the first SACK
// covers two, the third packet waits for the SACK timer.
func TestSenderDryAfterLastAck(t *testing.T) {
	const oneWay = 10 * time.Millisecond
	scfg := engine.Config{PeerAddr: hbOff}
	delay := scfg.WithDefaults().DelayedAck.Delay
	l := newLab(t, 920, link.Native, scfg)
	l.cn.Imp.Delay, l.sn.Imp.Delay = oneWay, oneWay
	a, rec := l.up(engine.Config{NoDelay: true, PeerAddr: hbOff})
	if rec.has(engine.SenderDry) {
		t.Fatalf("SENDER_DRY before anything was sent: %s", rec.types())
	}
	var sackIn []time.Time // SACKs arriving at the client
	l.net.Trace = func(now time.Time, from, _ *simNode, pkt []byte) {
		if from != l.sn {
			return
		}
		var pk wire.Packet
		if pk.Unmarshal(append([]byte(nil), pkt...)) != nil {
			return
		}
		if s, _ := ackDecode(t, []wire.Packet{pk}); len(s) > 0 {
			sackIn = append(sackIn, now)
		}
	}
	t0 := l.net.Now()
	for m := 0; m < 3; m++ {
		if err := a.Send(t0, bytes.Repeat([]byte{byte(m)}, 1000), engine.SndInfo{}); err != nil {
			t.Fatal(err)
		}
	}
	if rec.has(engine.SenderDry) {
		t.Fatal("SENDER_DRY with data in flight")
	}
	l.net.RunFor(2 * time.Second)
	if len(sackIn) != 2 {
		t.Fatalf("%d SACKs reached the client, want 2 (one for two packets, one from the timer)", len(sackIn))
	}
	if want := t0.Add(2*oneWay + delay); !sackIn[1].Equal(want) {
		t.Fatalf("second SACK arrived at +%v, want +%v", sackIn[1].Sub(t0), want.Sub(t0))
	}
	if n := rec.count(engine.SenderDry); n != 1 {
		t.Fatalf("%d SENDER_DRY events, want 1: %s", n, rec.types())
	}
	for i, ev := range rec.events {
		if ev.Type == engine.SenderDry && !rec.at[i].Equal(sackIn[1]) {
			t.Fatalf("SENDER_DRY at +%v, want +%v when the last TSN was acknowledged (first SACK at +%v)",
				rec.at[i].Sub(t0), sackIn[1].Sub(t0), sackIn[0].Sub(t0))
		}
	}
	// A new idle spell announces itself again.
	if err := a.Send(l.net.Now(), []byte("more"), engine.SndInfo{}); err != nil {
		t.Fatal(err)
	}
	l.net.RunFor(2 * time.Second)
	if n := rec.count(engine.SenderDry); n != 2 {
		t.Fatalf("%d SENDER_DRY events after a second send, want 2: %s", n, rec.types())
	}
}

// TestSendFailedOnAbort: when the user aborts with data queued, SEND_FAILED
// (RFC 6458 6.1.11) returns every message once, with its Context and whole
// data: Sent false for those never transmitted, true for those at least
// partly on the wire and unacknowledged (a message cut short by cwnd is
// listed once, Sent). The peer is silent, so nothing is
// acknowledged; cwnd and the peer's window stop the rest in the queue.
func TestSendFailedOnAbort(t *testing.T) {
	l := newLab(t, 930, link.Native, engine.Config{PeerAddr: hbOff})
	a, rec := l.up(engine.Config{NoDelay: true, PeerAddr: hbOff})
	pkts := ackTap(l)
	l.sn.Down = true
	t0 := l.net.Now()
	const n, size = 5, 3000
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = bytes.Repeat([]byte{byte('a' + i)}, size)
		msgs[i][size-1] = byte(i) // whole data, not a prefix, must come back
		if err := a.Send(t0, msgs[i], engine.SndInfo{Stream: uint16(i % 2), PPID: 50 + uint32(i), Context: 100 + uint32(i)}); err != nil {
			t.Fatal(err)
		}
	}
	l.net.RunFor(10 * time.Millisecond) // less than any RTO: nothing retransmitted
	data, _ := ackDataFrom(*pkts, l.cn, t0)
	data = uniqueTSNs(data)    // but a tail loss probe may have been
	sent := map[uint32]bool{}  // by PPID
	ended := map[uint32]bool{} // its last fragment went too
	for _, d := range data {
		sent[d.PPID] = true
		ended[d.PPID] = ended[d.PPID] || d.Ending
	}
	st := a.Status()
	if st.Unacked != len(data) {
		t.Fatalf("Status.Unacked %d, %d DATA chunks on the wire", st.Unacked, len(data))
	}
	unsent := 0
	for i := range msgs {
		if !sent[50+uint32(i)] {
			unsent++
		}
	}
	partial := 0
	for p := range sent {
		if !ended[p] {
			partial++
		}
	}
	if len(sent) == partial || partial == 0 || unsent == 0 {
		t.Fatalf("%d of %d messages on the wire, %d of them in part: the scenario needs whole, partial and unsent ones",
			len(sent), n, partial)
	}
	a.Abort(l.net.Now())
	if c := rec.count(engine.SendFailed); c != 1 {
		t.Fatalf("%d SEND_FAILED events, want 1: %s", c, rec.types())
	}
	ev := rec.find(engine.SendFailed)
	if len(ev.Failed) != n {
		t.Fatalf("SEND_FAILED lists %d messages, want %d: %+v", len(ev.Failed), n, ev.Failed)
	}
	seen := map[uint32]bool{}
	for _, f := range ev.Failed {
		i := int(f.Info.Context) - 100
		if i < 0 || i >= n || seen[f.Info.Context] {
			t.Fatalf("unexpected or repeated context %d", f.Info.Context)
		}
		seen[f.Info.Context] = true
		if f.Info.PPID != 50+uint32(i) || f.Info.Stream != uint16(i%2) {
			t.Errorf("message %d: info %+v, want PPID %d stream %d", i, f.Info, 50+i, i%2)
		}
		if !bytes.Equal(f.Data, msgs[i]) {
			t.Errorf("message %d: %d bytes returned, not the %d sent", i, len(f.Data), len(msgs[i]))
		}
		if f.Sent != sent[50+uint32(i)] {
			t.Errorf("message %d: Sent %v, but on the wire %v", i, f.Sent, sent[50+uint32(i)])
		}
	}
	// SEND_FAILED precedes the association's last event.
	if last := rec.events[len(rec.events)-1]; last.Type != engine.CommLost {
		t.Fatalf("events %s, want COMM_LOST last", rec.types())
	}
}

// TestStatusWindowAndQueue: Status (RFC 6458 8.2.1 SCTP_STATUS) tracks the
// peer's window, the chunks outstanding and the bytes still queued, in a
// script where the test plays the peer's SACKs. The peer advertises a
// 3000-byte buffer; three 1000-byte messages fill it and the fourth waits
// (RFC 9260 6.1 rule A) until a SACK makes room.
func TestStatusWindowAndQueue(t *testing.T) {
	scfg := engine.Config{RecvBuffer: 3000, PeerAddr: hbOff}
	l := newLab(t, 940, link.Native, scfg)
	a, rec := l.up(engine.Config{NoDelay: true, PeerAddr: hbOff})
	check := func(phase string, rwnd uint32, unacked, pending, outstanding int) {
		t.Helper()
		st := a.Status()
		if st.PeerRwnd != rwnd || st.Unacked != unacked || st.Pending != pending || st.Outstanding != outstanding {
			t.Fatalf("%s: PeerRwnd %d Unacked %d Pending %d Outstanding %d, want %d %d %d %d", phase,
				st.PeerRwnd, st.Unacked, st.Pending, st.Outstanding, rwnd, unacked, pending, outstanding)
		}
	}
	const size = 1000
	rb := uint32(scfg.RecvBuffer)
	check("established", rb, 0, 0, 0)
	// The test stands in for the server from here: nothing is stepped, and
	// what the client sends is read straight off its host.
	var tsns []uint32
	take := func() {
		var pkts []wire.Packet
		for _, o := range l.cn.Host.Outgoing() {
			var pk wire.Packet
			if err := pk.Unmarshal(append([]byte(nil), o.Buf...)); err != nil {
				t.Fatal(err)
			}
			pkts = append(pkts, pk)
		}
		l.cn.Host.ReleaseOutgoing()
		_, d := ackDecode(t, pkts)
		for _, c := range d {
			tsns = append(tsns, c.TSN)
		}
	}
	now := l.net.Now()
	for i := 0; i < 4; i++ {
		if err := a.Send(now, make([]byte, size), engine.SndInfo{}); err != nil {
			t.Fatal(err)
		}
	}
	take()
	if len(tsns) != 3 {
		t.Fatalf("%d DATA chunks went into a %d-byte window, want 3", len(tsns), rb)
	}
	check("window full", 0, 3, size, 3*size)

	local, _ := a.Tags()
	pr := probe{nd: l.cn, from: link.Path{Local: l.cn.Addr, Remote: l.sn.Addr}}
	hdr := wire.CommonHeader{SrcPort: serverPort, DstPort: a.Status().LocalPort, VerificationTag: local}
	sack := func(cum, arwnd uint32) {
		t.Helper()
		_, d := ackDecode(t, pr.send(t, now, hdr, &wire.Sack{CumTSNAck: cum, ARwnd: arwnd}))
		for _, c := range d {
			tsns = append(tsns, c.TSN)
		}
	}
	// The first message acknowledged, the other two still in flight: a_rwnd
	// less the 2000 bytes outstanding lets the fourth go (6.2.1 D iv).
	sack(tsns[0], rb)
	if len(tsns) != 4 || tsns[3] != tsns[2]+1 {
		t.Fatalf("after the window opened the client sent TSNs %v, want the fourth message", tsns)
	}
	check("fourth message sent", 0, 3, 0, 3*size)
	if rec.has(engine.SenderDry) {
		t.Fatal("SENDER_DRY with three chunks outstanding")
	}
	// A receiver that stopped reading acknowledges all but offers less.
	const held = 2500
	sack(tsns[3], held)
	check("all acknowledged", held, 0, 0, 0)
	if n := rec.count(engine.SenderDry); n != 1 {
		t.Fatalf("%d SENDER_DRY events once all was acknowledged, want 1", n)
	}
	// A repeated SACK changes nothing and announces nothing.
	sack(tsns[3], held)
	check("repeated SACK", held, 0, 0, 0)
	if n := rec.count(engine.SenderDry); n != 1 {
		t.Fatalf("%d SENDER_DRY events after a repeated SACK, want 1", n)
	}
}

// TestFragmentationPoint: the largest DATA payload is the path MTU less
// the IP header, the UDP header on an encapsulating link (RFC 6951 5), the
// common header and the DATA chunk header, or SCTP_MAXSEG when smaller;
// a message is cut into exactly ceil(len/fragpoint) chunks, each full but
// the last, B on the first and E on the last (RFC 9260 6.9).
func TestFragmentationPoint(t *testing.T) {
	cases := []struct {
		name   string
		kind   link.Kind
		maxSeg int
		want   int // the value the computation below must give
	}{
		{"native", link.Native, 0, 1452},
		{"udp", link.UDP, 0, 1444},
		{"native maxseg 500", link.Native, 500, 500},
		{"udp maxseg 500", link.UDP, 500, 500},
		{"native maxseg above mtu", link.Native, 4000, 1452},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := engine.Config{MaxSeg: tc.maxSeg, NoDelay: true, PeerAddr: hbOff}
			l := newLab(t, 950+uint64(i), tc.kind, engine.Config{PeerAddr: hbOff})
			a, _ := l.up(cfg)
			ovh := link.IPOverhead(l.sn.Addr)
			if tc.kind == link.UDP {
				ovh += 8
			}
			fp := cfg.WithDefaults().PeerAddr.PathMTU - ovh - wire.CommonHeaderLen - wire.DataHeaderSize
			if tc.maxSeg > 0 && tc.maxSeg < fp {
				fp = tc.maxSeg
			}
			if fp != tc.want {
				t.Fatalf("computed fragmentation point %d, want %d", fp, tc.want)
			}
			if got := a.Status().FragPoint; got != fp {
				t.Fatalf("Status.FragPoint %d, want %d", got, fp)
			}
			pkts := ackTap(l)
			t0 := l.net.Now()
			msg := make([]byte, 4000)
			for j := range msg {
				msg[j] = byte(j * 7)
			}
			if err := a.Send(t0, append([]byte(nil), msg...), engine.SndInfo{}); err != nil {
				t.Fatal(err)
			}
			if !l.net.RunUntil(func() bool { return len(l.srv.msgs) == 1 }, time.Minute) {
				t.Fatal("message not delivered")
			}
			if !bytes.Equal(l.srv.msgs[0].Data, msg) {
				t.Fatal("message delivered altered")
			}
			data, _ := ackDataFrom(*pkts, l.cn, t0)
			want := (len(msg) + fp - 1) / fp
			if len(data) != want {
				t.Fatalf("%d DATA chunks for %d bytes, want ceil(%d/%d) = %d", len(data), len(msg), len(msg), fp, want)
			}
			for j, d := range data {
				wantLen := fp
				if j == want-1 {
					wantLen = len(msg) - fp*(want-1)
				}
				if len(d.Payload) != wantLen || d.Beginning != (j == 0) || d.Ending != (j == want-1) {
					t.Errorf("chunk %d: %d bytes B=%v E=%v, want %d bytes B=%v E=%v",
						j, len(d.Payload), d.Beginning, d.Ending, wantLen, j == 0, j == want-1)
				}
			}
		})
	}
}

// uniqueTSNs keeps the first copy of each TSN.
func uniqueTSNs(data []wire.Data) []wire.Data {
	seen := map[uint32]bool{}
	out := data[:0:0]
	for _, d := range data {
		if !seen[d.TSN] {
			seen[d.TSN] = true
			out = append(out, d)
		}
	}
	return out
}
