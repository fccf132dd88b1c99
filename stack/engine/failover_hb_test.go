package engine_test

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// TestLostHeartbeatSupersededByAckedData: one HEARTBEAT to the client's
// primary address is lost on an idle association; traffic starts right
// after and DATA sent there after the HEARTBEAT is acknowledged. The path
// was heard after the probe left (RFC 9260 8.2: an acknowledgement of
// DATA sent to a destination clears its error count), so the probe's
// loss is no error: the primary must not become potentially failed (RFC
// 7829) and no new DATA may go to the other address. Counted at the
// heartbeat timer as before, it made the primary potentially failed for a
// round trip under traffic and sent a dozen packets the other way, on
// every seed (the DATA then in flight had been sent before the error,
// and its acknowledgements no longer revive the path).
func TestLostHeartbeatSupersededByAckedData(t *testing.T) {
	for seed := range soakSeeds(10) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			lostHeartbeatOne(t, uint64(seed)*7919+3)
		})
	}
}

func lostHeartbeatOne(t *testing.T, seed uint64) {
	l := newLabTimersMH(t, seed)
	if !l.net.RunUntil(func() bool { return bothActive(l.client) && bothActive(l.server) }, 20*time.Second) {
		t.Fatal("the paths were not both verified")
	}
	var dropped time.Time
	var strays int
	dropNext := false
	l.net.Offered = func(now time.Time, from *sim.Node, _ int, p link.Packet) {
		if from != l.cn {
			return
		}
		if dropped.IsZero() && p.Path.Remote == mhServer1 && firstChunk(p.Buf) == wire.TypeHeartbeat {
			dropNext, dropped = true, now
			return
		}
		if _, ok := highestTSN(p.Buf); ok && !dropped.IsZero() && p.Path.Remote == mhServer2 {
			strays++
		}
	}
	l.cn.Imp.Drop = func(*sim.Node, []byte) bool {
		d := dropNext
		dropNext = false
		return d
	}
	if !l.net.RunUntil(func() bool { return !dropped.IsZero() }, 10*time.Second) {
		t.Fatal("no HEARTBEAT to the primary address within 10 s")
	}
	sent := 0
	for range 250 { // 5 s: past the heartbeat timer that finds the probe unanswered
		for range 3 {
			b := make([]byte, 200)
			binary.BigEndian.PutUint64(b, uint64(sent))
			if l.client.Send(l.net.Now(), b, engine.SndInfo{PPID: 18}) == nil {
				sent++
			}
		}
		l.net.RunFor(20 * time.Millisecond)
	}
	if !l.net.RunUntil(func() bool { return len(l.crec.seen) == sent }, time.Minute) {
		t.Fatalf("%d of %d echoes", len(l.crec.seen), sent)
	}
	for j, ev := range l.crec.events {
		if ev.Type == engine.PeerAddrChange && ev.Path.Remote == mhServer1 && l.crec.at[j].After(dropped) {
			t.Errorf("%v after the lost HEARTBEAT: %v", l.crec.at[j].Sub(dropped), ev.AddrChange)
		}
	}
	if strays != 0 {
		t.Errorf("%d packets of DATA to %v, the primary being %v", strays, mhServer2, mhServer1)
	}
}
