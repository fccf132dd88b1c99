package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// dataTSN is the TSN of the first DATA chunk of pkt, if it has one.
func dataTSN(pkt []byte) (uint32, bool) {
	var p wire.Packet
	if p.Unmarshal(pkt) != nil {
		return 0, false
	}
	for _, c := range p.Chunks {
		var d wire.Data
		if c.Type == wire.TypeData && d.Unmarshal(c) == nil {
			return d.TSN, true
		}
	}
	return 0, false
}

// TestRestartInPlaceEndsFastRecovery: an association in Fast Recovery
// (RFC 9260 7.2.4) when its peer restarts in place (5.2.4 A) starts its
// new TSN sequence out of it. Its exit point is a TSN of the old sequence;
// kept, it ended Fast Recovery at once or only after up to 2^31 new TSNs,
// as the new initial TSN happened to fall, and meanwhile slow start could
// not grow cwnd (7.2.1). Over several seeds (each draws other TSNs), the
// new incarnation's cwnd must grow as its first messages are acknowledged.
// (Without the reset, 3 of these 8 seeds failed.)
func TestRestartInPlaceEndsFastRecovery(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			cfg := engine.Config{PeerAddr: engine.PeerAddrParams{Heartbeat: engine.HeartbeatOff}, NoDelay: true, DelayedAck: engine.DelayedAck{Freq: 1}}
			l := newLab(t, seed, link.Native, cfg)
			l.cn.Imp.Delay, l.sn.Imp.Delay = 20*time.Millisecond, 20*time.Millisecond
			a, rec := l.up(cfg)
			// Every copy of the first DATA chunk is lost: three SACKs
			// report it missing, its Fast Retransmit is lost too, and the
			// association stays in Fast Recovery.
			var lost uint32
			var have bool
			l.cn.Imp.Drop = func(_ *simNode, pkt []byte) bool {
				tsn, ok := dataTSN(pkt)
				if ok && !have {
					lost, have = tsn, true
				}
				return ok && tsn == lost
			}
			for range 4 {
				if err := a.Send(l.net.Now(), make([]byte, 1000), engine.SndInfo{}); err != nil {
					t.Fatal(err)
				}
			}
			l.net.RunFor(100 * time.Millisecond)
			if st := l.cn.Host.Stats(); st.FastRetransmits == 0 {
				t.Fatalf("no Fast Retransmit (stats %+v)", st)
			}
			// The peer restarts before T3-rtx would end Fast Recovery.
			l.cn.Imp.Drop = nil
			brec := l.restartServerInPlace(a, rec, cfg)
			initial := a.Status().Primary.Cwnd
			// More than a cwnd queued: the window is fully used (7.2.1).
			const n = 40
			for range n {
				if err := a.Send(l.net.Now(), make([]byte, 1000), engine.SndInfo{}); err != nil {
					t.Fatal(err)
				}
			}
			l.net.RunFor(time.Second)
			if len(brec.msgs) != n {
				t.Fatalf("B got %d of %d messages", len(brec.msgs), n)
			}
			if got := a.Status().Primary.Cwnd; got <= initial {
				t.Fatalf("cwnd %d after %d messages acknowledged in slow start, %d at the restart: still in the old Fast Recovery", got, n, initial)
			}
		})
	}
}
