package engine_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
	"github.com/sctpgw/sctpgw/stack/wire"
)

type sentMsg struct {
	info engine.SndInfo
	data []byte
}

// checkDelivery verifies that got is exactly sent: every message once,
// byte-exact, with its stream, PPID and unordered flag, ordered messages in
// send order per stream.
func checkDelivery(t *testing.T, dir string, sent []sentMsg, got []engine.Message) {
	t.Helper()
	if len(got) != len(sent) {
		t.Fatalf("%s: %d messages delivered, %d sent", dir, len(got), len(sent))
	}
	type key struct {
		stream    uint16
		unordered bool
	}
	want := map[key][]sentMsg{}
	for _, m := range sent {
		k := key{m.info.Stream, m.info.Unordered}
		want[k] = append(want[k], m)
	}
	have := map[key][]engine.Message{}
	for _, m := range got {
		k := key{m.Stream, m.Unordered}
		have[k] = append(have[k], m)
	}
	for k, ws := range want {
		hs := have[k]
		if len(hs) != len(ws) {
			t.Fatalf("%s: stream %d unordered=%v: %d delivered, %d sent", dir, k.stream, k.unordered, len(hs), len(ws))
		}
		if k.unordered {
			// Any order, but the same multiset.
			cmp := func(a, b []byte) int { return bytes.Compare(a, b) }
			var wd, hd [][]byte
			for i := range ws {
				wd = append(wd, append(binaryPPID(ws[i].info.PPID), ws[i].data...))
				hd = append(hd, append(binaryPPID(hs[i].PPID), hs[i].Data...))
			}
			slices.SortFunc(wd, cmp)
			slices.SortFunc(hd, cmp)
			for i := range wd {
				if !bytes.Equal(wd[i], hd[i]) {
					t.Fatalf("%s: unordered stream %d: message sets differ", dir, k.stream)
				}
			}
			continue
		}
		for i := range ws {
			if hs[i].PPID != ws[i].info.PPID || !bytes.Equal(hs[i].Data, ws[i].data) {
				t.Fatalf("%s: stream %d message %d: got %d bytes ppid %d, want %d bytes ppid %d (order or content wrong)",
					dir, k.stream, i, len(hs[i].Data), hs[i].PPID, len(ws[i].data), ws[i].info.PPID)
			}
		}
	}
}

func binaryPPID(p uint32) []byte { return []byte{byte(p >> 24), byte(p >> 16), byte(p >> 8), byte(p)} }

// randomMessages draws n messages of 1 B to maxSize (log-uniform: each
// doubling of size equally likely), random streams, PPIDs and unordered
// flags.
func randomMessages(r *rand.Rand, n int, streams uint16, maxSize int) []sentMsg {
	out := make([]sentMsg, n)
	for i := range out {
		size := min(maxSize, max(1, int(math.Exp2(r.Float64()*math.Log2(float64(maxSize)+1)))))
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		out[i] = sentMsg{
			info: engine.SndInfo{Stream: uint16(r.IntN(int(streams))), PPID: r.Uint32(), Unordered: r.IntN(4) == 0},
			data: data,
		}
	}
	return out
}

// resize gives m a new payload of n random bytes.
func resize(r *rand.Rand, m *sentMsg, n int) {
	m.data = make([]byte, n)
	for j := range m.data {
		m.data[j] = byte(r.Uint32())
	}
}

// pump keeps offering messages to a as the send buffer allows; it returns
// how many are queued so far.
type pump struct {
	a    *engine.Association
	msgs []sentMsg
	next int
}

func (p *pump) run(now time.Time) {
	for p.next < len(p.msgs) {
		m := p.msgs[p.next]
		if err := p.a.Send(now, m.data, m.info); err != nil {
			if err == engine.ErrFull {
				return
			}
			panic(err)
		}
		p.next++
	}
}

// TestTransferUnderImpairments is the exactly-once, in-order, byte-exact
// soak of issue 4: random messages both ways under loss, duplication and
// reordering, for many seeds per loss rate.
func TestTransferUnderImpairments(t *testing.T) {
	seeds := soakSeeds(500)
	for _, loss := range []float64{0, 0.01, 0.05, 0.2} {
		for seed := 0; seed < seeds; seed++ {
			seed, loss := uint64(seed), loss
			t.Run(fmt.Sprintf("loss=%v/seed=%d", loss, seed), func(t *testing.T) {
				t.Parallel()
				transferOne(t, seed, loss)
			})
		}
	}
}

