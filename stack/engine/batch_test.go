package engine_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// batchRun is one bulk transfer in the simulator: what it cost in packets
// and how long it took in virtual time.
type batchRun struct {
	dataPkts, sackPkts int // DATA-carrying packets to the server, SACK-carrying ones back
	took               time.Duration
}

// runBulk sends n messages of size bytes from client to server, with every
// read delivered as batches of up to batch packets (sim.Network.Batch), and
// checks that each message arrives whole and in order.
func runBulk(t *testing.T, batch, n, size int) batchRun {
	t.Helper()
	// A short delayed-ack time: a lone packet's SACK timer would
	// otherwise dominate the virtual time the comparison reads.
	cfg := engine.Config{RecvBuffer: 1 << 20, SendBuffer: 1 << 20, DelayedAck: engine.DelayedAck{Delay: time.Millisecond}}
	l := newLab(t, 77, link.UDP, cfg)
	l.net.Batch = batch
	l.cn.Imp.Delay, l.sn.Imp.Delay = 100*time.Microsecond, 100*time.Microsecond
	a, _ := l.up(cfg)
	var r batchRun
	l.net.Trace = func(_ time.Time, from, _ *sim.Node, pkt []byte) {
		var p wire.Packet
		if p.UnmarshalUnverified(pkt) != nil {
			return
		}
		for _, c := range p.Chunks {
			switch {
			case c.Type == wire.TypeData && from == l.cn:
				r.dataPkts++
				return
			case c.Type == wire.TypeSack && from == l.sn:
				r.sackPkts++
				return
			}
		}
	}
	msg := func(i int) []byte {
		b := bytes.Repeat([]byte{byte(i)}, size)
		copy(b, fmt.Sprintf("m%07d", i))
		return b
	}
	start, sent := l.net.Now(), 0
	ok := l.net.RunUntil(func() bool {
		for sent < n {
			if err := a.Send(l.net.Now(), msg(sent), engine.SndInfo{Stream: uint16(sent % 3), PPID: 18}); err != nil {
				break
			}
			sent++
		}
		l.cn.Host.Flush(l.net.Now())
		return len(l.srv.msgs) == n
	}, 5*time.Minute)
	if !ok {
		t.Fatalf("batch %d: %d of %d messages delivered", batch, len(l.srv.msgs), n)
	}
	r.took = l.net.Now().Sub(start)
	next := [3]int{0, 1, 2}
	for _, m := range l.srv.msgs {
		s := m.Stream
		if s > 2 || !bytes.Equal(m.Data, msg(next[s])) || m.PPID != 18 {
			t.Fatalf("batch %d: stream %d: message %d differs or is out of order", batch, s, next[s])
		}
		next[s] += 3
	}
	if st := l.cn.Host.Stats(); st.T3RtxExpireds != 0 {
		t.Fatalf("batch %d: %d T3 expiries on a lossless link", batch, st.T3RtxExpireds)
	}
	return r
}

// TestBatchKeepsTheSackClock: packets handled as one batch
// (Host.HandleBatch, what the runtime does with one read) are acknowledged
// as when handled one by one: a SACK every second packet (RFC 9260 6.2),
// which burst-limited senders (6.1 rule 4) and slow start (7.2.1, one MTU
// per SACK) depend on, so the transfer takes as long and sends as many
// SACKs.
func TestBatchKeepsTheSackClock(t *testing.T) {
	const n, size = 4000, 1000
	one := runBulk(t, 1, n, size)
	many := runBulk(t, 64, n, size)
	t.Logf("per packet: %d DATA packets, %d SACKs, %v; batches of 64: %d DATA packets, %d SACKs, %v",
		one.dataPkts, one.sackPkts, one.took, many.dataPkts, many.sackPkts, many.took)
	for _, r := range []batchRun{one, many} {
		if r.sackPkts*5 < r.dataPkts*2 {
			t.Errorf("%d SACKs for %d DATA packets, want one every second packet", r.sackPkts, r.dataPkts)
		}
	}
	if many.took > one.took*11/10 {
		t.Errorf("batches took %v, per packet %v", many.took, one.took)
	}
}

// relay forwards every message its ingress association completes to its
// egress association, as the gateway's pair does, and counts the handler
// calls that found messages.
type relay struct {
	net      *sim.Network
	in, out  *engine.Association
	reads    int // Readable signals
	held     *engine.Message
	forwards int
	// at counts messages forwarded per virtual instant.
	at map[time.Time]int
}

func (r *relay) HandleEvent(*engine.Association, engine.Event) {}

func (r *relay) HandleSignal(a *engine.Association, s engine.Signal) {
	if a == r.in && s.Type == engine.Readable {
		r.reads++
	}
	if s.Type != engine.Readable && s.Type != engine.Writable {
		return
	}
	for r.in != nil && r.out != nil {
		m, ok := r.held, true
		if m == nil {
			var msg engine.Message
			if msg, ok = r.in.Read(r.net.Now()); !ok {
				return
			}
			m = &msg
		}
		if err := r.out.Send(r.net.Now(), m.Data, engine.SndInfo{Stream: m.Stream, PPID: m.PPID}); err != nil {
			r.held = m
			return
		}
		r.held = nil
		r.forwards++
		if r.at != nil {
			r.at[r.net.Now()]++
		}
	}
}

