package engine_test

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
)

// TestFailedPathStaysFailedOnLateAcks: the server's first network goes
// down under request/response traffic (three requests every 20 ms, 40 ms
// each way) with the timers of the namespace lab's multi-homed test
// (examples/lab TestE2EMultihomedThroughGateways: RTO 300 ms to 1 s,
// Path.Max.Retrans 3, Association.Max.Retrans 6, HB.interval 2 s), and
// comes back 4 s later. DATA on its way when the network fails arrives,
// but its SACK goes back over the failed network and is lost; T3-rtx marks
// the chunks lost and the path potentially failed, and the SACK of the
// retransmission sent over the other path acknowledges chunks still
// waiting to be sent again. Their only copy went to the dead path before it
// failed: that says nothing of the path now. While the network is down,
// neither side may report the path available or send new DATA there (RFC
// 7829 5.1: a HEARTBEAT ACK, or the acknowledgement of something sent there
// since, brings it back); once it is back, both report it available again
// and every echo comes back once. Before outstanding.Queue.Discredit, 5 of
// these 60 seeds reported the server's path available while it was down
// and sent new DATA into it.
//
// A failing seed replays: go test -run 'TestFailedPathStaysFailedOnLateAcks/seed=7'.
func TestFailedPathStaysFailedOnLateAcks(t *testing.T) {
	for seed := range soakSeeds(60) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			lateAcksOne(t, uint64(seed)*6007+1)
		})
	}
}

// newLabTimersMH is newMHLab with the timers of the namespace lab's
// multi-homed test (RTO 300 ms to 1 s, Path.Max.Retrans 3,
// Association.Max.Retrans 6, HB.interval 2 s) and 40 ms each way.
func newLabTimersMH(t *testing.T, seed uint64) *mhLab {
	cfg := engine.Config{
		RTO:      engine.RTOInfo{Initial: time.Second, Min: 300 * time.Millisecond, Max: time.Second},
		Assoc:    engine.AssocParams{MaxRetrans: 6},
		PeerAddr: engine.PeerAddrParams{HBInterval: 2 * time.Second, PathMaxRetrans: 3},
		NoDelay:  true,
	}
	l := newMHLab(t, seed, cfg)
	for _, nd := range []*sim.Node{l.cn, l.sn} {
		nd.Imp.Delay = 40 * time.Millisecond
		nd.Imp.Jitter = time.Millisecond
	}
	return l
}

func lateAcksOne(t *testing.T, seed uint64) {
	l := newLabTimersMH(t, seed)
	// Side 0 is the client, whose failed path leads to mhServer1; side 1
	// the server, toward mhClient1.
	dead := [2]netip.Addr{mhServer1, mhClient1}
	recs := [2]*echoCheck{l.crec, l.srec}
	var down, up time.Time
	var failed [2]time.Time // the first ADDR_POTENTIALLY_FAILED after the cut
	var strays [2]int       // packets of new DATA to the dead path after it
	l.onNewData(func(_ time.Time, side int, p link.Packet) {
		if !failed[side].IsZero() && up.IsZero() && p.Path.Remote == dead[side] {
			strays[side]++
		}
	})
	sent := 0
	next := func() {
		b := make([]byte, 100+sent%300)
		if sent%16 == 15 {
			b = make([]byte, 2000)
		}
		binary.BigEndian.PutUint64(b, uint64(sent))
		if l.client.Send(l.net.Now(), b, engine.SndInfo{PPID: 18}) == nil {
			sent++
		}
	}
	for i := range 400 {
		switch i {
		case 100:
			l.net.SetAddrDown(mhServer1, true)
			down = l.net.Now()
		case 300:
			l.net.SetAddrDown(mhServer1, false)
			up = l.net.Now()
		}
		for range 3 {
			next()
		}
		l.net.RunFor(20 * time.Millisecond)
		for side, rec := range recs {
			for j := len(rec.events) - 1; j >= 0 && failed[side].IsZero() && !down.IsZero() && up.IsZero(); j-- {
				if ev := rec.events[j]; ev.Type == engine.PeerAddrChange && ev.Path.Remote == dead[side] &&
					ev.AddrChange == engine.AddrPotentiallyFailed && rec.at[j].After(down) {
					failed[side] = rec.at[j]
				}
			}
		}
		if l.crec.ended() || l.srec.ended() {
			t.Fatalf("the association ended %v after the cut: client %v, server %v", l.net.Now().Sub(down), l.client.State(), l.server.State())
		}
	}
	// An inactive path is heartbeated every HB.interval + RTO +/- RTO/2:
	// its next answer brings it back.
	l.net.RunUntil(func() bool { return bothActive(l.client) && bothActive(l.server) }, 20*time.Second)
	if !l.net.RunUntil(func() bool { return len(l.crec.seen) == sent }, time.Minute) {
		t.Fatalf("%d of %d echoes", len(l.crec.seen), sent)
	}
	if l.crec.dups != 0 || l.srec.dups != 0 || len(l.srec.seen) != sent {
		t.Fatalf("server saw %d of %d messages, %d duplicates; client %d duplicates", len(l.srec.seen), sent, l.srec.dups, l.crec.dups)
	}
	for side, rec := range recs {
		var during, after []engine.AddrChange
		for j, ev := range rec.events {
			if ev.Type != engine.PeerAddrChange || ev.Path.Remote != dead[side] || ev.AddrChange == engine.AddrConfirmed {
				continue
			}
			switch at := rec.at[j]; {
			case at.After(down) && at.Before(up):
				during = append(during, ev.AddrChange)
			case !at.Before(up):
				after = append(after, ev.AddrChange)
			}
		}
		if failed[side].IsZero() {
			t.Errorf("side %d: %v never reported potentially failed while down: %v", side, dead[side], during)
		}
		for _, ch := range during {
			if ch == engine.AddrAvailable {
				t.Errorf("side %d: %v reported available while its network was down: %v", side, dead[side], during)
				break
			}
		}
		if strays[side] != 0 {
			t.Errorf("side %d: %d packets of new DATA to %v after it failed, while down", side, strays[side], dead[side])
		}
		if len(after) == 0 || after[len(after)-1] != engine.AddrAvailable {
			t.Errorf("side %d: %v after its network came back: %v, want it available", side, dead[side], after)
		}
	}
}

// bothActive reports whether a has two paths, both active.
func bothActive(a *engine.Association) bool {
	st := a.Status()
	for _, p := range st.Paths {
		if p.State != engine.PathActive {
			return false
		}
	}
	return len(st.Paths) == 2
}