func transferOne(t *testing.T, seed uint64, loss float64) {
	kind := link.Native
	if seed%2 == 1 {
		kind = link.UDP
	}
	cfg := engine.Config{
		InitMsg:    engine.InitMsg{OutStreams: 8, MaxInStreams: 8},
		RecvBuffer: 256 << 10, SendBuffer: 256 << 10,
		RTO:      engine.RTOInfo{Initial: time.Second, Min: 200 * time.Millisecond, Max: 10 * time.Second},
		Assoc:    engine.AssocParams{MaxRetrans: 30},
		PeerAddr: engine.PeerAddrParams{PathMaxRetrans: 30},
		NoDelay:  seed%3 == 0,
	}
	l := newLab(t, seed, kind, cfg)
	r := l.net.Rand()
	for _, nd := range []*simNode{l.cn, l.sn} {
		nd.Imp.Loss = loss
		nd.Imp.Duplicate = 0.01
		nd.Imp.Reorder = 0.03
		nd.Imp.Delay = time.Duration(1+r.IntN(20)) * time.Millisecond
		nd.Imp.Bandwidth = 50 << 20
	}
	a, crec := l.up(cfg)
	n := 4 + r.IntN(8)
	const maxSize = 200 << 10
	c2s := &pump{a: a, msgs: randomMessages(r, n, 8, maxSize)}
	s2c := &pump{a: l.srv.assoc, msgs: randomMessages(r, n, 8, maxSize)}
	// Both ends of the range in every run: the smallest and the
	// largest message each way.
	resize(r, &c2s.msgs[0], 1)
	resize(r, &c2s.msgs[n-1], maxSize)
	resize(r, &s2c.msgs[n-1], 1)
	resize(r, &s2c.msgs[0], maxSize)
	done := func() bool {
		for _, x := range []*engine.Association{a, l.srv.assoc} {
			if err := x.CheckInvariants(); err != nil {
				t.Fatalf("at %v: %v", l.net.Now().Sub(sim.Epoch), err)
			}
		}
		c2s.run(l.net.Now())
		s2c.run(l.net.Now())
		return len(l.srv.msgs) == len(c2s.msgs) && len(crec.msgs) == len(s2c.msgs)
	}
	if !l.net.RunUntil(done, 30*time.Minute) {
		t.Fatalf("not delivered: %d/%d and %d/%d (client %s server %s)", len(l.srv.msgs), len(c2s.msgs), len(crec.msgs), len(s2c.msgs), crec.types(), l.srv.types())
	}
	checkDelivery(t, "client->server", c2s.msgs, l.srv.msgs)
	checkDelivery(t, "server->client", s2c.msgs, crec.msgs)
	if loss >= 0.2 && l.net.Sent >= 100 && l.net.Dropped == 0 {
		t.Fatal("the impairments dropped nothing: the test proves nothing")
	}
	if crec.has(engine.CommLost) || l.srv.has(engine.CommLost) {
		t.Fatal("association lost")
	}
}

// TestStalledReceiver: a receiver that stops reading closes its window; the
// sender stops, memory stays bounded, nothing aborts, and reading resumes
// the flow.
func TestStalledReceiver(t *testing.T) {
	cfg := engine.Config{RecvBuffer: 64 << 10, SendBuffer: 64 << 10, NoDelay: true}
	l := newLab(t, 30, link.UDP, cfg)
	l.cn.Imp.Delay, l.sn.Imp.Delay = 5*time.Millisecond, 5*time.Millisecond
	a, _ := l.up(cfg)
	l.srv.noRead = true
	msgs := randomMessages(l.net.Rand(), 400, 4, 4<<10)
	p := &pump{a: a, msgs: msgs}
	l.net.RunUntil(func() bool { p.run(l.net.Now()); return false }, 30*time.Second)
	srv := l.srv.assoc
	st := srv.Status()
	if st.Rwnd > 4<<10 {
		t.Fatalf("receiver window still %d with nobody reading", st.Rwnd)
	}
	if b := srv.Readable(); b == 0 {
		t.Fatal("nothing waiting at the receiver")
	}
	if p.next == len(msgs) {
		t.Fatal("the sender queued everything: no backpressure")
	}
	if q := a.Buffered(); q > cfg.SendBuffer+(4<<10) {
		t.Fatalf("sender holds %d bytes, bound %d", q, cfg.SendBuffer)
	}
	if l.srv.has(engine.CommLost) || a.State() != engine.StateEstablished {
		t.Fatal("a stalled receiver ended the association")
	}
	// Resume reading: everything arrives.
	l.srv.noRead = false
	l.srv.drain(srv)
	if !l.net.RunUntil(func() bool {
		p.run(l.net.Now())
		l.srv.drain(srv)
		return len(l.srv.msgs) == len(msgs)
	}, 5*time.Minute) {
		t.Fatalf("after resuming only %d of %d arrived", len(l.srv.msgs), len(msgs))
	}
	checkDelivery(t, "resumed", msgs, l.srv.msgs)
}