// TestBatchRelaysInOneGo: a relay's handler runs once per batch and what
// it forwards leaves at once, Max.Burst counted per message handed over:
// a batch of 1 KiB messages is not cut to Max.Burst packets waiting for
// the far end's SACK, and 100-byte messages leave in full packets.
func TestBatchRelaysInOneGo(t *testing.T) {
	for _, size := range []int{1024, 100} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			net := sim.New(91)
			net.Batch = 64
			cn := net.AddNode("198.18.0.1", link.Native)
			rn := net.AddMultiNode(sim.Iface{Addr: netip.MustParseAddr("198.18.0.2"), Kind: link.Native},
				sim.Iface{Addr: netip.MustParseAddr("198.18.1.2"), Kind: link.UDP})
			sn := net.AddNode("198.18.1.3", link.UDP)
			for _, nd := range []*sim.Node{cn, rn, sn} {
				nd.Imp.Delay = 100 * time.Microsecond
			}
			cfg := engine.Config{RecvBuffer: 4 << 20, SendBuffer: 4 << 20}
			rl := &relay{net: net}
			if err := rn.Host.Listen(serverPort, cfg, engine.AcceptFunc(func(r *engine.AcceptRequest) {
				if err := r.Accept(net.Now(), rl); err != nil {
					t.Fatal(err)
				}
				rl.in = r.Association()
			})); err != nil {
				t.Fatal(err)
			}
			sink := &recorder{net: net}
			if err := sn.Host.Listen(serverPort, cfg, engine.AcceptFunc(func(r *engine.AcceptRequest) {
				if err := r.Accept(net.Now(), sink); err != nil {
					t.Fatal(err)
				}
			})); err != nil {
				t.Fatal(err)
			}
			out, err := rn.Host.Dial(1, rn.PathVia(1, sn, 0), 0, serverPort, cfg, rl, net.Now())
			if err != nil {
				t.Fatal(err)
			}
			rl.out = out
			src := &recorder{net: net}
			a, err := cn.Host.Dial(0, cn.PathTo(rn), 0, serverPort, cfg, src, net.Now())
			if err != nil {
				t.Fatal(err)
			}
			if !net.RunUntil(func() bool { return src.has(engine.CommUp) && sink.has(engine.CommUp) && rl.in != nil }, time.Minute) {
				t.Fatal("no COMM_UP")
			}
			// Warm up cwnd on both hops, then send a burst in one flush.
			const warm, burst = 2000, 60
			for i := range warm + burst {
				if i == warm {
					if !net.RunUntil(func() bool { return len(sink.msgs) == warm && a.Status().Unacked == 0 && out.Status().Unacked == 0 }, time.Minute) {
						t.Fatalf("warm-up: %d of %d relayed", len(sink.msgs), warm)
					}
					rl.reads = 0
					rn.Host.ReleaseOutgoing()
					net.Sent = 0
				}
				if err := a.Send(net.Now(), make([]byte, size), engine.SndInfo{}); err != nil {
					t.Fatal(err)
				}
				if i < warm {
					net.RunFor(20 * time.Microsecond)
				}
			}
			relayedBefore := rl.forwards
			var egress, ingress int
			rl.at = map[time.Time]int{}
			egressAt := map[time.Time]int{}
			net.Offered = func(now time.Time, from *sim.Node, _ int, p link.Packet) {
				if firstData(p.Buf) {
					if from == rn {
						egress++
						egressAt[now]++
					} else if from == cn {
						ingress++
					}
				}
			}
			if !net.RunUntil(func() bool { return len(sink.msgs) == warm+burst }, time.Minute) {
				t.Fatalf("%d of %d relayed", len(sink.msgs)-warm, burst)
			}
			t.Logf("%d-byte messages: %d DATA packets in, %d out, %d Readable events at the relay, %d forwarded",
				size, ingress, egress, rl.reads, rl.forwards-relayedBefore)
			if rl.reads > ingress/2+1 {
				t.Errorf("%d Readable events for %d packets in: the handler ran per packet, not per batch", rl.reads, ingress)
			}
			if egress > ingress {
				t.Errorf("%d DATA packets out for %d in: forwarded messages left in partial packets", egress, ingress)
			}
			if size < 1000 {
				return
			}
			for now, n := range rl.at {
				if egressAt[now] < n {
					t.Errorf("%d messages of a packet each forwarded at %v, %d packets left then: the rest waited for SACKs",
						n, now.Sub(sim.Epoch), egressAt[now])
				}
			}
		})
	}
}

// firstData reports whether pkt carries a DATA chunk.
func firstData(pkt []byte) bool {
	var p wire.Packet
	if p.UnmarshalUnverified(pkt) != nil {
		return false
	}
	for _, c := range p.Chunks {
		if c.Type == wire.TypeData {
			return true
		}
	}
	return false
}
