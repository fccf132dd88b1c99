package engine_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// numbered draws n messages whose first four bytes are their index, so
// deliveries and SEND_FAILED reports can be told apart whatever the order.
func numbered(r *rand.Rand, n int, streams uint16, maxSize int) []sentMsg {
	msgs := randomMessages(r, n, streams, maxSize)
	for i := range msgs {
		if len(msgs[i].data) < 4 {
			msgs[i].data = append(msgs[i].data, 0, 0, 0, 0)
		}
		binary.BigEndian.PutUint32(msgs[i].data, uint32(i))
	}
	return msgs
}

func msgIndex(b []byte) int { return int(binary.BigEndian.Uint32(b)) }

// sacksOffered records the a_rwnd of every SACK node nd hands to the
// network while on() holds.
func sacksOffered(l *lab, nd *simNode, on func() bool) *[]uint32 {
	var rwnds []uint32
	l.net.Offered = func(_ time.Time, from *simNode, _ int, p link.Packet) {
		if from != nd || !on() {
			return
		}
		var pk wire.Packet
		if pk.Unmarshal(append([]byte(nil), p.Buf...)) != nil {
			return
		}
		for _, c := range pk.Chunks {
			var s wire.Sack
			if c.Type == wire.TypeSack && s.Unmarshal(c) == nil {
				rwnds = append(rwnds, s.ARwnd)
			}
		}
	}
	return &rwnds
}

// failedIndexes lists the messages of every SEND_FAILED event r got.
func failedIndexes(r *recorder) []int {
	var out []int
	for _, ev := range r.events {
		if ev.Type == engine.SendFailed {
			for _, f := range ev.Failed {
				out = append(out, msgIndex(f.Data))
			}
		}
	}
	return out
}

// TestCloseWindowAccounting: a receiver closes its window in the middle of
// a transfer under loss and reordering. It advertises a_rwnd 0 at once and
// in every SACK after, takes nothing new but still fills its holes, the
// sender keeps probing without counting errors, and when the receiver then
// aborts, every message sent is either delivered or listed in the sender's
// SEND_FAILED, never both, never neither (RFC 9260 6.2, RFC 6458 6.1.11).
func TestCloseWindowAccounting(t *testing.T) {
	for seed := uint64(0); seed < 8; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			cfg := engine.Config{NoDelay: true, RecvBuffer: 64 << 10, SendBuffer: 256 << 10,
				InitMsg: engine.InitMsg{OutStreams: 4, MaxInStreams: 4}}
			l := newLab(t, 600+seed, link.Native, cfg)
			for _, nd := range []*simNode{l.cn, l.sn} {
				nd.Imp.Delay, nd.Imp.Loss, nd.Imp.Reorder = 5*time.Millisecond, 0.03, 0.03
			}
			a, crec := l.up(cfg)
			r := l.net.Rand()
			msgs := numbered(r, 400, 4, 6000)
			p := &pump{a: a, msgs: msgs}
			closeAt := 20 + r.IntN(200)
			closed := false
			rwnds := sacksOffered(l, l.sn, func() bool { return closed })
			if !l.net.RunUntil(func() bool { p.run(l.net.Now()); return len(l.srv.msgs) >= closeAt }, 5*time.Minute) {
				t.Fatalf("%d of %d messages before the close", len(l.srv.msgs), closeAt)
			}
			srv := l.srv.assoc
			closed = true
			srv.CloseWindow(l.net.Now())
			l.net.RunFor(0) // hands what the call queued to the network
			if len(*rwnds) == 0 || (*rwnds)[0] != 0 {
				t.Fatalf("CloseWindow sent SACKs with a_rwnd %v, want one with 0 at once", *rwnds)
			}
			// Loss for a minute more (holes to fill), then a clean network
			// so the sender hears the final cumulative ack before the end.
			l.net.RunUntil(func() bool { p.run(l.net.Now()); return false }, time.Minute)
			l.cn.Imp.Loss, l.sn.Imp.Loss, l.cn.Imp.Reorder, l.sn.Imp.Reorder = 0, 0, 0, 0
			l.net.RunUntil(func() bool { p.run(l.net.Now()); return false }, 2*time.Minute)
			for i, w := range *rwnds {
				if w != 0 {
					t.Fatalf("SACK %d after the close advertised %d", i, w)
				}
			}
			st := srv.Status()
			if a.State() != engine.StateEstablished || crec.ended() {
				t.Fatalf("sender gave up on a closed window: %v %s", a.State(), crec.types())
			}
			if !st.WindowClosed || st.Rwnd != 0 || !srv.InboundSettled() || srv.Readable() != 0 {
				t.Fatalf("receiver: closed %v rwnd %d settled %v readable %d", st.WindowClosed, st.Rwnd, srv.InboundSettled(), srv.Readable())
			}
			if st.Refused == 0 || l.srv.signaled(engine.DataRefused) != 1 {
				t.Fatalf("refused %d chunks, %d DATA_REFUSED signals, want some and one", st.Refused, l.srv.signaled(engine.DataRefused))
			}
			if cs := a.Status(); cs.Unacked+cs.Pending == 0 {
				t.Fatal("the sender holds nothing: the window did not stop it")
			}
			delivered := len(l.srv.msgs)
			srv.Abort(l.net.Now())
			if !l.net.RunUntil(crec.ended, time.Minute) {
				t.Fatal("the sender did not hear the ABORT")
			}
			seen := make([]int, len(msgs))
			for _, m := range l.srv.msgs {
				seen[msgIndex(m.Data)]++
			}
			for _, i := range failedIndexes(crec) {
				seen[i] += 10
			}
			for i := 0; i < p.next; i++ {
				switch seen[i] {
				case 1, 10:
				case 0:
					t.Fatalf("message %d neither delivered nor reported unsent", i)
				default:
					t.Fatalf("message %d delivered %d times, reported unsent %d times", i, seen[i]%10, seen[i]/10)
				}
			}
			t.Logf("closed after %d messages; %d delivered, %d of %d sent reported unsent, %d chunks refused",
				closeAt, delivered, p.next-delivered, p.next, st.Refused)
		})
	}
}