// TestHeadOfLineIndependence: a lost fragment of a large message on stream 1
// does not hold back a small message on stream 2 sent after it.
func TestHeadOfLineIndependence(t *testing.T) {
	cfg := engine.Config{NoDelay: true, InitMsg: engine.InitMsg{OutStreams: 4, MaxInStreams: 4}}
	l := newLab(t, 31, link.Native, cfg)
	l.cn.Imp.Delay, l.sn.Imp.Delay = 10*time.Millisecond, 10*time.Millisecond
	a, _ := l.up(cfg)
	// Drop the first fragment of the stream 1 message (two fragments, so both
	// fit the initial cwnd together with the stream 2 message).
	dropped := false
	l.cn.Imp.Drop = func(_ *simNode, pkt []byte) bool {
		var p wire.Packet
		if dropped || p.Unmarshal(pkt) != nil {
			return false
		}
		for _, c := range p.Chunks {
			var d wire.Data
			if c.Type == wire.TypeData && d.Unmarshal(c) == nil && d.StreamID == 1 && d.Beginning && !d.Ending {
				dropped = true
				return true
			}
		}
		return false
	}
	big := make([]byte, 2800)
	a.Send(l.net.Now(), big, engine.SndInfo{Stream: 1})
	a.Send(l.net.Now(), []byte("urgent"), engine.SndInfo{Stream: 2})
	start := l.net.Now()
	l.net.RunUntil(func() bool { return len(l.srv.msgs) >= 1 }, time.Minute)
	if !dropped {
		t.Fatal("the test never dropped a fragment")
	}
	first := l.srv.msgs[0]
	if first.Stream != 2 || string(first.Data) != "urgent" {
		t.Fatalf("first delivered: stream %d (%d bytes), want the stream 2 message", first.Stream, len(first.Data))
	}
	if el := l.net.Now().Sub(start); el > 100*time.Millisecond {
		t.Fatalf("stream 2 waited %v: held behind stream 1's loss", el)
	}
	l.net.RunUntil(func() bool { return len(l.srv.msgs) == 2 }, time.Minute)
	if len(l.srv.msgs) != 2 || len(l.srv.msgs[1].Data) != len(big) {
		t.Fatal("the large message never completed")
	}
}

// TestShutdownDeliversDataInFlight: a graceful shutdown called right after
// sending, under loss, delivers everything both ways before SHUTDOWN
// COMPLETE.
func TestShutdownDeliversDataInFlight(t *testing.T) {
	for seed := uint64(0); seed < uint64(soakSeeds(50)); seed++ {
		cfg := engine.Config{Assoc: engine.AssocParams{MaxRetrans: 30}, PeerAddr: engine.PeerAddrParams{PathMaxRetrans: 30}}
		l := newLab(t, 100+seed, link.UDP, cfg)
		for _, nd := range []*simNode{l.cn, l.sn} {
			nd.Imp.Loss, nd.Imp.Delay, nd.Imp.Reorder = 0.1, 5*time.Millisecond, 0.05
		}
		a, crec := l.up(cfg)
		r := l.net.Rand()
		c2s := randomMessages(r, 10, 4, 30<<10)
		s2c := randomMessages(r, 10, 4, 30<<10)
		for _, m := range c2s {
			if err := a.Send(l.net.Now(), m.data, m.info); err != nil {
				t.Fatal(err)
			}
		}
		for _, m := range s2c {
			if err := l.srv.assoc.Send(l.net.Now(), m.data, m.info); err != nil {
				t.Fatal(err)
			}
		}
		if seed%2 == 0 {
			a.Shutdown(l.net.Now())
		} else {
			l.srv.assoc.Shutdown(l.net.Now())
		}
		if !l.net.RunUntil(func() bool { return crec.ended() && l.srv.ended() }, time.Hour) {
			t.Fatalf("seed %d: not closed", seed)
		}
		if !crec.has(engine.ShutdownComp) || !l.srv.has(engine.ShutdownComp) {
			t.Fatalf("seed %d: client %s server %s", seed, crec.types(), l.srv.types())
		}
		checkDelivery(t, "client->server", c2s, l.srv.msgs)
		checkDelivery(t, "server->client", s2c, crec.msgs)
	}
}

