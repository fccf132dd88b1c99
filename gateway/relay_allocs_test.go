package gateway_test

import (
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
)

// TestRelayAllocations: in steady state a relayed message costs each
// gateway one allocation, the buffer its reassembly hands to the egress
// send queue (docs/design.md 6.3), and nothing else: no per-message Message
// on the heap in forward, no per-flush scratch in the heartbeat code. The
// whole simulated path (eNB, edge, core, MME) is counted: three receivers
// reassemble, so three allocations per message.
func TestRelayAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	for _, size := range []int{100, 1000, 8000} {
		g := newGLab(t, labOpts{seed: 2101})
		a, _ := g.up(engine.Config{})
		mme := g.mmeRec()
		msg := make([]byte, size)
		const batch = 20
		round := func() {
			for range batch {
				if err := a.Send(g.net.Now(), msg, engine.SndInfo{PPID: 18}); err != nil {
					t.Fatal(err)
				}
			}
			if !g.net.RunUntil(func() bool { return len(mme.msgs) >= batch }, time.Minute) {
				t.Fatalf("%d of %d messages relayed", len(mme.msgs), batch)
			}
			mme.msgs = mme.msgs[:0]
		}
		for range 50 {
			round()
		}
		perMsg := testing.AllocsPerRun(100, round) / batch
		t.Logf("%d-byte messages: %.2f allocations per message relayed, the whole path", size, perMsg)
		if perMsg > 3.2 {
			t.Errorf("%d-byte messages: %.2f allocations per message relayed, want 3 (one reassembled buffer per receiver)", size, perMsg)
		}
	}
}