// TestCloseWindowFillsHoles: a chunk lost before CloseWindow is still taken
// when it is retransmitted, so the messages behind it, received before the
// close, are delivered; until then InboundSettled is false.
func TestCloseWindowFillsHoles(t *testing.T) {
	cfg := engine.Config{NoDelay: true}
	l := newLab(t, 610, link.Native, cfg)
	l.cn.Imp.Delay, l.sn.Imp.Delay = 5*time.Millisecond, 5*time.Millisecond
	a, crec := l.up(cfg)
	var hole uint32
	dropped := false
	var highest uint32
	l.cn.Imp.Drop = func(_ *simNode, pkt []byte) bool {
		var p wire.Packet
		if p.Unmarshal(append([]byte(nil), pkt...)) != nil {
			return false
		}
		for _, c := range p.Chunks {
			var d wire.Data
			if c.Type == wire.TypeData && d.Unmarshal(c) == nil {
				if hole == 0 {
					hole = d.TSN + 1
				}
				if d.TSN == hole && !dropped {
					dropped = true
					return true
				}
				highest = d.TSN
			}
		}
		return false
	}
	msgs := numbered(l.net.Rand(), 6, 1, 1)
	for i := range msgs {
		msgs[i].info = engine.SndInfo{Stream: 0, PPID: 18}
		msgs[i].data = append(msgs[i].data, make([]byte, 1000)...) // a packet each
	}
	for _, m := range msgs[:3] {
		if err := a.Send(l.net.Now(), m.data, m.info); err != nil {
			t.Fatal(err)
		}
	}
	if !l.net.RunUntil(func() bool { return highest == hole+1 && len(l.srv.msgs) == 1 }, time.Second) {
		t.Fatalf("setup: highest TSN %d hole %d, %d delivered", highest, hole, len(l.srv.msgs))
	}
	l.net.RunFor(10 * time.Millisecond) // the third chunk arrives, behind the hole
	srv := l.srv.assoc
	srv.CloseWindow(l.net.Now())
	if srv.InboundSettled() {
		t.Fatal("settled with a hole below the highest TSN")
	}
	for _, m := range msgs[3:] {
		if err := a.Send(l.net.Now(), m.data, m.info); err != nil {
			t.Fatal(err)
		}
	}
	l.net.RunFor(time.Minute)
	if !srv.InboundSettled() || len(l.srv.msgs) != 3 {
		t.Fatalf("settled %v, %d delivered, want the 3 sent before the close", srv.InboundSettled(), len(l.srv.msgs))
	}
	for i, m := range l.srv.msgs {
		if msgIndex(m.Data) != i {
			t.Fatalf("delivery %d is message %d", i, msgIndex(m.Data))
		}
	}
	srv.Abort(l.net.Now())
	l.net.RunUntil(crec.ended, time.Minute)
	if f := failedIndexes(crec); fmt.Sprint(f) != "[3 4 5]" {
		t.Fatalf("SEND_FAILED lists %v, want [3 4 5]", f)
	}
}

// TestCloseWindowThenShutdown: with its window closed, a SHUTDOWN completes
// with a peer that has nothing left to send; a peer holding refused data
// cannot complete it (it must deliver that data first, 9.2), so the
// association ends in an ABORT and the peer's user gets its messages back.
func TestCloseWindowThenShutdown(t *testing.T) {
	cfg := engine.Config{NoDelay: true}
	t.Run("idle peer", func(t *testing.T) {
		l := newLab(t, 620, link.Native, cfg)
		_, crec := l.up(cfg)
		srv := l.srv.assoc
		srv.CloseWindow(l.net.Now())
		srv.Shutdown(l.net.Now())
		if !l.net.RunUntil(func() bool { return crec.ended() && l.srv.ended() }, time.Minute) {
			t.Fatalf("client %s server %s", crec.types(), l.srv.types())
		}
		if !crec.has(engine.ShutdownComp) || !l.srv.has(engine.ShutdownComp) || l.srv.signaled(engine.DataRefused) != 0 {
			t.Fatalf("client %s server %s", crec.types(), l.srv.types())
		}
	})
	t.Run("peer with data", func(t *testing.T) {
		l := newLab(t, 621, link.Native, cfg)
		a, crec := l.up(cfg)
		srv := l.srv.assoc
		srv.CloseWindow(l.net.Now())
		l.net.RunFor(100 * time.Millisecond)
		msgs := numbered(l.net.Rand(), 5, 1, 100)
		for _, m := range msgs {
			if err := a.Send(l.net.Now(), m.data, m.info); err != nil {
				t.Fatal(err)
			}
		}
		srv.Shutdown(l.net.Now())
		if !l.net.RunUntil(func() bool { return crec.ended() && l.srv.ended() }, 30*time.Minute) {
			t.Fatalf("client %s server %s", crec.types(), l.srv.types())
		}
		if crec.has(engine.ShutdownComp) || len(l.srv.msgs) != 0 || l.srv.signaled(engine.DataRefused) == 0 {
			t.Fatalf("client %s server %s, %d delivered", crec.types(), l.srv.types(), len(l.srv.msgs))
		}
		if f := failedIndexes(crec); len(f) != len(msgs) {
			t.Fatalf("SEND_FAILED lists %v, want all %d", f, len(msgs))
		}
	})
}