// TestExpiredMessageFails: a message whose lifetime runs out before it can be
// sent (the window is closed) is dropped unsent and reported (RFC 3758 timed
// reliability, SEND_FAILED).
func TestExpiredMessageFails(t *testing.T) {
	cfg := engine.Config{NoDelay: true, RecvBuffer: 4096}
	l := newLab(t, 70, link.Native, cfg)
	l.cn.Imp.Delay, l.sn.Imp.Delay = 10*time.Millisecond, 10*time.Millisecond
	a, rec := l.up(cfg)
	l.srv.noRead = true
	big := make([]byte, 4000)
	a.Send(l.net.Now(), big, engine.SndInfo{}) // fills the peer's window
	a.Send(l.net.Now(), big, engine.SndInfo{})
	a.Send(l.net.Now(), []byte("stale soon"), engine.SndInfo{Stream: 1, Lifetime: 100 * time.Millisecond, Context: 42})
	l.net.RunFor(2 * time.Second)
	// The queue judges a message's lifetime when its turn comes: here, once
	// the receiver reads again and the window opens.
	l.srv.noRead = false
	l.srv.drain(l.srv.assoc)
	l.net.RunFor(10 * time.Second)
	ev := rec.find(engine.SendFailed)
	if ev == nil || len(ev.Failed) != 1 || ev.Failed[0].Info.Context != 42 || ev.Failed[0].Sent {
		t.Fatalf("events %s, failed %+v", rec.types(), ev)
	}
	if len(l.srv.msgs) != 2 {
		t.Fatalf("delivered %d messages, want the two that did not expire", len(l.srv.msgs))
	}
	for _, m := range l.srv.msgs {
		if string(m.Data) == "stale soon" {
			t.Fatal("the expired message was delivered")
		}
	}
}

// TestNoSillyWindowSplits: messages smaller than a packet always travel as
// one chunk, however the peer's window moves (RFC 9260 6.1 SWS avoidance).
func TestNoSillyWindowSplits(t *testing.T) {
	cfg := engine.Config{NoDelay: true, RecvBuffer: 64 << 10, SendBuffer: 256 << 10}
	l := newLab(t, 71, link.UDP, cfg)
	l.cn.Imp.Delay, l.sn.Imp.Delay = 5*time.Millisecond, 5*time.Millisecond
	a, _ := l.up(cfg)
	chunks, split := 0, 0
	l.net.Trace = func(_ time.Time, from, _ *simNode, pkt []byte) {
		if from != l.cn {
			return
		}
		var p wire.Packet
		p.Unmarshal(pkt)
		for _, c := range p.Chunks {
			var d wire.Data
			if c.Type == wire.TypeData && d.Unmarshal(c) == nil {
				chunks++
				if !d.Beginning || !d.Ending {
					split++
				}
			}
		}
	}
	msgs := randomMessages(l.net.Rand(), 3000, 4, 1024) // all below the 1444-byte fragmentation point
	p := &pump{a: a, msgs: msgs}
	if !l.net.RunUntil(func() bool { p.run(l.net.Now()); return len(l.srv.msgs) == len(msgs) }, 10*time.Minute) {
		t.Fatalf("delivered %d of %d", len(l.srv.msgs), len(msgs))
	}
	if split != 0 {
		t.Fatalf("%d of %d DATA chunks were fragments of sub-packet messages", split, chunks)
	}
}
