package gateway_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// 2.6: a peer that sends and then aborts at once: what the gateways
// acknowledged from it before the ABORT is delivered to the other end
// first, as the receiving end's own stack would have delivered it had the
// two been connected natively, and the ABORT follows with its causes byte
// for byte. Every message is delivered or in the sender's SEND_FAILED,
// never neither, whichever end aborts.
func TestAbortFollowsDelivery(t *testing.T) {
	for _, who := range []string{"eNB", "MME"} {
		for seed := uint64(0); seed < 4; seed++ {
			t.Run(fmt.Sprintf("%s/%d", who, seed), func(t *testing.T) {
				g := newGLab(t, labOpts{seed: 700 + seed})
				r := g.net.Rand()
				for _, nd := range []*simNode{g.enb, g.edge, g.core, g.mme} {
					nd.Imp.Delay = time.Millisecond + time.Duration(r.Int64N(int64(20*time.Millisecond)))
				}
				a, rec := g.up(engine.Config{})
				mme := g.mmeRec()
				from, fromRec, to := a, rec, mme
				if who == "MME" {
					from, fromRec, to = mme.a, mme, rec
				}
				const n = 40
				for i := 0; i < n; i++ {
					b := make([]byte, 600+r.IntN(1200))
					binary.BigEndian.PutUint32(b, uint32(i))
					if err := from.Send(g.net.Now(), b, engine.SndInfo{Stream: uint16(i % 3), PPID: 18}); err != nil {
						t.Fatal(err)
					}
				}
				// Let part of it through the first hop, then abort.
				g.net.RunFor(time.Duration(r.Int64N(int64(60 * time.Millisecond))))
				causes := []wire.Cause{&wire.UserInitiatedAbortCause{Reason: []byte("going away")}}
				from.Abort(g.net.Now(), causes...)
				if !g.net.RunUntil(func() bool { return to.ended() && g.edgeGW.Pairs() == 0 && g.coreGW.Pairs() == 0 }, time.Minute) {
					t.Fatalf("far end %s, pairs %d/%d", to.types(), g.edgeGW.Pairs(), g.coreGW.Pairs())
				}
				// SEND_FAILED with Sent set means "not surely delivered"
				// (RFC 6458 6.1.11: SCTP_DATA_SENT): such a message may
				// have arrived too.
				seen, sent := make([]int, n), make([]bool, n)
				for _, m := range to.msgs {
					seen[binary.BigEndian.Uint32(m.Data)]++
				}
				for _, ev := range fromRec.events {
					if ev.Type == engine.SendFailed {
						for _, f := range ev.Failed {
							i := binary.BigEndian.Uint32(f.Data)
							seen[i] += 10
							sent[i] = f.Sent
						}
					}
				}
				for i, c := range seen {
					if c != 1 && c != 10 && !(c == 11 && sent[i]) {
						t.Fatalf("message %d: delivered %d times, reported unsent %d times (sent %v)", i, c%10, c/10, sent[i])
					}
				}
				ev := to.find(engine.CommLost)
				if ev == nil || !bytes.Equal(padded(ev.CauseBytes), wire.AppendCauses(nil, causes)) {
					t.Fatalf("far end %s, event %+v", to.types(), ev)
				}
				if c := g.edgeGW.Counters().AbortedMsgs + g.coreGW.Counters().AbortedMsgs; c != 0 {
					t.Fatalf("gateways discarded %d acknowledged messages", c)
				}
				t.Logf("%d of %d delivered before the ABORT", len(to.msgs), n)
			})
		}
	}
}
