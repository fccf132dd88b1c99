package stack_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/link/memlink"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// TestTimerSlack: a timer wakes the stack at the first multiple of
// TimerSlack at or after its deadline, where every timer due by then runs
// (so many associations' heartbeats go in one wakeup). The receiver's
// delayed SACK, due 200 ms after the DATA, leaves at the next whole second
// with a 1 s slack, and at 200 ms with the slack off.
func TestTimerSlack(t *testing.T) {
	for _, tc := range []struct {
		name  string
		slack time.Duration
		want  time.Duration // after the DATA's arrival, a whole second
	}{{"1s", time.Second, time.Second}, {"off", -1, 200 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			la, lb := memlink.Pair(link.Native, addrA, addrB)
			ca, cb := newVClock(), newVClock()
			var sacks atomic.Int32
			sa, err := stack.New(stack.Config{Links: []link.Link{la}, Clock: ca})
			if err != nil {
				t.Fatal(err)
			}
			defer sa.Close("")
			sb, err := stack.New(stack.Config{Links: []link.Link{lb}, Clock: cb, TimerSlack: tc.slack,
				Tap: func(in bool, _ int, _ link.Path, pkt []byte) {
					var p wire.Packet
					if !in && p.Unmarshal(pkt) == nil && len(p.Chunks) == 1 && p.Chunks[0].Type == wire.TypeSack {
						sacks.Add(1)
					}
				}})
			if err != nil {
				t.Fatal(err)
			}
			defer sb.Close("")
			ctx := ctxT(t)
			// No Nagle, no heartbeats: the SACK is the only timer's work.
			opts := stack.Options{NoDelay: true, PeerAddr: stack.PeerAddrParams{Heartbeat: stack.HeartbeatOff}}
			ln, err := sb.Listen(5000, opts)
			if err != nil {
				t.Fatal(err)
			}
			x, err := sa.Dial(ctx, 0, link.Path{Local: addrA, Remote: addrB}, 0, 5000, opts)
			if err != nil {
				t.Fatal(err)
			}
			y, err := ln.Accept(ctx)
			if err != nil {
				t.Fatal(err)
			}
			start := cb.Now() // a whole second: the virtual clock does not move by itself
			if err := x.SendMsg(ctx, []byte("one"), stack.SndInfo{}); err != nil {
				t.Fatal(err)
			}
			if _, err := y.RecvMsg(ctx); err != nil {
				t.Fatal(err)
			}
			cb.WaitArmed(t, start.Add(tc.want))
			cb.Advance(t, tc.want-time.Millisecond)
			if n := sacks.Load(); n != 0 {
				t.Fatalf("%d SACKs %v after the DATA, want none before %v", n, tc.want-time.Millisecond, tc.want)
			}
			cb.Advance(t, time.Millisecond)
			if n := sacks.Load(); n != 1 {
				t.Fatalf("%d SACKs at %v, want the delayed one", n, tc.want)
			}
		})
	}
}
